public import GatewayAuth
public import GatewayLoop

/// What the gateway needs from durable state (SPEC §7): revocations and
/// sessions with rotating refresh tokens. Two implementations:
/// `EmbeddedStore` (an append-only log under `state_dir`) and `RedisStore`
/// (several instances on one Redis).
///
/// Every operation completes exactly once, on the executor the caller
/// passed (a worker's or the admin's event loop), and only when its effect
/// is durable (embedded: fsynced; Redis: written). A store that cannot make
/// it durable completes with `StoreError.unavailable`; nothing is
/// acknowledged that could be lost.
///
/// Time: revocation times (`created`, `until`, `before`) are unix seconds,
/// as the admin API shows them; session and refresh-token times are unix
/// milliseconds.
public protocol StateStore: AnyObject, Sendable {
    /// "embedded" or "redis": for logs, /readyz and metrics.
    var kind: String { get }

    /// Up, down (Redis unreachable, disk failing) or not yet reached.
    var status: StoreStatus { get }

    /// The 32-byte key that successors of refresh tokens are derived under;
    /// the same on every instance sharing the store. Nil until the store
    /// has been opened or reached once.
    var sessionKey: [UInt8]? { get }

    /// Starts the store's thread. `feed` receives the revocation set: a
    /// `.reset` with every live entry first (and after every Redis resync),
    /// then each change as it becomes durable. It runs on the store's own
    /// thread and must not block.
    func start(feed: @escaping @Sendable (RevocationChange) -> Void)

    /// Stops the thread after finishing what was queued. Idempotent.
    func stop()

    /// Adds a revocation. Repeating a target returns the existing entry (same
    /// id, same `created`), with `until` the later of the two.
    func addRevocation(_ target: Revocation.Target, until: Int64, now: Int64,
                       on executor: any CompletionExecutor,
                       _ done: @escaping @Sendable (Result<Revocation, StoreError>) -> Void)

    /// Lifts one revocation: true when it existed.
    func deleteRevocation(id: String, on executor: any CompletionExecutor,
                          _ done: @escaping @Sendable (Result<Bool, StoreError>) -> Void)

    /// Live revocations (until >= now), oldest first, `limit` at most, after
    /// `cursor` (nil: from the start). `StoreError.badCursor` for a cursor
    /// this store did not make.
    func listRevocations(cursor: String?, limit: Int, now: Int64, on executor: any CompletionExecutor,
                         _ done: @escaping @Sendable (Result<RevocationPage, StoreError>) -> Void)

    /// Records a new session and its first refresh token (by hash).
    func startSession(_ session: SessionRecord, refreshTokenHash: [UInt8], now: Int64, refreshTTL: Int64,
                      on executor: any CompletionExecutor,
                      _ done: @escaping @Sendable (Result<Void, StoreError>) -> Void)

    /// One use of a refresh token, atomically across every instance:
    /// - unknown, expired (`refreshTTL` since it was issued, or past the
    ///   session's `expires`), or its session revoked: `.invalid`;
    /// - first use: marked used at `now`, `successorHash` stored as a new
    ///   token issued at `now`: `.rotated(session, usedAt: now)`;
    /// - used, and `now - usedAt <= grace`: `.replay(session, usedAt:)` with
    ///   the first use's time, so the caller derives the same answer;
    /// - used longer ago: theft. The session is revoked (a `sid` revocation
    ///   until the session's `expires`, sent through the feed) and
    ///   `.reuseDetected`.
    func rotate(refreshTokenHash: [UInt8], successorHash: [UInt8], now: Int64, grace: Int64, refreshTTL: Int64,
                on executor: any CompletionExecutor,
                _ done: @escaping @Sendable (Result<RotateOutcome, StoreError>) -> Void)

    /// Ends a session (logout): a `sid` revocation until the session's
    /// `expires` (or `now` + `fallbackUntil` seconds when the session is not
    /// known). Completes with the sid ended, or nil when a refresh token
    /// named no session.
    func endSession(_ which: SessionSelector, now: Int64, fallbackUntil: Int64,
                    on executor: any CompletionExecutor,
                    _ done: @escaping @Sendable (Result<String?, StoreError>) -> Void)
}

/// A session as the store keeps it. Times are unix milliseconds.
public struct SessionRecord: Sendable, Equatable {
    public var sid: String
    public var sub: String
    /// The session's claims as one serialized JSON object (reserved claims
    /// already removed): copied into every access token of the session.
    public var claims: [UInt8]
    /// When the session started: the tokens' `auth_time`.
    public var start: Int64
    /// start + `max_age`: nothing of the session lives past it.
    public var expires: Int64

    public init(sid: String, sub: String, claims: [UInt8], start: Int64, expires: Int64) {
        self.sid = sid
        self.sub = sub
        self.claims = claims
        self.start = start
        self.expires = expires
    }
}

public enum RotateOutcome: Sendable, Equatable {
    case rotated(SessionRecord, usedAt: Int64)
    case replay(SessionRecord, usedAt: Int64)
    case reuseDetected
    case invalid
}

/// Which session `endSession` ends.
public enum SessionSelector: Sendable, Equatable {
    case sid(String)
    case refreshTokenHash([UInt8])
}

/// A change to the set of live revocations, in the order it became durable.
public enum RevocationChange: Sendable {
    /// The whole set: replaces whatever the consumer had.
    case reset([Revocation])
    /// Added, or replaced (same id, a later `until`).
    case added([Revocation])
    case removed([String])
}

public struct RevocationPage: Sendable, Equatable {
    public var items: [Revocation]
    /// Pass back to get the next page; nil after the last.
    public var nextCursor: String?

    public init(items: [Revocation], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

public enum StoreStatus: Sendable, Equatable {
    /// Opened or reachable.
    case up
    /// Redis not reached since start.
    case connecting
    /// Reached before, failing now (Redis gone, disk refusing writes).
    case down(String)
}

public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The store cannot make the change durable now: SPEC §7's 503
    /// `temporarily_unavailable`.
    case unavailable(String)
    /// A list cursor this store did not make: 400.
    case badCursor
    /// Opening failed: a locked `state_dir`, an unreadable or unknown log,
    /// a bad Redis URL. The message names the file or address.
    case open(String)

    public var description: String {
        switch self {
        case .unavailable(let why): return "store unavailable: \(why)"
        case .badCursor: return "bad cursor"
        case .open(let why): return why
        }
    }
}

/// Where a store delivers a completion: the caller's event loop.
public protocol CompletionExecutor: Sendable {
    func post(_ work: @escaping @Sendable () -> Void)
}

extension EventLoop: CompletionExecutor {}
