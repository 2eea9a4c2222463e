import GatewayCore

/// Moves a request body from the client's input to the upstream's output,
/// as far as the bytes at hand go: a Content-Length body as it is (evbuffer
/// chains change owner, nothing is copied), a chunked one decoded strictly
/// and re-framed (SPEC §4.1: the upstream never sees the client's framing).
/// No state of its own: progress lives in `Exchange.requestBody`, so the
/// connection calls it again on every readable or writable event. Loop
/// thread only.
enum RequestBodyPump {
    enum Outcome {
        /// The input ran out before the body did; more is expected.
        case needMore
        /// The last body byte went upstream.
        case complete
        /// A chunked body grew past `max_body_bytes` (413, or an abort once
        /// the response started).
        case tooLarge
        /// The chunked framing is broken (400, or an abort).
        case malformed
    }

    /// `maxBody` 0 means no limit (a Content-Length body was checked
    /// against it before forwarding began).
    @inline(__always)  // one caller; see ResponseBodyPump.pump
    static func pump(from client: BufferedSocket, to upstream: BufferedSocket, exchange ex: inout Exchange,
                     maxBody: UInt64) -> Outcome {
        while client.inputLength > 0 {
            switch ex.requestBody {
            case .length(let remaining):
                let n = client.moveInput(to: upstream, count: Int(min(remaining, UInt64(Int.max))))
                if n == 0 { return .needMore }
                ex.countRequestBody(n)
                if remaining - UInt64(n) == 0 {
                    ex.requestBody = .done
                    return .complete
                }
                ex.requestBody = .length(remaining - UInt64(n))
            case .chunked(var decoder):
                let step = client.withFirstInputChunk { decoder.next($0) }
                switch step {
                case .data(let offset, let count, _):
                    client.drainInput(offset)
                    upstream.writeChunkHeader(count)
                    client.moveInput(to: upstream, count: count)
                    upstream.write("\r\n")
                    ex.countRequestBody(count)
                    ex.requestBody = .chunked(decoder)
                    if maxBody > 0, ex.requestBodyBytes > maxBody { return .tooLarge }
                case .needMore(let consumed):
                    client.drainInput(consumed)
                    ex.requestBody = .chunked(decoder)
                    if consumed == 0 { return .needMore }
                case .end(let consumed):
                    client.drainInput(consumed)
                    upstream.write("0\r\n\r\n")
                    ex.requestBody = .done
                    return .complete
                case .failed:
                    return .malformed
                }
            default:
                return .needMore
            }
        }
        return .needMore
    }
}
