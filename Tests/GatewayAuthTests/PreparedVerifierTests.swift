import Testing
@testable import GatewayAuth

/// The prepared (per-worker) verify path must answer exactly as the one-shot
/// path: same accepts, same rejects, and a context stays usable after a
/// rejection (OpenSSL errors must not stick to it).
@Suite struct PreparedVerifierTests {
    static let asymmetric: [JWSAlgorithm] = JWSAlgorithm.allCases.filter { $0.family != .hmac }

    @Test(arguments: asymmetric)
    func agreesWithOneShotAcrossReuse(_ alg: JWSAlgorithm) throws {
        let key = try SigningKey.generate(alg, kid: "k")
        let workspace = VerifierWorkspace()
        for i in 0..<4 {
            let input = Array("eyJhbGciOiJ4In0.payload-\(i)".utf8)
            let signature = try key.sign(input)
            var tampered = signature
            tampered[tampered.count / 2] ^= 0x01
            let verifier = key.verificationKey
            let good = input.withUnsafeBytes { m in signature.withUnsafeBytes { s in
                verifier.verify(signingInput: m, signature: s, workspace: workspace) } }
            let bad = input.withUnsafeBytes { m in tampered.withUnsafeBytes { s in
                verifier.verify(signingInput: m, signature: s, workspace: workspace) } }
            let short = input.withUnsafeBytes { m in signature.dropLast().withUnsafeBytes { s in
                verifier.verify(signingInput: m, signature: s, workspace: workspace) } }
            #expect(good)
            #expect(!bad)
            #expect(!short)
            #expect(good == verifier.verify(signingInput: input, signature: signature))
            #expect(bad == verifier.verify(signingInput: input, signature: tampered))
        }
        // Every asymmetric algorithm, Ed25519 included, gets a prepared context.
        #expect(workspace.count == 1)
        #expect(workspace.prepared(for: key.verificationKey) != nil)
    }

    @Test func clearDropsContexts() throws {
        let key = try SigningKey.generate(.es256, kid: "k")
        let workspace = VerifierWorkspace()
        _ = workspace.prepared(for: key.verificationKey)
        #expect(workspace.count == 1)
        workspace.clear()
        #expect(workspace.count == 0)
    }
}
