import CLibevent
import CLibeventPool
import GatewayLoop
@testable import GatewayProxy
import Synchronization
import Testing

/// libevent's allocator (CLibeventPool): per-thread caches of evbuffer
/// chains. The allocator cases run on a thread of their own, so its cache
/// starts empty whatever other tests did on the test threads.
@Suite struct LibeventPoolTests {
    /// Runs `body` on a fresh thread and waits for it.
    static func onFreshThread(_ body: @escaping @Sendable () -> Void) {
        let box = DoneBox()
        #expect(OSThread.spawn(name: "pool-test") { body(); box.finish() })
        box.wait()
    }

    final class DoneBox: Sendable {
        private let finished = Mutex(false)
        func finish() { finished.withLock { $0 = true } }
        func wait() {
            while !finished.withLock({ $0 }) { usleep(1000) }
        }
    }

    @Test func aFreedChainIsHandedOutAgainWithoutMalloc() {
        Self.onFreshThread {
            let first = gw_pool_malloc(4096)!
            memset(first, 0xA5, 4096)
            gw_pool_free(first)
            #expect(gw_pool_thread_cached_bytes() == 4096)
            let second = gw_pool_malloc(4096)!
            #expect(second == first)
            #expect(gw_pool_thread_hits() == 1)
            #expect(gw_pool_thread_misses() == 1)
            #expect(gw_pool_thread_cached_bytes() == 0)
            // A block of another class is not handed out for this one.
            let other = gw_pool_malloc(8192)!
            #expect(other != first)
            gw_pool_free(second)
            gw_pool_free(other)
            #expect(gw_pool_thread_cached_bytes() == 4096 + 8192)
        }
    }

    @Test func sizesThatAreNoChainGoStraightToMalloc() {
        Self.onFreshThread {
            for size in [1, 200, 1000, 3000, 4097, (128 << 10) + 1, 256 << 10] {
                let p = gw_pool_malloc(size)!
                memset(p, 0x5A, size)
                gw_pool_free(p)
            }
            #expect(gw_pool_thread_cached_bytes() == 0)
            #expect(gw_pool_thread_hits() == 0)
            #expect(gw_pool_thread_misses() == 0)
        }
    }

    @Test func reallocKeepsTheBytesAcrossClasses() {
        Self.onFreshThread {
            let p = gw_pool_malloc(1024)!.assumingMemoryBound(to: UInt8.self)
            for i in 0..<1024 { p[i] = UInt8(truncatingIfNeeded: i &* 7) }
            let grown = gw_pool_realloc(p, 16384)!.assumingMemoryBound(to: UInt8.self)
            #expect((0..<1024).allSatisfy { grown[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
            let shrunk = gw_pool_realloc(grown, 100)!.assumingMemoryBound(to: UInt8.self)
            #expect((0..<100).allSatisfy { shrunk[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
            let odd = gw_pool_realloc(shrunk, 5000)!.assumingMemoryBound(to: UInt8.self)
            #expect((0..<100).allSatisfy { odd[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
            gw_pool_free(odd)
            #expect(gw_pool_realloc(nil, 2048) != nil)   // realloc(nil) allocates
        }
    }

    @Test func aThreadKeepsAtMostItsLimitPerClassAndInAll() {
        Self.onFreshThread {
            // 128 KiB chains: 8 kept (1 MiB), the rest freed.
            let big = (0..<20).map { _ in gw_pool_malloc(128 << 10)! }
            big.forEach { gw_pool_free($0) }
            #expect(gw_pool_thread_cached_bytes() == 8 * (128 << 10))
            // Then 64 KiB chains fill the thread up to its 2 MiB cap, not their 16.
            let mid = (0..<20).map { _ in gw_pool_malloc(64 << 10)! }
            mid.forEach { gw_pool_free($0) }
            #expect(gw_pool_thread_cached_bytes() == Int(GW_POOL_THREAD_CAP))
        }
    }

    @Test func aThreadsCacheIsFreedWhenTheThreadEnds() {
        // Blocks cached on a thread that ended would be memory nobody can
        // use; the global count shows they went back. Other tests' threads
        // cache and uncache meanwhile, so look for this thread's share only
        // as an upper bound, over several rounds.
        let before = gw_pool_cached_bytes()
        for _ in 0..<5 {
            Self.onFreshThread {
                let blocks = (0..<8).map { _ in gw_pool_malloc(128 << 10)! }
                blocks.forEach { gw_pool_free($0) }
            }
        }
        usleep(20_000)   // the destructor runs after the body, as the thread exits
        #expect(gw_pool_cached_bytes() < before + 8 * (128 << 10))
    }

    @Test func libeventReadsReuseACachedChain() throws {
        guard EventLoop.buffersPooled else { return }   // sanitizer builds, GATEWAY_LIBEVENT_POOL=off
        Self.onFreshThread {
            guard let loop = try? EventLoop(), let end = try? SocketPairEnd(loop: loop) else {
                Issue.record("no loop or socket pair")
                return
            }
            end.send("GET / HTTP/1.1\r\n\r\n")
            end.socket.drainInput(end.socket.inputLength)
            let hitsBefore = gw_pool_thread_hits()
            for _ in 0..<10 {
                end.send("GET / HTTP/1.1\r\n\r\n")
                end.socket.drainInput(end.socket.inputLength)
            }
            // Each read into the empty input takes the chain the last drain gave back.
            #expect(gw_pool_thread_hits() - hitsBefore >= 10)
        }
    }
}
