import Synchronization

/// Process-wide metrics written rarely (reloads, key fetches), from any thread;
/// a `Mutex` guards them because nothing here is on the request path.
/// Times are injected as unix milliseconds (no clock reads in GatewayCore).
public final class ProcessMetrics: Sendable {
    /// `gateway_build_info{version}`.
    public let version: String

    struct State {
        var reloadsOK = 0
        var reloadsError = 0
        /// `keys` label -> unix ms of the last good set; nil: registered, never loaded.
        var keySetLoadedAtMs: [String: Int64?] = [:]
        /// `keys` label -> (ok, error) fetch counts. Never dropped: counters stay monotonic.
        var keyFetches: [String: (ok: Int, error: Int)] = [:]
        /// Listener certificates: file path -> unix seconds of notAfter.
        var tlsCertificates: [String: Int64] = [:]
        /// Reads how many certificate sets are alive (current + held by old
        /// connections); nil without TLS.
        var tlsSetsAlive: (@Sendable () -> Int)? = nil
    }

    private let state = Mutex(State())

    public init(version: String) { self.version = version }

    /// A SIGHUP reload finished: applied (`ok`) or refused (`error`).
    public func countConfigReload(succeeded: Bool) {
        state.withLock { s in
            if succeeded { s.reloadsOK += 1 } else { s.reloadsError += 1 }
        }
    }

    /// Declares the key sets of the current config by their `keys` label (URL,
    /// file path, or `env:NAME`). Sets already known keep their load time;
    /// sets no longer configured stop being reported in `key_set_age_seconds`.
    /// A set declared but never loaded reports an age of +Inf, so an alert on
    /// the age fires for a JWKS URL that never answered.
    public func setKeySets(_ labels: [String]) {
        state.withLock { s in
            var next: [String: Int64?] = [:]
            for l in labels { next[l] = s.keySetLoadedAtMs[l] ?? .some(nil) }
            s.keySetLoadedAtMs = next
        }
    }

    /// A key set was loaded (from a file or env at start/reload, or a good
    /// fetch) at `atMs`. Declares the set if it was not.
    public func keySetLoaded(_ label: String, atMs: Int64) {
        state.withLock { s in s.keySetLoadedAtMs[label] = .some(atMs) }
    }

    /// A JWKS fetch finished. A success also counts as `keySetLoaded(at: nowMs)`.
    public func countKeyFetch(_ label: String, succeeded: Bool, nowMs: Int64) {
        state.withLock { s in
            var c = s.keyFetches[label] ?? (0, 0)
            if succeeded {
                c.ok += 1
                s.keySetLoadedAtMs[label] = .some(nowMs)
            } else {
                c.error += 1
            }
            s.keyFetches[label] = c
        }
    }

    /// The listener's certificates in force (start, good reload), by file
    /// path, with their notAfter in unix seconds. Replaces the previous set.
    public func setTLSCertificates(_ certificates: [(path: String, notAfter: Int64)],
                                   setsAlive: (@Sendable () -> Int)?) {
        state.withLock { s in
            s.tlsCertificates = Dictionary(certificates.map { ($0.path, $0.notAfter) }) { a, _ in a }
            s.tlsSetsAlive = setsAlive
        }
    }

    /// Seconds from `nowMs` to the notAfter of the certificate at `path`
    /// (negative once expired); nil when it is not in force.
    public func tlsCertificateExpirySeconds(_ path: String, nowMs: Int64) -> Int64? {
        state.withLock { s in s.tlsCertificates[path].map { $0 - nowMs / 1000 } }
    }

    /// A consistent copy for rendering.
    struct Snapshot {
        var reloadsOK: Int
        var reloadsError: Int
        /// Sorted by label.
        var keySets: [(label: String, loadedAtMs: Int64?)]
        /// Sorted by label.
        var keyFetches: [(label: String, ok: Int, error: Int)]
        /// Sorted by path.
        var tlsCertificates: [(path: String, notAfter: Int64)]
        var tlsSetsAlive: Int?
    }

    func snapshot() -> Snapshot {
        state.withLock { s in
            Snapshot(
                reloadsOK: s.reloadsOK, reloadsError: s.reloadsError,
                keySets: s.keySetLoadedAtMs.map { (label: $0.key, loadedAtMs: $0.value) }
                    .sorted { $0.label < $1.label },
                keyFetches: s.keyFetches.map { (label: $0.key, ok: $0.value.ok, error: $0.value.error) }
                    .sorted { $0.label < $1.label },
                tlsCertificates: s.tlsCertificates.map { (path: $0.key, notAfter: $0.value) }
                    .sorted { $0.path < $1.path },
                tlsSetsAlive: s.tlsSetsAlive?())
        }
    }

    public var configReloads: (ok: Int, error: Int) {
        let s = snapshot()
        return (s.reloadsOK, s.reloadsError)
    }

    /// Seconds since the last good set of `label` at `nowMs`; nil when the set
    /// is not declared, +infinity when declared but never loaded.
    public func keySetAgeSeconds(_ label: String, nowMs: Int64) -> Double? {
        state.withLock { s -> Double? in
            guard let entry = s.keySetLoadedAtMs[label] else { return nil }
            guard let at = entry else { return .infinity }
            return Double(max(0, nowMs - at)) / 1000
        }
    }

    public func keyFetches(_ label: String) -> (ok: Int, error: Int) {
        state.withLock { s in s.keyFetches[label] ?? (0, 0) }
    }
}
