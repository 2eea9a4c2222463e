import COpenSSL
import GatewayLoop

/// An OpenSSL SSL_CTX for one listener (server) or one outbound use
/// (client), owned here and freed in deinit. Immutable once built, so
/// workers share it.
final class TLSContext: @unchecked Sendable {  // SSL_CTX is thread-safe once configured
    let raw: UnsafeMutableRawPointer

    /// Server side: certificate chain and key, PEM.
    init(certificate: String, privateKey: String) throws(RuntimeError) {
        var err = [CChar](repeating: 0, count: 256)
        guard let ctx = gw_tls_server_ctx_new(certificate, privateKey, &err, err.count) else {
            throw .address("TLS: \(certificate): \(String(cString: err))")
        }
        raw = ctx
    }

    /// Client side: verify peers against `caFile`, or the system store.
    init(caFile: String?) throws(RuntimeError) {
        var err = [CChar](repeating: 0, count: 256)
        let ctx: UnsafeMutableRawPointer? = if let caFile {
            gw_tls_client_ctx_new(caFile, &err, err.count)
        } else {
            gw_tls_client_ctx_new(nil, &err, err.count)
        }
        guard let ctx else { throw .address("TLS: \(String(cString: err))") }
        raw = ctx
    }

    deinit { gw_tls_ctx_free(raw) }
}
