import GatewayAuth
import GatewayCore
import GatewayLoop
import GatewayStore

/// Sessions and refresh tokens (SPEC §7), the phases that wait for the store:
/// - `refresh`: `POST {sessions.path}refresh`, answered by the gateway
///   before routing: one rotation of a refresh token;
/// - `logout`: `POST {sessions.path}logout`: the session revoked;
/// - `issue`: a 2xx response with `Gateway-Session` on an `issue_session`
///   route: a session starts and the response carries its tokens.
///
/// Each completes on the worker's loop once the store has made its change
/// durable. Nothing here keeps a refresh token: the store sees only hashes,
/// and a successor is derived from the used token under the store's key, so
/// a retry within `grace` gets the same bytes on any instance.
enum SessionPhase {
    enum Endpoint { case refresh, logout }

    /// Bodies of the two endpoints are read whole, up to this.
    static let maxBodyBytes = 16 << 10
    static let refreshTokenHeader = "X-Refresh-Token"
    static let sessionFieldName = Array("gateway-session".utf8)
    static let contentTypeName = Array("content-type".utf8)

    /// A local answer: status, extra fields, JSON body (empty for 204).
    struct Answer: Error {
        var status: Int
        var headers: [(String, String)] = []
        var body: [UInt8] = []

        static func error(_ status: Int, _ code: String, headers: [(String, String)] = []) -> Answer {
            var hs = headers
            hs.append(("Content-Type", "application/json"))
            hs.append(("Cache-Control", "no-store"))
            return Answer(status: status, headers: hs, body: Array("{\"error\":\"\(code)\"}\n".utf8))
        }
    }

    /// Which endpoint `path` (the normalized routing path) names, if any.
    static func endpoint(_ path: UnsafeRawBufferPointer, sessions: SessionsConfig) -> Endpoint? {
        let base = sessions.path.utf8
        guard path.count > base.count, path.starts(with: base) else { return nil }
        let rest = path[(path.startIndex + base.count)...]
        if rest.elementsEqual("refresh".utf8) { return .refresh }
        if rest.elementsEqual("logout".utf8) { return .logout }
        return nil
    }

    /// Runs `endpoint` on its collected body; `done` gets the answer on the
    /// worker's loop once the store has made the change durable.
    static func run(_ endpoint: Endpoint, request: HTTPHead, body: [UInt8], runtime: RuntimeConfig, worker: Worker,
                    done: @escaping (Answer) -> Void) {
        switch endpoint {
        case .refresh: refresh(request: request, body: body, runtime: runtime, worker: worker, done: done)
        case .logout: logout(request: request, body: body, runtime: runtime, worker: worker, done: done)
        }
    }

    // MARK: POST refresh

    static func refresh(request: HTTPHead, body: [UInt8], runtime: RuntimeConfig, worker: Worker,
                        done: @escaping (Answer) -> Void) {
        guard let state = worker.state, let sessions = runtime.config.sessions, let minter = runtime.sessionMinter else {
            return done(.error(503, "temporarily_unavailable"))
        }
        let token: String
        switch presentedRefreshToken(request: request, body: body, runtime: runtime, grantRequired: true) {
        case .success(let t): token = t
        case .failure(let answer):
            state.metrics.count(.invalid)
            return done(answer)
        }
        guard let sessionKey = state.store.sessionKey,
              let successor = try? SessionCrypto.successor(of: token.utf8, sessionKey: sessionKey) else {
            return done(.error(503, "temporarily_unavailable"))
        }
        let now = worker.loop.nowMs()
        let started = worker.loop.monotonicUs()
        let reply = LoopConfined(done)
        let loop = worker.loop
        state.store.rotate(refreshTokenHash: SessionCrypto.tokenHash(token.utf8),
                           successorHash: SessionCrypto.tokenHash(successor.utf8), now: now,
                           grace: sessions.graceMs, refreshTTL: sessions.refreshTTLMs, on: loop) { result in
            state.metrics.observe(.rotate, microseconds: loop.monotonicUs() - started)
            let done = reply.value
            switch result {
            case .success(.rotated(let session, let usedAt)):
                state.metrics.count(.refreshed)
                done(tokenAnswer(session: session, issuedAtMs: usedAt, refreshToken: successor, sessionKey: sessionKey,
                                 minter: minter, sessions: sessions, workspace: worker.reissueCache.workspace))
            case .success(.replay(let session, let usedAt)):
                state.metrics.count(.graceReplay)
                done(tokenAnswer(session: session, issuedAtMs: usedAt, refreshToken: successor, sessionKey: sessionKey,
                                 minter: minter, sessions: sessions, workspace: worker.reissueCache.workspace))
            case .success(.reuseDetected):
                state.metrics.count(.reuseDetected)
                OpsLog.warning("refresh token reused after its grace period: session revoked")
                done(.error(400, "invalid_grant", headers: clearCookie(sessions)))
            case .success(.invalid):
                state.metrics.count(.invalid)
                done(.error(400, "invalid_grant", headers: clearCookie(sessions)))
            case .failure(let error):
                OpsLog.warning("refresh: \(error)")
                done(.error(503, "temporarily_unavailable"))
            }
        }
    }

