#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JWS in compact serialization (RFC 7515 §7.1), decoded and checked for
/// shape but not yet verified. Nothing in the header chooses a key source:
/// `jku`, `x5u`, `jwk`, `x5c` are ignored (SPEC §5, RFC 8725 §3.10).
public struct JWSToken: Sendable, Equatable {
    /// Compact tokens longer than this are refused before any other work.
    public static let maxLength = 8192

    /// The header's `alg` as written.
    public let algorithmName: String
    /// `alg` when it names an algorithm the gateway implements.
    public let algorithm: JWSAlgorithm?
    public let kid: String?
    public let header: JSONObject
    /// Decoded payload bytes (the claims JSON for a JWT).
    public let payload: [UInt8]
    public let signature: [UInt8]
    /// Length of `header.payload` at the start of the token: the JWS Signing
    /// Input (RFC 7515 §5.1 step 8) is `token[0..<signingInputLength]`.
    public let signingInputLength: Int

    /// Decodes `token`. Refuses: over 8 KiB; not exactly three parts; any
    /// part not strict base64url; a header that is not a JSON object with a
    /// string `alg`; alg "none" in any letter case; a non-string `kid`; any
    /// `crit` (we understand no extensions, RFC 7515 §4.1.11 says reject).
    public static func decode(_ token: UnsafeRawBufferPointer) throws(AuthFailure) -> JWSToken {
        var scratch = [UInt8](repeating: 0, count: scratchSize)
        let result: Result<JWSToken, AuthFailure> = scratch.withUnsafeMutableBytes { buffer in
            do throws(AuthFailure) {
                let parts = try decodeParts(token, scratch: buffer)
                // The full header tree (decodeParts only read the parameters
                // it checks); cannot fail, decodeParts validated these bytes.
                guard case .object(let header)? = try? JSONParser.parse(
                    UnsafeRawBufferPointer(rebasing: buffer[parts.header]), limits: .token) else {
                    return .failure(AuthFailure.malformed("header is not valid JSON"))
                }
                return .success(JWSToken(algorithmName: parts.algorithmName, algorithm: parts.algorithm, kid: parts.kid,
                                         header: header, payload: Array(buffer[parts.payload]),
                                         signature: Array(buffer[parts.signature]),
                                         signingInputLength: parts.signingInputLength))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Bytes of scratch `decodeParts` needs at most: the decoded header,
    /// payload and signature of a `maxLength` token.
    static let scratchSize = maxLength / 4 * 3 + 3

    /// Header parameters `decodeParts` reads, in the order `ReadHeader`
    /// expects; the others are validated JSON but never materialized
    /// (`ClaimsReader`).
    public static let readHeaderParameters = ["alg", "kid", "crit"]
    private static let headerNames = ClaimsReader.Names(readHeaderParameters)

    /// A decoded token whose header, payload and signature are ranges of a
    /// scratch buffer (the per-worker path: no per-token arrays for them).
    struct Parts {
        let algorithmName: String
        let algorithm: JWSAlgorithm?
        let kid: String?
        let header: Range<Int>
        let payload: Range<Int>
        let signature: Range<Int>
        let signingInputLength: Int
    }

    /// The last header segment a worker decoded and what `decodeParts` read
    /// from it. One issuer's tokens share their header text, so a worker
    /// mostly sees the same few segments: equal bytes give equal results,
    /// and the JSON reading, the `alg` and `kid` Strings and the `none`
    /// check are skipped for them (the segment is still decoded). Only
    /// accepted headers are remembered. NOT thread-safe: one per worker.
    final class HeaderMemo {
        fileprivate var segment: [UInt8] = []
        fileprivate var algorithmName = ""
        fileprivate var algorithm: JWSAlgorithm?
        fileprivate var kid: String?

        init() {}

        fileprivate func matches(_ part: UnsafeRawBufferPointer) -> Bool {
            !segment.isEmpty && segment.withUnsafeBytes { ByteEquality.equal($0, part) }
        }
    }

    /// As `decode`, with the same rules, base64url-decoding every part into
    /// `scratch` (at least `scratchSize` bytes). With a worker's `memo`, a
    /// header segment equal to the last accepted one is not read again.
    static func decodeParts(_ token: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer,
                            memo: HeaderMemo? = nil) throws(AuthFailure) -> Parts {
        guard token.count <= maxLength else { throw AuthFailure.malformed("token too large") }
        guard !token.isEmpty else { throw AuthFailure.malformed("empty token") }
        guard scratch.count >= scratchSize else { throw AuthFailure.malformed("token too large") }
        // memchr: a byte loop here cost ~6 instructions per token byte.
        func dot(after start: Int) -> Int? {
            guard start < token.count, let base = token.baseAddress,
                  let found = memchr(base + start, Int32(UInt8(ascii: ".")), token.count - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
        guard let firstDot = dot(after: 0), let secondDot = dot(after: firstDot + 1) else {
            throw AuthFailure.malformed("not three parts")
        }
        guard dot(after: secondDot + 1) == nil else { throw AuthFailure.malformed("not three parts") }

        let headerPart = UnsafeRawBufferPointer(rebasing: token[0..<firstDot])
        let payloadPart = UnsafeRawBufferPointer(rebasing: token[(firstDot + 1)..<secondDot])
        let signaturePart = UnsafeRawBufferPointer(rebasing: token[(secondDot + 1)...])

        // The three decodings together are at most 3/4 of the token, so they
        // fit `scratchSize` one after another.
        guard let headerCount = Base64URL.decode(headerPart, into: scratch) else {
            throw AuthFailure.malformed("bad header encoding")
        }
        guard let payloadCount = Base64URL.decode(
            payloadPart, into: UnsafeMutableRawBufferPointer(rebasing: scratch[headerCount...])) else {
            throw AuthFailure.malformed("bad payload encoding")
        }
        let signatureStart = headerCount + payloadCount
        guard let signatureCount = Base64URL.decode(
            signaturePart, into: UnsafeMutableRawBufferPointer(rebasing: scratch[signatureStart...])) else {
            throw AuthFailure.malformed("bad signature encoding")
        }

        if let memo, memo.matches(headerPart) {
            return Parts(algorithmName: memo.algorithmName, algorithm: memo.algorithm, kid: memo.kid,
                         header: 0..<headerCount, payload: headerCount..<signatureStart,
                         signature: signatureStart..<(signatureStart + signatureCount),
                         signingInputLength: secondDot)
        }
        // JSONParser's rules, but only alg, kid and crit become values.
        var header = ReadHeader()
        let isObject: Bool
        do {
            isObject = try ClaimsReader.read(UnsafeRawBufferPointer(rebasing: scratch[0..<headerCount]),
                                             names: headerNames, limits: .token, into: &header)
        } catch {
            throw AuthFailure.malformed("header is not valid JSON")
        }
        guard isObject else { throw AuthFailure.malformed("header is not an object") }
        guard case .string(let alg)? = header.alg else { throw AuthFailure.malformed("header has no string alg") }
        // RFC 8725 §3.1: never accept unsecured JWS, however it is spelled.
        guard alg.lowercased() != "none" else { throw AuthFailure.malformed("alg none") }
        var kid: String? = nil
        if let value = header.kid {
            guard case .string(let k) = value else { throw AuthFailure.malformed("kid is not a string") }
            kid = k
        }
        if let crit = header.crit {
            guard case .array(let names) = crit, !names.isEmpty,
                  names.allSatisfy({ $0.stringValue != nil }) else {
                throw AuthFailure.malformed("crit is not a non-empty array of strings")
            }
            throw AuthFailure.malformed("unsupported critical header parameter")
        }
        let algorithm = JWSAlgorithm(name: alg)
        if let memo {
            memo.segment = Array(headerPart)
            memo.algorithmName = alg
            memo.algorithm = algorithm
            memo.kid = kid
        }
        return Parts(algorithmName: alg, algorithm: algorithm, kid: kid, header: 0..<headerCount,
                     payload: headerCount..<signatureStart,
                     signature: signatureStart..<(signatureStart + signatureCount),
                     signingInputLength: secondDot)
    }

    public static func decode(_ token: [UInt8]) throws(AuthFailure) -> JWSToken {
        let result: Result<JWSToken, AuthFailure> = token.withUnsafeBytes { raw in
            do throws(AuthFailure) { return .success(try decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func decode(_ token: String) throws(AuthFailure) -> JWSToken {
        try decode(Array(token.utf8))
    }
}

/// The header parameters `decodeParts` checks, by index in
/// `JWSToken.readHeaderParameters` (no member array, no lookups by name).
private struct ReadHeader: ClaimsReader.Sink {
    var alg: JSONValue?, kid: JSONValue?, crit: JSONValue?

    mutating func take(_ nameIndex: Int, _ member: JSONObject.Member) {
        switch nameIndex {
        case 0: alg = member.value
        case 1: kid = member.value
        default: crit = member.value
        }
    }
}
