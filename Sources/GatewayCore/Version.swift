public enum GatewayCoreVersion { public static let string = "0.1.0" }
