import GatewayAuth
import GatewayCore

/// The upstream-request phase: the head the upstream gets (SPEC §4.4).
/// Hop-by-hop fields go, X-Forwarded-For is appended, X-Forwarded-Proto and
/// X-Forwarded-Host are replaced, X-Request-Id is kept or added, the
/// `forward_claims` headers come from the verified token, and the target is
/// the normalized one routing read (`HTTPHead.forwardedTarget`).
enum UpstreamRequestPhase {
    private static let hostName = Array("Host".utf8)

    /// The options of a connection's upstream heads: what stays the same
    /// for all its exchanges (the client's address, the scheme, the fields
    /// the configuration removes). Kept by the connection, so no exchange
    /// builds (and reference-counts) them again; `prepare` sets the rest.
    /// Made again when the connection takes up a reloaded configuration.
    static func connectionOptions(clientAddress: [UInt8], proto: [UInt8],
                                  runtime: RuntimeConfig) -> UpstreamRequestOptions {
        UpstreamRequestOptions(framing: .none, removeFieldNames: runtime.removeRequestFields,
                               clientAddress: clientAddress, forwardedProto: proto)
    }

    /// Sets every per-exchange option for writing `head` to `group`: none
    /// is left from the connection's previous exchange.
    static func prepare(_ options: inout UpstreamRequestOptions, for head: HTTPHead, token: VerifiedToken?,
                        requestID: RequestIDSource, group: UpstreamGroup, runtime: RuntimeConfig) {
        switch head.framing {
        case .contentLength(let n): options.framing = .contentLength(n)
        case .chunked: options.framing = .chunked
        default: options.framing = .none
        }
        options.tunnelUpgrade = head.isUpgrade
        options.forwardsHost = true
        // A received id is kept with the client's own field.
        options.generatedRequestID = requestID.generated
        clear(&options)
        if let token { options.extraFields = AuthPhase.claimHeaders(token, runtime: runtime) }
        // We speak HTTP/1.1 upstream, which requires Host; an HTTP/1.0 client
        // may not have sent one. Like nginx's $proxy_host: the group's name.
        if head.hostField == nil {
            options.extraFields.append((hostName, Array(group.name.utf8)))
        }
    }

    /// Drops what `prepare` held of an exchange (the claim headers' values),
    /// so an idle connection keeps none of it.
    static func clear(_ options: inout UpstreamRequestOptions) {
        if !options.extraFields.isEmpty { options.extraFields = [] }
    }
}
