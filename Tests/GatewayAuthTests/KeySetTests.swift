import Testing
import GatewayCore
@testable import GatewayAuth

@Suite struct KeySetTests {
    static func jwks(_ keys: String...) -> [UInt8] { Array(("{\"keys\":[" + keys.joined(separator: ",") + "]}").utf8) }
    static let a3 = #"{"kty":"EC","kid":"ec1","crv":"P-256","x":"\#(RFC7515.a3X)","y":"\#(RFC7515.a3Y)"}"#
    static let a2 = #"{"kty":"RSA","kid":"rsa1","alg":"RS256","n":"\#(RFC7515.a2N)","e":"AQAB"}"#
    static let ed = #"{"kty":"OKP","kid":"ed1","alg":"EdDSA","crv":"Ed25519","x":"\#(RFC8037.x)"}"#

    @Test func jwksDefaultsAndWarnings() throws {
        let data = Self.jwks(
            Self.a3, Self.a2, Self.ed,
            #"{"kty":"EC","crv":"P-256","x":"\#(RFC7515.a3X)","y":"\#(RFC7515.a3Y)","alg":"ES256"}"#,   // no kid
            #"{"kty":"RSA","kid":"rsa2","alg":"ES256","n":"\#(RFC7515.a2N)","e":"AQAB"}"#,             // alg unfit
            #"{"kty":"EC","kid":"ec2","alg":"ES384","crv":"P-256","x":"\#(RFC7515.a3X)","y":"\#(RFC7515.a3Y)"}"#, // wrong curve
            #"{"kty":"RSA","kid":"rsa1","alg":"RS256","n":"\#(RFC7515.a2N)","e":"AQAB"}"#,            // duplicate kid
            #"{"kty":"RSA","kid":"enc","alg":"RS256","use":"enc","n":"\#(RFC7515.a2N)","e":"AQAB"}"#,  // not for signing
            #"{"kty":"XYZ","kid":"weird","alg":"RS256"}"#,
            #""string""#)
        let result = try KeySet.fromJWKS(data: data, defaultAlg: "ES256", source: "jwks.json")
        #expect(result.keys.map(\.kid) == ["ec1", "rsa1", "ed1"])
        #expect(result.keys.map(\.algorithm) == [.es256, .rs256, .edDSA])
        #expect(result.keys.allSatisfy { $0.source == "jwks.json" })
        #expect(result.warnings.count == 7)
    }

    /// 48 bytes of HMAC secret, base64url: long enough for HS256.
    static let oct = #"{"kty":"oct","kid":"hs1","alg":"HS256","k":"\#(Base64URL.encodeToString(Array(repeating: UInt8(0x61), count: 48)))"}"#

    @Test func jwksHMACKeysOnlyWhenAllowed() throws {
        // A published set (jwks_url): the oct key is refused, the rest serves.
        let published = try KeySet.fromJWKS(data: Self.jwks(Self.oct, Self.a2), defaultAlg: nil as String?, source: "u")
        #expect(published.keys.map(\.kid) == ["rsa1"])
        #expect(published.warnings.count == 1)
        #expect(published.warnings.first?.contains("hs1") == true)
        #expect(throws: KeyError.noUsableKeys) {
            try KeySet.fromJWKS(data: Self.jwks(Self.oct), defaultAlg: nil as String?, source: "u")
        }
        // A local file (jwks_file) may carry HMAC secrets.
        let local = try KeySet.fromJWKS(data: Self.jwks(Self.oct, Self.a2), defaultAlg: nil as String?,
                                        allowHMAC: true, source: "f")
        #expect(local.keys.map(\.kid) == ["hs1", "rsa1"])
        #expect(local.keys.first?.algorithm == .hs256)
    }

    @Test func jwksWithoutDefaultSkipsAlglessKeys() throws {
        let result = try KeySet.fromJWKS(data: Self.jwks(Self.a3, Self.a2), defaultAlg: nil as String?, source: "s")
        #expect(result.keys.map(\.kid) == ["rsa1"])
        #expect(result.warnings.count == 1)
    }

    @Test func jwksErrors() {
        #expect(throws: KeyError.noUsableKeys) { try KeySet.fromJWKS(data: Self.jwks(), defaultAlg: nil as String?, source: "s") }
        #expect(throws: KeyError.self) { try KeySet.fromJWKS(data: Array("{}".utf8), defaultAlg: nil as String?, source: "s") }
        #expect(throws: KeyError.self) { try KeySet.fromJWKS(data: Array("nope".utf8), defaultAlg: nil as String?, source: "s") }
        #expect(throws: KeyError.unknownAlgorithm("XX1")) { try KeySet.fromJWKS(data: Self.jwks(Self.a3), defaultAlg: "XX1", source: "s") }
    }

