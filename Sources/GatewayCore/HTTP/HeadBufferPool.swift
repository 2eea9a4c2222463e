/// Head buffers of one worker, handed from finished heads to new ones, so a
/// steady stream of requests allocates no head bytes or field arrays: the
/// parser takes a buffer when a head's first byte arrives and the
/// connection gives it back when the exchange is done. Buffers live here,
/// not in the parser, so an idle keep-alive connection holds none.
/// One per worker thread; not for sharing across threads.
public final class HeadBufferPool: @unchecked Sendable {
    // @unchecked: confined to the worker thread that owns it.
    // @exclusivity(unchecked): one thread, and no method calls out while
    // it holds these (see ClientConnection in GatewayProxy).
    @exclusivity(unchecked) private var bytes: [[UInt8]] = []
    @exclusivity(unchecked) private var fields: [[HTTPField]] = []
    /// Emptied head objects (their buffers are in the two lists above), for
    /// the parser to refill: one allocation less per head.
    @exclusivity(unchecked) private var shells: [HTTPHead] = []
    /// Buffers kept at most, and the largest kept: a head that needed more
    /// (rare, up to max_header_bytes) gives its memory back to the allocator.
    static let maxKept = 64
    static let maxBytesCapacity = 8192
    static let maxFieldsCapacity = 64

    public init() {}

    func takeBytes() -> [UInt8]? { bytes.popLast() }
    func takeFields() -> [HTTPField]? { fields.popLast() }
    func takeShell() -> HTTPHead? { shells.popLast() }

    /// Takes the buffers of `head` when nothing else references it (a head
    /// still held by an access-log line, say, is left alone).
    public func recycle(_ head: inout HTTPHead?) {
        guard var h = head else { return }
        head = nil
        guard isKnownUniquelyReferenced(&h) else { return }
        if bytes.count < Self.maxKept, h.bytes.capacity <= Self.maxBytesCapacity {
            var b: [UInt8] = []
            swap(&b, &h._bytes)
            b.removeAll(keepingCapacity: true)
            if b.capacity > 0 { bytes.append(b) }
        }
        if fields.count < Self.maxKept, h.fields.capacity <= Self.maxFieldsCapacity {
            var f: [HTTPField] = []
            swap(&f, &h._fields)
            f.removeAll(keepingCapacity: true)
            if f.capacity > 0 { fields.append(f) }
        }
        if shells.count < Self.maxKept {
            // Nothing of the old head is kept but the object: its buffers
            // went to the lists above, or go back to the allocator now.
            h._bytes = []
            h._fields = []
            h._normalized = NormalizedTarget(raw: 0..<0, rewritten: nil, pathCount: 0)
            shells.append(h)
        }
    }

    public var kept: (bytes: Int, fields: Int) { (bytes.count, fields.count) }

    /// Head objects kept for reuse.
    public var keptShells: Int { shells.count }
}
