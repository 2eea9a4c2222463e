/// The answer of `GET /readyz` (SPEC §8): 200 when `ready`, else 503, with the
/// body `{"ready": true, "reasons": [], "degraded": []}`. `reasons` say why the
/// instance is not ready (`upstream app: no healthy server`); `degraded` lists
/// trouble that keeps it ready (a Redis outage after start, SPEC §7).
public struct ReadinessReport: Sendable, Equatable {
    public var ready: Bool
    public var reasons: [String]
    public var degraded: [String]

    public init(ready: Bool, reasons: [String] = [], degraded: [String] = []) {
        self.ready = ready; self.reasons = reasons; self.degraded = degraded
    }

    /// Ready exactly when there is no reason not to be.
    public init(reasons: [String], degraded: [String]) {
        self.init(ready: reasons.isEmpty, reasons: reasons, degraded: degraded)
    }

    public var httpStatus: Int { ready ? 200 : 503 }

    /// The body, exactly as SPEC §8 shows it (a space after `:` and `,`), with
    /// no trailing newline.
    public var json: String {
        var out: [UInt8] = []
        out.reserveCapacity(48)
        out += Array(#"{"ready": "#.utf8)
        out += Array((ready ? "true" : "false").utf8)
        out += Array(#", "reasons": "#.utf8)
        Self.appendArray(reasons, into: &out)
        out += Array(#", "degraded": "#.utf8)
        Self.appendArray(degraded, into: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendArray(_ items: [String], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, s) in items.enumerated() {
            if i > 0 { out += [UInt8(ascii: ","), UInt8(ascii: " ")] }
            out.append(UInt8(ascii: "\""))
            LogEscaping.appendJSONEscaped(s.utf8, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "]"))
    }
}
