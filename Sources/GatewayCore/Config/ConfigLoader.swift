import Foundation
import TOMLKit

/// Reads `gateway.conf` (SPEC §3, §6, §7) into a validated `GatewayConfig`.
///
/// Every problem found is reported, each with the file and line it concerns,
/// not just the first: an operator fixes a config in one pass. Key material
/// is only located here (paths resolved, files present, env variables set);
/// its content is checked by GatewayAuth when keys are loaded.
public enum ConfigLoader {
    /// Reads and validates the file at `path`. `environment` supplies
    /// `secret_env` values; `coreCount` resolves `workers = 0`.
    public static func load(path: String, environment: [String: String],
                            coreCount: Int) throws(ConfigErrors) -> GatewayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            throw ConfigErrors([ConfigError(file: path, line: 0, message: reason)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors([ConfigError(file: path, line: 0, message: "not valid UTF-8")])
        }
        return try parse(text: text, path: path, environment: environment, coreCount: coreCount)
    }

    /// Validates `text` as if read from `path` (used in messages, and its
    /// directory resolves relative paths). `fileExists` answers for every
    /// file the config names; tests inject it.
    public static func parse(text: String, path: String, environment: [String: String], coreCount: Int,
                             fileExists: (String) -> Bool = ConfigLoader.fileExistsOnDisk)
        throws(ConfigErrors) -> GatewayConfig {
        // toml++ reads a C string: a NUL would silently end the document.
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            throw ConfigErrors([ConfigError(file: path, line: line, message: "NUL byte in file")])
        }
        let map = ConfigLineMap(text: text)
        if let (line, message) = map.unparsable {
            throw ConfigErrors([ConfigError(file: path, line: line, message: "TOML syntax: \(message)")])
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigErrors([ConfigError(file: path, line: max(1, error.source.begin.line),
                                            message: "TOML syntax: \(error.description)")])
        } catch {
            throw ConfigErrors([ConfigError(file: path, line: 1, message: "TOML syntax: \(error)")])
        }
        let (config, errors) = withoutActuallyEscaping(fileExists) { fileExists in
            let builder = ConfigBuilder(file: path, sourcePath: absolutePath(path), map: map,
                                        environment: environment, coreCount: coreCount, fileExists: fileExists)
            let config = builder.build(root)
            return (config, builder.sortedErrors())
        }
        if errors.isEmpty, let config { return config }
        throw ConfigErrors(errors)
    }

    /// The default `fileExists`: asks the file system.
    public static func fileExistsOnDisk(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = FileManager.default.currentDirectoryPath
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return cwd.hasSuffix("/") ? cwd + relative : cwd + "/" + relative
    }
}

/// Algorithms a `[[keys]]` entry may name (SPEC §5). `none` never.
let supportedAlgorithms: Set<String> = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA",
]

/// Headers a `forward_claims` entry may not set: framing, routing and the
/// credential itself, which the gateway forwards unchanged (SPEC §4).
private let reservedForwardHeaders: Set<String> = [
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
    "te", "trailer", "upgrade", "authorization", "cookie", "x-forwarded-for", "x-forwarded-proto",
    "x-forwarded-host", "x-request-id",
]

/// One validation pass over a parsed document. Collects errors instead of
/// stopping, so `build` returns a value whenever the shape allows and the
/// caller decides by `errors`.
final class ConfigBuilder {
    let file: String
    let sourcePath: String
    let baseDirectory: String
    let map: ConfigLineMap
    let environment: [String: String]
    let coreCount: Int
    let fileExists: (String) -> Bool
    private(set) var errors: [ConfigError] = []
    /// Kids of every `[[keys]]` entry, also those refused for other errors,
    /// so one mistake does not cascade into "no such key" elsewhere.
    private var declaredKids: Set<String> = []
    private var keyEntryCount = 0
    /// `refresh.signing_key` as written, even when refused.
    private var refreshKidWanted: String?

    init(file: String, sourcePath: String, map: ConfigLineMap, environment: [String: String],
         coreCount: Int, fileExists: @escaping (String) -> Bool) {
        self.file = file; self.sourcePath = sourcePath; self.map = map
        self.environment = environment; self.coreCount = coreCount; self.fileExists = fileExists
        if let slash = sourcePath.lastIndex(of: "/") {
            let dir = String(sourcePath[..<slash])
            baseDirectory = dir.isEmpty ? "/" : dir
        } else {
            baseDirectory = "."
        }
    }

    func error(_ path: TOMLPath, _ message: String) {
        error(line: map.line(path), path.components.isEmpty ? message : "\(path): \(message)")
    }

    func error(line: Int, _ message: String) {
        errors.append(ConfigError(file: file, line: line, message: message))
    }

    /// Errors by line; ties keep the order found; duplicates dropped.
    func sortedErrors() -> [ConfigError] {
        var seen = Set<String>()
        return errors.enumerated()
            .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map(\.element)
            .filter { seen.insert($0.description).inserted }
    }

