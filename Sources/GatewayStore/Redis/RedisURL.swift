/// `redis://host[:port][/db]`, parsed strictly: anything else (a password in
/// the URL, a query, TLS's `rediss://`) is refused rather than half-understood.
/// The password comes from `[store] redis_password_env`, never the URL.
struct RedisURL: Equatable {
    var host: String
    var port: Int32
    var db: Int

    static let defaultPort: Int32 = 6379

    init(host: String, port: Int32 = RedisURL.defaultPort, db: Int = 0) {
        self.host = host
        self.port = port
        self.db = db
    }

    init(parsing text: String) throws(StoreError) {
        func bad(_ why: String) -> StoreError { .open("bad Redis URL \"\(text)\": \(why)") }
        let scheme = "redis://"
        guard text.hasPrefix(scheme) else {
            throw bad(text.hasPrefix("rediss://") ? "TLS (rediss://) is not supported" : "expected redis://host:port/db")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        if rest.contains(where: { $0 == "@" }) { throw bad("no user or password in the URL; use redis_password_env") }
        if rest.contains(where: { $0 == "?" || $0 == "#" }) { throw bad("no query or fragment") }

        var dbText: Substring?
        if let slash = rest.firstIndex(of: "/") {
            dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        var portText: Substring?
        if rest.hasPrefix("[") {
            // IPv6 literal: [addr] or [addr]:port
            guard let close = rest.firstIndex(of: "]") else { throw bad("unclosed [") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("junk after ]") }
                portText = after.dropFirst()
            }
        } else {
            if let colon = rest.firstIndex(of: ":") {
                host = String(rest[..<colon])
                portText = rest[rest.index(after: colon)...]
            } else {
                host = String(rest)
            }
        }
        guard !host.isEmpty else { throw bad("no host") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }),
              host.allSatisfy(\.isASCII) else { throw bad("bad host") }

        port = RedisURL.defaultPort
        if let portText {
            guard let p = Self.decimal(portText), (1...65535).contains(p) else { throw bad("bad port") }
            port = Int32(p)
        }
        db = 0
        if let dbText, !dbText.isEmpty {
            guard let d = Self.decimal(dbText), d <= 1_000_000 else { throw bad("bad database number") }
            db = d
        }
    }

    /// Digits only (no sign, no spaces), at most 7 of them.
    private static func decimal(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 7, s.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return Int(s)
    }

    /// The URL as given, for logs and errors.
    var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "redis://\(h):\(port)/\(db)"
    }
}