    /// The 200 of RFC 6749 §5.1: the same bytes for the same rotation.
    private static func tokenAnswer(session: SessionRecord, issuedAtMs: Int64, refreshToken: String,
                                    sessionKey: [UInt8], minter: SessionTokenMinter, sessions: SessionsConfig,
                                    workspace: SignerWorkspace) -> Answer {
        guard let access = try? minter.accessToken(
            sid: session.sid, sub: session.sub, claims: session.claims, startMs: session.start,
            expiresMs: session.expires, issuedAtMs: issuedAtMs, refreshToken: refreshToken, sessionKey: sessionKey,
            workspace: workspace)
        else {
            OpsLog.error("refresh: signing the access token failed")
            return .error(500, "server_error")
        }
        var object = JSONObject()
        object["access_token"] = .string(access.token)
        object["token_type"] = .string("Bearer")
        object["expires_in"] = .int(access.expiresIn)
        object["refresh_token"] = .string(refreshToken)
        var body = JSONSerializer.serialize(object)
        body.append(0x0A)
        var headers: [(String, String)] = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                           ("Pragma", "no-cache")]
        headers += setCookie(refreshToken, sessions)
        return Answer(status: 200, headers: headers, body: body)
    }

    // MARK: POST logout

    static func logout(request: HTTPHead, body: [UInt8], runtime: RuntimeConfig, worker: Worker,
                       done: @escaping (Answer) -> Void) {
        guard let state = worker.state, let sessions = runtime.config.sessions else {
            return done(.error(503, "temporarily_unavailable"))
        }
        let now = worker.loop.nowMs()
        let which: SessionSelector
        switch accessTokenSession(request: request, runtime: runtime, worker: worker, now: now / 1000) {
        case .some(.success(let sid)):
            which = .sid(sid)
        case .some(.failure(let answer)):
            return done(answer)
        case nil:
            switch presentedRefreshToken(request: request, body: body, runtime: runtime, grantRequired: false) {
            case .success(let token): which = .refreshTokenHash(SessionCrypto.tokenHash(token.utf8))
            case .failure(let answer): return done(answer)
            }
        }
        let started = worker.loop.monotonicUs()
        let reply = LoopConfined(done)
        let loop = worker.loop
        state.store.endSession(which, now: now, fallbackUntil: sessions.maxAgeMs / 1000, on: loop) { result in
            state.metrics.observe(.endSession, microseconds: loop.monotonicUs() - started)
            switch result {
            case .success:
                state.metrics.count(.loggedOut)
                // 204 also when it was revoked already or never known: the
                // client's state is the same either way.
                reply.value(Answer(status: 204, headers: [("Cache-Control", "no-store")] + clearCookie(sessions)))
            case .failure(let error):
                OpsLog.warning("logout: \(error)")
                reply.value(.error(503, "temporarily_unavailable"))
            }
        }
    }

    /// The sid of the request's access token: nil when it has no
    /// Authorization bearer (the refresh token decides then); a failure
    /// answer when the token does not verify or names no session. A revoked
    /// token still logs its session out.
    private static func accessTokenSession(request: HTTPHead, runtime: RuntimeConfig, worker: Worker,
                                           now: Int64) -> Result<String, Answer>? {
        let extractor = TokenExtractor(sources: [.header])
        guard case .success(let range) = extractor.extract(from: request) else { return nil }
        let result = request.bytes.withUnsafeBytes { raw in
            worker.verifier.verify(UnsafeRawBufferPointer(rebasing: raw[range]), scopes: [], now: now,
                                   cache: worker.tokenCache)
        }
        switch result {
        case .success(let token):
            guard let sid = token.sid else { return .failure(.error(400, "invalid_request")) }
            return .success(sid)
        case .failure(let failure):
            return .failure(.error(401, failure.errorCode,
                                   headers: [("WWW-Authenticate", failure.wwwAuthenticate)]))
        }
    }

    // MARK: Starting a session (issue_session routes)

    /// Called with a 2xx upstream response head on an `issue_session` route.
    /// Returns false when it carries no (usable) `Gateway-Session`: the
    /// response goes on as it is. Otherwise `done` later gets the fields to
    /// add (access token, refresh token, cookie) or nil when the store could
    /// not record the session (the caller answers 503).
    static func issue(response: HTTPHead, runtime: RuntimeConfig, worker: Worker,
                      done: @escaping ([(name: [UInt8], value: [UInt8])]?) -> Void) -> Bool {
        guard let i = response.firstIndex(ofFieldNamed: sessionFieldName) else { return false }
        guard let state = worker.state, let sessions = runtime.config.sessions, let minter = runtime.sessionMinter else {
            return false
        }
        let parsed = response.bytes.withUnsafeBytes { raw in
            SessionTokenMinter.parseSessionClaims(UnsafeRawBufferPointer(rebasing: raw[response.fields[i].value]))
        }
        let sub: String, claims: JSONObject
        switch parsed {
        case .success(let p): (sub, claims) = p
        case .failure(let error):
            OpsLog.warning("ignoring Gateway-Session: \(error)")
            return false
        }
        guard let sessionKey = state.store.sessionKey, let sid = try? SessionCrypto.newSessionID(),
              let refreshToken = try? SessionCrypto.newRefreshToken() else {
            done(nil)
            return true
        }
        let now = worker.loop.nowMs()
        let session = SessionRecord(sid: sid, sub: sub, claims: JSONSerializer.serialize(claims), start: now,
                                    expires: now + sessions.maxAgeMs)
        let started = worker.loop.monotonicUs()
        let reply = LoopConfined(done)
        let loop = worker.loop
        let accessHeader = runtime.refreshHeader
        state.store.startSession(session, refreshTokenHash: SessionCrypto.tokenHash(refreshToken.utf8), now: now,
                                 refreshTTL: sessions.refreshTTLMs, on: loop) { result in
            state.metrics.observe(.startSession, microseconds: loop.monotonicUs() - started)
            guard case .success = result,
                  let access = try? minter.accessToken(sid: sid, sub: sub, claims: session.claims, startMs: now,
                                                       expiresMs: session.expires, issuedAtMs: now,
                                                       refreshToken: refreshToken, sessionKey: sessionKey,
                                                       workspace: worker.reissueCache.workspace)
            else {
                if case .failure(let error) = result { OpsLog.warning("issue_session: \(error)") }
                return reply.value(nil)
            }
            state.metrics.count(.started)
            var fields: [(name: [UInt8], value: [UInt8])] = [
                (accessHeader, Array(access.token.utf8)),
                (Array(refreshTokenHeader.utf8), Array(refreshToken.utf8)),
            ]
            for (name, value) in setCookie(refreshToken, sessions) { fields.append((Array(name.utf8), Array(value.utf8))) }
            reply.value(fields)
        }
        return true
    }

    // MARK: Request parsing

    /// The refresh token of a request: `refresh_token` in a form or JSON
    /// body, else the session cookie. With `grantRequired`, a body must say
    /// `grant_type=refresh_token` (RFC 6749 §6); an empty body (cookie only)
    /// needs no grant type.
    static func presentedRefreshToken(request: HTTPHead, body: [UInt8], runtime: RuntimeConfig,
                                      grantRequired: Bool) -> Result<String, Answer> {
        var grantType: [UInt8]?
        var token: [UInt8]?
        if !body.isEmpty {
            switch parseBody(request: request, body: body) {
            case .success(let fields): (grantType, token) = fields
            case .failure(let answer): return .failure(answer)
            }
            if grantRequired {
                guard let grantType else { return .failure(.error(400, "invalid_request")) }
                guard grantType.elementsEqual("refresh_token".utf8) else {
                    return .failure(.error(400, "unsupported_grant_type"))
                }
            }
        }
        if token == nil, let name = runtime.config.sessions?.cookie {
            let extractor = TokenExtractor(sources: [.cookie(name)])
            switch extractor.extract(from: request) {
            case .success(let range): token = Array(request.bytes[range])
            case .failure(.missingToken): break
            case .failure: return .failure(.error(400, "invalid_request"))
            }
        }
        guard let token else { return .failure(.error(400, "invalid_request")) }
        // 32 random bytes in base64url: anything else was never issued here.
        guard token.count == 43, Base64URL.decode(token)?.count == 32 else {
            return .failure(.error(400, "invalid_grant"))
        }
        return .success(String(decoding: token, as: UTF8.self))
    }

    /// `grant_type` and `refresh_token` from a form or JSON body. A
    /// parameter given twice is refused (RFC 6749 §3.2).
    private static func parseBody(request: HTTPHead, body: [UInt8]) -> Result<([UInt8]?, [UInt8]?), Answer> {
        let bad = Answer.error(400, "invalid_request")
        switch mediaType(request) {
        case "application/x-www-form-urlencoded":
            guard let pairs = FormDecoding.pairs(body) else { return .failure(bad) }
            var grant: [UInt8]?, token: [UInt8]?
            for (name, value) in pairs {
                if name.elementsEqual("grant_type".utf8) {
                    if grant != nil { return .failure(bad) }
                    grant = value
                } else if name.elementsEqual("refresh_token".utf8) {
                    if token != nil { return .failure(bad) }
                    token = value
                }
            }
            return .success((grant, token))
        case "application/json":
            guard case .object(let o)? = try? JSONParser.parse(body, limits: JSONParser.Limits(maxBytes: maxBodyBytes,
                                                                                              maxDepth: 4))
            else { return .failure(bad) }
            func field(_ name: String) -> Result<[UInt8]?, Answer> {
                guard let v = o[name] else { return .success(nil) }
                guard case .string(let s) = v else { return .failure(bad) }
                return .success(Array(s.utf8))
            }
            do {
                return .success((try field("grant_type").get(), try field("refresh_token").get()))
            } catch {
                return .failure(error)
            }
        default:
            return .failure(bad)
        }
    }

    /// The Content-Type's media type, lower-cased, parameters cut.
    private static func mediaType(_ head: HTTPHead) -> String {
        guard let i = head.firstIndex(ofFieldNamed: contentTypeName) else { return "" }
        let value = head.bytes[head.fields[i].value]
        let end = value.firstIndex(of: UInt8(ascii: ";")) ?? value.endIndex
        return String(decoding: value[value.startIndex..<end], as: UTF8.self)
            .trimmingCharacters(in: " \t").lowercased()
    }

    // MARK: Cookies

    /// `Path` is the sessions path: the browser sends the refresh token to
    /// the refresh and logout endpoints only.
    private static func setCookie(_ token: String, _ sessions: SessionsConfig) -> [(String, String)] {
        guard let name = sessions.cookie else { return [] }
        return [("Set-Cookie", "\(name)=\(token); Path=\(sessions.path); Max-Age=\(sessions.refreshTTLMs / 1000);"
                 + " HttpOnly; Secure; SameSite=Strict")]
    }

    private static func clearCookie(_ sessions: SessionsConfig) -> [(String, String)] {
        guard let name = sessions.cookie else { return [] }
        return [("Set-Cookie", "\(name)=; Path=\(sessions.path); Max-Age=0; HttpOnly; Secure; SameSite=Strict")]
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let c = s.first, chars.contains(c) { s.removeFirst() }
        while let c = s.last, chars.contains(c) { s.removeLast() }
        return String(s)
    }
}