    /// `relative` against the config file's directory; absolute paths unchanged.
    func resolve(_ relative: String) -> String {
        if relative.hasPrefix("/") { return relative }
        let trimmed = relative.hasPrefix("./") ? String(relative.dropFirst(2)) : relative
        return baseDirectory.hasSuffix("/") ? baseDirectory + trimmed : baseDirectory + "/" + trimmed
    }

    // MARK: - Document

    func build(_ table: TOMLTable) -> GatewayConfig? {
        let root = Section(table, .root, self)
        let server = buildServer(root.section("server"))
        let admin = buildAdmin(root.section("admin"), server: server)
        let upstreams = buildUpstreams(root.value("upstreams"))
        let keys = buildKeys(root.value("keys"))
        let tokens = buildTokens(root.section("tokens"))
        let refresh = buildRefresh(root.section("refresh"), keys: keys)
        let sessions = root.section("sessions").map { buildSessions($0, refresh: refresh) }
        let routes = buildRoutes(root.value("routes"), upstreams: upstreams, refresh: refresh,
                                 hasSessions: sessions != nil)
        let store = buildStore(root.section("store"))
        root.finish()
        checkAuthenticationIsConfigured(routes: routes, tokens: tokens, keys: keys, hasTokens: table.contains(key: "tokens"))

        var config = GatewayConfig(server: server, admin: admin, upstreams: upstreams, routes: routes,
                                   tokens: tokens, keys: keys, refresh: refresh, sourcePath: sourcePath)
        config.sessions = sessions
        config.store = store
        config.hasStore = table.contains(key: "store")
        return config
    }

    /// Routes that authenticate need issuers, audiences and a key, else no
    /// token could ever pass: say so now rather than answer 401 to everyone.
    private func checkAuthenticationIsConfigured(routes: [RouteConfig], tokens: TokensConfig,
                                                 keys: [KeyConfig], hasTokens: Bool) {
        guard let first = routes.first(where: { $0.auth != .none }) else { return }
        let tokensPath = TOMLPath.root.appending("tokens")
        let why = "routes with auth = \"\(first.auth.rawValue)\" (line \(first.line)) need it"
        if !hasTokens {
            error(line: first.line, "[tokens] is missing; \(why)")
        } else {
            if tokens.issuers.isEmpty { error(tokensPath.appending("issuers"), "no issuers; \(why)") }
            if tokens.audiences.isEmpty { error(tokensPath.appending("audiences"), "no audiences; \(why)") }
        }
        if keyEntryCount == 0 { error(line: first.line, "no [[keys]] entry; \(why)") }
    }

    // MARK: - [server], [admin]

    private func buildServer(_ section: Section?) -> ServerConfig {
        var server = ServerConfig()
        server.workers = max(1, coreCount)
        guard let s = section else { return server }
        if let value = s.value("listen") {
            let path = s.path.appending("listen")
            var listens: [SocketAddressSpec] = []
            let items: [(String, TOMLPath)]?
            if let single = value.string {
                items = [(single, path)]
            } else if let array = value.array {
                var list: [(String, TOMLPath)] = []
                for i in 0..<array.count {
                    if let text = array[i].string { list.append((text, path.appending(index: i))) }
                    else { error(path.appending(index: i), "expected a string, found \(typeName(array[i]))") }
                }
                items = list
            } else {
                error(path, "expected an array of \"host:port\" strings, found \(typeName(value))")
                items = nil
            }
            if let items {
                if items.isEmpty && value.array?.isEmpty == true { error(path, "at least one address is required") }
                for (text, itemPath) in items {
                    guard let address = address(text, itemPath) else { continue }
                    if listens.contains(address) { error(itemPath, "\(address) is listed twice") }
                    else { listens.append(address) }
                }
                if !listens.isEmpty { server.listen = listens }
            }
        }
        if let workers = s.int("workers", 0...1024) { server.workers = workers == 0 ? max(1, coreCount) : workers }
        let certificate = s.filePath("tls_certificate")
        let privateKey = s.filePath("tls_private_key")
        if s.has("tls_certificate") != s.has("tls_private_key") {
            let (set, unset) = s.has("tls_certificate") ? ("tls_certificate", "tls_private_key")
                                                         : ("tls_private_key", "tls_certificate")
            error(s.path.appending(set), "\(unset) must be set too (both or neither)")
        }
        server.tlsCertificate = certificate
        server.tlsPrivateKey = privateKey
        if let certificate, let privateKey {
            let path = s.path.appending("tls_certificate")
            server.certificates = [TLSCertificateConfig(certificate: certificate, privateKey: privateKey,
                                                        place: "\(path)", line: map.line(path))]
        }
        if let value = s.value("certificates") {
            let path = s.path.appending("certificates")
            if s.has("tls_certificate") || s.has("tls_private_key") {
                let legacy = s.has("tls_certificate") ? "tls_certificate" : "tls_private_key"
                error(line: map.exactLine(path.appending(index: 0)) ?? map.line(path),
                      "\(path): use either [[server.certificates]] or tls_certificate/tls_private_key, not both"
                      + " (\(legacy) is at line \(map.line(s.path.appending(legacy))))")
            } else {
                server.certificates = buildCertificates(value, path)
            }
        }
        if let v = s.int("max_header_bytes", 1024...1_048_576) { server.maxHeaderBytes = v }
        if let v = s.int("max_body_bytes", 0...Int.max) { server.maxBodyBytes = UInt64(v) }
        if let v = s.duration("client_timeout") { server.clientTimeoutMs = v }
        if let v = s.duration("shutdown_timeout") { server.shutdownTimeoutMs = v }
        if let v = s.duration("send_timeout") { server.sendTimeoutMs = v }
        if let v = s.duration("tunnel_idle_timeout") { server.tunnelIdleTimeoutMs = v }
        if let v: AccessLogFormat = s.choice("access_log") { server.accessLog = v }
        if let v = s.int("max_connections", 1...10_000_000) { server.maxConnections = v }
        s.finish()
        return server
    }

