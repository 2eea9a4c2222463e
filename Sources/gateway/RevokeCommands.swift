import ArgumentParser
import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

/// `gateway revoke ...`: the admin revocation API (SPEC §7) from the command
/// line, for operators: the admin address and bearer come from the config
/// (`[admin] listen`, the variable named by `token_env`).
struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke tokens (--jti, --sid, or --sub with --before), or list and delete revocations.",
        subcommands: [RevokeAdd.self, RevokeList.self, RevokeDelete.self],
        defaultSubcommand: RevokeAdd.self)
}

struct RevokeAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a revocation (the default).")
    @OptionGroup var options: ConfigOption
    @Option(help: "Revoke the token with this jti.") var jti: String?
    @Option(help: "Revoke a session: its refresh tokens and every access token with this sid.") var sid: String?
    @Option(help: "Revoke every token of this subject issued before --before.") var sub: String?
    @Option(help: "Unix seconds, or \"now\" (with --sub).") var before: String?
    @Option(help: "Unix seconds after which the entry is dropped (default: now + sessions.max_age).") var until: Int64?

    func run() throws {
        var fields: [String] = []
        if let jti { fields.append("\"jti\":\(jsonString(jti))") }
        if let sid { fields.append("\"sid\":\(jsonString(sid))") }
        if let sub { fields.append("\"sub\":\(jsonString(sub))") }
        if let before {
            guard let t = before == "now" ? Int64(time(nil)) : Int64(before) else {
                printError("--before: unix seconds or \"now\"")
                throw ExitCode(2)
            }
            fields.append("\"before\":\(t)")
        }
        if let until { fields.append("\"until\":\(until)") }
        guard fields.count >= 1, [jti, sid, sub].compactMap({ $0 }).count == 1 else {
            printError("gateway revoke: give exactly one of --jti, --sid, --sub (with --before)")
            throw ExitCode(2)
        }
        try AdminCall.run(options.config, "POST", RevokePaths.collection, body: "{" + fields.joined(separator: ",") + "}",
                          expect: 201)
    }
}

struct RevokeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List revocations, oldest first.")
    @OptionGroup var options: ConfigOption
    @Option(help: "At most this many (1-1000).") var limit: Int = 100
    @Option(help: "The next_cursor of a previous page.") var cursor: String?

    func run() throws {
        var path = RevokePaths.collection + "?limit=\(limit)"
        if let cursor { path += "&cursor=" + percentEncoded(cursor) }
        try AdminCall.run(options.config, "GET", path, body: nil, expect: 200)
    }
}

struct RevokeDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Lift one revocation by id.")
    @OptionGroup var options: ConfigOption
    @Argument(help: "The entry's id.") var id: String

    func run() throws {
        try AdminCall.run(options.config, "DELETE", RevokePaths.collection + "/" + percentEncoded(id), body: nil,
                          expect: 204)
    }
}

enum RevokePaths { static let collection = "/admin/v1/revocations" }

private func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

private func percentEncoded(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
             UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            out += String(format: "%%%02X", b)
        }
    }
    return out
}

/// One blocking HTTP/1.1 request to the admin listener; prints the body and
/// exits non-zero on an unexpected status.
enum AdminCall {
    static func run(_ configPath: String, _ method: String, _ path: String, body: String?, expect: Int) throws {
        let (config, _) = try ConfigLoading.load(configPath)
        guard let name = config.admin.tokenEnv, let token = ConfigLoading.environment[name], !token.isEmpty else {
            printError("gateway revoke: [admin] token_env is not set, or its variable is empty: the admin API is off")
            throw ExitCode(1)
        }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: gateway-admin\r\nAuthorization: Bearer \(token)\r\n"
            + "Connection: close\r\n"
        let payload = Array((body ?? "").utf8)
        if body != nil { request += "Content-Type: application/json\r\n" }
        request += "Content-Length: \(payload.count)\r\n\r\n"
        let answer: (status: Int, body: String)
        do {
            answer = try exchange(host: config.admin.listen.host, port: Int(config.admin.listen.port),
                                  bytes: Array(request.utf8) + payload)
        } catch {
            printError("gateway revoke: \(config.admin.listen.host):\(config.admin.listen.port): \(error)")
            throw ExitCode(1)
        }
        if !answer.body.isEmpty { print(answer.body, terminator: answer.body.hasSuffix("\n") ? "" : "\n") }
        if answer.status != expect {
            printError("gateway revoke: HTTP \(answer.status)")
            throw ExitCode(1)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private static func exchange(host: String, port: Int, bytes: [UInt8]) throws -> (status: Int, body: String) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, 0)
        guard fd >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            throw Failure(description: String(cString: strerror(errno)))
        }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send: " + String(cString: strerror(errno))) }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while response.count < 16 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        // Connection: close, so the body runs to the end; the admin listener
        // answers with Content-Length and no chunking.
        let text = String(decoding: response, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n"),
              let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap({ Int($0) })
        else { throw Failure(description: "no HTTP answer") }
        return (status, String(text[headEnd.upperBound...]))
    }
}
