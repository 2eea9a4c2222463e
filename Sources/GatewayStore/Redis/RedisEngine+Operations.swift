import GatewayAuth
import GatewayLoop

/// The store operations, on the store thread: each is one script call (or
/// one command), answered only from Redis's reply.
extension RedisEngine {
    /// Session and token keys outlive their last use by this much, so Redis's
    /// clock expiring a key never decides an outcome the script decides by `now`.
    static let ttlSlackMs: Int64 = 60_000

    /// EVALSHA; on NOSCRIPT (a SCRIPT FLUSH, a restarted or failed-over
    /// server) loads the script and retries once. NOSCRIPT means the script
    /// did not run, so the retry cannot apply it twice.
    func eval(_ script: RedisScript, _ args: [[UInt8]], retried: Bool = false,
              _ handler: @escaping (RedisReply?) -> Void) {
        guard isUp, let command, let sha = scriptSHA[script] else { handler(nil); return }
        command.send(RESPCommand([Array("EVALSHA".utf8), Array(sha.utf8), Array("0".utf8)] + args)) {
            [weak self] reply in
            guard let self, !retried, let e = reply?.errorMessage, e.hasPrefix("NOSCRIPT") else {
                handler(reply)
                return
            }
            guard self.isUp, let again = self.command else { handler(nil); return }
            again.send(RESPCommand("SCRIPT", "LOAD", script.source)) { [weak self] loaded in
                guard let self, let sha = loaded?.text else { handler(loaded); return }
                self.scriptSHA[script] = sha
                self.eval(script, args, retried: true, handler)
            }
        }
    }

    /// Runs `op` when up; otherwise completes at once with `.unavailable`.
    func run<T: Sendable>(on executor: any CompletionExecutor,
                          _ done: @escaping @Sendable (Result<T, StoreError>) -> Void,
                          _ op: (@escaping (Result<T, StoreError>) -> Void) -> Void) {
        guard isUp else {
            let why = unavailableReason
            executor.post { done(.failure(.unavailable(why))) }
            return
        }
        op { result in executor.post { done(result) } }
    }

    /// The failure for a reply that is not the one expected.
    static func failure(_ reply: RedisReply?) -> StoreError {
        guard let reply else { return .unavailable("connection to redis lost before it answered") }
        if let e = reply.errorMessage { return .unavailable("redis: \(e)") }
        return .unavailable("redis: unexpected answer")
    }

    func addRevocation(_ target: Revocation.Target, until: Int64, now: Int64,
                       _ finish: @escaping (Result<Revocation, StoreError>) -> Void) {
        let id = Revocation.id(for: target)
        let a = RedisRevocationEncoding.arguments(for: target)
        eval(.addRevocation, [prefix, bytes(id), bytes(a.kind), bytes(a.value), bytes(a.before),
                              bytes(String(now)), bytes(String(until))]) { reply in
            guard let enc = reply?.bytes, let entry = RedisRevocationEncoding.decode(id: id, enc) else {
                finish(.failure(Self.failure(reply)))
                return
            }
            finish(.success(entry.revocation))
        }
    }

    func deleteRevocation(id: String, _ finish: @escaping (Result<Bool, StoreError>) -> Void) {
        eval(.deleteRevocation, [prefix, bytes(id)]) { reply in
            guard let n = reply?.int64 else { finish(.failure(Self.failure(reply))); return }
            finish(.success(n == 1))
        }
    }

    func listRevocations(after: Int64, limit: Int, now: Int64,
                         _ finish: @escaping (Result<RevocationPage, StoreError>) -> Void) {
        eval(.listRevocations, [prefix, bytes(String(after)), bytes(String(limit)), bytes(String(now))]) { reply in
            guard let parts = reply?.elements, let next = parts.first?.text else {
                finish(.failure(Self.failure(reply)))
                return
            }
            var items: [Revocation] = []
            var i = 1
            while i + 1 < parts.count {
                guard let id = parts[i].text, let enc = parts[i + 1].bytes,
                      let entry = RedisRevocationEncoding.decode(id: id, enc) else {
                    finish(.failure(.unavailable("redis: malformed revocation entry")))
                    return
                }
                items.append(entry.revocation)
                i += 2
            }
            finish(.success(RevocationPage(items: items, nextCursor: next.isEmpty ? nil : next)))
        }
    }

