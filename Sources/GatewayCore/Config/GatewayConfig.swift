/// The whole validated configuration. Built only by `ConfigLoader`; every
/// value here has passed its checks, so the runtime never re-validates.
/// Durations are in milliseconds (Int64) so arithmetic stays integer.
public struct GatewayConfig: Sendable, Equatable {
    public var server: ServerConfig
    public var admin: AdminConfig
    /// Keyed by the name in `[upstreams.NAME]`.
    public var upstreams: [String: UpstreamConfig]
    /// In file order. Routing picks the longest prefix (see `Router`).
    public var routes: [RouteConfig]
    public var tokens: TokensConfig
    public var keys: [KeyConfig]
    public var refresh: RefreshConfig
    /// Absolute path of the file this came from.
    public var sourcePath: String
    /// `[sessions]` (SPEC §7); nil when the table is absent: no `/auth/` endpoints.
    public var sessions: SessionsConfig? = nil
    /// `[store]` (SPEC §7); the loader always fills it (defaults when the
    /// table is absent), with `stateDir` resolved against the config's directory.
    public var store: StoreConfig = StoreConfig()
    /// The file has a `[store]` table. With neither it nor `[sessions]` the
    /// gateway is stateless: no store is opened, no state directory made.
    public var hasStore = false

    public init(server: ServerConfig, admin: AdminConfig, upstreams: [String: UpstreamConfig],
                routes: [RouteConfig], tokens: TokensConfig, keys: [KeyConfig],
                refresh: RefreshConfig, sourcePath: String) {
        self.server = server; self.admin = admin; self.upstreams = upstreams; self.routes = routes
        self.tokens = tokens; self.keys = keys; self.refresh = refresh; self.sourcePath = sourcePath
    }
}

/// A host:port to listen on or connect to. `host` is an IPv4 or IPv6 literal
/// (without brackets) or a name; port 0 means "any free port" (tests).
public struct SocketAddressSpec: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) { self.host = host; self.port = port }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public enum AccessLogFormat: String, Sendable, Equatable, CaseIterable { case json, text, off }

public struct ServerConfig: Sendable, Equatable {
    public var listen: [SocketAddressSpec] = [SocketAddressSpec(host: "0.0.0.0", port: 8080)]
    /// 0 in the file means one per core; resolved to a concrete count here.
    public var workers: Int = 1
    /// `tls_certificate` / `tls_private_key` as written (absolute paths);
    /// when set they are also `certificates[0]`.
    public var tlsCertificate: String? = nil
    public var tlsPrivateKey: String? = nil
    /// The listener's certificates, chosen by SNI; the first is the default
    /// (no server name, or none matches). Empty: plain HTTP.
    public var certificates: [TLSCertificateConfig] = []
    public var maxHeaderBytes: Int = 16384
    /// 0: unlimited.
    public var maxBodyBytes: UInt64 = 0
    public var clientTimeoutMs: Int64 = 60_000
    /// A client that takes none of our pending output for this long is
    /// closed (nginx `send_timeout`).
    public var sendTimeoutMs: Int64 = 60_000
    /// A tunnel (after a 101) that carries no byte either way for this long
    /// is closed.
    public var tunnelIdleTimeoutMs: Int64 = 3_600_000
    public var shutdownTimeoutMs: Int64 = 15_000
    public var accessLog: AccessLogFormat = .json
    /// Cap on open client connections per process; beyond it new ones are
    /// closed at accept with a log line.
    public var maxConnections: Int = 10_000
    public init() {}
}

/// One certificate of the client-facing listener (`[[server.certificates]]`,
/// or the `[server] tls_certificate` pair). Paths are absolute.
public struct TLSCertificateConfig: Sendable, Equatable {
    public var certificate: String
    public var privateKey: String
    /// Lower case; exact names or `*.example.com` (one label). Empty on a
    /// default certificate that names none.
    public var serverNames: [String]
    /// Where it is written, for messages: `server.certificates[1]` or
    /// `server.tls_certificate`, and its line.
    public var place: String
    public var line: Int
    public init(certificate: String, privateKey: String, serverNames: [String] = [], place: String, line: Int) {
        self.certificate = certificate; self.privateKey = privateKey; self.serverNames = serverNames
        self.place = place; self.line = line
    }
}

public struct AdminConfig: Sendable, Equatable {
    public var listen: SocketAddressSpec = SocketAddressSpec(host: "127.0.0.1", port: 9901)
    /// Name of the env variable holding the admin bearer; nil: API off.
    public var tokenEnv: String? = "GATEWAY_ADMIN_TOKEN"
    public init() {}
}

