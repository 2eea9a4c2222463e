import COpenSSL
import GatewayCore
import GatewayLoop

/// An OpenSSL SSL_CTX for the client-facing listener (a certificate set)
/// or one outbound use (client), owned here and freed in deinit. Immutable
/// once built, so workers share it.
///
/// A server set is one SSL_CTX per certificate; `raw` is the default one,
/// which owns the others and the SNI name table (see tls.h). A reload builds
/// a new set and drops this object: connections made from it hold their own
/// OpenSSL references, so the set is freed after its last connection.
///
/// Every server-set function of tls.h is called from this file only: their
/// static state is per object file.
final class TLSContext: @unchecked Sendable {  // SSL_CTX is thread-safe once configured
    let raw: UnsafeMutableRawPointer
    /// Server sets: each certificate with the unix time (s) of its notAfter,
    /// in configuration order. Empty for client contexts.
    let certificates: [(config: TLSCertificateConfig, notAfter: Int64)]

    /// One certificate that could not be loaded, and why.
    struct LoadFailure: Error, Sendable {
        let certificate: TLSCertificateConfig
        let message: String
    }

    /// Server side: every certificate of the listener (the first is the
    /// default), loaded and checked against its key. `now` is unix seconds.
    /// Throws every certificate that failed, not just the first.
    init(server configs: [TLSCertificateConfig], now: Int64) throws(TLSLoadFailures) {
        precondition(!configs.isEmpty, "a server TLS context needs a certificate")
        var contexts: [UnsafeMutableRawPointer] = []
        var loaded: [(config: TLSCertificateConfig, notAfter: Int64)] = []
        var failures: [LoadFailure] = []
        for c in configs {
            var err = [CChar](repeating: 0, count: 256)
            var failed: Int32 = 0
            guard let ctx = gw_tls_server_ctx_new(c.certificate, c.privateKey, &failed, &err, err.count) else {
                let reason = Self.text(err)
                let message = switch Int(failed) {
                case Int(GW_TLS_FAILED_CERTIFICATE): "cannot load certificate \(c.certificate): \(reason)"
                case Int(GW_TLS_FAILED_KEY): "cannot load private key \(c.privateKey): \(reason)"
                case Int(GW_TLS_FAILED_MISMATCH):
                    "certificate \(c.certificate) does not match private key \(c.privateKey)"
                default: "cannot make a TLS context: \(reason)"
                }
                failures.append(LoadFailure(certificate: c, message: message))
                continue
            }
            contexts.append(ctx)
            var left: Int64 = 0
            let notAfter = gw_tls_ctx_seconds_to_expiry(ctx, &left) == 1 ? now + left : Int64.max
            loaded.append((c, notAfter))
        }
        guard failures.isEmpty, let def = contexts.first else {
            for ctx in contexts { gw_tls_ctx_free(ctx) }
            throw TLSLoadFailures(failures: failures)
        }
        var ok = gw_tls_server_set_init(def) == 1
        for (ctx, c) in zip(contexts, configs) {
            for name in c.serverNames where ok { ok = gw_tls_server_set_add_name(def, ctx, name) == 1 }
        }
        // The set (def) holds its own references to the others now.
        for ctx in contexts.dropFirst() { gw_tls_ctx_free(ctx) }
        guard ok else {
            gw_tls_ctx_free(def)
            throw TLSLoadFailures(failures: [LoadFailure(certificate: configs[0], message: "out of memory building the SNI table")])
        }
        raw = def
        certificates = loaded
    }

    /// Client side: verify peers against `caFile`, or the system store.
    init(caFile: String?) throws(RuntimeError) {
        var err = [CChar](repeating: 0, count: 256)
        let ctx: UnsafeMutableRawPointer? = if let caFile {
            gw_tls_client_ctx_new(caFile, &err, err.count)
        } else {
            gw_tls_client_ctx_new(nil, &err, err.count)
        }
        guard let ctx else { throw .address("TLS: \(Self.text(err))") }
        raw = ctx
        certificates = []
    }

    deinit { gw_tls_ctx_free(raw) }

    /// Server certificate sets still in memory: the current one plus older
    /// ones that open connections still use after a reload.
    static var serverSetsAlive: Int { Int(gw_tls_server_sets_alive()) }

    /// Warnings for certificates that expire within `days` days of `now`
    /// (unix seconds), or have expired.
    func expiryWarnings(now: Int64, days: Int64 = 14) -> [(config: TLSCertificateConfig, message: String)] {
        certificates.compactMap { c -> (config: TLSCertificateConfig, message: String)? in
            let left = c.notAfter - now
            guard left < days * 86_400 else { return nil }
            let text = left <= 0 ? "expired \(Self.span(-left)) ago" : "expires in \(Self.span(left))"
            return (c.config, "certificate \(c.config.certificate) \(text)")
        }
    }

    /// An error buffer filled by tls.h, up to its NUL.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "4 days 23 hours", "5 hours".
    private static func span(_ seconds: Int64) -> String {
        let days = seconds / 86_400, hours = (seconds % 86_400) / 3_600
        let h = "\(hours) hour" + (hours == 1 ? "" : "s")
        return days == 0 ? h : "\(days) day" + (days == 1 ? "" : "s") + " " + h
    }
}

/// Every certificate of a set that failed to load.
struct TLSLoadFailures: Error, Sendable {
    let failures: [TLSContext.LoadFailure]
}
