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
    /// Emptied head objects that still hold their buffers (capacity kept,
    /// contents gone): the parser takes one when a head's first byte
    /// arrives, parses into its buffers and refills it. One list, so a head
    /// costs one pop and one push here, not three of each.
    @exclusivity(unchecked) private var shells: [HTTPHead] = []
    /// Heads kept at most, and the largest buffers kept: a head that needed
    /// more (rare, up to max_header_bytes) gives that memory back to the
    /// allocator and is kept without it.
    static let maxKept = 64
    static let maxBytesCapacity = 8192
    static let maxFieldsCapacity = 64

    public init() {}

    func takeShell() -> HTTPHead? { shells.popLast() }

    /// Keeps `head` for reuse when nothing else references it (a head
    /// still held by an access-log line, say, is left alone).
    public func recycle(_ head: inout HTTPHead?) {
        guard var h = head else { return }
        head = nil
        guard isKnownUniquelyReferenced(&h), shells.count < Self.maxKept else { return }
        // Nothing of the old head stays readable: the contents go, and
        // every other field is set anew by `HTTPHead.refill`.
        Self.empty(&h._bytes, keepingUpTo: Self.maxBytesCapacity)
        Self.empty(&h._fields, keepingUpTo: Self.maxFieldsCapacity)
        h._normalized = NormalizedTarget(raw: 0..<0, rewritten: nil, pathCount: 0)
        shells.append(h)
    }

    /// Through one inout access: reading `capacity` off the head's property
    /// itself retained and released the array.
    @inline(__always)
    private static func empty<T>(_ a: inout [T], keepingUpTo maxCapacity: Int) {
        if a.capacity <= maxCapacity { a.removeAll(keepingCapacity: true) } else { a = [] }
    }

    /// Kept heads that still have a byte buffer, and a field array.
    public var kept: (bytes: Int, fields: Int) {
        (shells.count { $0._bytes.capacity > 0 }, shells.count { $0._fields.capacity > 0 })
    }

    /// Head objects kept for reuse.
    public var keptShells: Int { shells.count }
}
