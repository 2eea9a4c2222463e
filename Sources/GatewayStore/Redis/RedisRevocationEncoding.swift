import GatewayAuth

/// How a revocation is kept in Redis and sent on the channel. The hash value
/// is "seq|created|until|kind|before|value" (the value last: it may hold any
/// byte, "|" included); a channel message is "+id|<that>" or "-id".
enum RedisRevocationEncoding {
    struct Entry: Equatable {
        var seq: Int64
        var revocation: Revocation
    }

    static func decode(id: String, _ encoded: [UInt8]) -> Entry? {
        var fields: [ArraySlice<UInt8>] = []
        var start = encoded.startIndex
        // Five separators; whatever follows the fifth is the value.
        for i in encoded.indices where encoded[i] == UInt8(ascii: "|") && fields.count < 5 {
            fields.append(encoded[start..<i])
            start = i + 1
        }
        guard fields.count == 5 else { return nil }
        let value = String(decoding: encoded[start...], as: UTF8.self)
        guard let seq = int(fields[0]), let created = int(fields[1]), let until = int(fields[2]) else { return nil }
        let target: Revocation.Target
        switch String(decoding: fields[3], as: UTF8.self) {
        case "jti": target = .jti(value)
        case "sid": target = .sid(value)
        case "sub":
            guard let before = int(fields[4]) else { return nil }
            target = .subject(value, before: before)
        default: return nil
        }
        return Entry(seq: seq, revocation: Revocation(id: id, target: target, created: created, until: until))
    }

    /// A channel payload as a feed change; nil for anything else.
    static func change(fromMessage payload: [UInt8]) -> RevocationChange? {
        guard let first = payload.first else { return nil }
        let rest = payload.dropFirst()
        switch first {
        case UInt8(ascii: "-"):
            return .removed([String(decoding: rest, as: UTF8.self)])
        case UInt8(ascii: "+"):
            guard let bar = rest.firstIndex(of: UInt8(ascii: "|")) else { return nil }
            let id = String(decoding: rest[..<bar], as: UTF8.self)
            guard let entry = decode(id: id, Array(rest[(bar + 1)...])) else { return nil }
            return .added([entry.revocation])
        default:
            return nil
        }
    }

    /// The script arguments for a target: kind, value, before ("" unless sub).
    static func arguments(for target: Revocation.Target) -> (kind: String, value: String, before: String) {
        if case .subject(_, let before) = target { return (target.kind, target.value, String(before)) }
        return (target.kind, target.value, "")
    }

    private static func int(_ s: ArraySlice<UInt8>) -> Int64? {
        Int64(String(decoding: s, as: UTF8.self))
    }
}