    /// `[[server.certificates]]`: each a certificate chain and key file, and
    /// the server names (SNI) it answers; the first is the default.
    private func buildCertificates(_ value: TOMLValue, _ path: TOMLPath) -> [TLSCertificateConfig] {
        guard let tables = tableArray(value, path, header: "[[server.certificates]]") else { return [] }
        if tables.isEmpty { error(path, "at least one certificate is required") }
        var certificates: [TLSCertificateConfig] = []
        var nameLines: [String: Int] = [:]
        for (index, table) in tables.enumerated() {
            let entryPath = path.appending(index: index)
            let s = Section(table, entryPath, self)
            let line = map.exactLine(entryPath) ?? map.line(path)
            for key in ["certificate", "private_key"] where !s.has(key) {
                error(line: line, "\(entryPath): missing key \"\(key)\"")
            }
            let certificate = s.filePath("certificate")
            let privateKey = s.filePath("private_key")
            var names: [String] = []
            if let list = s.stringArray("server_names") {
                for (i, text) in list.enumerated() {
                    let namePath = entryPath.appending("server_names").appending(index: i)
                    guard let name = serverName(text, namePath) else { continue }
                    if let first = nameLines[name] {
                        error(namePath, "\"\(name)\" is already listed at line \(first)")
                    } else {
                        nameLines[name] = map.line(namePath)
                        names.append(name)
                    }
                }
            }
            // Only the first certificate serves clients whose name matches
            // nothing; a later one without names would never be chosen.
            if index > 0 && !s.has("server_names") {
                error(line: line, "\(entryPath): server_names is required on every certificate but the first (the default)")
            }
            s.finish()
            if let certificate, let privateKey {
                certificates.append(TLSCertificateConfig(certificate: certificate, privateKey: privateKey,
                                                         serverNames: names, place: "\(entryPath)", line: line))
            }
        }
        return certificates
    }