    @Test func loadFromConfig() throws {
        let configs = [
            KeyConfig(kid: "pub", alg: "ES256", source: .publicKeyFile(try Fixture.path("ecp256.pub.pem")), line: 10),
            KeyConfig(kid: "priv", alg: "PS256", source: .privateKeyFile(try Fixture.path("rsa2048.key.pem")), line: 14),
            KeyConfig(kid: "file", alg: "HS512", source: .secretFile(try Fixture.path("hs.secret")), line: 18),
            KeyConfig(kid: "env", alg: "HS256", source: .secretEnv("GW_SECRET"), line: 22),
            KeyConfig(kid: nil, alg: "ES256", source: .jwksURL(url: "https://idp/jwks", refreshIntervalMs: 1, fetchTimeoutMs: 1, caFile: nil), line: 26),
        ]
        let result = try KeySet.load(configs, environment: ["GW_SECRET": String(repeating: "s", count: 32)])
        #expect(result.keySet.keys.map(\.kid) == ["pub", "priv", "file", "env"])
        #expect(result.pendingURLs.count == 1)
        #expect(result.keySet.signingKey(kid: "priv") != nil)
        #expect(result.keySet.signingKey(kid: "file") != nil)
        #expect(result.keySet.signingKey(kid: "pub") == nil)
        #expect(result.keySet.key(kid: "env")?.source == "env:GW_SECRET")
    }

    @Test func secretFileDropsOneTrailingNewline() throws {
        // hs.secret is 64 bytes + "\n": exactly the HS512 minimum once the newline goes.
        let ok = [KeyConfig(kid: "f", alg: "HS512", source: .secretFile("/x"), line: 1)]
        _ = try KeySet.load(ok, environment: [:], readFile: { _ in [UInt8](repeating: 0x61, count: 64) + [0x0A] })
        #expect(throws: KeyLoadError(line: 1, error: .hmacSecretTooShort(bytes: 63, minimum: 64))) {
            _ = try KeySet.load(ok, environment: [:], readFile: { _ in [UInt8](repeating: 0x61, count: 63) + [0x0A] })
        }
    }

    @Test func loadErrorsCarryLines() throws {
        #expect(throws: KeyLoadError(line: 7, error: .missingEnvironment("NOPE"))) {
            try KeySet.load([KeyConfig(kid: "e", alg: "HS256", source: .secretEnv("NOPE"), line: 7)], environment: [:])
        }
        #expect(throws: KeyLoadError(line: 8, error: .rsaKeyTooSmall(bits: 1024))) {
            try KeySet.load([KeyConfig(kid: "r", alg: "RS256", source: .publicKeyFile(try Fixture.path("rsa1024.pub.pem")), line: 8)],
                            environment: [:])
        }
        #expect(throws: KeyLoadError(line: 9, error: .keyDoesNotFitAlgorithm(algorithm: "ES384", key: "EC P-256"))) {
            try KeySet.load([KeyConfig(kid: "e", alg: "ES384", source: .privateKeyFile(try Fixture.path("ecp256.key.pem")), line: 9)],
                            environment: [:])
        }
        #expect(throws: KeyLoadError(line: 3, error: .missingAlgorithm)) {
            try KeySet.load([KeyConfig(kid: "e", alg: nil, source: .secretEnv("X"), line: 3)], environment: ["X": "x"])
        }
        #expect(throws: KeyLoadError.self) {
            try KeySet.load([KeyConfig(kid: "e", alg: "ES256", source: .publicKeyFile("/nonexistent/key.pem"), line: 4)], environment: [:])
        }
        let dup = [
            KeyConfig(kid: "same", alg: "HS256", source: .secretEnv("A"), line: 1),
            KeyConfig(kid: "same", alg: "HS256", source: .secretEnv("B"), line: 5),
        ]
        let env = ["A": String(repeating: "a", count: 32), "B": String(repeating: "b", count: 32)]
        #expect(throws: KeyLoadError(line: 5, error: .duplicateKeyID("same"))) { try KeySet.load(dup, environment: env) }
    }

    @Test func jwksFileEntryReportsWarningsWithLine() throws {
        let data = Self.jwks(Self.a3, #"{"kty":"RSA","kid":"bad","alg":"ES256","n":"\#(RFC7515.a2N)","e":"AQAB"}"#)
        let result = try KeySet.load([KeyConfig(kid: nil, alg: "ES256", source: .jwksFile("/k/jwks.json"), line: 12)],
                                     environment: [:], readFile: { _ in data })
        #expect(result.keySet.keys.map(\.kid) == ["ec1"])
        #expect(result.warnings.map(\.line) == [12])
        #expect(result.warnings.map(\.source) == ["/k/jwks.json"])
    }

    @Test func replacingKeysFromOneSource() throws {
        let fixed = try SigningKey.hmac(secret: [UInt8](repeating: 1, count: 32), algorithm: .hs256, kid: "fixed", source: "env:X")
        let first = try KeySet.fromJWKS(data: Self.jwks(Self.a3), defaultAlg: "ES256", source: "https://idp")
        let set = try KeySet(keys: [fixed.verificationKey] + first.keys, signingKeys: [fixed])
        let second = try KeySet.fromJWKS(data: Self.jwks(Self.a2, Self.ed), defaultAlg: nil as String?, source: "https://idp")
        let next = try set.replacingKeys(fromSource: "https://idp", with: second.keys)
        #expect(next.keys.map(\.kid) == ["fixed", "rsa1", "ed1"])
        #expect(next.signingKey(kid: "fixed") != nil)
        #expect(throws: KeyError.duplicateKeyID("fixed")) {
            try set.replacingKeys(fromSource: "https://idp", with: [fixed.verificationKey])
        }
    }
}
