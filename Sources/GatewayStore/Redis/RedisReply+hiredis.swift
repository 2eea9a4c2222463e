import CHiredis

extension RedisReply {
    /// Copies hiredis's reply tree (valid only during the callback).
    init(copying raw: UnsafeMutableRawPointer) {
        let r = raw.assumingMemoryBound(to: redisReply.self).pointee
        let t = r.type
        if gw_reply_is_string(t) != 0 || gw_reply_is_status(t) != 0 || gw_reply_is_error(t) != 0 {
            let bytes: [UInt8] = r.str.map { p in
                Array(UnsafeRawBufferPointer(start: p, count: r.len))
            } ?? []
            if gw_reply_is_string(t) != 0 { self = .string(bytes) }
            else if gw_reply_is_status(t) != 0 { self = .status(String(decoding: bytes, as: UTF8.self)) }
            else { self = .error(String(decoding: bytes, as: UTF8.self)) }
        } else if gw_reply_is_integer(t) != 0 {
            self = .integer(Int64(r.integer))
        } else if gw_reply_is_array(t) != 0 {
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let e = r.element?[i] { items.append(RedisReply(copying: UnsafeMutableRawPointer(e))) }
                else { items.append(.null) }
            }
            self = .array(items)
        } else {
            self = .null
        }
    }
}
