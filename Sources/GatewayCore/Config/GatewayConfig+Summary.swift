extension GatewayConfig {
    /// What `gateway check` prints: listeners, workers, upstreams, the route
    /// table, keys, refresh and sessions. Names environment variables and
    /// files, never a secret's value. Lines end with "\n".
    public func summary() -> String {
        var out = ""
        func line(_ s: String) { out += s + "\n" }
        let ms = DurationText.format(milliseconds:)

        line("config: \(sourcePath)")
        let tls = server.certificates.isEmpty ? "plain HTTP"
            : server.certificates.count == 1 ? "TLS with \(server.certificates[0].certificate)"
            : "TLS with \(server.certificates.count) certificates chosen by SNI"
        line("listen: \(server.listen.map(\.description).joined(separator: ", ")) (\(tls))")
        if server.certificates.count > 1 {
            for (i, c) in server.certificates.enumerated() {
                let names = c.serverNames.isEmpty ? "-" : c.serverNames.joined(separator: " ")
                line("  certificate \(c.certificate): \(names)" + (i == 0 ? " (default)" : ""))
            }
        }
        line("workers: \(server.workers); max connections \(server.maxConnections)")
        line("limits: header \(server.maxHeaderBytes) bytes; body "
             + (server.maxBodyBytes == 0 ? "unlimited" : "\(server.maxBodyBytes) bytes")
             + "; client timeout \(ms(server.clientTimeoutMs)); send timeout \(ms(server.sendTimeoutMs))"
             + "; tunnel idle timeout \(ms(server.tunnelIdleTimeoutMs)); shutdown timeout \(ms(server.shutdownTimeoutMs))")
        line("access log: \(server.accessLog.rawValue)")
        line("admin: \(admin.listen) (admin API " + (admin.tokenEnv.map { "bearer from $\($0))" } ?? "off)"))

        line("upstreams:")
        for name in upstreams.keys.sorted() {
            guard let u = upstreams[name] else { continue }
            let health = u.healthCheckIntervalMs == 0 ? "off" : ms(u.healthCheckIntervalMs)
            line("  \(name): \(u.servers.map(\.description).joined(separator: ", "))"
                 + " (connect \(ms(u.connectTimeoutMs)), response \(ms(u.responseTimeoutMs)), read \(ms(u.readTimeoutMs)),"
                 + " idle \(u.maxIdleConnections), health check \(health))")
        }

        line("routes:")
        let header = ["PREFIX", "HOST", "UPSTREAM", "AUTH", "SCOPES", "FLAGS"]
        let rows = routes.map { r -> [String] in
            var flags: [String] = []
            if r.claimUpdates { flags.append("claim_updates") }
            if r.issueSession { flags.append("issue_session") }
            return [r.prefix, r.host ?? "*", r.upstream, r.auth.rawValue,
                    r.scopes.isEmpty ? "-" : r.scopes.joined(separator: " "),
                    flags.isEmpty ? "-" : flags.joined(separator: ",")]
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for row in [header] + rows {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            line("  " + cells.joined(separator: "  "))
        }

        line("tokens: issuers \(list(tokens.issuers)); audiences \(list(tokens.audiences));"
             + " leeway \(ms(tokens.leewayMs)); sources \(tokens.sources.map(\.summary).joined(separator: ", "))")
        if !tokens.forwardClaims.isEmpty {
            line("  forward claims: " + tokens.forwardClaims.map { "\($0.claim) -> \($0.header)" }.joined(separator: ", "))
        }

        line("keys: \(keys.count)")
        for key in keys {
            line("  \(key.kid ?? "(no kid)") \(key.alg ?? "(alg from JWKs)") \(key.source.summary)")
        }

        if refresh.enabled {
            line("refresh: on (window \(ms(refresh.windowMs)), ttl \(ms(refresh.ttlMs)),"
                 + " max session \(ms(refresh.maxSessionMs)), max refreshes \(refresh.maxRefreshes),"
                 + " header \(refresh.header), signing key \(refresh.signingKey ?? "none: no reissue"))")
        } else {
            line("refresh: off")
        }
        if let s = sessions {
            line("sessions: on at \(s.path) (refresh ttl \(ms(s.refreshTTLMs)), max age \(ms(s.maxAgeMs)),"
                 + " grace \(ms(s.graceMs)), access ttl \(ms(s.accessTTLMs)), cookie \(s.cookie ?? "none"))")
        } else {
            line("sessions: off")
        }
        if hasStore || sessions != nil {
            line("store: " + (store.redis.map { "redis \(redacted($0)) prefix \(store.redisPrefix)" }
                              ?? "embedded in \(store.stateDir)"))
        } else {
            line("store: none (stateless: no [store] or [sessions])")
        }
        return out
    }

    private func list(_ items: [String]) -> String { items.isEmpty ? "(none)" : items.joined(separator: ", ") }

    /// A Redis URL may carry a password (`redis://:pw@host`); show only the host part.
    private func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        return "redis://***@" + url[url.index(after: at)...]
    }
}

extension TokenSource {
    var summary: String {
        switch self {
        case .header: return "header"
        case .cookie(let name): return "cookie:\(name)"
        case .query(let name): return "query:\(name)"
        }
    }
}

extension KeyMaterialSource {
    var summary: String {
        switch self {
        case .publicKeyFile(let p): return "public_key_file \(p)"
        case .privateKeyFile(let p): return "private_key_file \(p)"
        case .secretFile(let p): return "secret_file \(p)"
        case .secretEnv(let name): return "secret_env $\(name)"
        case .jwksFile(let p): return "jwks_file \(p)"
        case .jwksURL(let url, let refresh, let timeout, let ca):
            return "jwks_url \(url) (refresh \(DurationText.format(milliseconds: refresh)),"
                + " timeout \(DurationText.format(milliseconds: timeout))" + (ca.map { ", ca \($0)" } ?? "") + ")"
        }
    }
}
