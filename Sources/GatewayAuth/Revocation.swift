/// One revocation entry (SPEC §7): what it revokes, when it was made and
/// when it is dropped. Times are unix seconds, as the admin API shows them.
public struct Revocation: Sendable, Equatable {
    /// What a revocation matches.
    public enum Target: Sendable, Hashable {
        /// One token, by its `jti`.
        case jti(String)
        /// A session: its refresh tokens and every access token with this `sid`.
        case sid(String)
        /// Every token of `sub` issued (`iat`) before `before`: password
        /// resets, "log out everywhere".
        case subject(String, before: Int64)

        /// `jti`, `sid` or `sub`: the API's `kind` and the metric label.
        public var kind: String {
            switch self {
            case .jti: return "jti"
            case .sid: return "sid"
            case .subject: return "sub"
            }
        }

        /// The jti, sid or sub.
        public var value: String {
            switch self {
            case .jti(let v), .sid(let v), .subject(let v, _): return v
            }
        }
    }

    /// Derived from the target alone (`Revocation.id(for:)`), so repeating
    /// an entry, on any instance, names the same entry.
    public let id: String
    public let target: Target
    public let created: Int64
    /// The entry is dropped after this time.
    public var until: Int64

    public init(target: Target, created: Int64, until: Int64) {
        self.id = Revocation.id(for: target)
        self.target = target
        self.created = created
        self.until = until
    }

    /// Rebuilds an entry read back from a store, keeping the id it was stored under.
    public init(id: String, target: Target, created: Int64, until: Int64) {
        self.id = id
        self.target = target
        self.created = created
        self.until = until
    }

    /// 22 base64url characters: the first 16 bytes of SHA-256 over the kind,
    /// the value and (for `sub`) the time, NUL-separated. Safe in a URL path.
    public static func id(for target: Target) -> String {
        var input = Array(target.kind.utf8)
        input.append(0)
        input.append(contentsOf: target.value.utf8)
        if case .subject(_, let before) = target {
            input.append(0)
            input.append(contentsOf: String(before).utf8)
        }
        let digest = MessageDigest.sha256.hash(input)
        return Base64URL.encodeToString(digest.prefix(16))
    }
}
