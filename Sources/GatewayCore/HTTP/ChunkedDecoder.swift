/// What one call to `ChunkedDecoder.next` produced. The caller drops
/// `consumed` bytes from the front of its input after every step.
public enum ChunkStep: Sendable, Equatable {
    /// Payload bytes at `input[offset..<offset+count]` (count > 0);
    /// `consumed == offset + count`. Framing bytes before them are consumed too.
    case data(offset: Int, count: Int, consumed: Int)
    /// No payload in this input; `consumed` framing bytes were taken (all of it).
    case needMore(consumed: Int)
    /// The last chunk and trailer section ended after `consumed` bytes; bytes
    /// after that belong to the next message.
    case end(consumed: Int)
    case failed(HTTPParseError)
}

/// Incremental, zero-copy decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Strict: 1-16 hex digits (overflow impossible, checked anyway), chunk
/// extensions validated and ignored, CRLF required everywhere (bare LF and a
/// missing CRLF after data are `badChunk`), trailer fields syntax-checked and
/// discarded, the trailer section bounded by `maxTrailerBytes`. A value type
/// owned by one connection.
public struct ChunkedDecoder: Sendable {
    /// Bytes after the size digits (extensions) allowed on one chunk line.
    static let maxExtensionBytes = 4096
    static let maxSizeDigits = 16

    private enum State: Sendable {
        case size, extPreSemicolon, extPreName, extName, extPostName, extPreValue, extToken
        case extQuoted, extQuotedEscape, extAfterQuoted, sizeLF
        case data, dataCR, dataLF
        case trailerLineStart, trailerName, trailerValue, trailerLF, finalLF
        case done, failed
    }

    public let maxTrailerBytes: Int
    private var state = State.size
    private var digits = 0
    private var size: UInt64 = 0
    private var remaining: UInt64 = 0
    private var extensionBytes = 0
    private var trailerBytes = 0
    private var failure = HTTPParseError.badChunk

    public init(maxTrailerBytes: Int = 8192) {
        self.maxTrailerBytes = max(0, maxTrailerBytes)
    }

    /// Ready for the next chunked body.
    public mutating func reset() {
        state = .size
        digits = 0; size = 0; remaining = 0; extensionBytes = 0; trailerBytes = 0
    }

    /// True once the last chunk and trailers were read.
    public var isFinished: Bool { if case .done = state { return true } else { return false } }

    public mutating func next(_ input: UnsafeRawBufferPointer) -> ChunkStep {
        switch state {
        case .done: return .end(consumed: 0)
        case .failed: return .failed(failure)
        default: break
        }
        let n = input.count
        var i = 0
        while i < n {
            if case .data = state {
                let count = Int(min(remaining, UInt64(n - i)))
                remaining -= UInt64(count)
                if remaining == 0 { state = .dataCR }
                return .data(offset: i, count: count, consumed: i + count)
            }
            let b = input[i]
            i += 1
            switch step(b) {
            case .ok: continue
            case .end: return .end(consumed: i)
            case .fail(let e):
                failure = e
                state = .failed
                return .failed(e)
            }
        }
        return .needMore(consumed: n)
    }

    private enum ByteOutcome { case ok, end, fail(HTTPParseError) }

    /// Advances the framing state machine by one byte (never in `.data`).
    @inline(__always)
    private mutating func step(_ b: UInt8) -> ByteOutcome {
        typealias S = HTTPSyntax
        switch state {
        case .size:
            if let h = S.hexValue(b) {
                guard digits < Self.maxSizeDigits else { return .fail(.badChunk) }
                let (m, o) = size.multipliedReportingOverflow(by: 16)
                guard !o else { return .fail(.badChunk) }
                size = m | UInt64(h)
                digits += 1
                return .ok
            }
            guard digits > 0 else { return .fail(.badChunk) }
            // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) (RFC 9112 §7.1.1)
            switch b {
            case S.cr: state = .sizeLF
            case S.semicolon: state = .extPreName
            case S.sp, S.htab: state = .extPreSemicolon
            default: return .fail(.badChunk)
            }
            return .ok
        case .data:
            return .fail(.badChunk)     // unreachable: handled by `next`
        case .sizeLF:
            guard b == S.lf else { return .fail(.badChunk) }
            if size == 0 {
                state = .trailerLineStart
            } else {
                remaining = size
                state = .data
            }
            return .ok
        case .dataCR:
            guard b == S.cr else { return .fail(.badChunk) }
            state = .dataLF
            return .ok
        case .dataLF:
            guard b == S.lf else { return .fail(.badChunk) }
            state = .size
            digits = 0; size = 0; extensionBytes = 0
            return .ok
        case .extPreSemicolon, .extPreName, .extName, .extPostName, .extPreValue, .extToken,
             .extQuoted, .extQuotedEscape, .extAfterQuoted:
            extensionBytes += 1
            guard extensionBytes <= Self.maxExtensionBytes else { return .fail(.badChunk) }
            return stepExtension(b)
        case .trailerLineStart, .trailerName, .trailerValue, .trailerLF, .finalLF:
            trailerBytes += 1
            guard trailerBytes <= maxTrailerBytes else { return .fail(.trailerTooLarge) }
            return stepTrailer(b)
        case .done, .failed:
            return .fail(failure)        // unreachable: `next` answers these first
        }
    }

