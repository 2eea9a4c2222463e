import GatewayCore

/// After a 101 (WebSocket and other upgrades): whatever either side sent
/// goes to the other untouched, each side read only while the other's
/// output is under `highWater`. Counts both directions in the exchange for
/// the access log. Loop thread only.
enum TunnelPump {
    @inline(__always)  // one caller; see ResponseBodyPump.pump
    static func pump(client: BufferedSocket, upstream: BufferedSocket, exchange ex: inout Exchange,
                     nowMs: Int64, highWater: Int) {
        ex.lastTunnelActivityMs = nowMs
        ex.bytesOut += UInt64(upstream.moveAllInput(to: client))
        ex.bytesIn += UInt64(client.moveAllInput(to: upstream))
        client.flush()
        upstream.flush()
        if upstream.outputLength > highWater { client.disableRead() }
        if client.outputLength > highWater { upstream.disableRead() }
    }
}
