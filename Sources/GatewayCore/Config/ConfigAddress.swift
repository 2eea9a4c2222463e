/// Why an address or host in the config was refused.
public enum AddressParseError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    /// No `:port` after the host.
    case missingPort
    /// Port not a decimal number in 0...65535.
    case badPort(String)
    /// IPv6 literal without brackets (`::1:8080` is ambiguous).
    case unbracketedIPv6
    case badIPv6(String)
    case badIPv4(String)
    case badHostName(String)

    public var description: String {
        switch self {
        case .empty: return "empty address"
        case .missingPort: return "missing port (write host:port, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\")"
        case .badPort(let p): return "bad port \"\(p)\" (0-65535)"
        case .unbracketedIPv6: return "IPv6 address needs brackets, e.g. \"[::1]:8080\""
        case .badIPv6(let h): return "bad IPv6 address \"\(h)\""
        case .badIPv4(let h): return "bad IPv4 address \"\(h)\""
        case .badHostName(let h): return "bad host name \"\(h)\""
        }
    }
}

extension SocketAddressSpec {
    /// Parses `host:port`, `[ipv6]:port`. The host is an IPv4 literal, an
    /// IPv6 literal (stored without brackets) or a DNS name (letters, digits,
    /// `-`, `_`, `.`); the port a decimal in 0...65535.
    public static func parse(_ text: String) throws(AddressParseError) -> SocketAddressSpec {
        if text.isEmpty { throw .empty }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badIPv6(String(text)) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .missingPort }
            portText = rest.dropFirst()
            if HostLiteral.ipv6Bytes(host) == nil { throw .badIPv6(String(host)) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort }
            host = text[..<colon]
            if host.contains(":") { throw .unbracketedIPv6 }
            portText = text[text.index(after: colon)...]
            try HostLiteral.validateHostOrIPv4(host)
        }
        guard let port = HostLiteral.port(portText) else { throw .badPort(String(portText)) }
        return SocketAddressSpec(host: String(host), port: port)
    }
}

/// Small parsers for host literals, shared by addresses, route hosts and URLs.
enum HostLiteral {
    /// A decimal port 0...65535, digits only.
    static func port(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int(text), value <= 65535 else { return nil }
        return UInt16(value)
    }

    /// A non-empty DNS name, or an IPv4 dotted quad when it looks numeric.
    static func validateHostOrIPv4(_ host: Substring) throws(AddressParseError) {
        if host.isEmpty { throw .badHostName("") }
        let looksNumeric = host.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }
        if looksNumeric {
            if ipv4Bytes(host) == nil { throw .badIPv4(String(host)) }
            return
        }
        let ok = host.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A)
                || b == 0x2D || b == 0x2E || b == 0x5F
        }
        if !ok || host.hasPrefix(".") || host.contains("..") { throw .badHostName(String(host)) }
    }

    /// Four decimal octets 0...255 separated by dots.
    static func ipv4Bytes(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let v = Int(part), v <= 255 else { return nil }
            out.append(UInt8(v))
        }
        return out
    }

    /// RFC 4291 §2.2 text forms: eight groups, one `::`, optional trailing
    /// dotted quad. Returns the 16 bytes, or nil. Zone ids are not accepted.
    static func ipv6Bytes(_ text: Substring) -> [UInt8]? {
        if text.isEmpty { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var halves: [Substring] = [text]
        if let gap = text.firstRange(of: "::") {
            halves = [text[..<gap.lowerBound], text[gap.upperBound...]]
            if halves[1].contains("::") { return nil }
        }
        let sawDoubleColon = halves.count == 2
        func groups(_ s: Substring, allowIPv4Tail: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, allowIPv4Tail, part.contains(".") {
                    guard let v4 = ipv4Bytes(part) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard !part.isEmpty, part.count <= 4,
                      part.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || (($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x66) }),
                      let v = UInt16(part, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        if sawDoubleColon {
            guard let h = groups(halves[0], allowIPv4Tail: false),
                  let t = groups(halves[1], allowIPv4Tail: true) else { return nil }
            head = h; tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let h = groups(halves[0], allowIPv4Tail: true), h.count == 8 else { return nil }
            head = h
        }
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for g in all { bytes.append(UInt8(g >> 8)); bytes.append(UInt8(g & 0xFF)) }
        return bytes
    }

    /// True for `localhost`, 127.0.0.0/8 and ::1 (also ::ffff:127.x.y.z).
    /// `host` is bare (no brackets, no port).
    static func isLoopback(_ host: Substring) -> Bool {
        if host.lowercased() == "localhost" { return true }
        if let v4 = ipv4Bytes(host) { return v4[0] == 127 }
        if let v6 = ipv6Bytes(host) {
            if v6[0..<15].allSatisfy({ $0 == 0 }) && v6[15] == 1 { return true }
            if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xFF && v6[11] == 0xFF { return v6[12] == 127 }
        }
        return false
    }
}