    @inline(__always)
    private mutating func stepExtension(_ b: UInt8) -> ByteOutcome {
        typealias S = HTTPSyntax
        let ws = S.isWS(b)
        switch state {
        case .extPreSemicolon:                       // BWS before ";"
            if ws { return .ok }
            guard b == S.semicolon else { return .fail(.badChunk) }
            state = .extPreName
        case .extPreName:                            // BWS before a name
            if ws { return .ok }
            guard S.isTchar(b) else { return .fail(.badChunk) }
            state = .extName
        case .extName:
            if S.isTchar(b) { return .ok }
            switch b {
            case S.cr: state = .sizeLF
            case S.semicolon: state = .extPreName
            case 0x3D: state = .extPreValue
            case S.sp, S.htab: state = .extPostName
            default: return .fail(.badChunk)
            }
        case .extPostName:                           // BWS after a name
            if ws { return .ok }
            switch b {
            case S.semicolon: state = .extPreName
            case 0x3D: state = .extPreValue
            default: return .fail(.badChunk)
            }
        case .extPreValue:                           // BWS after "="
            if ws { return .ok }
            if b == S.dquote { state = .extQuoted }
            else if S.isTchar(b) { state = .extToken }
            else { return .fail(.badChunk) }
        case .extToken:
            if S.isTchar(b) { return .ok }
            switch b {
            case S.cr: state = .sizeLF
            case S.semicolon: state = .extPreName
            case S.sp, S.htab: state = .extPreSemicolon
            default: return .fail(.badChunk)
            }
        case .extQuoted:                             // qdtext / quoted-pair (RFC 9110 §5.6.4)
            switch b {
            case S.dquote: state = .extAfterQuoted
            case S.backslash: state = .extQuotedEscape
            case S.htab, S.sp, 0x21, 0x23...0x5B, 0x5D...0x7E, 0x80...0xFF: break
            default: return .fail(.badChunk)
            }
        case .extQuotedEscape:
            guard b == S.htab || b == S.sp || (b >= 0x21 && b != 0x7F) else { return .fail(.badChunk) }
            state = .extQuoted
        case .extAfterQuoted:
            switch b {
            case S.cr: state = .sizeLF
            case S.semicolon: state = .extPreName
            case S.sp, S.htab: state = .extPreSemicolon
            default: return .fail(.badChunk)
            }
        default:
            return .fail(.badChunk)
        }
        return .ok
    }

    /// trailer-section = *( field-line CRLF ), then the final CRLF (RFC 9112 §7.1.2).
    @inline(__always)
    private mutating func stepTrailer(_ b: UInt8) -> ByteOutcome {
        typealias S = HTTPSyntax
        switch state {
        case .trailerLineStart:
            if b == S.cr { state = .finalLF }
            else if S.isTchar(b) { state = .trailerName }
            else { return .fail(.badChunk) }        // includes obs-fold and bare LF
        case .trailerName:
            if S.isTchar(b) { return .ok }
            guard b == S.colon else { return .fail(.badChunk) }
            state = .trailerValue
        case .trailerValue:
            if b == S.cr { state = .trailerLF }
            else if !S.isFieldValueByte(b) { return .fail(.badChunk) }
        case .trailerLF:
            guard b == S.lf else { return .fail(.badChunk) }
            state = .trailerLineStart
        case .finalLF:
            guard b == S.lf else { return .fail(.badChunk) }
            state = .done
            return .end
        default:
            return .fail(.badChunk)
        }
        return .ok
    }

    // MARK: encoding, for re-framing a body towards a peer

    /// CRLF that ends a chunk's data.
    public static let crlf: [UInt8] = [0x0D, 0x0A]
    /// The last chunk with an empty trailer section.
    public static let lastChunk: [UInt8] = [0x30, 0x0D, 0x0A, 0x0D, 0x0A]

    /// Appends `size` in lowercase hex and CRLF (the chunk-size line). Size 0
    /// would end the body: callers skip empty chunks and send `lastChunk`.
    public static func encodeChunkHeader(_ size: Int, into out: inout [UInt8]) {
        let v = UInt64(max(0, size))
        var shift = 60
        while shift > 0 && (v >> UInt64(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let d = UInt8((v >> UInt64(shift)) & 0xF)
            out.append(d < 10 ? 0x30 + d : 0x61 + d - 10)
            shift -= 4
        }
        out.append(0x0D)
        out.append(0x0A)
    }
}
