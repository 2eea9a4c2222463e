import GatewayAuth
import GatewayLoop

/// The feed: a full read of the revocation hash after every connect and every
/// `resyncIntervalMs`, and the channel's changes in between. Channel messages
/// that arrive while a resync is reading are held and applied after its
/// `.reset`, in order, so a change racing the read is never lost (applying
/// one the read already saw is harmless: adds replace, removals of absent ids
/// do nothing).
extension RedisEngine {
    struct Resync {
        var generation: Int
        var entries: [String: RedisRevocationEncoding.Entry] = [:]
        var held: [RevocationChange] = []
    }

    /// HSCAN batch size: small enough that no single call holds Redis up.
    static let scanBatch = 500
    /// Expired entries dropped per script call.
    static let expireBatch = 500

    /// A channel change: to the feed, or held while a resync reads (or,
    /// before the first `.reset` of a connection, until it is sent).
    func deliver(_ change: RevocationChange) {
        if resync != nil {
            resync?.held.append(change)
        } else if isUp {
            feed?(change)
        } else {
            heldBeforeUp.append(change)
        }
    }

    func startResync() {
        guard isUp, resync == nil else { return }
        resync = Resync(generation: generation, held: heldBeforeUp)
        heldBeforeUp = []
        expireStep()
    }

    private func current(_ gen: Int) -> Bool {
        isUp && resync?.generation == gen && gen == generation
    }

    /// First drops what expired (published as removals), then reads.
    private func expireStep() {
        let gen = generation
        let nowS = loop.nowMs() / 1000
        eval(.expireRevocations, [prefix, Array(String(nowS).utf8), Array(String(Self.expireBatch).utf8)]) {
            [weak self] reply in
            guard let self, self.current(gen) else { return }
            guard let n = reply?.int64 else {
                self.resyncFailed(reply)
                return
            }
            if n >= Self.expireBatch { self.expireStep() } else { self.scanStep(cursor: "0") }
        }
    }

    private func scanStep(cursor: String) {
        let gen = generation
        let cmd = RESPCommand([Array("HSCAN".utf8), key("rev"), Array(cursor.utf8),
                               Array("COUNT".utf8), Array(String(Self.scanBatch).utf8)])
        guard let command else { return }
        command.send(cmd) { [weak self] reply in
            guard let self, self.current(gen) else { return }
            guard let parts = reply?.elements, parts.count == 2, let next = parts[0].text,
                  let flat = parts[1].elements else {
                self.resyncFailed(reply)
                return
            }
            var i = 0
            while i + 1 < flat.count {
                if let id = flat[i].text, let enc = flat[i + 1].bytes,
                   let entry = RedisRevocationEncoding.decode(id: id, enc) {
                    self.resync?.entries[id] = entry
                }
                i += 2
            }
            if next == "0" { self.finishResync() } else { self.scanStep(cursor: next) }
        }
    }

    private func finishResync() {
        guard let done = resync else { return }
        resync = nil
        let nowS = loop.nowMs() / 1000
        let live = done.entries.values
            .filter { $0.revocation.until >= nowS }
            .sorted { $0.seq < $1.seq }
            .map(\.revocation)
        feed?(.reset(live))
        for change in done.held { feed?(change) }
        resyncTimer?.schedule(afterMs: settings.resyncIntervalMs)
    }

    /// A Redis error mid-read (not a lost connection: that reconnects and
    /// resyncs anyway): hand over what was held, try again next interval.
    private func resyncFailed(_ reply: RedisReply?) {
        guard let held = resync?.held else { return }
        resync = nil
        if let reply { settings.log("redis store: resync failed: \(reply.errorMessage ?? "unexpected answer")") }
        for change in held { feed?(change) }
        resyncTimer?.schedule(afterMs: settings.resyncIntervalMs)
    }
}
