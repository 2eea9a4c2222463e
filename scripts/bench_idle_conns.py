#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, sends one GET on each and
reads the answer, then holds them all idle. Used by scripts/bench.sh to
measure a proxy's memory per idle connection.

Prints "held OK FAILED" on stdout once every connection is settled, then
waits --hold seconds (or until killed). Loopback only: source addresses are
spread over 127.0.0.2..127.0.0.(1+--sources) so the ephemeral port range of
one address is never the limit.
"""

import argparse
import asyncio
import resource
import socket
import sys

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the port at connect, per destination


async def one(loop, host, port, src, path, sem, held, errors):
    async with sem:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((src, 0))
            sock.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), 10)
            reader, writer = await asyncio.open_connection(sock=sock)
            writer.write(b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path.encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await asyncio.wait_for(reader.readexactly(length), 10)
            if not head.startswith(b"HTTP/1.1 200"):
                raise OSError("status %r" % head[:20])
            held.append((reader, writer))
            return True
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            sock.close()
            errors.append(repr(e))
            return False


async def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--path", default="/small")
    ap.add_argument("--sources", type=int, default=4, help="number of 127.0.0.x source addresses")
    ap.add_argument("--hold", type=float, default=3600)
    ap.add_argument("--concurrency", type=int, default=200)
    args = ap.parse_args()
    if not args.host.startswith("127."):
        sys.exit("bench_idle_conns: loopback only")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.count + 100:
        sys.exit("bench_idle_conns: open-file limit %d is below %d connections" % (hard, args.count))
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(args.concurrency)
    held = []
    errors = []
    sources = ["127.0.0.%d" % (2 + i) for i in range(max(1, args.sources))]
    results = await asyncio.gather(*(one(loop, args.host, args.port, sources[i % len(sources)], args.path, sem, held, errors)
                                     for i in range(args.count)))
    ok = sum(results)
    print("held %d %d" % (ok, len(results) - ok), flush=True)
    if errors:
        print("first error: %s" % errors[0], file=sys.stderr, flush=True)
    try:
        await asyncio.sleep(args.hold)
    finally:
        for _, w in held:
            w.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
