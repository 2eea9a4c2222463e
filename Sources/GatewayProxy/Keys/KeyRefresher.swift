import GatewayAuth
import GatewayCore
import GatewayLoop

/// Keeps the key set of every `jwks_url` entry fresh (SPEC §3) and hands the
/// merged set (static keys plus every URL's last good keys) to `publish`.
///
/// Schedule (`KeyRefreshSchedule`): every URL is fetched at `start()`; after
/// a good fetch again after min(refresh_interval, max(max-age, 30 s)); after
/// a failed one after min(refresh_interval, 1 s doubling to 30 s). A failed
/// fetch keeps the last good set. `requestRefetch` is the unknown-kid
/// trigger: every URL at once, at most one triggered round per 30 s, callers
/// arriving while a round runs share it.
///
/// Thread rule: lives on `loop` (the admin loop). Everything except
/// `requestRefetch` must be called on that thread; `requestRefetch` posts
/// itself there, hence the unchecked Sendable.
final class KeyRefresher: @unchecked Sendable {
    let loop: EventLoop
    private var base: KeySet
    private var staticLabels: [String]
    private let metrics: ProcessMetrics
    private let publish: (KeySet) -> Void
    private var sources: [Source] = []
    /// Last merged set handed to `publish` (or to be handed, before `start`).
    private(set) var current: KeySet
    private var started = false
    private var stopped = false
    /// Loop ms when the last triggered round started.
    private var lastTriggerMs: Int64?
    private var round: TriggerRound?

    /// `base`: the static keys of the configuration (`KeySet.load`'s
    /// `keySet`); `urls`: its `pendingURLs` (other entries are ignored);
    /// `staticLabels`: the `keys` metric labels of the static entries
    /// (`KeyRefresher.staticLabels(of:)`), declared together with the URLs.
    /// `publish` runs on the loop thread with the merged set whenever it
    /// changes, and once in every `apply`.
    init(loop: EventLoop, base: KeySet, urls: [KeyConfig], metrics: ProcessMetrics,
         staticLabels: [String] = [], publish: @escaping (KeySet) -> Void) {
        self.loop = loop
        self.base = base
        self.staticLabels = staticLabels
        self.metrics = metrics
        self.publish = publish
        current = base
        sources = makeSources(urls, previous: [])
    }

    /// Declares the metric labels and fetches every URL now. Does not
    /// publish: the caller's runtime already holds `base`.
    func start() {
        guard !started, !stopped else { return }
        started = true
        declareMetrics()
        for s in sources { fetchNow(s) }
    }

    /// Cancels every fetch and timer; waiting `requestRefetch` callers get false.
    func stop() {
        stopped = true
        for s in sources { s.retire() }
        finishRound(force: true)
    }

    /// A reload: new static keys and URL entries. URLs still configured keep
    /// their last good keys and schedule (a URL whose `alg` or `ca_file`
    /// changed keeps serving its keys but is fetched again now); new URLs are
    /// fetched now; removed ones stop. Publishes the merged set before it
    /// returns.
    func apply(base: KeySet, urls: [KeyConfig], staticLabels: [String] = []) {
        self.base = base
        self.staticLabels = staticLabels
        let previous = sources
        sources = makeSources(urls, previous: previous)
        let kept = Set(sources.map { ObjectIdentifier($0) })
        for s in previous where !kept.contains(ObjectIdentifier(s)) { s.retire() }
        if var r = round {
            r.waiting = r.waiting.filter { url in sources.contains { $0.url == url } }
            round = r
        }
        rebuild()
        if started, !stopped {
            declareMetrics()
            for s in sources where s.fetch == nil && (s.keys == nil || s.needsFetch) { fetchNow(s) }
        }
        publish(current)
        finishRound(force: false)
    }

    /// Any thread. An unknown kid was seen: fetch every URL now unless a
    /// triggered round started less than 30 s ago (the fetch at start does
    /// not count); join the round under way if there is one. `completion`
    /// runs on the refresher's loop: true when a new set was published in
    /// the round (the caller may verify again), false at once when
    /// throttled, without URLs, or stopped. `publish` runs before it, so
    /// whatever `publish` posted to another loop arrives there first.
    func requestRefetch(completion: @escaping @Sendable (Bool) -> Void) {
        loop.post { [self] in self.triggered(completion) }
    }

    /// Readiness reasons (loop thread): one per URL without a good set yet.
    var notReadyReasons: [String] {
        sources.filter { $0.keys == nil }.map { "keys \($0.url): no key set fetched yet" }
    }

    /// The URLs being refreshed, in configuration order.
    var urls: [String] { sources.map(\.url) }

    // MARK: Labels

