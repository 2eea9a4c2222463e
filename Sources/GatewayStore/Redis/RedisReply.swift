/// One Redis reply, copied out of hiredis's reply object inside the callback
/// (hiredis frees it when the callback returns).
enum RedisReply: Equatable {
    case string([UInt8])
    case status(String)
    case error(String)
    case integer(Int64)
    case null
    case array([RedisReply])

    var text: String? {
        switch self {
        case .string(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        default: return nil
        }
    }

    var bytes: [UInt8]? {
        if case .string(let b) = self { return b }
        return nil
    }

    var elements: [RedisReply]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var errorMessage: String? {
        if case .error(let e) = self { return e }
        return nil
    }

    /// An integer reply, or a bulk string of decimal digits (what Lua returns
    /// for numbers it was given as strings).
    var int64: Int64? {
        switch self {
        case .integer(let i): return i
        case .string(let b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }
}
