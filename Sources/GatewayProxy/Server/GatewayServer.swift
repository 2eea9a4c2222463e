import CLibevent
public import GatewayAuth
public import GatewayCore
import Synchronization
public import GatewayLoop

/// Starts and stops everything: worker threads, the admin thread, the log
/// writer; owns the main thread's loop, which only handles signals:
/// SIGHUP reloads, SIGTERM/SIGINT drain and exit (SPEC §2).
public final class GatewayServer: @unchecked Sendable {  // unchecked: main-thread only after start
    private let configPath: String
    private let environment: [String: String]
    private var runtime: RuntimeConfig
    private let registry = ServerRegistry()
    private let loop: EventLoop
    private var workers: [Worker] = []
    private var admin: AdminServer?
    /// Fetches `jwks_url` key sets on the admin loop; nil without any.
    private var keyRefresher: KeyRefresher?
    /// `jwks_url` entries of the loaded configuration.
    private var pendingKeyURLs: [KeyConfig]
    private let logSink: LogSink
    private let processMetrics = ProcessMetrics(version: GatewayCoreVersion.string)
    private let shared = SharedCounters()
    private var signalEvents: [OpaquePointer] = []
    private let stoppedWorkers = Atomic<Int>(0)
    private var shutdownTimer: Timer?
    private var stopping = false
    /// Fixed at start: a reload swaps certificates but never turns TLS on or
    /// off on listeners already bound.
    private var listenerHasTLS = false

    /// Loads and checks the configuration; nothing is started yet.
    public init(config: GatewayConfig, keys: KeySet.LoadResult, configPath: String,
                environment: [String: String]) throws {
        self.configPath = configPath
        self.environment = environment
        loop = try EventLoop()
        for w in keys.warnings { OpsLog.warning("\(config.sourcePath):\(w.line): \(w.source): \(w.message)") }
        pendingKeyURLs = keys.pendingURLs
        runtime = try RuntimeConfig(config: config, keys: keys.keySet, generation: 1, registry: registry)
        logSink = LogSink(fd: 1)
    }

    /// Binds every listener, starts the threads and serves until SIGTERM or
    /// SIGINT; returns the exit status.
    public func run() throws -> Int32 {
        gw_ignore_sigpipe()
        raiseFileLimit()
        let config = runtime.config
        let workerCount = max(1, config.server.workers)

        // Every worker gets its own socket per address (SO_REUSEPORT). The
        // first bind fixes the port when the config says 0.
        var perWorker = [[Int32]](repeating: [], count: workerCount)
        for spec in config.server.listen {
            var address = try SocketAddress.resolve(spec, passive: true)
            for w in 0..<workerCount {
                let fd = try Socket.listen(address, reusePort: true)
                if w == 0, spec.port == 0, let bound = Socket.localAddress(fd) { address = bound }
                perWorker[w].append(fd)
            }
            OpsLog.info("listening on \(address)")
        }
        var tls = try KeyLoading.loadTLS(config)
        if let tls { tlsInForce(tls, config) }
        listenerHasTLS = tls != nil
        let adminAddress = try SocketAddress.resolve(config.admin.listen, passive: true)
        let adminFD = try Socket.listen(adminAddress, reusePort: false)
        OpsLog.info("admin listening on \(Socket.localAddress(adminFD)?.description ?? config.admin.listen.description)")

        // The store before any worker: a locked state_dir or an unreadable
        // log stops the start here, with the reason.
        let state: StateRuntime?
        do {
            state = try StateRuntime.open(config, environment: environment)
        } catch {
            throw RuntimeError.address("store: \(error)")
        }
        if let state { OpsLog.info("store: \(state.store.kind)") }

        var prefix: UInt64 = 0
        withUnsafeMutableBytes(of: &prefix) { raw in
            _ = getrandom(raw.baseAddress, raw.count, 0)
        }
        for i in 0..<workerCount {
            let metrics = WorkerMetrics(routeCount: config.routes.count, upstreamCount: runtime.upstreams.count)
            let w = try Worker(index: i, runtime: runtime, metrics: metrics, shared: shared, logSink: logSink,
                               requestIDPrefix: prefix, state: state) { [self] in
                self.loop.post { self.workerStopped() }
            }
            workers.append(w)
        }
        let adminServer = try AdminServer(runtime: runtime, workers: workers, processMetrics: processMetrics,
                                          environment: environment, state: state)
        admin = adminServer
        startKeyRefresher(on: adminServer)
        state?.start(workers: workers)
        if let state, state.store.kind == "embedded" { state.waitForFirstView() }
        for (i, w) in workers.enumerated() { w.start(listenFDs: perWorker[i], tls: tls) }
        // Only the workers hold the set now: a reload that replaces it frees
        // it once their connections are gone (this frame lives until exit).
        tls = nil
        adminServer.start(listenFD: adminFD)

        installSignals()
        OpsLog.info("gateway \(GatewayCoreVersion.string) started: \(workerCount) worker(s), config \(configPath)")
        loop.run()

        let refresher = keyRefresher
        adminServer.loop.post {
            refresher?.stop()
            adminServer.stop()
        }
        state?.store.stop()
        logSink.close()
        OpsLog.info("stopped")
        return 0
    }

    /// JWKS URLs are fetched on the admin loop; every new merged set goes to
    /// every worker. Until a URL's first set arrives /readyz says why.
    /// Created even without URLs when the configuration has none now, so a
    /// reload can add some.
    private func startKeyRefresher(on adminServer: AdminServer) {
        let workers = self.workers
        let refresher = KeyRefresher(
            loop: adminServer.loop, base: runtime.keys, urls: pendingKeyURLs, metrics: processMetrics,
            staticLabels: KeyRefresher.staticLabels(of: runtime.config.keys)) { merged in
                for w in workers { w.loop.post { w.applyKeys(merged) } }
            }
        keyRefresher = refresher
        if !pendingKeyURLs.isEmpty { for w in workers { w.keyRefresher = refresher } }
        adminServer.extraReadinessReasons = { refresher.notReadyReasons }
        adminServer.loop.post { refresher.start() }
    }

