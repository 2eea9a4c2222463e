import GatewayAuth
import GatewayCore

/// The response phase of transparent refresh (SPEC §6): adds a freshly
/// signed token to the response when the request's token is inside the
/// refresh window, or the upstream asked for a claim update. Never on
/// 401/403: the upstream just refused this token. Deterministic signing plus
/// the worker's cache give every request that carries the same old token in
/// one 30 s quantum the same new one.
enum RefreshPhase {
    static let updateClaimsName = Array("gateway-update-claims".utf8)

    /// Adds the refreshed token to `options` (and marks the response as
    /// carrying a minted token). Returns the access-log label when it did.
    static func run(response head: HTTPHead, request: HTTPHead, token: VerifiedToken?, tokenRange: Range<Int>?,
                    routeIndex: Int?, runtime: RuntimeConfig, worker: Worker,
                    options: inout ClientResponseOptions) -> AuthResultLabel? {
        guard let token, let range = tokenRange, let reissuer = runtime.reissuer,
              head.status != 401, head.status != 403, let routeIndex else { return nil }
        var updates: JSONObject?
        if runtime.config.routes[routeIndex].claimUpdates,
           let i = head.firstIndex(ofFieldNamed: updateClaimsName) {
            switch TokenReissuer.parseClaimUpdates(head.bytes[head.fields[i].value]) {
            case .success(let object): updates = object
            case .failure(let error):
                worker.metrics.countRefresh(.error)
                OpsLog.warning("route \(runtime.routeNames[routeIndex]): ignoring malformed Gateway-Update-Claims: \(error)")
            }
        }
        let now = worker.loop.nowMs() / 1000
        switch RefreshPolicy.decide(token: token, config: runtime.config.refresh, canSign: true, now: now,
                                    forced: updates != nil) {
        case .keep:
            return nil
        case .cappedAge:
            worker.metrics.countRefresh(.cappedAge)
            return nil
        case .cappedCount:
            worker.metrics.countRefresh(.cappedCount)
            return nil
        case .reissue:
            break
        }
        do {
            let fresh = try request.bytes.withUnsafeBytes { raw in
                try reissuer.reissue(old: UnsafeRawBufferPointer(rebasing: raw[range]), verified: token,
                                     updates: updates, now: now, cache: worker.reissueCache)
            }
            options.extraFields.append((runtime.refreshHeader, fresh))
            options.exposeHeader = runtime.refreshHeader
            options.carriesMintedToken = true
            worker.metrics.countRefresh(updates != nil ? .claimsUpdated : .issued)
            return .refreshed
        } catch {
            worker.metrics.countRefresh(.error)
            OpsLog.error("refresh failed: \(error)")
            return nil
        }
    }
}
