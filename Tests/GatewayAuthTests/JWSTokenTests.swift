import Testing
@testable import GatewayAuth

@Suite struct JWSTokenTests {
    func decode(_ token: String) -> Result<JWSToken, AuthFailure> {
        do { return .success(try JWSToken.decode(token)) } catch { return .failure(error) }
    }

    func expectMalformed(_ token: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .failure(let f) = decode(token) else {
            Issue.record("decoded", sourceLocation: sourceLocation)
            return
        }
        #expect(f.isMalformed, sourceLocation: sourceLocation)
    }

    @Test func decodesRFC7515A1() throws {
        let token = try JWSToken.decode(RFC7515.a1Token)
        #expect(token.algorithm == .hs256)
        #expect(token.kid == nil)
        #expect(token.header["typ"] == .string("JWT"))
        #expect(token.payload.text == RFC7515.claims)
        #expect(token.signingInputLength == RFC7515.a1Token.utf8.count - 44)
    }

    @Test(arguments: ["none", "None", "NONE", "nOnE"])
    func algNoneInAnyCaseIsRefused(alg: String) {
        expectMalformed(b64("{\"alg\":\"\(alg)\"}") + "." + b64("{}") + ".")
        expectMalformed(b64("{\"alg\":\"\(alg)\"}") + "." + b64("{}") + "." + b64("sig"))
    }

    @Test func shapeErrors() {
        let h = b64(#"{"alg":"HS256"}"#), p = b64("{}")
        expectMalformed("")
        expectMalformed(h)
        expectMalformed(h + "." + p)
        expectMalformed(h + "." + p + ".sig.extra")
        expectMalformed(h + "=." + p + ".")           // padding
        expectMalformed(h + "." + p + "." + "ab+/")     // standard alphabet
        expectMalformed(b64("[]") + "." + p + ".")      // header not an object
        expectMalformed(b64(#"{"alg":1}"#) + "." + p + ".")
        expectMalformed(b64(#"{"typ":"JWT"}"#) + "." + p + ".")
        expectMalformed(b64(#"{"alg":"HS256","alg":"none"}"#) + "." + p + ".")  // duplicate header member
        expectMalformed(b64(#"{"alg":"HS256","kid":7}"#) + "." + p + ".")
        expectMalformed(b64("{\"alg\":\"HS256\"") + "." + p + ".")  // truncated JSON
    }

    /// The scratch path (per-worker verify) must give the same parts and the
    /// same failures as `decode`.
    @Test func decodePartsAgreesWithDecode() throws {
        let h = b64(#"{"alg":"HS256","kid":"k"}"#), p = b64(#"{"sub":"a"}"#)
        let tokens = [RFC7515.a1Token, h + "." + p + "." + b64("signature"), h + "." + p + ".",
                      "", h, h + "." + p, h + "=." + p + ".", b64("[]") + "." + p + ".",
                      b64(#"{"alg":"none"}"#) + "." + p + ".", h + "." + p + ".ab+/",
                      b64(#"{"alg":"HS256","kid":7}"#) + "." + p + ".",
                      String(repeating: "A", count: 4000) + "." + String(repeating: "B", count: 4000) + "." + "CCCC",
                      String(repeating: "A", count: 8200)]
        var scratch = [UInt8](repeating: 0, count: JWSToken.scratchSize)
        for token in tokens {
            let bytes = Array(token.utf8)
            let viaScratch: Result<JWSToken, AuthFailure> = bytes.withUnsafeBytes { raw in
                scratch.withUnsafeMutableBytes { buffer in
                    do throws(AuthFailure) {
                        let parts = try JWSToken.decodeParts(raw, scratch: buffer)
                        // decodeParts reads only alg, kid, crit; the tree is for the comparison.
                        guard case .object(let header)? = try? JSONParser.parse(Array(buffer[parts.header])) else {
                            return .failure(.malformed("header tree"))
                        }
                        return .success(JWSToken(algorithmName: parts.algorithmName, algorithm: parts.algorithm,
                                                 kid: parts.kid, header: header,
                                                 payload: Array(buffer[parts.payload]),
                                                 signature: Array(buffer[parts.signature]),
                                                 signingInputLength: parts.signingInputLength))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            #expect(viaScratch == decode(token), "\(token.prefix(40))")
        }
    }

    @Test func critIsRefused() {
        let p = b64("{}")
        expectMalformed(b64(#"{"alg":"HS256","crit":["exp"],"exp":1}"#) + "." + p + ".")
        expectMalformed(b64(#"{"alg":"HS256","crit":[]}"#) + "." + p + ".")
        expectMalformed(b64(#"{"alg":"HS256","crit":"b64"}"#) + "." + p + ".")
    }

    @Test func keySourceHeadersAreIgnored() throws {
        let header = #"{"alg":"RS256","kid":"k","jku":"https://evil/jwks","x5u":"https://evil/x","jwk":{"kty":"oct","k":"AAAA"},"x5c":["AAAA"]}"#
        let token = try JWSToken.decode(b64(header) + "." + b64("{}") + "." + b64("s"))
        #expect(token.kid == "k")
        #expect(token.algorithm == .rs256)
    }

    @Test func sizeLimitIsCheckedFirst() {
        let huge = String(repeating: "A", count: 1 << 20)
        #expect(decode(huge) == .failure(.malformed("token too large")))
        let justOver = String(repeating: "A", count: JWSToken.maxLength + 1)
        #expect(decode(justOver) == .failure(.malformed("token too large")))
    }

    @Test func unknownAlgDecodesButHasNoAlgorithm() throws {
        let token = try JWSToken.decode(b64(#"{"alg":"HS999"}"#) + "." + b64("{}") + ".")
        #expect(token.algorithm == nil)
        #expect(token.algorithmName == "HS999")
    }
}