    /// A DNS name as a client sends it in SNI (RFC 6066 §3: no IP
    /// literals, no trailing dot), lower-cased; `*.` may stand for exactly
    /// one leading label.
    private func serverName(_ text: String, _ path: TOMLPath) -> String? {
        let lower = text.lowercased()
        let base = lower.hasPrefix("*.") ? String(lower.dropFirst(2)) : lower
        let labels = base.split(separator: ".", omittingEmptySubsequences: false)
        let validLabel: (Substring) -> Bool = { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        }
        guard !base.isEmpty, base.utf8.count <= 253, labels.allSatisfy(validLabel) else {
            error(path, "\"\(text)\" is not a host name (letters, digits, \"-\" and dots; \"*.\" only as the first label)")
            return nil
        }
        if let last = labels.last, last.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            error(path, "\"\(text)\": an IP address is never sent as a server name; the default certificate serves it")
            return nil
        }
        return lower
    }

    private func buildAdmin(_ section: Section?, server: ServerConfig) -> AdminConfig {
        var admin = AdminConfig()
        guard let s = section else { return admin }
        if let text = s.string("listen"), let address = address(text, s.path.appending("listen")) {
            admin.listen = address
            if server.listen.contains(address) {
                error(s.path.appending("listen"), "\(address) is also a [server] listen address")
            }
        }
        if let name = s.string("token_env") {
            if name.isEmpty { admin.tokenEnv = nil }
            else if isEnvironmentName(name) { admin.tokenEnv = name }
            else { error(s.path.appending("token_env"), "\"\(name)\" is not an environment variable name") }
        }
        s.finish()
        return admin
    }

    // MARK: - [upstreams.NAME]

    private func buildUpstreams(_ value: TOMLValue?) -> [String: UpstreamConfig] {
        let path = TOMLPath.root.appending("upstreams")
        guard let value else { return [:] }
        guard let table = value.table else {
            error(path, "expected tables [upstreams.NAME], found \(typeName(value))")
            return [:]
        }
        var upstreams: [String: UpstreamConfig] = [:]
        for name in orderedKeys(table, path) {
            let upstreamPath = path.appending(name)
            guard let inner = table[name]?.tomlValue else { continue }
            guard let sub = inner.table else {
                error(upstreamPath, "expected a table [upstreams.\(name)], found \(typeName(inner))")
                continue
            }
            if name.isEmpty || !name.utf8.allSatisfy({ ConfigLineMap.isBareKeyByte($0) || $0 == 0x2E }) {
                error(upstreamPath, "upstream name must use letters, digits, \"-\", \"_\", \".\"")
            }
            let s = Section(sub, upstreamPath, self)
            var upstream = UpstreamConfig(name: name, servers: [])
            if let servers = s.stringArray("servers") {
                if servers.isEmpty { error(upstreamPath.appending("servers"), "at least one server is required") }
                for (i, text) in servers.enumerated() {
                    let itemPath = upstreamPath.appending("servers").appending(index: i)
                    guard let address = address(text, itemPath) else { continue }
                    if address.port == 0 { error(itemPath, "port 0 is not a server port") }
                    else { upstream.servers.append(address) }
                }
            } else if !s.has("servers") {
                error(upstreamPath, "missing key \"servers\"")
            }
            if let v = s.duration("connect_timeout") { upstream.connectTimeoutMs = v }
            if let v = s.duration("response_timeout") { upstream.responseTimeoutMs = v }
            if let v = s.duration("read_timeout") { upstream.readTimeoutMs = v }
            if let v = s.int("max_idle_connections", 0...1_000_000) { upstream.maxIdleConnections = v }
            if let v = s.duration("health_check_interval", allowZero: true) { upstream.healthCheckIntervalMs = v }
            s.finish()
            upstreams[name] = upstream
        }
        return upstreams
    }

    // MARK: - [[routes]]

    private func buildRoutes(_ value: TOMLValue?, upstreams: [String: UpstreamConfig], refresh: RefreshConfig,
                             hasSessions: Bool) -> [RouteConfig] {
        let path = TOMLPath.root.appending("routes")
        guard let value else {
            error(line: 1, "no [[routes]]: at least one route is required")
            return []
        }
        guard let tables = tableArray(value, path, header: "[[routes]]") else { return [] }
        var routes: [RouteConfig] = []
        var seen: [String: Int] = [:] // "host prefix" -> line of first
        for (index, table) in tables.enumerated() {
            let routePath = path.appending(index: index)
            let s = Section(table, routePath, self)
            let line = map.exactLine(routePath) ?? map.line(path)
            let prefix = s.requiredString("prefix")
            if let prefix {
                if !prefix.hasPrefix("/") { error(routePath.appending("prefix"), "must start with \"/\"") }
                else if prefix.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == 0x3F || $0 == 0x23 }) {
                    error(routePath.appending("prefix"), "must not contain spaces, control characters, \"?\" or \"#\"")
                }
            }
            let upstream = s.requiredString("upstream")
            if let upstream, upstreams[upstream] == nil {
                let known = upstreams.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
                error(routePath.appending("upstream"), "unknown upstream \"\(upstream)\""
                      + (known.isEmpty ? " (no [upstreams.NAME] defined)" : " (defined: \(known))"))
            }
            var host: String?
            if let text = s.string("host") { host = routeHost(text, routePath.appending("host")) }
            var route = RouteConfig(prefix: prefix ?? "/", host: host, upstream: upstream ?? "")
            route.line = line
            if let v: AuthMode = s.choice("auth") { route.auth = v }
            if let v = s.stringArray("scopes") {
                for (i, scope) in v.enumerated() where scope.isEmpty || scope.contains(" ") {
                    error(routePath.appending("scopes").appending(index: i), "a scope is one non-empty word")
                }
                route.scopes = v
            }
            if let v = s.bool("claim_updates") { route.claimUpdates = v }
            if let v = s.bool("issue_session") { route.issueSession = v }
            s.finish()
            if route.auth == .none && !route.scopes.isEmpty {
                error(routePath.appending("scopes"), "scopes are never checked on a route with auth = \"none\"")
            }
            if route.claimUpdates && refreshKidWanted == nil {
                error(routePath.appending("claim_updates"), "needs [refresh] signing_key to reissue tokens")
            }
            if route.issueSession && !hasSessions {
                error(routePath.appending("issue_session"), "needs a [sessions] table")
            }
            if let prefix {
                let key = "\(host ?? "") \(prefix)"
                if let first = seen[key] {
                    error(line: line, "duplicate route: prefix \"\(prefix)\"" + (host.map { " with host \"\($0)\"" } ?? "")
                          + " is already routed at line \(first)")
                } else {
                    seen[key] = line
                }
            }
            routes.append(route)
        }
        if tables.isEmpty { error(path, "at least one route is required") }
        return routes
    }

    /// Lower-cased, port dropped; IPv6 literals keep their brackets, as in a Host header.
    private func routeHost(_ text: String, _ path: TOMLPath) -> String? {
        let lower = text.lowercased()
        var host = Substring(lower)
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]"), HostLiteral.ipv6Bytes(lower[lower.index(after: lower.startIndex)..<close]) != nil else {
                error(path, "bad IPv6 host \"\(text)\""); return nil
            }
            let rest = lower[lower.index(after: close)...]
            if !rest.isEmpty && !(rest.hasPrefix(":") && HostLiteral.port(rest.dropFirst()) != nil) {
                error(path, "bad host \"\(text)\""); return nil
            }
            return String(lower[...close])
        }
        if let colon = lower.lastIndex(of: ":") {
            guard HostLiteral.port(lower[lower.index(after: colon)...]) != nil else {
                error(path, "bad host \"\(text)\""); return nil
            }
            host = lower[..<colon]
        }
        do throws(AddressParseError) {
            try HostLiteral.validateHostOrIPv4(host)
        } catch {
            self.error(path, error.description); return nil
        }
        return String(host)
    }

    // MARK: - [tokens]

    private func buildTokens(_ section: Section?) -> TokensConfig {
        var tokens = TokensConfig()
        guard let s = section else { return tokens }
        if let v = s.stringArray("issuers") {
            for (i, issuer) in v.enumerated() where issuer.isEmpty {
                error(s.path.appending("issuers").appending(index: i), "empty issuer")
            }
            tokens.issuers = v
        }
        if let v = s.stringArray("audiences") {
            for (i, audience) in v.enumerated() where audience.isEmpty {
                error(s.path.appending("audiences").appending(index: i), "empty audience")
            }
            tokens.audiences = v
        }
        // Zero leeway is a legitimate, strict choice.
        if let v = s.duration("leeway", allowZero: true) { tokens.leewayMs = v }
        if let v = s.stringArray("sources") {
            var sources: [TokenSource] = []
            if v.isEmpty { error(s.path.appending("sources"), "at least one source is required") }
            for (i, text) in v.enumerated() {
                let itemPath = s.path.appending("sources").appending(index: i)
                guard let source = tokenSource(text, itemPath) else { continue }
                if sources.contains(source) { error(itemPath, "\"\(text)\" is listed twice") }
                else { sources.append(source) }
            }
            if !sources.isEmpty { tokens.sources = sources }
        }
        if let claims = s.section("forward_claims") {
            var seenHeaders: [String: String] = [:]
            for claim in orderedKeys(claims.table, claims.path) {
                let claimPath = claims.path.appending(claim)
                guard let header = claims.string(claim) else { continue }
                if claim.isEmpty { error(claimPath, "empty claim name"); continue }
                if !isToken(header) { error(claimPath, "\"\(header)\" is not a valid header name"); continue }
                let lower = header.lowercased()
                if reservedForwardHeaders.contains(lower) {
                    error(claimPath, "\(header) is managed by the gateway and cannot carry a claim"); continue
                }
                if let other = seenHeaders[lower] {
                    error(claimPath, "header \(header) already carries claim \"\(other)\""); continue
                }
                seenHeaders[lower] = claim
                tokens.forwardClaims.append((claim: claim, header: header))
            }
            claims.finish()
        }
        s.finish()
        return tokens
    }

    private func tokenSource(_ text: String, _ path: TOMLPath) -> TokenSource? {
        if text == "header" { return .header }
        for (prefix, make) in [("cookie:", TokenSource.cookie), ("query:", TokenSource.query)] where text.hasPrefix(prefix) {
            let name = String(text.dropFirst(prefix.count))
            if name.isEmpty || !isToken(name) {
                error(path, "\"\(text)\": the name after \"\(prefix)\" must be a non-empty token"); return nil
            }
            return make(name)
        }
        error(path, "unknown source \"\(text)\" (header, cookie:NAME or query:NAME)")
        return nil
    }

    // MARK: - [[keys]]

    private static let materialKeys = ["public_key_file", "private_key_file", "secret_file", "secret_env",
                                       "jwks_file", "jwks_url"]

    private func buildKeys(_ value: TOMLValue?) -> [KeyConfig] {
        let path = TOMLPath.root.appending("keys")
        guard let value else { return [] }
        guard let tables = tableArray(value, path, header: "[[keys]]") else { return [] }
        var keys: [KeyConfig] = []
        var kidLines: [String: Int] = [:]
        keyEntryCount = tables.count
        for (index, table) in tables.enumerated() {
            let keyPath = path.appending(index: index)
            let s = Section(table, keyPath, self)
            let line = map.exactLine(keyPath) ?? map.line(path)
            let kid = s.string("kid")
            if let kid {
                if kid.isEmpty { error(keyPath.appending("kid"), "empty kid") }
                else if let first = kidLines[kid] {
                    error(keyPath.appending("kid"), "duplicate kid \"\(kid)\" (first at line \(first))")
                } else {
                    kidLines[kid] = map.line(keyPath.appending("kid"))
                    declaredKids.insert(kid)
                }
            }
            let alg = s.string("alg")
            if let alg, !supportedAlgorithms.contains(alg) {
                error(keyPath.appending("alg"), "unsupported alg \"\(alg)\" (one of \(supportedAlgorithms.sorted().joined(separator: ", ")))")
            }
            let present = Self.materialKeys.filter { s.has($0) }
                .sorted { map.line(keyPath.appending($0)) < map.line(keyPath.appending($1)) }
            if present.isEmpty {
                error(line: line, "\(keyPath): missing key material: set one of \(Self.materialKeys.joined(separator: ", "))")
            }
            for extra in present.dropFirst() {
                error(keyPath.appending(extra), "only one key material per [[keys]] entry; \(present[0]) is already set")
            }
            var source: KeyMaterialSource?
            if let material = present.first {
                source = keySource(material, s)
            }
            for other in present.dropFirst() { _ = s.value(other) }
            // Options of jwks_url only.
            let isURL = present.first == "jwks_url"
            let refreshInterval = s.duration("refresh_interval")
            let fetchTimeout = s.duration("fetch_timeout")
            let caFile = s.filePath("ca_file")
            for option in ["refresh_interval", "fetch_timeout", "ca_file"] where s.has(option) && !isURL {
                error(keyPath.appending(option), "applies only to jwks_url")
            }
            if case .jwksURL(let url, _, _, _) = source {
                source = .jwksURL(url: url, refreshIntervalMs: refreshInterval ?? 300_000,
                                  fetchTimeoutMs: fetchTimeout ?? 2_000, caFile: caFile)
            }
            if let material = present.first {
                checkAlgorithm(alg, material: material, keyPath, line: line)
            }
            s.finish()
            if let source { keys.append(KeyConfig(kid: kid, alg: alg, source: source, line: line)) }
        }
        // With several keys a token must name its key (SPEC §5), so a key
        // without kid could never be chosen. JWK sets bring their own kids.
        if keys.count > 1 {
            for key in keys where key.kid == nil && !key.isJWKS {
                error(line: key.line, "kid is required when there are several [[keys]] entries")
            }
        }
        return keys
    }

    private func keySource(_ material: String, _ s: Section) -> KeyMaterialSource? {
        let path = s.path.appending(material)
        switch material {
        case "public_key_file": return s.filePath(material).map(KeyMaterialSource.publicKeyFile)
        case "private_key_file": return s.filePath(material).map(KeyMaterialSource.privateKeyFile)
        case "secret_file": return s.filePath(material).map(KeyMaterialSource.secretFile)
        case "jwks_file": return s.filePath(material).map(KeyMaterialSource.jwksFile)
        case "secret_env":
            guard let name = s.string(material) else { return nil }
            guard isEnvironmentName(name) else {
                error(path, "\"\(name)\" is not an environment variable name"); return nil
            }
            guard let secret = environment[name], !secret.isEmpty else {
                error(path, "environment variable \(name) is not set"); return nil
            }
            // RFC 7518 §3.2: an HMAC key at least as long as the hash output;
            // 32 bytes is the floor for HS256.
            if secret.utf8.count < 32 {
                error(path, "weak HMAC secret: \(name) holds \(secret.utf8.count) bytes, at least 32 are required")
                return nil
            }
            return .secretEnv(name)
        case "jwks_url":
            guard let url = s.string(material) else { return nil }
            guard checkJWKSURL(url, path) else { return nil }
            return .jwksURL(url: url, refreshIntervalMs: 300_000, fetchTimeoutMs: 2_000, caFile: nil)
        default:
            return nil
        }
    }

    /// HMAC algorithms need a secret, the others a PEM key; JWK sets may
    /// omit alg (each JWK brings its own). Finer checks (RSA vs EC, curve)
    /// need the key's content and happen in GatewayAuth.
    private func checkAlgorithm(_ alg: String?, material: String, _ keyPath: TOMLPath, line: Int) {
        let isJWKS = material == "jwks_file" || material == "jwks_url"
        guard let alg else {
            if !isJWKS { error(line: line, "\(keyPath): missing key \"alg\" (required unless the material is a JWK set)") }
            return
        }
        guard supportedAlgorithms.contains(alg), !isJWKS else { return }
        let isSecret = material == "secret_file" || material == "secret_env"
        if isSecret != alg.hasPrefix("HS") {
            error(keyPath.appending("alg"), isSecret ? "\(alg) does not use a shared secret (\(material)); use HS256, HS384 or HS512"
                                                     : "\(alg) needs a shared secret (secret_file or secret_env), not \(material)")
        }
    }

    /// https anywhere; plain http only to loopback (SPEC §3).
    private func checkJWKSURL(_ url: String, _ path: TOMLPath) -> Bool {
        let lower = url.lowercased()
        let isHTTPS = lower.hasPrefix("https://")
        guard isHTTPS || lower.hasPrefix("http://") else {
            error(path, "\"\(url)\" must be an https:// URL"); return false
        }
        let rest = url.dropFirst(isHTTPS ? 8 : 7)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") { error(path, "credentials in the URL are not allowed"); return false }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { error(path, "bad host in \"\(url)\""); return false }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { error(path, "bad host in \"\(url)\""); return false }
                portText = after.dropFirst()
            }
            guard HostLiteral.ipv6Bytes(host) != nil else { error(path, "bad IPv6 host in \"\(url)\""); return false }
        } else {
            host = authority
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            do throws(AddressParseError) { try HostLiteral.validateHostOrIPv4(host) } catch {
                self.error(path, "\(error.description) in \"\(url)\""); return false
            }
        }
        if let portText, HostLiteral.port(portText) == nil || portText == "0" {
            error(path, "bad port in \"\(url)\""); return false
        }
        if !isHTTPS && !HostLiteral.isLoopback(host) {
            error(path, "plain http is allowed only to loopback (127.0.0.0/8, ::1, localhost); use https for \"\(host)\"")
            return false
        }
        return true
    }

    // MARK: - [refresh], [sessions], [store]

    private func buildRefresh(_ section: Section?, keys: [KeyConfig]) -> RefreshConfig {
        var refresh = RefreshConfig()
        guard let s = section else { return refresh }
        refreshKidWanted = s.table["signing_key"]?.string
        if let v = s.bool("enabled") { refresh.enabled = v }
        if let v = s.duration("window") { refresh.windowMs = v }
        if let v = s.duration("ttl") { refresh.ttlMs = v }
        if let v = s.duration("max_session") { refresh.maxSessionMs = v }
        if let v = s.int("max_refreshes", 1...Int(Int32.max)) { refresh.maxRefreshes = v }
        if let v = s.string("header") {
            if isToken(v) { refresh.header = v }
            else { error(s.path.appending("header"), "\"\(v)\" is not a valid header name") }
        }
        if let kid = s.string("signing_key") {
            let path = s.path.appending("signing_key")
            if let key = keys.first(where: { $0.kid == kid }) {
                switch key.source {
                case .privateKeyFile, .secretFile, .secretEnv: refresh.signingKey = kid
                default:
                    error(path, "key \"\(kid)\" (line \(key.line)) cannot sign: it needs private_key_file, secret_file or secret_env")
                }
            } else if kid.isEmpty {
                error(path, "empty kid")
            } else if !declaredKids.contains(kid) {
                error(path, "no [[keys]] entry has kid \"\(kid)\"")
            }
        }
        // A reissued token must outlive the window, or every request reissues.
        if refresh.ttlMs <= refresh.windowMs {
            error(s.path.appending(s.has("ttl") ? "ttl" : "window"),
                  "ttl (\(DurationText.format(milliseconds: refresh.ttlMs))) must be longer than window (\(DurationText.format(milliseconds: refresh.windowMs)))")
        }
        s.finish()
        return refresh
    }

    private func buildSessions(_ s: Section, refresh: RefreshConfig) -> SessionsConfig {
        var sessions = SessionsConfig()
        if let v = s.string("path") {
            if v.hasPrefix("/") && v.hasSuffix("/") && !v.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == 0x3F || $0 == 0x23 }) {
                sessions.path = v
            } else {
                error(s.path.appending("path"), "must start and end with \"/\", e.g. \"/auth/\"")
            }
        }
        if let v = s.duration("refresh_ttl") { sessions.refreshTTLMs = v }
        if let v = s.duration("max_age") { sessions.maxAgeMs = v }
        if let v = s.duration("grace", allowZero: true) { sessions.graceMs = v }
        if let v = s.duration("access_ttl") { sessions.accessTTLMs = v }
        if let v = s.string("cookie") {
            if v.isEmpty { sessions.cookie = nil }
            else if isToken(v) { sessions.cookie = v }
            else { error(s.path.appending("cookie"), "\"\(v)\" is not a valid cookie name") }
        }
        if refreshKidWanted == nil {
            error(s.path, "[sessions] needs [refresh] signing_key to sign access tokens")
        }
        s.finish()
        return sessions
    }

    private func buildStore(_ section: Section?) -> StoreConfig {
        var store = StoreConfig()
        store.stateDir = resolve(store.stateDir)
        guard let s = section else { return store }
        if let v = s.string("state_dir") {
            if v.isEmpty { error(s.path.appending("state_dir"), "must not be empty") }
            else { store.stateDir = resolve(v) }
        }
        if let v = s.string("redis") {
            if v.hasPrefix("redis://"), v.count > 8 { store.redis = v }
            else { error(s.path.appending("redis"), "expected a redis://host:port/db URL") }
        }
        if let v = s.string("redis_password_env") {
            if v.isEmpty { store.redisPasswordEnv = nil }
            else if isEnvironmentName(v) { store.redisPasswordEnv = v }
            else { error(s.path.appending("redis_password_env"), "\"\(v)\" is not an environment variable name") }
        }
        if let v = s.string("redis_prefix") { store.redisPrefix = v }
        s.finish()
        return store
    }

    // MARK: - Helpers

    func address(_ text: String, _ path: TOMLPath) -> SocketAddressSpec? {
        do throws(AddressParseError) {
            return try SocketAddressSpec.parse(text)
        } catch {
            self.error(path, "\"\(text)\": \(error.description)")
            return nil
        }
    }

    /// `[[NAME]]` entries (or an inline array of tables).
    private func tableArray(_ value: TOMLValue, _ path: TOMLPath, header: String) -> [TOMLTable]? {
        guard let array = value.array else {
            error(path, "expected \(header) entries, found \(typeName(value))")
            return nil
        }
        var tables: [TOMLTable] = []
        for i in 0..<array.count {
            if let table = array[i].table { tables.append(table) }
            else { error(path.appending(index: i), "expected a table, found \(typeName(array[i]))") }
        }
        return tables
    }

    /// Keys of `table` in file order; any the scanner missed follow, sorted.
    func orderedKeys(_ table: TOMLTable, _ path: TOMLPath) -> [String] {
        let actual = table.keys
        let present = Set(actual)
        var out = map.keysInOrder(path).filter { present.contains($0) }
        let listed = Set(out)
        out += actual.filter { !listed.contains($0) }.sorted()
        return out
    }
}

