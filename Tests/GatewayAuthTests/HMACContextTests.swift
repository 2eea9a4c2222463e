import Testing
@testable import GatewayAuth

/// The per-worker HMAC context must give RFC 4231 answers, agree with the
/// shared `HMACKey` across many reuses and after rekeying, and compare MACs
/// in full.
@Suite struct HMACContextTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func mac(_ context: HMACContext, _ data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: context.size)
        let ok = data.withUnsafeBytes { d in out.withUnsafeMutableBytes { context.authenticate(d, into: $0) } }
        return ok ? out : nil
    }

    // RFC 4231 §4.3 (test case 2): key "Jefe".
    static let case2Data = Array("what do ya want for nothing?".utf8)
    static let case2SHA256 = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    static let case2SHA512 = hex("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")

    @Test func rfc4231KnownAnswersAcrossReuse() throws {
        let key256 = try HMACKey(key: Array("Jefe".utf8), digest: .sha256)
        let key512 = try HMACKey(key: Array("Jefe".utf8), digest: .sha512)
        let c256 = try #require(HMACContext(copying: key256))
        let c512 = try #require(HMACContext(copying: key512))
        for _ in 0..<3 {
            #expect(mac(c256, Self.case2Data) == Self.case2SHA256)
            #expect(mac(c512, Self.case2Data) == Self.case2SHA512)
        }
    }

    @Test func agreesWithSharedKeyForManyMessages() throws {
        let key = try HMACKey(key: [UInt8](repeating: 0x5A, count: 64), digest: .sha384)
        let context = try #require(HMACContext(copying: key))
        for n in [0, 1, 63, 64, 65, 200, 1000] {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            #expect(mac(context, data) == (try key.authenticate(data)))
        }
    }

    @Test func rekeyMatchesFreshKeys() throws {
        let context = try HMACContext(digest: .sha256)
        for seed in 0..<5 {
            let secret = [UInt8](repeating: UInt8(seed), count: 32 + seed)
            #expect(secret.withUnsafeBytes { context.rekey($0) })
            let data = Array("message \(seed)".utf8)
            #expect(mac(context, data) == (try HMACKey.mac(key: secret, digest: .sha256, data: data)))
        }
        // Rekey to the empty key (valid for HMAC) still works.
        #expect([UInt8]().withUnsafeBytes { context.rekey($0) })
        #expect(mac(context, [1, 2, 3]) == (try HMACKey.mac(key: [], digest: .sha256, data: [1, 2, 3])))
    }

    @Test func verifyRejectsAnyDifferentOrShortMAC() throws {
        let key = try HMACKey(key: Array("Jefe".utf8), digest: .sha256)
        let context = try #require(HMACContext(copying: key))
        let ok = Self.case2Data.withUnsafeBytes { d in Self.case2SHA256.withUnsafeBytes { context.verify(d, mac: $0) } }
        #expect(ok)
        for i in [0, 15, 31] {
            var bad = Self.case2SHA256
            bad[i] ^= 0x80
            let rejected = Self.case2Data.withUnsafeBytes { d in bad.withUnsafeBytes { !context.verify(d, mac: $0) } }
            #expect(rejected)
        }
        let short = Self.case2Data.withUnsafeBytes { d in Self.case2SHA256.dropLast().withUnsafeBytes { context.verify(d, mac: $0) } }
        #expect(!short)
        // Still good after the rejections.
        #expect(mac(context, Self.case2Data) == Self.case2SHA256)
    }

    @Test func workspacePreparesHMACKeys() throws {
        let key = try SigningKey.generate(.hs256, kid: "k")
        let workspace = VerifierWorkspace()
        let input = Array("eyJhbGciOiJIUzI1NiJ9.e30".utf8)
        let signature = try key.sign(input)
        var tampered = signature
        tampered[3] ^= 1
        for _ in 0..<3 {
            let good = input.withUnsafeBytes { m in signature.withUnsafeBytes {
                key.verificationKey.verify(signingInput: m, signature: $0, workspace: workspace) } }
            let bad = input.withUnsafeBytes { m in tampered.withUnsafeBytes {
                key.verificationKey.verify(signingInput: m, signature: $0, workspace: workspace) } }
            #expect(good)
            #expect(!bad)
        }
        guard case .mac? = workspace.context(for: key.verificationKey) else {
            Issue.record("HMAC key has no prepared context")
            return
        }
        #expect(workspace.count == 1)
    }
}
