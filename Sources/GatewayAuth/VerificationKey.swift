/// A key that verifies JWS signatures, bound to exactly one algorithm and
/// (optionally) one kid. The algorithm comes from configuration or the JWK,
/// never from a token (RFC 8725 §3.1), so a token cannot pick how it is
/// checked. Immutable and shareable across worker threads.
public final class VerificationKey: Sendable, CustomStringConvertible {
    public let kid: String?
    public let algorithm: JWSAlgorithm
    /// Where the key came from (file path, URL, `env:NAME`), for logs and the
    /// `keys` metric label.
    public let source: String
    let material: Material

    enum Material: Sendable {
        case hmac(HMACKey)
        case asymmetric(EVPKey)
    }

    /// Minimum HMAC secret: the hash output size (RFC 7518 §3.2 "MUST"),
    /// which is at least the 32 bytes SPEC §3 names.
    public static func minimumSecretLength(for algorithm: JWSAlgorithm) -> Int {
        max(32, algorithm.hashLength)
    }

    init(kid: String?, algorithm: JWSAlgorithm, material: Material, source: String) throws(KeyError) {
        try VerificationKey.checkFit(material, algorithm)
        self.kid = kid
        self.algorithm = algorithm
        self.material = material
        self.source = source
    }

    /// Refuses material that does not fit `algorithm`: HMAC secrets only for
    /// HS*, RSA of at least 2048 bits for RS*/PS* (RSA-PSS-only keys for PS*
    /// only), the matching curve for each ES*, Ed25519 for EdDSA.
    static func checkFit(_ material: Material, _ algorithm: JWSAlgorithm) throws(KeyError) {
        switch (material, algorithm.family) {
        case (.hmac, .hmac):
            return
        case (.hmac, _):
            throw KeyError.keyDoesNotFitAlgorithm(algorithm: algorithm.name, key: "HMAC secret")
        case (.asymmetric(let key), let family):
            switch (key.type, family) {
            case (.rsa(let bits), .rsaPKCS1), (.rsa(let bits), .rsaPSS), (.rsaPSS(let bits), .rsaPSS):
                guard bits >= 2048 else { throw KeyError.rsaKeyTooSmall(bits: bits) }
            case (.ec(let curve), .ecdsa(let wanted)) where curve == wanted:
                return
            case (.ed25519, .edDSA):
                return
            default:
                throw KeyError.keyDoesNotFitAlgorithm(algorithm: algorithm.name, key: key.type.label)
            }
        }
    }

    /// An HMAC verification key (HS256/384/512) from a raw secret.
    public static func hmac(secret: [UInt8], algorithm: JWSAlgorithm, kid: String?,
                            source: String = "") throws(KeyError) -> VerificationKey {
        let material = try makeHMAC(secret: secret, algorithm: algorithm)
        return try VerificationKey(kid: kid, algorithm: algorithm, material: material, source: source)
    }

    static func makeHMAC(secret: [UInt8], algorithm: JWSAlgorithm) throws(KeyError) -> Material {
        guard algorithm.family == .hmac, let digest = algorithm.digest else {
            throw KeyError.keyDoesNotFitAlgorithm(algorithm: algorithm.name, key: "HMAC secret")
        }
        let minimum = minimumSecretLength(for: algorithm)
        guard secret.count >= minimum else { throw KeyError.hmacSecretTooShort(bytes: secret.count, minimum: minimum) }
        do {
            return .hmac(try HMACKey(key: secret, digest: digest))
        } catch {
            throw KeyError.badKeyMaterial(error.description)
        }
    }

    /// A public key from PEM (SPKI "PUBLIC KEY").
    public static func publicKey(pem: [UInt8], algorithm: JWSAlgorithm, kid: String?,
                                 source: String = "") throws(KeyError) -> VerificationKey {
        let key: EVPKey
        do { key = try EVPKey.publicKey(pem: pem) } catch { throw KeyError.badKeyMaterial(error.description) }
        return try VerificationKey(kid: kid, algorithm: algorithm, material: .asymmetric(key), source: source)
    }

    /// Checks `signature` over `signingInput` (the ASCII `header.payload`).
    /// HMAC is compared in constant time; ECDSA signatures must be raw r||s
    /// of exactly twice the field length with r, s in [1, n-1] (RFC 7518
    /// §3.4) and are converted to DER for OpenSSL; RSA signatures must be
    /// exactly the modulus length.
    public func verify(signingInput: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
        switch material {
        case .hmac(let key):
            return key.verify(signingInput, mac: signature)
        case .asymmetric(let key):
            switch algorithm.family {
            case .hmac:
                return false
            case .rsaPKCS1, .rsaPSS:
                guard signature.count == key.maxSignatureSize else { return false }
                return key.verify(message: signingInput, signature: signature, digest: algorithm.digest,
                                  padding: algorithm.family == .rsaPSS ? .pss : .pkcs1)
            case .ecdsa(let curve):
                guard let der = ECDSASignature.der(fromRaw: signature, curve: curve) else { return false }
                return der.withUnsafeBytes {
                    key.verify(message: signingInput, signature: $0, digest: algorithm.digest, padding: .none)
                }
            case .edDSA:
                guard signature.count == 64 else { return false }
                return key.verify(message: signingInput, signature: signature, digest: nil, padding: .none)
            }
        }
    }

    /// As `verify(signingInput:signature:)` with the same rules, using the
    /// worker's prepared context for this key when it has one (every
    /// algorithm): no provider lookup or context setup per token. Worker thread only.
    func verify(signingInput: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer,
                workspace: VerifierWorkspace) -> Bool {
        switch workspace.context(for: self) {
        case nil:
            return verify(signingInput: signingInput, signature: signature)
        case .mac(let context)?:
            return context.verify(signingInput, mac: signature)
        case .signature(let prepared)?:
            switch algorithm.family {
            case .rsaPKCS1, .rsaPSS:
                guard signature.count == prepared.key.maxSignatureSize else { return false }
                return prepared.verify(message: signingInput, signature: signature)
            case .ecdsa(let curve):
                return ECDSASignature.withDER(fromRaw: signature, curve: curve) {
                    prepared.verify(message: signingInput, signature: $0)
                } ?? false
            case .edDSA:
                guard signature.count == 64 else { return false }
                return prepared.verify(message: signingInput, signature: signature)
            case .hmac:
                return false
            }
        }
    }

    public func verify(signingInput: [UInt8], signature: [UInt8]) -> Bool {
        signingInput.withUnsafeBytes { i in signature.withUnsafeBytes { s in verify(signingInput: i, signature: s) } }
    }

    public var description: String {
        "VerificationKey(kid: \(kid ?? "-"), alg: \(algorithm.name), source: \(source))"
    }
}
