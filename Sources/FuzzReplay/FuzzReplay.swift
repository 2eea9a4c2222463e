#if canImport(Glibc)
import Glibc
#endif

/// Replay mode of the fuzz drivers (built without libFuzzer): every argument
/// is an input file, or a directory whose files are run in turn. This is how
/// a crash artifact is re-run and how the seed corpora stay exercised.
public enum FuzzReplay {
    /// Runs `body` on every input named by `arguments`, prints the count,
    /// and exits 2 on an unreadable path.
    public static func run(_ arguments: ArraySlice<String>, _ body: (UnsafeRawBufferPointer) -> Void) {
        var total = 0
        for path in arguments { total += replay(path, body) }
        print("replayed \(total) inputs, all invariants held")
    }

    private static func replay(_ path: String, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        if let dir = opendir(path) {
            defer { closedir(dir) }
            var count = 0
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                count += replay(path + "/" + name, body)
            }
            return count
        }
        guard let file = fopen(path, "rb") else {
            print("cannot open \(path)")
            exit(2)
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = fread(&buffer, 1, buffer.count, file)
            if got <= 0 { break }
            bytes.append(contentsOf: buffer[0..<got])
        }
        bytes.withUnsafeBytes { body($0) }
        return 1
    }
}

extension FuzzReplay {
    /// A fuzz driver's whole `main`. Built by scripts/fuzz.sh (`-D FUZZING`
    /// with `-sanitize=fuzzer,address`), libFuzzer runs `body` on the inputs
    /// it makes; built normally, the files named on the command line are
    /// replayed (`run`).
    public static func main(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
        #if FUZZING
        fuzzTarget = body
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, llvmFuzzerTestOneInput))
        #else
        run(CommandLine.arguments.dropFirst(), body)
        exit(0)
        #endif
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The driver's `body`, set once by `main` before libFuzzer starts.
nonisolated(unsafe) private var fuzzTarget: ((UnsafeRawBufferPointer) -> Void)?

/// libFuzzer's entry point, by its C name too.
@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzTarget?(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}
#endif
