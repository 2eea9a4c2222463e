/// A key that signs JWS (refreshed and minted tokens), bound to one algorithm
/// and kid. Every algorithm signs deterministically, because the product
/// needs two gateway instances that share a key to produce byte-identical
/// refreshed tokens (SPEC §6): HMAC, RSA PKCS#1 v1.5 and Ed25519 are
/// deterministic by nature; ECDSA uses RFC 6979 nonces; PSS uses a salt
/// derived from the key and message (see `sign`).
public final class SigningKey: Sendable, CustomStringConvertible {
    public let kid: String?
    public let algorithm: JWSAlgorithm
    /// The public half (or the same secret) for verifying what this signs.
    public let verificationKey: VerificationKey
    let material: VerificationKey.Material
    /// A secret derived from the key material, for PSS salts and for
    /// `deriveSecret` (jti derivation etc.). Never the key itself.
    private let derivationKey: HMACKey
    /// ECDSA keys: the private scalar for RFC 6979 nonces, read once.
    private let ecScalar: [UInt8]?

    private init(kid: String?, algorithm: JWSAlgorithm, material: VerificationKey.Material,
                 derivationSeed: [UInt8], source: String) throws(KeyError) {
        self.verificationKey = try VerificationKey(kid: kid, algorithm: algorithm, material: material, source: source)
        self.kid = kid
        self.algorithm = algorithm
        self.material = material
        if case .asymmetric(let key) = material, case .ecdsa(let curve) = algorithm.family {
            do { ecScalar = try key.ecPrivateScalar(curve: curve) } catch { throw KeyError.badKeyMaterial(error.description) }
        } else {
            ecScalar = nil
        }
        do {
            // Domain-separated so the derived key never equals a MAC the key
            // itself would produce for a token.
            let seed = try HMACKey.mac(key: Array("gateway signing-key derivation v1".utf8),
                                       digest: .sha256, data: derivationSeed)
            derivationKey = try HMACKey(key: seed, digest: .sha512)
        } catch {
            throw KeyError.badKeyMaterial(error.description)
        }
    }

    /// An HMAC signing key (HS256/384/512).
    public static func hmac(secret: [UInt8], algorithm: JWSAlgorithm, kid: String?,
                            source: String = "") throws(KeyError) -> SigningKey {
        let material = try VerificationKey.makeHMAC(secret: secret, algorithm: algorithm)
        return try SigningKey(kid: kid, algorithm: algorithm, material: material, derivationSeed: secret, source: source)
    }

    /// A private key from PEM (PKCS#8 or traditional).
    public static func privateKey(pem: [UInt8], algorithm: JWSAlgorithm, kid: String?,
                                  source: String = "") throws(KeyError) -> SigningKey {
        let key: EVPKey
        do { key = try EVPKey.privateKey(pem: pem) } catch { throw KeyError.badKeyMaterial(error.description) }
        return try SigningKey(evpKey: key, algorithm: algorithm, kid: kid, source: source)
    }

    convenience init(evpKey key: EVPKey, algorithm: JWSAlgorithm, kid: String?, source: String) throws(KeyError) {
        guard key.hasPrivateKey, let der = key.privateKeyDER() else { throw KeyError.notASigningKey }
        try self.init(kid: kid, algorithm: algorithm, material: .asymmetric(key), derivationSeed: der, source: source)
    }

    /// A fresh random key for `algorithm` (tests, `gateway token` tooling):
    /// 64-byte HMAC secret, RSA 2048, the algorithm's curve, or Ed25519.
    public static func generate(_ algorithm: JWSAlgorithm, kid: String?) throws(KeyError) -> SigningKey {
        if algorithm.family == .hmac {
            return try hmac(secret: try randomSecret(), algorithm: algorithm, kid: kid, source: "generated")
        }
        let material: EVPKey
        do throws(OpenSSLError) {
            switch algorithm.family {
            case .hmac: throw OpenSSLError(operation: "keygen", detail: "unreachable")
            case .rsaPKCS1, .rsaPSS: material = try EVPKey.generateRSA(bits: 2048)
            case .ecdsa(let curve): material = try EVPKey.generateEC(curve)
            case .edDSA: material = try EVPKey.generateEd25519()
            }
        } catch {
            throw KeyError.badKeyMaterial(error.description)
        }
        return try SigningKey(evpKey: material, algorithm: algorithm, kid: kid, source: "generated")
    }

    private static func randomSecret() throws(KeyError) -> [UInt8] {
        do { return try SecureRandom.bytes(64) } catch { throw KeyError.badKeyMaterial(error.description) }
    }

