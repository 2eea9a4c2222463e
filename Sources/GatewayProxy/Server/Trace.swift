import CLibevent

/// State-change tracing for debugging (`GATEWAY_TRACE=1`): every state
/// change of a connection goes through one `didSet`, which reports
/// "from X to Y" here. Off by default; costs one branch when off.
enum Trace {
    static let enabled: Bool = getenv("GATEWAY_TRACE") != nil

    @inline(__always)
    static func transition<S: Equatable>(_ what: StaticString, _ from: S, _ to: S) {
        guard enabled, from != to else { return }
        OpsLog.info("trace \(what): \(from) -> \(to)")
    }
}
