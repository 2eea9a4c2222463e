import Testing
@testable import GatewayAuth

@Suite struct AuthFailureTests {
    @Test func mapping() {
        let all: [AuthFailure] = [.missingToken, .malformed("x"), .algorithmMismatch, .unknownKeyID, .badSignature,
                                  .expired, .notYetValid, .wrongIssuer, .wrongAudience, .insufficientScope(["a"]), .revoked]
        #expect(all.map(\.errorCode) == ["missing_token", "invalid_token", "invalid_token", "invalid_token",
                                         "invalid_token", "token_expired", "invalid_token", "invalid_token",
                                         "invalid_token", "insufficient_scope", "token_revoked"])
        #expect(all.map(\.httpStatus) == [401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 401])
        #expect(all.map(\.metricLabel) == AuthFailure.allMetricLabels)
        #expect(AuthFailure.missingToken.wwwAuthenticate == "Bearer realm=\"gateway\"")
        #expect(AuthFailure.expired.wwwAuthenticate
                == "Bearer realm=\"gateway\", error=\"invalid_token\", error_description=\"token expired\"")
        #expect(AuthFailure.insufficientScope(["a", "b"]).wwwAuthenticate
                == "Bearer realm=\"gateway\", error=\"insufficient_scope\", scope=\"a b\"")
        #expect(AuthFailure.revoked.description == "token revoked")
    }
}
