#!/usr/bin/env python3
"""Slow clients for scripts/soak.sh (part slowloris).

Keeps N connections open to HOST:PORT, each sending one byte of a request
head every INTERVAL seconds (the head never completes). A connection the
server closes is recorded (its lifetime, whether a response such as 408
came first) and replaced by a new one, so N stay open for the whole run.

  slowloris.py --port P [--conns 5000] [--interval 10] [--seconds 60]
               [--ramp 10] [--out FILE] [--admin-port A --client-timeout S]

Prints one JSON object at the end (and to --out): connections opened,
closed by the server, lifetimes (min/p50/p99/max s, from the connect call
to the close being seen), answers seen (status codes), connect errors, how
many were still open, and this process's event loop lag (how late a 100 ms
sleep wakes up: a close is seen up to that much late).

With --admin-port and --client-timeout, also the gateway's own punctuality,
free of this client's lag: a thread polls gateway_timeouts_total
{kind="request_head"} every 0.25 s; the k-th timeout counted is matched with
the k-th earliest deadline (connect time + client timeout), and "server_late_s"
is how long after its deadline the counter showed it (a 0.25 s resolution;
negative would mean closed early).
Standard library only; needs `ulimit -n` above N (soak.sh raises it).
"""

import argparse
import asyncio
import http.client
import json
import sys
import threading
import time

HEAD = b"GET /public/slow HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 4000


class Stats:
    def __init__(self):
        self.opened = 0
        self.connect_errors = 0
        self.closed_by_server = 0
        self.lifetimes = []
        self.answers = {}
        self.open_now = 0
        self.peak_open = 0
        self.write_errors = 0
        self.lags = []
        self.connect_times = []


async def one(host, port, interval, stop_at, stats):
    """One slow connection; returns when the server closed it (True) or the run ended (False)."""
    # Lifetimes start before the connect: the SYN leaves in the connect()
    # call, and on a loaded machine this coroutine may resume much later.
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except (OSError, asyncio.TimeoutError):
        stats.connect_errors += 1
        await asyncio.sleep(1)
        return True
    stats.connect_times.append(t0)
    stats.opened += 1
    stats.open_now += 1
    stats.peak_open = max(stats.peak_open, stats.open_now)
    sent = 0
    answer = b""
    closed = False
    try:
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            if sent < len(HEAD):
                try:
                    writer.write(HEAD[sent:sent + 1])
                    sent += 1
                except (ConnectionError, OSError):
                    stats.write_errors += 1
            # Wait for the next byte's time, watching for an answer or EOF.
            deadline = min(now + interval, stop_at)
            try:
                data = await asyncio.wait_for(reader.read(4096), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                continue
            except (ConnectionError, OSError):
                closed = True
                break
            if not data:
                closed = True
                break
            answer += data
    finally:
        stats.open_now -= 1
        writer.close()
    if closed:
        stats.closed_by_server += 1
        stats.lifetimes.append(time.monotonic() - t0)
        status = answer.split(b" ", 2)[1].decode(errors="replace") if answer.startswith(b"HTTP/") else "none"
        stats.answers[status] = stats.answers.get(status, 0) + 1
    return closed


async def slot(host, port, interval, start_at, stop_at, stats):
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    while time.monotonic() < stop_at:
        await one(host, port, interval, stop_at, stats)


def head_timeouts(admin_port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=2)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
    except (OSError, http.client.HTTPException):
        return None
    for line in text.splitlines():
        if line.startswith('gateway_timeouts_total{kind="request_head"}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def poll_timeouts(admin_port, stop_at, samples):
    while time.monotonic() < stop_at:
        v = head_timeouts(admin_port)
        if v is not None:
            samples.append((time.monotonic(), v))
        time.sleep(0.25)


def server_lateness(connect_times, client_timeout, samples):
    """How long after its deadline each counted timeout showed up (see the module doc)."""
    if not samples:
        return []
    deadlines = sorted(t + client_timeout for t in connect_times)
    base = samples[0][1]
    late, seen = [], 0
    for t, v in samples[1:]:
        while seen < v - base and seen < len(deadlines):
            late.append(t - deadlines[seen])
            seen += 1
    return late


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(p / 100.0 * len(v)))], 2)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--ramp", type=float, default=10.0, help="spread the first connects over this many seconds")
    ap.add_argument("--out")
    ap.add_argument("--admin-port", type=int)
    ap.add_argument("--client-timeout", type=float)
    args = ap.parse_args()
    stats = Stats()
    t0 = time.monotonic()
    stop_at = t0 + args.seconds
    samples = []
    if args.admin_port and args.client_timeout:
        # Sample the counter before the first connect, so it is the base.
        v = head_timeouts(args.admin_port)
        if v is not None:
            samples.append((time.monotonic(), v))
        threading.Thread(target=poll_timeouts, args=(args.admin_port, stop_at, samples), daemon=True).start()
    tasks = [asyncio.create_task(slot(args.host, args.port, args.interval, t0 + args.ramp * i / args.conns,
                                      stop_at, stats)) for i in range(args.conns)]

    async def lag_probe():
        # How late this event loop wakes up: a close is seen that much late.
        while time.monotonic() < stop_at:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            stats.lags.append(time.monotonic() - t - 0.1)
    lag = asyncio.create_task(lag_probe())

    async def progress():
        while time.monotonic() < stop_at:
            await asyncio.sleep(5)
            sys.stderr.write("slowloris: t=%.0fs open %d, opened %d, closed by server %d\n"
                             % (time.monotonic() - t0, stats.open_now, stats.opened, stats.closed_by_server))
    p = asyncio.create_task(progress())
    await asyncio.gather(*tasks)
    p.cancel()
    lag.cancel()
    out = {
        "conns": args.conns, "interval_s": args.interval, "seconds": args.seconds,
        "opened": stats.opened, "connect_errors": stats.connect_errors, "peak_open": stats.peak_open,
        "closed_by_server": stats.closed_by_server, "answers": stats.answers,
        "lifetime_s": {"min": pct(stats.lifetimes, 0), "p50": pct(stats.lifetimes, 50),
                       "p99": pct(stats.lifetimes, 99),
                       "max": round(max(stats.lifetimes), 2) if stats.lifetimes else None},
        "still_open_at_end": stats.opened - stats.closed_by_server,
        "loop_lag_s": {"p50": pct(stats.lags, 50), "p99": pct(stats.lags, 99),
                       "max": round(max(stats.lags), 2) if stats.lags else None},
    }
    if samples:
        late = server_lateness(stats.connect_times, args.client_timeout, samples)
        out["server_late_s"] = {"counted": len(late), "min": pct(late, 0), "p50": pct(late, 50),
                                "p99": pct(late, 99), "max": round(max(late), 2) if late else None}
    text = json.dumps(out)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