    /// Signs `signingInput` (ASCII `header.payload`) and returns the JWS
    /// signature bytes: the MAC, the RSA signature, raw r||s for ECDSA
    /// (RFC 7518 §3.4), or the 64-byte Ed25519 signature.
    public func sign(_ signingInput: UnsafeRawBufferPointer) throws(OpenSSLError) -> [UInt8] {
        switch material {
        case .hmac(let key):
            var out = [UInt8](repeating: 0, count: key.size)
            guard out.withUnsafeMutableBytes({ key.authenticate(signingInput, into: $0) }) else {
                throw OpenSSLError.capture("HMAC")
            }
            return out
        case .asymmetric(let key):
            switch algorithm.family {
            case .hmac:
                throw OpenSSLError(operation: "sign", detail: "HMAC algorithm with an asymmetric key")
            case .rsaPKCS1:
                return try key.sign(message: signingInput, digest: algorithm.digest)
            case .rsaPSS:
                return try signPSS(key: key, message: signingInput)
            case .ecdsa(let curve):
                guard let digest = algorithm.digest else { throw OpenSSLError(operation: "sign", detail: "no digest") }
                let h = digest.hash(signingInput)
                let x: [UInt8]
                if let ecScalar { x = ecScalar } else { x = try key.ecPrivateScalar(curve: curve) }
                let k = try DeterministicNonce.generate(privateKey: x, messageHash: h, digest: digest, curve: curve)
                return try key.ecdsaSign(messageDigest: h, nonce: k, curve: curve)
            case .edDSA:
                return try key.sign(message: signingInput, digest: nil)
            }
        }
    }

    /// As `sign(_:)`, same bytes, using the worker's prepared state for this
    /// key when it has one (ECDSA: DRBG, BN_CTX and precomputed numbers;
    /// HMAC: a reused context). Worker thread only.
    func sign(_ signingInput: UnsafeRawBufferPointer, workspace: SignerWorkspace) throws(OpenSSLError) -> [UInt8] {
        switch material {
        case .hmac(let key):
            guard let context = workspace.mac(for: key) else { return try sign(signingInput) }
            var out = [UInt8](repeating: 0, count: context.size)
            guard out.withUnsafeMutableBytes({ context.authenticate(signingInput, into: $0) }) else {
                throw OpenSSLError.capture("HMAC")
            }
            return out
        case .asymmetric:
            guard let prepared = workspace.ecdsa(for: self) else { return try sign(signingInput) }
            var out = [UInt8](repeating: 0, count: 2 * prepared.curve.fieldLength)
            let result: Result<Void, OpenSSLError> = out.withUnsafeMutableBytes { raw in
                do throws(OpenSSLError) { return .success(try prepared.sign(signingInput, into: raw)) } catch { return .failure(error) }
            }
            try result.get()
            return out
        }
    }

    /// An upper bound on the JWS signature length (for sizing buffers).
    var maxSignatureBytes: Int {
        switch material {
        case .hmac(let key): return key.size
        case .asymmetric(let key): return max(key.maxSignatureSize, 132)
        }
    }

    /// The prepared signer for an ECDSA key; nil for other algorithms.
    func makePreparedECDSASigner() -> PreparedECDSASigner? {
        guard case .asymmetric(let key) = material, case .ecdsa(let curve) = algorithm.family,
              let digest = algorithm.digest, let ecScalar else { return nil }
        return PreparedECDSASigner(key: key, scalar: ecScalar, curve: curve, digest: digest)
    }

    public func sign(_ signingInput: [UInt8]) throws(OpenSSLError) -> [UInt8] {
        let result: Result<[UInt8], OpenSSLError> = signingInput.withUnsafeBytes { raw in
            do throws(OpenSSLError) { return .success(try sign(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// PSS with a deterministic salt: salt = HMAC(key-derived secret,
    /// message) truncated to the hash length (RFC 7518 §3.5 fixes the salt
    /// length to the hash length). OpenSSL only offers random salts, and the
    /// product needs every signer deterministic so two instances produce
    /// byte-identical refreshed tokens; a secret, message-bound salt keeps
    /// PSS's security argument (the salt is unpredictable to others).
    private func signPSS(key: EVPKey, message: UnsafeRawBufferPointer) throws(OpenSSLError) -> [UInt8] {
        guard let digest = algorithm.digest else { throw OpenSSLError(operation: "PSS", detail: "no digest") }
        let bits: Int
        switch key.type {
        case .rsa(let b): bits = b
        default: throw OpenSSLError(operation: "PSS", detail: "deterministic PSS needs a plain RSA key")
        }
        var saltInput = Array("pss-salt\u{0}".utf8)
        saltInput.append(contentsOf: message)
        let salt = Array(try derivationKey.authenticate(saltInput).prefix(digest.size))
        guard let em = RSAPSSEncoding.encode(message: message, salt: salt, digest: digest, modulusBits: bits) else {
            throw OpenSSLError(operation: "PSS", detail: "modulus too small")
        }
        return try key.rsaPrivateRaw(em)
    }

    /// A 32-byte secret derived from this key for `label` (e.g. the jti
    /// derivation of refreshed tokens, SPEC §6). Stable for the same key
    /// material on every instance; independent across labels.
    public func deriveSecret(label: String) throws(OpenSSLError) -> [UInt8] {
        var input = Array("derive\u{0}".utf8)
        input.append(contentsOf: label.utf8)
        return Array(try derivationKey.authenticate(input).prefix(32))
    }

    public var description: String { "SigningKey(kid: \(kid ?? "-"), alg: \(algorithm.name))" }
}