extension KeyConfig {
    var isJWKS: Bool {
        switch source {
        case .jwksFile, .jwksURL: return true
        default: return false
        }
    }
}

/// RFC 9110 §5.6.2 token: what header and cookie names are made of.
func isToken(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A)
            || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}

/// POSIX portable environment variable name.
func isEnvironmentName(_ text: String) -> Bool {
    guard let first = text.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
    return text.utf8.allSatisfy { ConfigLineMap.isBareKeyByte($0) && $0 != 0x2D }
}

func typeName(_ value: any TOMLValueConvertible) -> String {
    switch value.type {
    case .table: return "a table"
    case .array: return "an array"
    case .string: return "a string"
    case .int: return "an integer"
    case .double: return "a float"
    case .bool: return "a boolean"
    case .date: return "a date"
    case .time: return "a time"
    case .dateTime: return "a date-time"
    }
}

/// A table being read: typed getters that report mismatches with the key's
/// line, and `finish()`, which reports every key no getter asked for.
final class Section {
    let table: TOMLTable
    let path: TOMLPath
    private unowned let builder: ConfigBuilder
    private var used: Set<String> = []

    init(_ table: TOMLTable, _ path: TOMLPath, _ builder: ConfigBuilder) {
        self.table = table; self.path = path; self.builder = builder
    }

