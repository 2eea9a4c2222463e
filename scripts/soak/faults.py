#!/usr/bin/env python3
"""Broken upstreams and the client that checks the gateway's answers, for
scripts/soak.sh (part faults).

  faults.py serve --ports-file F [--slow-seconds 3]
      Listens on free loopback ports and writes them as JSON to F:
        mid      reads the request, sends a head with Content-Length: 100000
                 and 1000 bytes of body, then closes (dies mid-body)
        head     reads the request and closes without a byte (dies before head)
        slow     reads the request, waits --slow-seconds, then answers 200
                 (longer than the gateway's response_timeout: expect 504)
        hole     a black hole: a socket that listens with backlog 0 and never
                 accepts, its accept queue filled by our own connections first.
                 Linux then drops every further SYN (no RST, no SYN-ACK), as a
                 firewall that drops packets or a host that vanished would:
                 the gateway's connect can only time out (connect_timeout).
        refused  a port that was bound and closed again: connect refused.
      Runs until SIGTERM.

  faults.py check --port GW --path P --expect KIND [--requests 100] [--concurrency 20]
      Sends GET P (one connection per request) and sorts the answers:
        502, 504, ...      a status whose response was complete
        truncated+closed   a head, fewer body bytes than Content-Length, then EOF
        truncated+open     fewer bytes and the connection still open after 3 s
        no-answer          closed or reset before a status line
        timeout            nothing at all within --timeout
      Prints JSON: counts, the KIND expected, ok (every answer was KIND),
      and latency p50/max in ms.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

BODY_LENGTH = 100000
SENT_BEFORE_DEATH = 1000


def read_head(conn):
    """Reads up to the end of a request head (no request bodies here)."""
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def serve_loop(listener, handler):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def dies_mid_body(conn):
    # Keep-alive requests on one connection: answer each until we die.
    try:
        if read_head(conn) is None:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\n\r\n" % BODY_LENGTH + b"x" * SENT_BEFORE_DEATH)
        time.sleep(0.05)
    except OSError:
        pass
    finally:
        conn.close()


def dies_before_head(conn):
    try:
        read_head(conn)
    except OSError:
        pass
    finally:
        conn.close()


def answers_slowly(seconds):
    def handle(conn):
        try:
            while read_head(conn) is not None:
                time.sleep(seconds)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
        except OSError:
            pass
        finally:
            conn.close()
    return handle


def listener(backlog=1024):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def black_hole():
    """A listener whose accept queue is full: further SYNs are dropped."""
    s = listener(backlog=0)
    port = s.getsockname()[1]
    fillers = []
    # Connect until a connect no longer completes: the queue is full.
    for _ in range(16):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(0.5)
        try:
            c.connect(("127.0.0.1", port))
            fillers.append(c)
        except OSError:
            c.close()
            break
    else:
        raise SystemExit("faults.py: could not fill the black hole's accept queue")
    return s, port, fillers


def serve(args):
    made = {}
    keep = []
    for name, handler in (("mid", dies_mid_body), ("head", dies_before_head),
                          ("slow", answers_slowly(args.slow_seconds))):
        s = listener()
        made[name] = s.getsockname()[1]
        keep.append(s)
        threading.Thread(target=serve_loop, args=(s, handler), daemon=True).start()
    hole, made["hole"], fillers = black_hole()
    keep += [hole] + fillers
    made["hole_fillers"] = len(fillers)
    r = listener()
    made["refused"] = r.getsockname()[1]
    r.close()
    with open(args.ports_file + ".tmp", "w") as f:
        json.dump(made, f)
    os.replace(args.ports_file + ".tmp", args.ports_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


def one_request(port, path, timeout):
    t0 = time.monotonic()
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return "connect-error", 0.0
    try:
        c.settimeout(timeout)
        c.sendall(b"GET %s HTTP/1.1\r\nHost: soak\r\n\r\n" % path.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return "no-answer", time.monotonic() - t0
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = lines[0].split(b" ")[1].decode()
        length = None
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        if length is None:
            return status + "(no length)", time.monotonic() - t0
        while len(body) < length:
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                return "truncated+open", time.monotonic() - t0
            if not chunk:
                return "truncated+closed", time.monotonic() - t0
            body += chunk
        return status, time.monotonic() - t0
    except socket.timeout:
        return "timeout", time.monotonic() - t0
    except ConnectionResetError:
        return "no-answer", time.monotonic() - t0
    finally:
        c.close()


def check(args):
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(lambda _: one_request(args.port, args.path, args.timeout), range(args.requests)))
    counts = {}
    for kind, _ in results:
        counts[kind] = counts.get(kind, 0) + 1
    lat = sorted(t * 1000 for _, t in results)
    print(json.dumps({"path": args.path, "expect": args.expect, "counts": counts,
                      "ok": counts.get(args.expect, 0) == len(results),
                      "p50_ms": round(lat[len(lat) // 2], 1), "max_ms": round(lat[-1], 1)}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--ports-file", required=True)
    s.add_argument("--slow-seconds", type=float, default=3.0)
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", required=True)
    c.add_argument("--expect", required=True)
    c.add_argument("--requests", type=int, default=100)
    c.add_argument("--concurrency", type=int, default=20)
    c.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()
    serve(args) if args.cmd == "serve" else check(args)


if __name__ == "__main__":
    main()
