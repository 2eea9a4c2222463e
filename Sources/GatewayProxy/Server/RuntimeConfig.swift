import GatewayAuth
import GatewayCore
import GatewayLoop

/// Everything the request path needs from one loaded configuration,
/// resolved once (addresses, lower-cased header names, route -> upstream)
/// and never mutated. Reload builds a new one and hands it to every worker;
/// an exchange keeps the snapshot it started with.
final class RuntimeConfig: Sendable {
    let config: GatewayConfig
    let generation: Int
    let router: Router
    let routeNames: [String]
    /// Indexed like `config.routes`.
    let routeUpstream: [UpstreamGroup]
    let upstreams: [UpstreamGroup]
    /// Client-sent copies of these are removed before forwarding (forward_claims).
    let removeRequestFields: [[UInt8]]
    /// Claim name -> header to set from the verified token.
    let forwardClaims: [(claim: String, header: [UInt8])]
    /// The keys loaded from files and the environment at start or reload.
    /// Workers verify with these merged with the JWKS URL sets
    /// (`KeyRefresher`), which arrive on their own.
    let keys: KeySet
    let extractor: TokenExtractor
    /// Signs refreshed tokens (SPEC §6); nil when refresh is off or no
    /// signing key is configured.
    let reissuer: TokenReissuer?
    /// Mints the access tokens of sessions (SPEC §7); nil without
    /// `[sessions]` (the loader requires a signing key with it).
    let sessionMinter: SessionTokenMinter?
    /// `refresh.header`, as bytes for the response writer.
    let refreshHeader: [UInt8]
    /// Host names the routes are configured for, normalized as the router
    /// compares them: absolute-form targets may name these.
    let ownHosts: Set<[UInt8]>
    /// Per route (indexed like `config.routes`), read on every exchange
    /// without copying a RouteConfig out: the route is open (`auth =
    /// "none"`), and it starts sessions (`issue_session`).
    let routeIsOpen: [Bool]
    let routeIssuesSession: [Bool]
    /// Removed from every upstream response before it reaches the client.
    let removeResponseFields: [[UInt8]]

    init(config: GatewayConfig, keys: KeySet, generation: Int, registry: ServerRegistry) throws(RuntimeError) {
        self.config = config
        self.keys = keys
        extractor = TokenExtractor(sources: config.tokens.sources)
        refreshHeader = Array(config.refresh.header.utf8)
        if config.refresh.enabled, let kid = config.refresh.signingKey, let key = keys.signingKey(kid: kid) {
            do {
                reissuer = try TokenReissuer(signingKey: key, config: config.refresh)
            } catch {
                throw .address("refresh.signing_key \(kid): \(error)")
            }
        } else {
            reissuer = nil
        }
        if let sessions = config.sessions, let kid = config.refresh.signingKey, let key = keys.signingKey(kid: kid) {
            sessionMinter = SessionTokenMinter(signingKey: key, issuer: config.tokens.issuers.first ?? "gateway",
                                               audience: config.tokens.audiences.first ?? "gateway",
                                               accessTTLMs: sessions.accessTTLMs)
        } else {
            sessionMinter = nil
        }
        forwardClaims = config.tokens.forwardClaims.map { ($0.claim, Array($0.header.utf8)) }
        self.generation = generation
        router = Router(routes: config.routes)
        var groups: [String: UpstreamGroup] = [:]
        var ordered: [UpstreamGroup] = []
        for (i, name) in config.upstreams.keys.sorted().enumerated() {
            guard let u = config.upstreams[name] else { continue }
            var servers: [UpstreamServer] = []
            for spec in u.servers {
                let address = try SocketAddress.resolve(spec)
                let e = registry.entry(for: spec)
                servers.append(UpstreamServer(spec: spec, address: address, id: e.id, health: e.health))
            }
            let g = UpstreamGroup(config: u, index: i, servers: servers)
            groups[name] = g
            ordered.append(g)
        }
        upstreams = ordered
        var perRoute: [UpstreamGroup] = []
        for r in config.routes {
            guard let g = groups[r.upstream] else { throw .address("route \(r.prefix): unknown upstream \(r.upstream)") }
            perRoute.append(g)
        }
        routeUpstream = perRoute
        routeNames = config.routes.map { r in (r.host ?? "") + r.prefix }
        routeIsOpen = config.routes.map { $0.auth == .none }
        routeIssuesSession = config.routes.map(\.issueSession)
        ownHosts = Set(config.routes.compactMap { $0.host.map { Router.normalizedHost(Array($0.utf8)) } })
        removeRequestFields = config.tokens.forwardClaims.map { Array($0.header.lowercased().utf8) }
        removeResponseFields = [Array("gateway-update-claims".utf8), Array("gateway-session".utf8)]
    }
}