    func has(_ key: String) -> Bool { table.contains(key: key) }

    /// The raw value, marking `key` as known.
    func value(_ key: String) -> TOMLValue? {
        used.insert(key)
        return table[key]?.tomlValue
    }

    private func typed<T>(_ key: String, _ expected: String, _ get: (TOMLValue) -> T?) -> T? {
        guard let v = value(key) else { return nil }
        if let t = get(v) { return t }
        builder.error(path.appending(key), "expected \(expected), found \(typeName(v))")
        return nil
    }

    func string(_ key: String) -> String? { typed(key, "a string") { $0.string } }
    func bool(_ key: String) -> Bool? { typed(key, "a boolean (true or false)") { $0.bool } }

    func requiredString(_ key: String) -> String? {
        if !has(key) { builder.error(path, "missing key \"\(key)\""); return nil }
        return string(key)
    }

    func int(_ key: String, _ range: ClosedRange<Int>) -> Int? {
        guard let v = typed(key, "an integer", { $0.int }) else { return nil }
        if range.contains(v) { return v }
        let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
        builder.error(path.appending(key), "\(v) is out of range (\(bounds))")
        return nil
    }

    func duration(_ key: String, allowZero: Bool = false) -> Int64? {
        guard let text = typed(key, "a duration string such as \"30s\"", { $0.string }) else { return nil }
        do throws(DurationText.ParseError) {
            return try DurationText.milliseconds(text, allowZero: allowZero)
        } catch {
            builder.error(path.appending(key), "bad duration \"\(text)\": \(error.description)")
            return nil
        }
    }

