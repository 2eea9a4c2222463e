// Figures for the revocation view at 10^6 entries (SPEC §7: < 1 µs per
// request): build time, memory, cost of a check, cost of a new view after a
// small change. Run with `swift run -c release RevocationBench`.
import Foundation
import GatewayAuth

/// SplitMix64: the same figures on every run.
struct Generator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A UUID-shaped jti: 36 characters.
    mutating func uuid() -> String {
        let hex = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        var word = next(), left = 16
        for i in 0..<32 {
            if [8, 12, 16, 20].contains(i) { bytes.append(UInt8(ascii: "-")) }
            if left == 0 { word = next(); left = 16 }
            bytes.append(hex[Int(word & 15)]); word >>= 4; left -= 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A 22-character base64url session id (128 bits).
    mutating func sessionID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        return String(decoding: (0..<22).map { _ in alphabet[Int(next() & 63)] }, as: UTF8.self)
    }

    /// A subject such as "user-48151623".
    mutating func subject() -> String { "user-\(next() % 100_000_000_000)" }
}

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * sysconf(Int32(_SC_PAGESIZE))
}

func timed<T>(_ body: () -> T) -> (T, Duration) {
    let clock = ContinuousClock()
    var result: T?
    let elapsed = clock.measure { result = body() }
    return (result!, elapsed)
}

extension Duration {
    var ms: String { String(format: "%.1f ms", Double(components.seconds) * 1e3 + Double(components.attoseconds) * 1e-15) }
    var ns: Double { Double(components.seconds) * 1e9 + Double(components.attoseconds) * 1e-9 }
}

func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

func token(jti: String?, sid: String?, sub: String?, iat: Int64?) -> VerifiedToken {
    VerifiedToken(claims: JSONObject(), sub: sub, exp: 2_000_000_000, iat: iat, authTime: nil, rfc: nil,
                  jti: jti, sid: sid, kid: nil, algorithm: .es256, expiredWithinLeeway: false)
}

/// This thread's CPU time in ns: on a shared machine, wall time also counts
/// the time other processes had the core.
func threadCPUTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
}

/// A token as the request path holds it: in a per-request object. The loop
/// passes its claims: reading a whole `VerifiedToken` out of an array or a
/// class copies it (eight retains and releases, more than the check costs),
/// a cost of this loop, not of the request path, which holds its token.
final class Request {
    let token: VerifiedToken
    init(_ token: VerifiedToken) { self.token = token }
}

/// Wall and CPU ns per `revokes` over `calls` calls cycling through
/// `requests`; the count of revoked answers keeps the loop from being
/// optimized away.
func nsPerCheck(_ view: RevocationView, _ requests: [Request], now: Int64,
                calls: Int) -> (wall: Double, cpu: Double, revoked: Int) {
    let mask = requests.count - 1
    var warm = 0
    for request in requests where view.revokes(request.token, now: now) { warm += 1 }
    let cpuStart = threadCPUTime()
    let (revoked, elapsed) = timed { () -> Int in
        var revoked = 0
        for i in 0..<calls {
            let request = requests[i & mask]
            if view.revokes(jti: request.token.jti, sid: request.token.sid, sub: request.token.sub,
                            iat: request.token.iat, now: now) { revoked += 1 }
        }
        return revoked
    }
    let cpu = threadCPUTime() - cpuStart
    return (elapsed.ns / Double(calls), cpu / Double(calls), revoked + warm - warm)
}

let entryCount = 1_000_000
let tokenCount = 1 << 16  // distinct tokens per loop: far more cache lines than the caches hold
let calls = 10_000_000
let now: Int64 = 1_700_000_000
var random = Generator(state: 2026)

// 10^6 entries: half jti, 30% sid, 20% sub.
var entries: [Revocation] = []
entries.reserveCapacity(entryCount)
for i in 0..<entryCount {
    let until = now + 3600 + Int64(random.next() % 86_400)
    switch i % 10 {
    case 0..<5: entries.append(Revocation(target: .jti(random.uuid()), created: now, until: until))
    case 5..<8: entries.append(Revocation(target: .sid(random.sessionID()), created: now, until: until))
    default: entries.append(Revocation(target: .subject(random.subject(), before: now - 60), created: now, until: until))
    }
}
print("entries: \(entryCount) (jti 50%, sid 30%, sub 20%)")