    /// The `keys` metric label of an entry (SPEC §3): its URL or file path,
    /// `env:NAME` for `secret_env`.
    static func metricLabel(_ source: KeyMaterialSource) -> String {
        switch source {
        case .publicKeyFile(let p), .privateKeyFile(let p), .secretFile(let p), .jwksFile(let p): return p
        case .secretEnv(let name): return "env:\(name)"
        case .jwksURL(let url, _, _, _): return url
        }
    }

    /// Labels of the entries loaded at start/reload (everything but `jwks_url`).
    static func staticLabels(of configs: [KeyConfig]) -> [String] {
        var out: [String] = []
        for c in configs {
            if case .jwksURL = c.source { continue }
            let l = metricLabel(c.source)
            if !out.contains(l) { out.append(l) }
        }
        return out
    }

    // MARK: Sources

    /// What of a `jwks_url` entry the fetcher uses.
    struct Settings: Equatable {
        var url: String
        var refreshIntervalMs: Int64
        var fetchTimeoutMs: Int64
        var caFile: String?
        /// Default alg for JWKs without one.
        var alg: String?

        init?(_ config: KeyConfig) {
            guard case .jwksURL(let url, let refresh, let timeout, let ca) = config.source else { return nil }
            self.url = url; refreshIntervalMs = refresh; fetchTimeoutMs = timeout; caFile = ca; alg = config.alg
        }

        /// Changes that can change the keys a document yields, or whether it
        /// can be fetched at all.
        func needsRefetch(from old: Settings) -> Bool { caFile != old.caFile || alg != old.alg }
    }

    /// One URL's state. Loop thread only.
    private final class Source {
        private(set) var settings: Settings
        private(set) var target: Result<HTTPFetch.Target, HTTPFetch.Failure> = .failure(HTTPFetch.Failure("not set up"))
        private(set) var tls: TLSContext?
        /// The last good keys; nil until the first good fetch.
        var keys: [VerificationKey]?
        /// The document the keys came from: an identical one is not parsed again.
        var lastBody: [UInt8]?
        var failures = 0
        var fetch: HTTPFetch?
        var timer: Timer?
        /// Settings changed on reload in a way that calls for a fetch now.
        var needsFetch = false

        var url: String { settings.url }

        init(settings: Settings) {
            self.settings = settings
            configure(settings)
        }

        /// Takes new settings of the same URL. When they can change what a
        /// fetch yields, a fetch under way is dropped and the next document
        /// is parsed afresh (the current keys serve until then).
        func update(_ next: Settings) {
            guard next != settings else { return }
            let refetch = next.needsRefetch(from: settings)
            settings = next
            if refetch {
                configure(next)
                fetch?.cancel()
                fetch = nil
                lastBody = nil
                needsFetch = true
            }
        }

        private func configure(_ settings: Settings) {
            tls = nil
            do {
                let t = try HTTPFetch.Target.parse(settings.url)
                target = .success(t)
                if t.scheme == .https {
                    do { tls = try TLSContext(caFile: settings.caFile) } catch {
                        target = .failure(HTTPFetch.Failure("TLS setup: \(error)"))
                    }
                } else if !t.isLoopback {
                    // The config loader refuses this already (SPEC §3); kept
                    // so no code path sends a key request in clear text.
                    target = .failure(HTTPFetch.Failure("plain http is only allowed to loopback"))
                }
            } catch {
                target = .failure(HTTPFetch.Failure(error.description))
            }
        }

        func retire() {
            fetch?.cancel()
            fetch = nil
            timer?.cancel()
        }
    }

    private func makeSources(_ configs: [KeyConfig], previous: [Source]) -> [Source] {
        var out: [Source] = []
        for config in configs {
            guard let settings = Settings(config) else { continue }
            guard !out.contains(where: { $0.url == settings.url }) else {
                OpsLog.warning("keys \(settings.url): listed twice; the first entry is used")
                continue
            }
            if let old = previous.first(where: { $0.url == settings.url }) {
                old.update(settings)
                out.append(old)
            } else {
                out.append(Source(settings: settings))
            }
        }
        return out
    }

    // MARK: Fetching

    private func fetchNow(_ s: Source) {
        guard started, !stopped, s.fetch == nil else { return }
        s.timer?.cancel()
        s.needsFetch = false
        switch s.target {
        case .failure(let f):
            finished(s, .failure(f))
        case .success(let target):
            let fetch = HTTPFetch(loop: loop, target: target, tls: s.tls, timeoutMs: s.settings.fetchTimeoutMs) {
                [unowned self, unowned s] result in self.finished(s, result)
            }
            s.fetch = fetch
            fetch.start()
        }
    }