    func choice<E: RawRepresentable & CaseIterable>(_ key: String) -> E? where E.RawValue == String {
        guard let text = string(key) else { return nil }
        if let v = E(rawValue: text) { return v }
        let options = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        builder.error(path.appending(key), "unknown value \"\(text)\" (one of \(options))")
        return nil
    }

    func stringArray(_ key: String) -> [String]? {
        guard let array = typed(key, "an array of strings", { $0.array }) else { return nil }
        var out: [String] = []
        var ok = true
        for i in 0..<array.count {
            if let s = array[i].string { out.append(s) }
            else {
                builder.error(path.appending(key).appending(index: i), "expected a string, found \(typeName(array[i]))")
                ok = false
            }
        }
        return ok ? out : nil
    }

    /// A path resolved against the config's directory; the file must exist.
    func filePath(_ key: String) -> String? {
        guard let text = string(key) else { return nil }
        if text.isEmpty { builder.error(path.appending(key), "empty path"); return nil }
        let resolved = builder.resolve(text)
        if !builder.fileExists(resolved) {
            builder.error(path.appending(key), "file not found: \(resolved)")
            return nil
        }
        return resolved
    }

    func section(_ key: String) -> Section? {
        guard let t = typed(key, "a table", { $0.table }) else { return nil }
        return Section(t, path.appending(key), builder)
    }

    /// Reports every key of the table no getter asked for.
    func finish() {
        for key in builder.orderedKeys(table, path) where !used.contains(key) {
            let keyPath = path.appending(key)
            let place = path.components.isEmpty ? "at the top level" : "in [\(path)]"
            builder.error(line: builder.map.line(keyPath), "unknown key \"\(key)\" \(place)")
        }
    }
}
