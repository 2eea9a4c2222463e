public import GatewayCore
import Foundation

/// The verification keys of one configuration, by kid, plus the keys that
/// can sign. Immutable; a reload or a JWKS refresh builds a new set.
///
/// Key selection (SPEC §5): a token with `kid` gets exactly that key
/// (unknown: `unknownKeyID`); a token without `kid` gets the only key when
/// there is exactly one, else it is refused (keys are never tried in turn);
/// the token's `alg` must equal the key's alg (`algorithmMismatch`).
public struct KeySet: Sendable {
    public private(set) var keys: [VerificationKey]
    private var byKID: [String: VerificationKey]
    private var signers: [String: SigningKey]

    public static let empty = KeySet()

    private init() { keys = []; byKID = [:]; signers = [:] }

    /// Throws `duplicateKeyID` when two keys share a kid.
    public init(keys: [VerificationKey], signingKeys: [SigningKey] = []) throws(KeyError) {
        self.init()
        for key in keys { try add(key) }
        for signer in signingKeys {
            if let kid = signer.kid { signers[kid] = signer }
        }
    }

    private mutating func add(_ key: VerificationKey) throws(KeyError) {
        if let kid = key.kid {
            guard byKID[kid] == nil else { throw KeyError.duplicateKeyID(kid) }
            byKID[kid] = key
        }
        keys.append(key)
    }

    public var count: Int { keys.count }

    /// The signing key with this kid (for `refresh.signing_key`), if it has
    /// private material or is a secret.
    public func signingKey(kid: String) -> SigningKey? { signers[kid] }

    public func key(kid: String) -> VerificationKey? { byKID[kid] }

    /// Chooses the key for a decoded token (rules above).
    public func select(for token: JWSToken) -> Result<VerificationKey, AuthFailure> {
        select(kid: token.kid, algorithm: token.algorithm)
    }

    func select(kid: String?, algorithm: JWSAlgorithm?) -> Result<VerificationKey, AuthFailure> {
        let key: VerificationKey
        if let kid {
            guard let found = byKID[kid] else { return .failure(.unknownKeyID) }
            key = found
        } else {
            guard keys.count == 1 else { return .failure(.malformed("no kid and several keys")) }
            key = keys[0]
        }
        guard let alg = algorithm, alg == key.algorithm else { return .failure(.algorithmMismatch) }
        return .success(key)
    }

    /// A copy where the keys from `source` are replaced by `newKeys` (a
    /// JWKS refresh). Throws when a new kid collides with another source's.
    public func replacingKeys(fromSource source: String, with newKeys: [VerificationKey]) throws(KeyError) -> KeySet {
        var next = KeySet()
        next.signers = signers
        for key in keys where key.source != source { try next.add(key) }
        for key in newKeys { try next.add(key) }
        return next
    }

    // MARK: Loading

    /// What `load` produced: the set, JWKs skipped with a reason, and the
    /// `jwks_url` entries left for the fetcher (their keys arrive later via
    /// `fromJWKS` and `replacingKeys`).
    public struct LoadResult: Sendable {
        public var keySet: KeySet
        public var warnings: [KeyLoadWarning]
        public var pendingURLs: [KeyConfig]
    }

