import GatewayAuth
import GatewayCore

/// The upstream-request phase: the head the upstream gets (SPEC §4.4).
/// Hop-by-hop fields go, X-Forwarded-For is appended, X-Forwarded-Proto and
/// X-Forwarded-Host are replaced, X-Request-Id is kept or added, the
/// `forward_claims` headers come from the verified token, and the target is
/// the normalized one routing read (`HTTPHead.forwardedTarget`).
enum UpstreamRequestPhase {
    private static let hostName = Array("Host".utf8)

    /// How `HeadWriter.writeUpstreamRequest` rewrites `head` for `group`.
    static func options(_ head: HTTPHead, token: VerifiedToken?, requestID: RequestIDSource, group: UpstreamGroup,
                        clientAddress: [UInt8], proto: [UInt8], runtime: RuntimeConfig) -> UpstreamRequestOptions {
        var options = UpstreamRequestOptions(framing: .none)
        switch head.framing {
        case .contentLength(let n): options.framing = .contentLength(n)
        case .chunked: options.framing = .chunked
        default: options.framing = .none
        }
        options.tunnelUpgrade = head.isUpgrade
        options.removeFieldNames = runtime.removeRequestFields
        options.clientAddress = clientAddress
        options.forwardedProto = proto
        options.forwardedHost = head.hostField.map { head.bytes[head.fields[$0].value] } ?? []
        // A received id is kept with the client's own field.
        options.generatedRequestID = requestID.generated
        if let token { options.extraFields = AuthPhase.claimHeaders(token, runtime: runtime) }
        // We speak HTTP/1.1 upstream, which requires Host; an HTTP/1.0 client
        // may not have sent one. Like nginx's $proxy_host: the group's name.
        if head.hostField == nil {
            options.extraFields.append((hostName, Array(group.name.utf8)))
        }
        return options
    }
}
