import GatewayAuth
import GatewayCore

/// The request phase that decides who gets in (SPEC §5). Runs after routing
/// and before anything is sent upstream; a rejection is answered here, so a
/// rejected request never reaches the upstream.
///
/// The token is found by `TokenExtractor` (header, cookie, query in the
/// configured order), verified by `JWTVerifier` (GatewayAuth/JWTVerifier.swift)
/// with this worker's `VerifiedTokenCache` in front, so a token seen before
/// costs a lookup, not a signature check. A verified token is then checked
/// against the worker's `RevocationView` (GatewayAuth/RevocationView.swift).
enum AuthPhase {
    enum Decision {
        /// Let the request through; `token` is nil on `auth = "none"` and on an
        /// optional route without a token. `range` is where the token sits
        /// in the head's bytes (the refresh phase reissues from it).
        case pass(AuthResultLabel, VerifiedToken?, range: Range<Int>? = nil)
        case reject(AuthFailure)
    }

    static func decide(head: HTTPHead, route: RouteConfig, runtime: RuntimeConfig, verifier: JWTVerifier,
                       cache: VerifiedTokenCache, revocations: RevocationView, nowSeconds: Int64) -> Decision {
        if route.auth == .none { return .pass(.none, nil) }
        switch runtime.extractor.extract(from: head) {
        case .failure(.missingToken) where isCORSPreflight(head):
            // Browsers never send credentials on a preflight; refusing it
            // would make every cross-origin call fail. The upstream answers
            // it; the real request that follows carries the token and is
            // checked (Envoy's jwt_authn does the same).
            return .pass(.none, nil)
        case .failure(.missingToken):
            return route.auth == .optional ? .pass(.none, nil) : .reject(.missingToken)
        case .failure(let failure):
            return .reject(failure)
        case .success(let range):
            let result = head.bytes.withUnsafeBytes { raw in
                verifier.verify(UnsafeRawBufferPointer(rebasing: raw[range]), scopes: route.scopes,
                                        now: nowSeconds, cache: cache)
            }
            switch consume result {
            case .success(let token):
                // Revocation (SPEC §7): the worker's local view, no I/O. A
                // cached verification is checked too: a revocation can
                // arrive after the token was first seen.
                if revocations.revokes(token, now: nowSeconds) { return .reject(.revoked) }
                return .pass(.ok, token, range: range)
            case .failure(let failure):
                return .reject(failure)
            }
        }
    }

    private static let optionsMethod = Array("OPTIONS".utf8)
    private static let preflightField = Array("access-control-request-method".utf8)
    private static let originField = Array("origin".utf8)

    /// A CORS preflight (Fetch standard): OPTIONS with Origin and
    /// Access-Control-Request-Method, and nothing a browser's preflight never
    /// has: no body and no Upgrade (SPEC §5). Otherwise "preflight" would be
    /// an unauthenticated way to send a body, or to open a tunnel on a 101.
    static func isCORSPreflight(_ head: HTTPHead) -> Bool {
        switch head.framing {
        case .none, .contentLength(0): break
        default: return false
        }
        return head.bytes[head.method].elementsEqual(optionsMethod)
            && !head.isUpgrade && head.firstIndex(of: .upgrade) == nil
            && head.firstIndex(ofFieldNamed: preflightField) != nil
            && head.firstIndex(ofFieldNamed: originField) != nil
    }

    /// The access-log `auth` value and metric label for a failure.
    static func label(_ failure: AuthFailure) -> AuthResultLabel {
        switch failure {
        case .missingToken: return .missing
        case .expired: return .expired
        case .revoked: return .revoked
        case .insufficientScope: return .forbidden
        default: return .invalid
        }
    }

    /// `forward_claims` headers from a verified token. Strings go as they
    /// are; other JSON values in their compact JSON form. Control bytes never
    /// reach a header: the writer replaces them.
    static func claimHeaders(_ token: VerifiedToken, runtime: RuntimeConfig) -> [(name: [UInt8], value: [UInt8])] {
        var out: [(name: [UInt8], value: [UInt8])] = []
        for (claim, header) in runtime.forwardClaims {
            guard let value = token.claim(claim) else { continue }
            switch value {
            case .string(let s): out.append((header, Array(s.utf8)))
            case .null: continue
            default: out.append((header, JSONSerializer.serialize(value)))
            }
        }
        return out
    }
}