    // MARK: Signals

    private func installSignals() {
        let cb: event_callback_fn = { sig, _, arg in
            guard let arg else { return }
            let server = Unmanaged<GatewayServer>.fromOpaque(arg).takeUnretainedValue()
            if sig == SIGHUP { server.reload() } else { server.beginShutdown() }
        }
        for sig in [SIGHUP, SIGTERM, SIGINT] {
            if let ev = gw_evsignal_new(loop.base, sig, cb, Unmanaged.passUnretained(self).toOpaque()) {
                event_add(ev, nil)
                signalEvents.append(ev)
            }
        }
    }

    /// SIGHUP: load the file again; on any error keep serving the old config.
    private func reload() {
        let next: GatewayConfig
        let keys: KeySet.LoadResult
        do {
            next = try ConfigLoader.load(path: configPath, environment: environment,
                                         coreCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            keys = try KeyLoading.load(next, environment: environment)
        } catch {
            processMetrics.countConfigReload(succeeded: false)
            OpsLog.error("reload refused, old configuration keeps serving:\n\(error)")
            return
        }
        let old = runtime.config
        if next.server.listen != old.server.listen || next.server.workers != old.server.workers
            || next.admin.listen != old.admin.listen {
            OpsLog.warning("reload: listen addresses, workers and admin.listen take effect only after a restart")
        }
        if next.store != old.store || (next.hasStore || next.sessions != nil) != (old.hasStore || old.sessions != nil) {
            OpsLog.warning("reload: [store] changes (and turning the store on or off) take effect only after a restart")
        }
        // Certificates are read again on every reload (same paths, renewed
        // files); one that does not load refuses the whole reload.
        var tls: TLSContext?
        if listenerHasTLS != !next.server.certificates.isEmpty {
            OpsLog.warning("reload: turning TLS on or off takes effect only after a restart")
        } else if listenerHasTLS {
            do {
                tls = try KeyLoading.loadTLS(next)
            } catch {
                processMetrics.countConfigReload(succeeded: false)
                OpsLog.error("reload refused, old configuration keeps serving:\n\(error)")
                return
            }
        }
        let fresh: RuntimeConfig
        do {
            fresh = try RuntimeConfig(config: next, keys: keys.keySet, generation: runtime.generation + 1,
                                      registry: registry)
        } catch {
            processMetrics.countConfigReload(succeeded: false)
            OpsLog.error("reload refused, old configuration keeps serving: \(error)")
            return
        }
        runtime = fresh
        pendingKeyURLs = keys.pendingURLs
        let hasURLs = !keys.pendingURLs.isEmpty
        let refresher = keyRefresher
        if let tls { tlsInForce(tls, next) }
        let newTLS = tls
        // The reload counts, and is logged, once every loop runs on it: a
        // client that saw `gateway_config_reloads_total{result="ok"}` rise
        // must not be served by the old configuration (seen in a test: a
        // request that beat the worker's apply passed on a removed key).
        let mainLoop = loop, generation = fresh.generation, metrics = processMetrics
        let countdown = LoopCountdown(workers.count + (admin == nil ? 0 : 1)) {
            mainLoop.post {
                metrics.countConfigReload(succeeded: true)
                OpsLog.info("configuration reloaded (generation \(generation))")
            }
        }
        for w in workers {
            w.loop.post {
                if let newTLS { w.applyTLS(newTLS) }
                w.apply(fresh)
                w.keyRefresher = hasURLs ? refresher : nil
                countdown.done()
            }
        }
        if let refresher, let admin {
            let urls = keys.pendingURLs, base = keys.keySet
            let labels = KeyRefresher.staticLabels(of: next.keys)
            admin.loop.post { refresher.apply(base: base, urls: urls, staticLabels: labels) }
        }
        if let admin { admin.loop.post { admin.apply(fresh); countdown.done() } }
    }

    /// A certificate set about to serve: its expiry on /metrics, a warning
    /// for a certificate that expires within 14 days.
    private func tlsInForce(_ tls: TLSContext, _ config: GatewayConfig) {
        processMetrics.setTLSCertificates(tls.certificates.map { (path: $0.config.certificate, notAfter: $0.notAfter) },
                                          setsAlive: { TLSContext.serverSetsAlive })
        for w in KeyLoading.tlsWarnings(tls, config) { OpsLog.warning(w) }
    }

    /// SIGTERM/SIGINT: stop accepting, finish in-flight requests up to
    /// shutdown_timeout, then close what is left and exit.
    private func beginShutdown() {
        guard !stopping else { return }
        stopping = true
        OpsLog.info("shutting down: draining connections (up to \(runtime.config.server.shutdownTimeoutMs) ms)")
        for w in workers { w.loop.post { w.beginDrain() } }
        shutdownTimer = Timer(loop: loop) { [unowned self] in
            OpsLog.warning("shutdown timeout: closing remaining connections")
            for w in self.workers { w.loop.post { w.forceClose() } }
        }
        shutdownTimer?.schedule(afterMs: runtime.config.server.shutdownTimeoutMs)
    }

    private func workerStopped() {
        let n = stoppedWorkers.wrappingAdd(1, ordering: .relaxed).newValue
        if n == workers.count {
            shutdownTimer?.cancel()
            for ev in signalEvents { event_free(ev) }
            signalEvents.removeAll()
            loop.stop()
        }
    }

    private func raiseFileLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
