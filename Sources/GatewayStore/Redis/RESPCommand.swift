/// One Redis command as RESP bytes (`*N\r\n$len\r\narg\r\n...`), built here so
/// hiredis never parses a format string and every argument is binary-safe.
/// `bytes` ends with a NUL that is not part of the command (`length`): hiredis
/// scans a command it is given with strchr, which must stop at the end.
struct RESPCommand {
    private(set) var bytes: [UInt8] = []
    var length: Int { bytes.count - 1 }
    /// The command name, for error messages.
    let name: String

    init(_ args: [[UInt8]]) {
        name = args.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        bytes.reserveCapacity(16 + args.reduce(0) { $0 + $1.count + 16 })
        append(UInt8(ascii: "*"), args.count)
        for a in args {
            append(UInt8(ascii: "$"), a.count)
            bytes.append(contentsOf: a)
            bytes.append(13); bytes.append(10)
        }
        bytes.append(0)
    }

    init(_ args: String...) {
        self.init(args.map { Array($0.utf8) })
    }

    private mutating func append(_ marker: UInt8, _ n: Int) {
        bytes.append(marker)
        bytes.append(contentsOf: String(n).utf8)
        bytes.append(13); bytes.append(10)
    }
}