    private func finished(_ s: Source, _ result: Result<HTTPFetch.Response, HTTPFetch.Failure>) {
        s.fetch = nil
        let now = loop.nowMs()
        var changed = false
        let outcome: Result<HTTPFetch.Response, HTTPFetch.Failure>
        switch result {
        case .success(let response) where response.status == 200:
            outcome = adoptDocument(s, response, changed: &changed)
        case .success(let response):
            outcome = .failure(HTTPFetch.Failure("HTTP status \(response.status)"))
        case .failure(let f):
            outcome = .failure(f)
        }
        switch outcome {
        case .success(let response):
            metrics.countKeyFetch(s.url, succeeded: true, nowMs: now)
            s.failures = 0
            schedule(s, afterMs: KeyRefreshSchedule.delayAfterSuccess(
                refreshIntervalMs: s.settings.refreshIntervalMs, maxAgeSeconds: response.maxAgeSeconds))
        case .failure(let f):
            metrics.countKeyFetch(s.url, succeeded: false, nowMs: now)
            s.failures += 1
            let delay = KeyRefreshSchedule.delayAfterFailure(refreshIntervalMs: s.settings.refreshIntervalMs,
                                                             failures: s.failures)
            let serving = s.keys != nil ? "the last good set keeps serving" : "no key set yet"
            OpsLog.warning("keys \(s.url): fetch failed: \(f.reason); \(serving); next try in \(delay) ms")
            schedule(s, afterMs: delay)
        }
        if changed { publish(current) }
        if var r = round, r.waiting.remove(s.url) != nil {
            r.changed = r.changed || changed
            round = r
            finishRound(force: false)
        }
    }

    /// A 200 response: parse it (unless it is the document already serving),
    /// check its kids against the other keys, and make it current.
    private func adoptDocument(_ s: Source, _ response: HTTPFetch.Response,
                               changed: inout Bool) -> Result<HTTPFetch.Response, HTTPFetch.Failure> {
        if s.keys != nil, let last = s.lastBody, last == response.body { return .success(response) }
        let parsed: (keys: [VerificationKey], warnings: [String])
        do {
            parsed = try KeySet.fromJWKS(data: response.body, defaultAlg: s.settings.alg, source: s.url)
        } catch {
            return .failure(HTTPFetch.Failure(error.description))
        }
        let next: KeySet
        do { next = try current.replacingKeys(fromSource: s.url, with: parsed.keys) } catch {
            return .failure(HTTPFetch.Failure("\(error.description) (another [[keys]] entry has it)"))
        }
        // Only the refusals of a new document are logged, once, not on every
        // refresh of the same one. The messages name kids, never material.
        for w in parsed.warnings { OpsLog.warning("keys \(s.url): \(w)") }
        let first = s.keys == nil
        s.keys = parsed.keys
        s.lastBody = response.body
        current = next
        changed = true
        OpsLog.info("keys \(s.url): \(first ? "loaded" : "updated") \(parsed.keys.count) key(s)")
        return .success(response)
    }

    private func schedule(_ s: Source, afterMs ms: Int64) {
        guard !stopped, sources.contains(where: { $0 === s }) else { return }
        if s.timer == nil {
            s.timer = Timer(loop: loop) { [unowned self, unowned s] in self.fetchNow(s) }
        }
        s.timer?.schedule(afterMs: ms)
    }

    /// Merges `base` with every source's keys. A source whose kids now
    /// collide with another key (a reload added a static key with one of its
    /// kids) loses its set and is fetched again.
    private func rebuild() {
        var set = base
        for s in sources {
            guard let keys = s.keys else { continue }
            do { set = try set.replacingKeys(fromSource: s.url, with: keys) } catch {
                OpsLog.warning("keys \(s.url): set dropped: \(error.description)")
                s.keys = nil
                s.lastBody = nil
                s.needsFetch = true
            }
        }
        current = set
    }

    private func declareMetrics() {
        let now = loop.nowMs()
        metrics.setKeySets(staticLabels + sources.map(\.url))
        for l in staticLabels { metrics.keySetLoaded(l, atMs: now) }
    }

    // MARK: Unknown-kid trigger

    private struct TriggerRound {
        var waiting: Set<String>
        var changed = false
        var completions: [@Sendable (Bool) -> Void]
    }

    private func triggered(_ completion: @escaping @Sendable (Bool) -> Void) {
        if var r = round {
            r.completions.append(completion)
            round = r
            return
        }
        let now = loop.nowMs()
        guard started, !stopped, !sources.isEmpty,
              KeyRefreshSchedule.allowsTrigger(nowMs: now, lastTriggerMs: lastTriggerMs) else {
            completion(false)
            return
        }
        lastTriggerMs = now
        round = TriggerRound(waiting: Set(sources.map(\.url)), completions: [completion])
        // A fetch already under way (start, schedule) is joined, not doubled.
        for s in sources where s.fetch == nil { fetchNow(s) }
    }

    /// Completes the round once no URL is outstanding (or at once with `force`).
    private func finishRound(force: Bool) {
        guard let r = round, force || r.waiting.isEmpty else { return }
        round = nil
        for c in r.completions { c(r.changed && !force) }
    }
}
