import GatewayCore

/// Reads a request body the gateway answers itself (the session endpoints,
/// SPEC §7) into memory, bounded: as far as the input at hand goes, the
/// chunked framing decoded strictly. Progress lives in
/// `Exchange.requestBody`, the bytes in the caller's buffer, so it is called
/// again on every readable event. Loop thread only.
enum LocalBodyCollector {
    /// RequestBodyPump's outcomes: here `.complete` means the whole body is
    /// in `body`, `.tooLarge` a chunked body past `limit` (413) and
    /// `.malformed` broken chunked framing (400).
    typealias Outcome = RequestBodyPump.Outcome

    /// `limit` bounds chunked bodies; a Content-Length one was checked
    /// against it before the first byte was read.
    @inline(__always)  // one caller; see ResponseBodyPump.pump
    static func collect(from client: BufferedSocket, exchange ex: inout Exchange, into body: inout [UInt8],
                        limit: Int) -> Outcome {
        loop: while client.inputLength > 0 {
            switch ex.requestBody {
            case .length(let remaining):
                let n = client.takeInput(upTo: Int(min(remaining, UInt64(client.inputLength))), appendingTo: &body)
                ex.countRequestBody(n)
                ex.requestBody = remaining == UInt64(n) ? .done : .length(remaining - UInt64(n))
            case .chunked(var decoder):
                let step = client.withFirstInputChunk { decoder.next($0) }
                switch step {
                case .data(let offset, let count, _):
                    client.drainInput(offset)
                    guard body.count + count <= limit else { return .tooLarge }
                    ex.countRequestBody(client.takeInput(upTo: count, appendingTo: &body))
                    ex.requestBody = .chunked(decoder)
                case .needMore(let consumed):
                    client.drainInput(consumed)
                    ex.requestBody = .chunked(decoder)
                    if consumed == 0 { break loop }
                case .end(let consumed):
                    client.drainInput(consumed)
                    ex.requestBody = .done
                case .failed:
                    return .malformed
                }
            default:
                break loop
            }
        }
        return ex.bodyIsDone ? .complete : .needMore
    }
}
