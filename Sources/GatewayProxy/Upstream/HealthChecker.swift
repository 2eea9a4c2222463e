import CLibevent
import GatewayCore
import GatewayLoop

/// Active TCP checks (SPEC §8 readiness): every `health_check_interval`,
/// connect to each upstream server and record up or down in its shared
/// `ServerHealth`. Runs on the admin loop, so checks never compete with
/// requests for a worker's time. Loop thread only.
final class HealthChecker {
    private let loop: EventLoop
    private var runtime: RuntimeConfig
    private var timers: [Int: Timer] = [:]
    private var probes: [Int: Probe] = [:]

    init(loop: EventLoop, runtime: RuntimeConfig) {
        self.loop = loop
        self.runtime = runtime
    }

    /// (Re)starts checks for the servers of `runtime`.
    func apply(_ runtime: RuntimeConfig) {
        self.runtime = runtime
        for t in timers.values { t.cancel() }
        timers.removeAll()
        for group in runtime.upstreams where group.healthCheckIntervalMs > 0 {
            for server in group.servers where timers[server.id] == nil {
                let t = Timer(loop: loop) { [unowned self] in self.check(server, group) }
                timers[server.id] = t
                t.schedule(afterMs: 0)
            }
        }
    }

    private func check(_ server: UpstreamServer, _ group: UpstreamGroup) {
        probes[server.id]?.cancel()
        let probe = Probe(loop: loop, server: server, timeoutMs: group.connectTimeoutMs) { [unowned self] up in
            self.probes[server.id] = nil
            let before = server.health.activeState
            server.health.setActive(up ? .up : .down)
            if before != (up ? .up : .down), before != .unknown || !up {
                if up { OpsLog.info("upstream \(group.name): server \(server.spec) is up") } else {
                    OpsLog.warning("upstream \(group.name): server \(server.spec) is down")
                }
            }
            self.timers[server.id]?.schedule(afterMs: group.healthCheckIntervalMs)
        }
        probes[server.id] = probe
    }

    /// One connect attempt with a deadline.
    private final class Probe: BufferedSocketDelegate {
        private let socket: BufferedSocket?
        private var timer: Timer?
        private var done: ((Bool) -> Void)?

        init(loop: EventLoop, server: UpstreamServer, timeoutMs: Int64, done: @escaping (Bool) -> Void) {
            self.done = done
            socket = BufferedSocket(loop: loop, fd: -1)
            socket?.delegate = self
            timer = Timer(loop: loop) { [unowned self] in self.finish(false) }
            timer?.schedule(afterMs: timeoutMs)
            if socket?.connect(to: server.address) != true {
                // Report on the next loop turn, not from inside init.
                timer?.schedule(afterMs: 0)
            }
        }

        func cancel() { done = nil; timer?.cancel(); socket?.free() }

        private func finish(_ up: Bool) {
            timer?.cancel()
            socket?.free()
            let d = done
            done = nil
            d?(up)
        }

        func socketReadable(_ socket: BufferedSocket) {}
        func socketWritable(_ socket: BufferedSocket) {}
        func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) {
            if case .connected = event { finish(true) } else { finish(false) }
        }
    }

    /// Readiness reasons: a group is ready when a server passed its last check
    /// (groups without active checks count as ready).
    func reasons() -> [String] {
        var out: [String] = []
        for group in runtime.upstreams where group.healthCheckIntervalMs > 0 {
            if !group.servers.contains(where: { $0.health.activeState == .up }) {
                out.append("upstream \(group.name): no healthy server")
            }
        }
        return out
    }
}
