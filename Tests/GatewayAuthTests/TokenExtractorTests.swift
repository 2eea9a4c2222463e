import Testing
import GatewayCore
@testable import GatewayAuth

@Suite struct TokenExtractorTests {
    /// Builds a minimal request head with the given target and fields.
    static func head(target: String = "/", _ fields: [(String, String, KnownField)]) -> HTTPHead {
        var bytes = Array("GET \(target) HTTP/1.1\r\n".utf8)
        let targetRange = 4..<(4 + target.utf8.count)
        let startLine = 0..<(bytes.count - 2)
        var parsed: [HTTPField] = []
        for (name, value, known) in fields {
            let lineStart = bytes.count
            bytes += Array(name.utf8)
            let nameRange = lineStart..<bytes.count
            bytes += Array(": ".utf8)
            let valueStart = bytes.count
            bytes += Array(value.utf8)
            let valueRange = valueStart..<bytes.count
            bytes += [13, 10]
            parsed.append(HTTPField(line: lineStart..<bytes.count, name: nameRange, value: valueRange, known: known))
        }
        bytes += [13, 10]
        return HTTPHead(bytes: bytes, startLine: startLine, version: .http11, fields: parsed, method: 0..<3,
                        target: targetRange, status: 0, framing: .none, keepAlive: true, expectContinue: false,
                        isUpgrade: false, hostField: nil)
    }

    func token(_ extractor: TokenExtractor, _ head: HTTPHead) -> Result<String, AuthFailure> {
        extractor.extract(from: head).map { String(decoding: head.bytes[$0], as: UTF8.self) }
    }

    @Test func bearerHeader() {
        let e = TokenExtractor(sources: [.header])
        #expect(token(e, Self.head([("Authorization", "Bearer a.b.c", .authorization)])) == .success("a.b.c"))
        #expect(token(e, Self.head([("authorization", "bEaReR a.b.c", .authorization)])) == .success("a.b.c"))
        #expect(token(e, Self.head([("Authorization", "Basic dXNlcjpwYXNz", .authorization)])) == .failure(.missingToken))
        #expect(token(e, Self.head([])) == .failure(.missingToken))
        #expect(token(e, Self.head([("Authorization", "Bearer", .authorization)])).isMalformedFailure)
        // RFC 6750 §2.1: one or more spaces after the scheme.
        #expect(token(e, Self.head([("Authorization", "Bearer  a.b.c", .authorization)])) == .success("a.b.c"))
        #expect(token(e, Self.head([("Authorization", "Bearer   ", .authorization)])).isMalformedFailure)
        #expect(token(e, Self.head([("Authorization", "Bearer a.b.c extra", .authorization)])).isMalformedFailure)
        #expect(token(e, Self.head([("Authorization", "Bearerx a.b.c", .authorization)])) == .failure(.missingToken))
        #expect(token(e, Self.head([("Authorization", "Bearer-x a.b.c", .authorization)])) == .failure(.missingToken))
    }

    /// A field whose scheme is Bearer but whose rest is not exactly
    /// `1*SP token68` is malformed, never "no token" (SPEC §5).
    @Test func malformedBearerIsNeverNoToken() {
        let e = TokenExtractor(sources: [.header])
        for value in ["Bearer\ta.b.c", "bearer\t a.b.c", "Bearer,a.b.c", "Bearer a.b.c,Bearer x.y.z", "Bearer a.b.c x.y.z",
                      "Bearer a.b\tc", "Bearer \"a.b.c\"", "Bearer a.b.c;", "Bearer=a.b.c", "Bearer:a.b.c"] {
            let result = token(e, Self.head([("Authorization", value, .authorization)]))
            #expect(result.isMalformedFailure, "\(value): \(result)")
        }
    }