    func startSession(_ s: SessionRecord, tokenHash: [UInt8], now: Int64, refreshTTL: Int64,
                      _ finish: @escaping (Result<Void, StoreError>) -> Void) {
        let sessionTTL = max(1, s.expires - now) + Self.ttlSlackMs
        let tokenTTL = max(1, min(now + refreshTTL, s.expires) - now) + Self.ttlSlackMs
        let rid = Revocation.id(for: .sid(s.sid))
        eval(.startSession, [prefix, bytes(s.sid), bytes(s.sub), s.claims, bytes(String(s.start)),
                             bytes(String(s.expires)), bytes(rid), bytes(Self.hex(tokenHash)), bytes(String(now)),
                             bytes(String(sessionTTL)), bytes(String(tokenTTL))]) { reply in
            guard reply?.int64 == 1 else { finish(.failure(Self.failure(reply))); return }
            finish(.success(()))
        }
    }

    func rotate(tokenHash: [UInt8], successorHash: [UInt8], now: Int64, grace: Int64, refreshTTL: Int64,
                _ finish: @escaping (Result<RotateOutcome, StoreError>) -> Void) {
        eval(.rotate, [prefix, bytes(Self.hex(tokenHash)), bytes(Self.hex(successorHash)), bytes(String(now)),
                       bytes(String(grace)), bytes(String(refreshTTL)), bytes(String(Self.seconds(now))),
                       bytes(String(Self.ttlSlackMs))]) { reply in
            guard let parts = reply?.elements, let outcome = parts.first?.text else {
                finish(.failure(Self.failure(reply)))
                return
            }
            switch outcome {
            case "invalid": finish(.success(.invalid))
            case "reuse": finish(.success(.reuseDetected))
            case "rotated", "replay":
                guard parts.count == 7, let sid = parts[1].text, let sub = parts[2].text,
                      let claims = parts[3].bytes, let start = parts[4].int64, let expires = parts[5].int64,
                      let usedAt = parts[6].int64 else {
                    finish(.failure(.unavailable("redis: malformed session")))
                    return
                }
                let session = SessionRecord(sid: sid, sub: sub, claims: claims, start: start, expires: expires)
                finish(.success(outcome == "rotated" ? .rotated(session, usedAt: usedAt)
                                                     : .replay(session, usedAt: usedAt)))
            default:
                finish(.failure(Self.failure(reply)))
            }
        }
    }

    func endSession(_ which: SessionSelector, now: Int64, fallbackUntil: Int64,
                    _ finish: @escaping (Result<String?, StoreError>) -> Void) {
        let nowS = Self.seconds(now)
        let mode: String, value: String, rid: String
        switch which {
        case .sid(let sid): (mode, value, rid) = ("sid", sid, Revocation.id(for: .sid(sid)))
        case .refreshTokenHash(let h): (mode, value, rid) = ("token", Self.hex(h), "")
        }
        eval(.endSession, [prefix, bytes(mode), bytes(value), bytes(rid), bytes(String(nowS)),
                           bytes(String(nowS + fallbackUntil))]) { reply in
            switch reply {
            case .null?: finish(.success(nil))
            case .string(let sid)?: finish(.success(String(decoding: sid, as: UTF8.self)))
            default: finish(.failure(Self.failure(reply)))
            }
        }
    }

    /// Unix ms to the unix seconds revocations are kept in (floor).
    static func seconds(_ ms: Int64) -> Int64 { ms >= 0 ? ms / 1000 : (ms - 999) / 1000 }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
