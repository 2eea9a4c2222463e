import GatewayAuth
import GatewayCore
import GatewayLoop
import GatewayStore

/// `/admin/v1/revocations` (SPEC §7): add, list, lift. Every change is
/// answered only once the store has made it durable; the admin connection
/// waits for that answer.
enum RevocationAPI {
    static let collection = "/admin/v1/revocations"
    static let maxValueBytes = 1024
    static let maxLimit = 1000

    static func handle(_ request: AdminRequest, state: StateRuntime, runtime: RuntimeConfig, loop: EventLoop,
                       reply: @escaping (AdminAnswer) -> Void) {
        let path = request.path
        if path == collection {
            switch request.method {
            case "POST": return add(request, state: state, runtime: runtime, loop: loop, reply: reply)
            case "GET", "HEAD": return list(request, state: state, loop: loop, reply: reply)
            default: return reply(.error(405, "method_not_allowed", headers: [("Allow", "GET, HEAD, POST")]))
            }
        }
        if path.hasPrefix(collection + "/") {
            let id = String(path.dropFirst(collection.count + 1))
            guard !id.isEmpty, !id.contains("/") else { return reply(.error(404, "not_found")) }
            guard request.method == "DELETE" else {
                return reply(.error(405, "method_not_allowed", headers: [("Allow", "DELETE")]))
            }
            let started = loop.monotonicUs()
            let reply = LoopConfined(reply)
            state.store.deleteRevocation(id: id, on: loop) { result in
                state.metrics.observe(.unrevoke, microseconds: loop.monotonicUs() - started)
                switch result {
                case .success(true): reply.value(.noContent)
                case .success(false): reply.value(.error(404, "not_found"))
                case .failure(let e): reply.value(answer(for: e))
                }
            }
            return
        }
        reply(.error(404, "not_found"))
    }

    // MARK: POST

    private static func add(_ request: AdminRequest, state: StateRuntime, runtime: RuntimeConfig, loop: EventLoop,
                            reply: @escaping (AdminAnswer) -> Void) {
        let now = loop.nowMs() / 1000
        let defaultUntil = now + (runtime.config.sessions?.maxAgeMs ?? SessionsConfig().maxAgeMs) / 1000
        let target: Revocation.Target
        let until: Int64
        switch parse(request, now: now, defaultUntil: defaultUntil) {
        case .success(let parsed): (target, until) = parsed
        case .failure(let why): return reply(.error(400, "invalid_request", description: why.message))
        }
        let started = loop.monotonicUs()
        let reply = LoopConfined(reply)
        state.store.addRevocation(target, until: until, now: now, on: loop) { result in
            state.metrics.observe(.revoke, microseconds: loop.monotonicUs() - started)
            switch result {
            case .success(let entry): reply.value(.json(201, json(entry)))
            case .failure(let e): reply.value(answer(for: e))
            }
        }
    }

    struct BadRequest: Error { let message: String }

    /// `{"jti"}`, `{"sid"}` or `{"sub", "before"}`, each with an optional
    /// `until` in the future; nothing else.
    static func parse(_ request: AdminRequest, now: Int64,
                      defaultUntil: Int64) -> Result<(Revocation.Target, Int64), BadRequest> {
        guard let object = request.jsonObject() else { return .failure(BadRequest(message: "body must be a JSON object")) }
        let known: Set<String> = ["jti", "sid", "sub", "before", "until"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            return .failure(BadRequest(message: "unknown field \"\(unknown.prefix(64))\""))
        }
        func string(_ name: String) -> Result<String?, BadRequest> {
            guard let v = object[name] else { return .success(nil) }
            guard case .string(let s) = v, !s.isEmpty, s.utf8.count <= maxValueBytes else {
                return .failure(BadRequest(message: "\(name) must be a non-empty string of at most \(maxValueBytes) bytes"))
            }
            return .success(s)
        }
        func integer(_ name: String) -> Result<Int64?, BadRequest> {
            guard let v = object[name] else { return .success(nil) }
            guard case .int(let n) = v, n >= 0 else {
                return .failure(BadRequest(message: "\(name) must be a non-negative integer (unix seconds)"))
            }
            return .success(n)
        }
        let jti: String?, sid: String?, sub: String?, before: Int64?, until: Int64?
        do {
            jti = try string("jti").get(); sid = try string("sid").get(); sub = try string("sub").get()
            before = try integer("before").get(); until = try integer("until").get()
        } catch {
            return .failure(error)
        }
        let kinds = [jti, sid, sub].compactMap { $0 }.count
        guard kinds == 1 else { return .failure(BadRequest(message: "exactly one of jti, sid, sub is required")) }
        if sub != nil, before == nil { return .failure(BadRequest(message: "sub needs before")) }
        if sub == nil, before != nil { return .failure(BadRequest(message: "before goes with sub only")) }
        if let until, until <= now { return .failure(BadRequest(message: "until is not in the future")) }
        let target: Revocation.Target
        if let jti { target = .jti(jti) } else if let sid { target = .sid(sid) } else { target = .subject(sub!, before: before!) }
        return .success((target, until ?? defaultUntil))
    }

    // MARK: GET

    private static func list(_ request: AdminRequest, state: StateRuntime, loop: EventLoop,
                             reply: @escaping (AdminAnswer) -> Void) {
        var limit = 100
        if let text = AdminAnswer.queryValue("limit", in: request.query) {
            guard let n = Int(text), n >= 1, n <= maxLimit else {
                return reply(.error(400, "invalid_request", description: "limit must be 1 to \(maxLimit)"))
            }
            limit = n
        }
        let cursor = AdminAnswer.queryValue("cursor", in: request.query)
        let started = loop.monotonicUs()
        let reply = LoopConfined(reply)
        state.store.listRevocations(cursor: cursor, limit: limit, now: loop.nowMs() / 1000, on: loop) { result in
            state.metrics.observe(.listRevocations, microseconds: loop.monotonicUs() - started)
            switch result {
            case .success(let page):
                var object = JSONObject()
                object["items"] = .array(page.items.map { .object(json($0)) })
                object["next_cursor"] = page.nextCursor.map { .string($0) } ?? .null
                reply.value(.json(200, object))
            case .failure(let e):
                reply.value(answer(for: e))
            }
        }
    }

    // MARK: Shapes

    static func json(_ r: Revocation) -> JSONObject {
        var o = JSONObject()
        o["id"] = .string(r.id)
        o["kind"] = .string(r.target.kind)
        switch r.target {
        case .jti(let v): o["jti"] = .string(v)
        case .sid(let v): o["sid"] = .string(v)
        case .subject(let v, let before):
            o["sub"] = .string(v)
            o["before"] = .int(before)
        }
        o["created"] = .int(r.created)
        o["until"] = .int(r.until)
        return o
    }

    static func answer(for error: StoreError) -> AdminAnswer {
        switch error {
        case .badCursor: return .error(400, "invalid_request", description: "unknown cursor")
        case .unavailable, .open:
            OpsLog.warning("revocation API: \(error)")
            return .error(503, "temporarily_unavailable")
        }
    }
}