    /// Loads every `[[keys]]` entry. `environment` supplies `secret_env`
    /// values; `readFile` reads a path (injected for tests). Errors carry the
    /// entry's line.
    public static func load(_ configs: [KeyConfig], environment: [String: String],
                            readFile: (String) throws -> [UInt8] = KeySet.readFile) throws(KeyLoadError) -> LoadResult {
        var verification: [VerificationKey] = []
        var signing: [SigningKey] = []
        var warnings: [KeyLoadWarning] = []
        var pending: [KeyConfig] = []

        for config in configs {
            let line = config.line
            func fail(_ error: KeyError) -> KeyLoadError { KeyLoadError(line: line, error: error) }
            func read(_ path: String) throws(KeyError) -> [UInt8] {
                do { return try readFile(path) } catch {
                    throw KeyError.unreadable(path: path, reason: String(describing: error))
                }
            }
            func algorithm() throws(KeyError) -> JWSAlgorithm {
                guard let name = config.alg else { throw KeyError.missingAlgorithm }
                guard let alg = JWSAlgorithm(name: name) else { throw KeyError.unknownAlgorithm(name) }
                return alg
            }
            do throws(KeyError) {
                switch config.source {
                case .publicKeyFile(let path):
                    let alg = try algorithm()
                    verification.append(try VerificationKey.publicKey(pem: try read(path), algorithm: alg,
                                                                      kid: config.kid, source: path))
                case .privateKeyFile(let path):
                    let alg = try algorithm()
                    let key = try SigningKey.privateKey(pem: try read(path), algorithm: alg, kid: config.kid, source: path)
                    verification.append(key.verificationKey)
                    signing.append(key)
                case .secretFile(let path):
                    let alg = try algorithm()
                    var secret = try read(path)
                    if secret.last == 0x0A { secret.removeLast() }
                    let key = try SigningKey.hmac(secret: secret, algorithm: alg, kid: config.kid, source: path)
                    verification.append(key.verificationKey)
                    signing.append(key)
                case .secretEnv(let name):
                    let alg = try algorithm()
                    guard let value = environment[name], !value.isEmpty else { throw KeyError.missingEnvironment(name) }
                    let key = try SigningKey.hmac(secret: Array(value.utf8), algorithm: alg, kid: config.kid,
                                                  source: "env:\(name)")
                    verification.append(key.verificationKey)
                    signing.append(key)
                case .jwksFile(let path):
                    let defaultAlg: JWSAlgorithm?
                    if let name = config.alg {
                        guard let a = JWSAlgorithm(name: name) else { throw KeyError.unknownAlgorithm(name) }
                        defaultAlg = a
                    } else {
                        defaultAlg = nil
                    }
                    let set = try fromJWKS(data: try read(path), defaultAlg: defaultAlg, allowHMAC: true, source: path)
                    verification += set.keys
                    warnings += set.warnings.map { KeyLoadWarning(line: line, source: path, message: $0) }
                case .jwksURL:
                    if let name = config.alg, JWSAlgorithm(name: name) == nil {
                        throw KeyError.unknownAlgorithm(name)
                    }
                    pending.append(config)
                }
            } catch {
                throw fail(error)
            }
        }
        do {
            return LoadResult(keySet: try KeySet(keys: verification, signingKeys: signing),
                              warnings: warnings, pendingURLs: pending)
        } catch {
            // Name the entry that brought the second copy of the kid.
            var line = configs.first?.line ?? 0
            if case .duplicateKeyID(let kid) = error,
               let config = configs.last(where: { $0.kid == kid }) ?? configs.last {
                line = config.line
            }
            throw KeyLoadError(line: line, error: error)
        }
    }

    /// Reads a whole key file (at most 1 MiB: key files are small, and a
    /// mistaken path to something huge must not fill memory).
    public static func readFile(_ path: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: path)
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let data = try handle.read(upToCount: (1 << 20) + 1) ?? Data()
        guard data.count <= 1 << 20 else { throw KeyError.badKeyMaterial("file larger than 1 MiB") }
        return [UInt8](data)
    }

    /// The keys of a JWK set (RFC 7517 §5) from `data`. Every JWK needs a
    /// `kid`; its own `alg`, or `defaultAlg` when it has none, binds it. JWKs
    /// that are refused (no kid, alg unfit for the key, unsupported type,
    /// duplicate kid, and `kty: "oct"` unless `allowHMAC`: only local files
    /// may hold HMAC secrets, never a set fetched from a URL) are skipped
    /// and described in `warnings`. Throws when
    /// the document is not a JWK set or no key is usable.
    public static func fromJWKS(data: [UInt8], defaultAlg: JWSAlgorithm?, allowHMAC: Bool = false,
                                source: String) throws(KeyError) -> (keys: [VerificationKey], warnings: [String]) {
        let document: JSONValue
        do { document = try JSONParser.parse(data, limits: .keySet) } catch {
            throw KeyError.badJWKS("not valid JSON (\(error.description))")
        }
        guard case .object(let root) = document, case .array(let entries)? = root["keys"] else {
            throw KeyError.badJWKS("no \"keys\" array")
        }
        var keys: [VerificationKey] = []
        var warnings: [String] = []
        var seen = Set<String>()
        for (index, entry) in entries.enumerated() {
            guard case .object(let jwk) = entry else {
                warnings.append("JWK #\(index) is not an object; skipped")
                continue
            }
            do {
                let key = try JWK.verificationKey(jwk, defaultAlgorithm: defaultAlg, allowHMAC: allowHMAC,
                                                  source: source)
                guard let kid = key.kid, seen.insert(kid).inserted else {
                    warnings.append("JWK #\(index) repeats kid \"\(key.kid ?? "")\"; skipped")
                    continue
                }
                keys.append(key)
            } catch {
                let name = jwk["kid"]?.stringValue.map { "\"\($0)\"" } ?? "#\(index)"
                warnings.append("JWK \(name) refused: \(error.description)")
            }
        }
        guard !keys.isEmpty else { throw KeyError.noUsableKeys }
        return (keys, warnings)
    }

    /// `fromJWKS` with the default alg given by name (as in `KeyConfig.alg`).
    public static func fromJWKS(data: [UInt8], defaultAlg: String?, allowHMAC: Bool = false,
                                source: String) throws(KeyError) -> (keys: [VerificationKey], warnings: [String]) {
        var alg: JWSAlgorithm? = nil
        if let defaultAlg {
            guard let a = JWSAlgorithm(name: defaultAlg) else { throw KeyError.unknownAlgorithm(defaultAlg) }
            alg = a
        }
        return try fromJWKS(data: data, defaultAlg: alg, allowHMAC: allowHMAC, source: source)
    }
}