let builder = RevocationViewBuilder()
let (_, resetTime) = timed { builder.reset(entries) }
let rssBeforeBase = residentBytes()
let (view, baseTime) = timed { builder.snapshot() }
let rssAfterBase = residentBytes()
print("reset (hash 10^6 values, record by id): \(resetTime.ms)")
print("base build (sort + place, 3 tables): \(baseTime.ms)")
print("snapshot tables: \(mib(view.tableBytes)) (\(view.tableBytes / entryCount) bytes an entry); RSS growth over the build: \(mib(rssAfterBase - rssBeforeBase))")
print("RSS now (entries, builder records, view): \(mib(rssAfterBase))")

// Tokens outside the set: fresh values for all three claims.
var outside: [Request] = []
for _ in 0..<tokenCount {
    outside.append(Request(token(jti: random.uuid(), sid: random.sessionID(), sub: random.subject(), iat: now - 30)))
}
// Tokens inside the set, each matched by one claim (the others fresh). The
// matched value is copied so that it sits with the other tokens' strings, as
// a just-parsed token's would, not among the 10^6 entries' strings.
var inside: [Request] = []
for _ in 0..<tokenCount {
    let entry = entries[Int(random.next() % UInt64(entryCount))]
    let target: Revocation.Target
    switch entry.target {
    case .jti(let v): target = .jti(String(decoding: Array(v.utf8), as: UTF8.self))
    case .sid(let v): target = .sid(String(decoding: Array(v.utf8), as: UTF8.self))
    case .subject(let v, let before): target = .subject(String(decoding: Array(v.utf8), as: UTF8.self), before: before)
    }
    switch target {
    case .jti(let v): inside.append(Request(token(jti: v, sid: random.sessionID(), sub: random.subject(), iat: now - 3600)))
    case .sid(let v): inside.append(Request(token(jti: random.uuid(), sid: v, sub: random.subject(), iat: now - 3600)))
    case .subject(let v, _): inside.append(Request(token(jti: random.uuid(), sid: random.sessionID(), sub: v, iat: now - 3600)))
    }
}

func report(_ label: String, _ figures: (wall: Double, cpu: Double, revoked: Int)) {
    print(String(format: "revokes, %@: %.0f ns a call (thread CPU %.0f ns); %d of %d revoked",
                 label, figures.wall, figures.cpu, figures.revoked, calls))
}
// The same tokens against four entries (tables in cache): what reading the
// claims and hashing them costs, without the table misses; then 256 tokens
// (tokens in cache too): the computation alone.
let tiny = RevocationViewBuilder()
tiny.reset(Array(entries[7...9]) + [entries[0]])
report("tokens not in a 4-entry view", nsPerCheck(tiny.snapshot(), outside, now: now, calls: calls))
report("256 tokens not in a 4-entry view", nsPerCheck(tiny.snapshot(), Array(outside[0..<256]), now: now, calls: calls))
report("tokens not in the set", nsPerCheck(view, outside, now: now, calls: calls))
report("tokens in the set", nsPerCheck(view, inside, now: now, calls: calls))

// One add on top of 10^6: a new view shares the base, rebuilds the delta.
var addTimes: [Double] = []
for _ in 0..<100 {
    builder.add([Revocation(target: .jti(random.uuid()), created: now, until: now + 3600)])
    let (_, t) = timed { builder.snapshot() }
    addTimes.append(t.ns)
}
addTimes.sort()
print(String(format: "snapshot after one add on 10^6 (delta 1..100): median %.1f µs, max %.1f µs, base rebuilds %d",
             addTimes[50] / 1e3, addTimes[99] / 1e3, builder.baseRebuilds))

// A delta near its limit (base / 8 = 125,000).
var batch: [Revocation] = []
for _ in 0..<120_000 { batch.append(Revocation(target: .sid(random.sessionID()), created: now, until: now + 3600)) }
builder.add(batch)
let (bigDeltaView, bigDeltaTime) = timed { builder.snapshot() }
print("snapshot with a delta of \(builder.deltaCount): \(bigDeltaTime.ms), delta tables \(mib(bigDeltaView.deltaTableBytes))")
report("that delta too, tokens not in the set", nsPerCheck(bigDeltaView, outside, now: now, calls: calls))

// A removal from the base rebuilds it.
builder.remove(ids: [entries[0].id])
let (_, removeTime) = timed { builder.snapshot() }
print("snapshot after removing a base entry (base rebuilt, \(builder.count) entries): \(removeTime.ms)")