    @Test func cookieAndQuery() {
        let e = TokenExtractor(sources: [.cookie("jwt"), .query("access_token")])
        #expect(token(e, Self.head([("Cookie", "a=1; jwt=x.y.z; b=2", .cookie)])) == .success("x.y.z"))
        #expect(token(e, Self.head([("Cookie", "jwt=\"x.y.z\"", .cookie)])) == .success("x.y.z"))
        #expect(token(e, Self.head([("Cookie", "xjwt=1;jwtx=2", .cookie)])) == .failure(.missingToken))
        #expect(token(e, Self.head(target: "/p?a=1&access_token=q.r.s&b", [])) == .success("q.r.s"))
        #expect(token(e, Self.head(target: "/p?access_tokenx=1&xaccess_token=2", [])) == .failure(.missingToken))
        // Header not configured: ignored.
        #expect(token(e, Self.head([("Authorization", "Bearer a.b.c", .authorization)])) == .failure(.missingToken))
    }

    @Test func sameTokenTwiceIsFineDifferentTokensAreNot() {
        let e = TokenExtractor(sources: [.header, .cookie("jwt"), .query("t")])
        let same = Self.head(target: "/?t=a.b.c", [("Authorization", "Bearer a.b.c", .authorization), ("Cookie", "jwt=a.b.c", .cookie)])
        #expect(token(e, same) == .success("a.b.c"))
        let different = Self.head(target: "/?t=a.b.d", [("Authorization", "Bearer a.b.c", .authorization)])
        #expect(token(e, different).isMalformedFailure)
        let twoHeaders = Self.head([("Authorization", "Bearer a.b.c", .authorization), ("Authorization", "Bearer x.y.z", .authorization)])
        #expect(token(e, twoHeaders).isMalformedFailure)
        let twoCookies = Self.head([("Cookie", "jwt=a.b.c; jwt=x.y.z", .cookie)])
        #expect(token(e, twoCookies).isMalformedFailure)
    }

    @Test func emptyValueIsMalformed() {
        let e = TokenExtractor(sources: [.cookie("jwt")])
        #expect(token(e, Self.head([("Cookie", "jwt=", .cookie)])).isMalformedFailure)
    }

    /// The table is exactly RFC 7235's token68 alphabet (with `=`): every
    /// byte value, alone and as the one odd byte of a long token.
    @Test func token68TableMatchesTheAlphabet() {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=".utf8)
        for c in 0...255 {
            #expect(TokenExtractor.isToken68(UInt8(c)) == alphabet.contains(UInt8(c)), "byte \(c)")
            let token = Array(repeating: UInt8(ascii: "a"), count: 50) + [UInt8(c)] + Array(repeating: UInt8(ascii: "Z"), count: 9)
            #expect(token.withUnsafeBytes { TokenExtractor.allToken68($0) } == alphabet.contains(UInt8(c)), "byte \(c)")
        }
    }

    /// Sources set after `init` are searched by their own names (the names'
    /// bytes are made when the sources are set).
    @Test func sourcesSetLaterUseTheirNames() {
        var e = TokenExtractor(sources: [.cookie("old")])
        e.sources = [.cookie("jwt"), .query("t")]
        #expect(token(e, Self.head([("Cookie", "old=1.2.3; jwt=x.y.z", .cookie)])) == .success("x.y.z"))
        #expect(token(e, Self.head(target: "/?t=a.b.c", [])) == .success("a.b.c"))
    }

    /// A bad byte anywhere in the token is refused, and a good token of any
    /// length is taken whole.
    @Test func badByteAnywhereInTheTokenIsMalformed() {
        let extractor = TokenExtractor(sources: [.header])
        let good = String(repeating: "aB9-_.", count: 40)
        #expect(token(extractor, Self.head([("Authorization", "Bearer \(good)", .authorization)])) == .success(good))
        for position in [0, 1, 117, good.utf8.count - 1] {
            var bytes = Array(good.utf8)
            bytes[position] = UInt8(ascii: "!")
            let bad = String(decoding: bytes, as: UTF8.self)
            #expect(token(extractor, Self.head([("Authorization", "Bearer \(bad)", .authorization)])).isMalformedFailure,
                    "bad byte at \(position)")
        }
    }
}

extension Result where Failure == AuthFailure {
    var isMalformedFailure: Bool {
        if case .failure(let f) = self { return f.isMalformed }
        return false
    }
}