public struct UpstreamConfig: Sendable, Equatable {
    public var name: String
    public var servers: [SocketAddressSpec]
    public var connectTimeoutMs: Int64 = 2_000
    public var responseTimeoutMs: Int64 = 30_000
    /// Longest gap between two reads of a response body (nginx
    /// `proxy_read_timeout`, counted from the response head on).
    public var readTimeoutMs: Int64 = 60_000
    public var maxIdleConnections: Int = 128
    /// Active TCP check period; 0 disables.
    public var healthCheckIntervalMs: Int64 = 5_000
    public init(name: String, servers: [SocketAddressSpec]) { self.name = name; self.servers = servers }
}

public enum AuthMode: String, Sendable, Equatable, CaseIterable { case required, optional, none }

public struct RouteConfig: Sendable, Equatable {
    public var prefix: String
    /// Lower-cased, port stripped; nil: any host.
    public var host: String?
    public var upstream: String
    public var auth: AuthMode = .required
    public var scopes: [String] = []
    public var claimUpdates: Bool = false
    public var issueSession: Bool = false
    /// Line of the `[[routes]]` header in the file, for messages.
    public var line: Int = 0
    public init(prefix: String, host: String?, upstream: String) {
        self.prefix = prefix; self.host = host; self.upstream = upstream
    }
}

public enum TokenSource: Sendable, Equatable {
    case header
    case cookie(String)
    case query(String)
}

public struct TokensConfig: Sendable, Equatable {
    public var issuers: [String] = []
    public var audiences: [String] = []
    public var leewayMs: Int64 = 30_000
    public var sources: [TokenSource] = [.header]
    /// Claim name -> header name, in file order.
    public var forwardClaims: [(claim: String, header: String)] = []
    public init() {}
    public static func == (a: TokensConfig, b: TokensConfig) -> Bool {
        a.issuers == b.issuers && a.audiences == b.audiences && a.leewayMs == b.leewayMs
            && a.sources == b.sources
            && a.forwardClaims.map(\.claim) == b.forwardClaims.map(\.claim)
            && a.forwardClaims.map(\.header) == b.forwardClaims.map(\.header)
    }
}

/// Where one `[[keys]]` entry gets its material. Paths are absolute.
public enum KeyMaterialSource: Sendable, Equatable {
    case publicKeyFile(String)
    case privateKeyFile(String)
    case secretFile(String)
    case secretEnv(String)
    case jwksFile(String)
    case jwksURL(url: String, refreshIntervalMs: Int64, fetchTimeoutMs: Int64, caFile: String?)
}

public struct KeyConfig: Sendable, Equatable {
    public var kid: String?
    /// Required except for JWKS sources, where it is the default for JWKs without alg.
    public var alg: String?
    public var source: KeyMaterialSource
    /// Line of the `[[keys]]` header, for messages about the material.
    public var line: Int
    public init(kid: String?, alg: String?, source: KeyMaterialSource, line: Int) {
        self.kid = kid; self.alg = alg; self.source = source; self.line = line
    }
}

public struct RefreshConfig: Sendable, Equatable {
    public var enabled: Bool = false
    public var windowMs: Int64 = 300_000
    public var ttlMs: Int64 = 900_000
    public var maxSessionMs: Int64 = 72 * 3_600_000
    public var maxRefreshes: Int = 50
    public var header: String = "X-Refreshed-Token"
    public var signingKey: String? = nil
    public init() {}
}

/// `[sessions]`: the double-token scheme (SPEC §7).
public struct SessionsConfig: Sendable, Equatable {
    /// Starts and ends with "/"; the gateway answers `path + "refresh"` and `path + "logout"`.
    public var path: String = "/auth/"
    public var refreshTTLMs: Int64 = 7 * 86_400_000
    public var maxAgeMs: Int64 = 30 * 86_400_000
    /// 0: no grace, every reuse of a rotated refresh token is theft.
    public var graceMs: Int64 = 30_000
    public var accessTTLMs: Int64 = 900_000
    /// Cookie name for the refresh token; nil: no cookie.
    public var cookie: String? = nil
    public init() {}
}

/// `[store]`: where revocations, sessions and refresh tokens live (SPEC §7).
public struct StoreConfig: Sendable, Equatable {
    /// Directory of the embedded store; absolute when built by `ConfigLoader`.
    public var stateDir: String = "state"
    /// `redis://host:port/db` when a shared Redis store is used; nil: embedded.
    public var redis: String? = nil
    /// Name of the env variable holding the Redis password; nil: none.
    public var redisPasswordEnv: String? = nil
    public var redisPrefix: String = "gateway:"
    public init() {}
}
