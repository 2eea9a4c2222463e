import COpenSSL
import Testing
@testable import GatewayAuth

/// The per-worker signing path (prepared ECDSA signer, reused HMAC contexts)
/// must give exactly the bytes of the unprepared path: RFC 6979 A.2.5 for
/// P-256, and the same signatures on every curve across many reuses.
@Suite struct PreparedECDSASignerTests {
    func sign(_ key: SigningKey, _ message: String, _ workspace: SignerWorkspace) throws -> [UInt8] {
        let input = Array(message.utf8)
        let result: Result<[UInt8], OpenSSLError> = input.withUnsafeBytes { raw in
            do throws(OpenSSLError) { return .success(try key.sign(raw, workspace: workspace)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    @Test(arguments: [
        ("sample", "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
                 + "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
        ("test", "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
               + "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"),
    ])
    func rfc6979A25ThroughTheWorkspace(message: String, expected: String) throws {
        let key = try SigningKeyTests.rfc6979Key()
        let workspace = SignerWorkspace()
        // Twice: the second use runs on the reused DRBG context and numbers.
        #expect(try sign(key, message, workspace) == hexBytes(expected))
        #expect(try sign(key, message, workspace) == hexBytes(expected))
        #expect(workspace.ecdsa(for: key) != nil)
    }

    @Test(arguments: [JWSAlgorithm.es256, .es384, .es512])
    func sameBytesAsTheUnpreparedPathAcrossReuse(_ alg: JWSAlgorithm) throws {
        let key = try SigningKey.generate(alg, kid: "k")
        let workspace = SignerWorkspace()
        for i in 0..<6 {
            let message = "eyJhbGciOiJFUzI1NiJ9.payload-\(i)"
            let prepared = try sign(key, message, workspace)
            #expect(prepared == (try key.sign(Array(message.utf8))))
            #expect(key.verificationKey.verify(signingInput: Array(message.utf8), signature: prepared))
        }
        #expect(workspace.count == 1)
    }

    @Test(arguments: [JWSAlgorithm.hs256, .hs512, .rs256, .edDSA])
    func otherAlgorithmsSignTheSameThroughTheWorkspace(_ alg: JWSAlgorithm) throws {
        let key = try TestKeys.signer(for: alg)
        let workspace = SignerWorkspace()
        for i in 0..<3 {
            let message = "header.payload-\(i)"
            #expect(try sign(key, message, workspace) == (try key.sign(Array(message.utf8))))
        }
        #expect(workspace.ecdsa(for: key) == nil)
    }

    @Test func clearDropsPreparedState() throws {
        let key = try SigningKey.generate(.es256, kid: "k")
        let workspace = SignerWorkspace()
        _ = try sign(key, "a.b", workspace)
        #expect(workspace.count == 1)
        workspace.clear()
        #expect(workspace.count == 0)
        let cache = ReissueCache(capacity: 4)
        _ = cache.workspace.ecdsa(for: key)
        cache.clear()
        #expect(cache.workspace.count == 0)
    }

    /// OpenSSL's plain inverse of k mod the curve's order, the oracle for
    /// the signer's blinded Montgomery one.
    static func opensslInverse(_ k: [UInt8], curve: EllipticCurve) -> [UInt8]? {
        guard let n = BN_bin2bn(curve.order, Int32(curve.order.count), nil) else { return nil }
        defer { BN_free(n) }
        guard let kbn = BN_bin2bn(k, Int32(k.count), nil) else { return nil }
        defer { BN_free(kbn) }
        guard let inv = BN_mod_inverse(nil, kbn, n, nil) else { return nil }
        defer { BN_free(inv) }
        var out = [UInt8](repeating: 0, count: curve.order.count)
        return BN_bn2binpad(inv, &out, Int32(out.count)) == Int32(out.count) ? out : nil
    }

    /// A k in [1, n-1]: random bytes below the order (top byte masked for P-521).
    static func randomNonce(_ curve: EllipticCurve) throws -> [UInt8] {
        while true {
            var k = try SecureRandom.bytes(curve.order.count)
            if curve == .p521 { k[0] &= 0x01 }
            if k.lexicographicallyPrecedes(curve.order), k.contains(where: { $0 != 0 }) { return k }
        }
    }

    @Test(arguments: [JWSAlgorithm.es256, .es384, .es512])
    func nonceInverseAgreesWithBNModInverse(_ alg: JWSAlgorithm) throws {
        let key = try SigningKey.generate(alg, kid: "k")
        let signer = try #require(key.makePreparedECDSASigner())
        let curve = signer.curve
        var nMinus1 = curve.order
        nMinus1[nMinus1.count - 1] -= 1
        let one = [UInt8](repeating: 0, count: curve.order.count - 1) + [1]
        // 300 uses: several refreshes of the blinding factor (every 32) and
        // the squarings between them; the edges 1 and n-1 too.
        var nonces = [one, nMinus1]
        for _ in 0..<300 { nonces.append(try Self.randomNonce(curve)) }
        for k in nonces {
            let expected = try #require(Self.opensslInverse(k, curve: curve))
            #expect(signer.nonceInverse(k) == expected)
        }
        // Out of range: refused, not reduced.
        #expect(signer.nonceInverse([UInt8](repeating: 0, count: curve.order.count)) == nil)
        #expect(signer.nonceInverse(curve.order) == nil)
        // The same signer, after all that, still signs the unprepared path's bytes.
        let input = Array("eyJhbGciOiJFUzI1NiJ9.after-inverses".utf8)
        var out = [UInt8](repeating: 0, count: 2 * curve.fieldLength)
        try input.withUnsafeBytes { m in try out.withUnsafeMutableBytes { try signer.sign(m, into: $0) } }
        #expect(out == (try key.sign(input)))
    }
}

