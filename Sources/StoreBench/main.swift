print("StoreBench placeholder")
