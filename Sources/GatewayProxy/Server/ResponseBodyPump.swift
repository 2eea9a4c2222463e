import GatewayCore

/// Moves a response body from the upstream's input to the client's output,
/// as far as the bytes at hand go, framed as `Exchange.planResponse` chose:
/// as it came (Content-Length), or re-framed in chunks (a chunked or
/// close-delimited upstream body towards an HTTP/1.1 client). Counts what
/// the client is sent in `Exchange.bytesOut`. No state of its own: progress
/// lives in `Exchange.response`. Loop thread only.
enum ResponseBodyPump {
    enum Outcome {
        /// The input ran out before the body did (output flushed, and the
        /// upstream no longer read while the client is `highWater` behind).
        case needMore
        /// The body is complete towards the client (its last chunk written).
        case complete
        /// The upstream's chunked framing is broken: abort.
        case malformed
    }

    // Inlined into its one caller: a call here cost ~20 instructions a
    // request in callgrind (scripts/profile.sh), the split's only cost.
    @inline(__always)
    static func pump(from upstream: BufferedSocket, to client: BufferedSocket, exchange ex: inout Exchange,
                     highWater: Int) -> Outcome {
        loop: while upstream.inputLength > 0 {
            switch ex.response {
            case .length(let remaining):
                let n = upstream.moveInput(to: client, count: Int(min(remaining, UInt64(Int.max))))
                if n == 0 { break loop }
                ex.bytesOut += UInt64(n)
                if remaining - UInt64(n) == 0 {
                    ex.responseFinished()
                    return .complete
                }
                ex.response = .length(remaining - UInt64(n))
            case .chunked(var decoder):
                let step = upstream.withFirstInputChunk { decoder.next($0) }
                switch step {
                case .data(let offset, let count, _):
                    upstream.drainInput(offset)
                    write(count, from: upstream, to: client, exchange: &ex)
                    ex.response = .chunked(decoder)
                case .needMore(let consumed):
                    upstream.drainInput(consumed)
                    ex.response = .chunked(decoder)
                    if consumed == 0 { break loop }
                case .end(let consumed):
                    upstream.drainInput(consumed)
                    finish(to: client, exchange: &ex)
                    return .complete
                case .failed:
                    return .malformed
                }
            case .untilClose:
                write(upstream.inputLength, from: upstream, to: client, exchange: &ex)
            default:
                break loop
            }
        }
        client.flush()
        if client.outputLength > highWater { upstream.disableRead() }
        return .needMore
    }

    /// The body ended (its last chunk, or a close-delimited body's EOF):
    /// the terminating chunk when the client gets chunks.
    static func finish(to client: BufferedSocket, exchange ex: inout Exchange) {
        if ex.chunkedToClient { client.write("0\r\n\r\n"); ex.bytesOut += 5 }
        ex.responseFinished()
    }

    /// `count` body bytes, in one chunk of their own when re-framing.
    private static func write(_ count: Int, from upstream: BufferedSocket, to client: BufferedSocket,
                              exchange ex: inout Exchange) {
        guard count > 0 else { return }
        if ex.chunkedToClient {
            client.writeChunkHeader(count)
            upstream.moveInput(to: client, count: count)
            client.write("\r\n")
            ex.bytesOut += UInt64(chunkedSize(count))
        } else {
            upstream.moveInput(to: client, count: count)
            ex.bytesOut += UInt64(count)
        }
    }

    /// Bytes a chunk of `count` data bytes takes on the wire: the size in
    /// hex, CRLF, the data, CRLF (RFC 9112 §7.1).
    static func chunkedSize(_ count: Int) -> Int {
        count + 4 + max(1, (Int.bitWidth - count.leadingZeroBitCount + 3) / 4)
    }
}
