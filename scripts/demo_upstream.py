#!/usr/bin/env python3
"""A small HTTP/1.1 upstream for the demo, the integration tests and docker.

Standard library only. Keep-alive (protocol HTTP/1.1), one thread per
connection. Endpoints are matched on the END of the path (query dropped), so
they work behind any route prefix: `/public/echo` is `/echo`.

  (anything else)  200 JSON: {"method", "path", "version", "headers":
                   [[name, value], ...] in received order, "body_bytes"}.
                   "path" is the request target exactly as received.
  /echo            the request body back (Content-Length or chunked request),
                   with Content-Length; headers X-Body-Framing
                   (length|chunked|none) and X-Body-Sha256.
  /bytes/N         N bytes made on the fly (Content-Length; chunked with
                   ?chunked=1). Byte i is i % 251. Bounded memory at any N.
  /slow/MS         waits MS milliseconds, then as "anything else".
  /close-mid       Content-Length 1000, sends 10 bytes, closes.
  /status/N        status N, small JSON body (none for 1xx/204/304).
  /login           a stand-in for an application's login (SPEC §7
                   issue_session): 200 {"user": U} with the header
                   Gateway-Session: {"sub": U, "name": U}; U is `user` from
                   the form or JSON body (default "demo"); `user=fail` gets a
                   401 and no session.
  /ws              websocket handshake (101, Sec-WebSocket-Accept), then
                   echoes raw bytes until the peer closes.
  /sink            reads a body of any size (streamed) and answers
                   {"bytes": count, "sha256": hex}.
  /__stats         {"requests": N, "paths": {path: count}}: requests this
                   process has served (every endpoint except /__stats
                   itself), in total and per path (query dropped; at most
                   MAX_TRACKED_PATHS distinct paths are tracked). With
                   ?path=P, also "path": count for P. Lets tests prove a
                   request never reached the upstream.

Usage: demo_upstream.py [--listen 127.0.0.1:9000] [--verbose]
Prints "ready HOST:PORT" to stderr once listening (port 0 picks a free one).
"""

import argparse
import base64
import hashlib
import json
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0AD11B65"
BLOCK_SIZE = 64 * 1024
# Period 251 (prime) so block boundaries never line up with the pattern and a
# misplaced block changes the hash.
PATTERN = bytes(i % 251 for i in range(BLOCK_SIZE + 251))
ECHO_LIMIT = 16 * 1024 * 1024

_ENDPOINT = re.compile(r"/(echo|sink|close-mid|ws|login)$|/(bytes|slow|status)/(\d+)$")
MAX_TRACKED_PATHS = 100_000


class Stats:
    """Request counters for /__stats (shared by the handler threads)."""

    lock = threading.Lock()
    total = 0
    by_path = {}

    @classmethod
    def count(cls, path):
        with cls.lock:
            cls.total += 1
            if path in cls.by_path or len(cls.by_path) < MAX_TRACKED_PATHS:
                cls.by_path[path] = cls.by_path.get(path, 0) + 1

    @classmethod
    def snapshot(cls, path=None):
        with cls.lock:
            out = {"requests": cls.total, "paths": dict(cls.by_path)}
            if path is not None:
                out["path"] = cls.by_path.get(path, 0)
            return out


def pattern_bytes(offset, n):
    """n bytes of the /bytes pattern starting at stream offset `offset`."""
    start = offset % 251
    return PATTERN[start:start + n]


class BodyError(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo-upstream/1"
    verbose = False

    # ---- body reading -------------------------------------------------
    def body_chunks(self):
        """Yields the request body in pieces, whatever its framing."""
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower().split(",")[-1].strip() != "chunked":
                raise BodyError("unsupported transfer-encoding")
            yield from self._chunked()
            return
        cl = self.headers.get("Content-Length")
        if cl is None:
            return
        try:
            remaining = int(cl)
        except ValueError:
            raise BodyError("bad content-length")
        while remaining > 0:
            data = self.rfile.read1(min(remaining, BLOCK_SIZE))
            if not data:
                raise BodyError("body truncated")
            remaining -= len(data)
            yield data

    def _chunked(self):
        while True:
            line = self.rfile.readline(4096)
            if not line.endswith(b"\n"):
                raise BodyError("bad chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BodyError("bad chunk size")
            if size == 0:
                # Trailer section, up to the empty line.
                while True:
                    t = self.rfile.readline(8192)
                    if t in (b"\r\n", b"\n", b""):
                        return
            remaining = size
            while remaining > 0:
                data = self.rfile.read(min(remaining, BLOCK_SIZE))
                if not data:
                    raise BodyError("chunk truncated")
                remaining -= len(data)
                yield data
            if self.rfile.readline(4) not in (b"\r\n", b"\n"):
                raise BodyError("missing CRLF after chunk")

    def body_framing(self):
        if "Transfer-Encoding" in self.headers:
            return "chunked"
        if "Content-Length" in self.headers:
            return "length"
        return "none"

    # ---- response helpers ---------------------------------------------
    def send_json(self, status, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def describe(self, body_bytes):
        return {
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_bytes": body_bytes,
        }

    def drain(self):
        n = 0
        for piece in self.body_chunks():
            n += len(piece)
        return n

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("demo-upstream: %s - %s\n" % (self.address_string(), fmt % args))

    # ---- dispatch -----------------------------------------------------
    def handle_any(self):
        try:
            self.dispatch()
        except BodyError as e:
            self.close_connection = True
            try:
                self.send_json(400, {"error": str(e)}, [("Connection", "close")])
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

    def dispatch(self):
        parts = urlsplit(self.path)
        m = _ENDPOINT.search(parts.path)
        name = (m.group(1) or m.group(2)) if m else None
        arg = int(m.group(3)) if m and m.group(3) else None
        query = parse_qs(parts.query)

        if parts.path.endswith("/__stats"):
            self.drain()
            return self.send_json(200, Stats.snapshot(query.get("path", [None])[0]))
        Stats.count(parts.path)
        if name == "echo":
            return self.ep_echo()
        if name == "sink":
            h = hashlib.sha256()
            n = 0
            for piece in self.body_chunks():
                n += len(piece)
                h.update(piece)
            return self.send_json(200, {"bytes": n, "sha256": h.hexdigest()})
        if name == "bytes":
            self.drain()
            return self.ep_bytes(arg, query.get("chunked", ["0"])[0] == "1")
        if name == "slow":
            n = self.drain()
            time.sleep(arg / 1000.0)
            return self.send_json(200, self.describe(n))
        if name == "status":
            self.drain()
            return self.ep_status(arg)
        if name == "close-mid":
            self.drain()
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if name == "ws":
            return self.ep_ws()
        if name == "login":
            return self.ep_login()
        n = self.drain()
        return self.send_json(200, self.describe(n))

    def ep_echo(self):
        pieces, total = [], 0
        h = hashlib.sha256()
        for piece in self.body_chunks():
            total += len(piece)
            if total > ECHO_LIMIT:
                # Keep reading would be pointless: refuse and close.
                self.close_connection = True
                return self.send_json(413, {"error": "echo body over %d bytes; use /sink" % ECHO_LIMIT},
                                      [("Connection", "close")])
            pieces.append(piece)
            h.update(piece)
        body = b"".join(pieces)
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type", "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Body-Framing", self.body_framing())
        self.send_header("X-Body-Sha256", h.hexdigest())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def ep_bytes(self, n, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        while sent < n:
            k = min(BLOCK_SIZE, n - sent)
            data = pattern_bytes(sent, k)
            if chunked:
                self.wfile.write(b"%x\r\n" % k + data + b"\r\n")
            else:
                self.wfile.write(data)
            sent += k
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def ep_login(self):
        raw = b"".join(self.body_chunks())
        user = "demo"
        try:
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                user = str(json.loads(raw or b"{}").get("user", user))
            else:
                user = parse_qs(raw.decode()).get("user", [user])[0]
        except ValueError:
            return self.send_json(400, {"error": "bad login body"})
        if user == "fail":
            return self.send_json(401, {"error": "wrong password"})
        session = json.dumps({"sub": user, "name": user})
        return self.send_json(200, {"user": user}, [("Gateway-Session", session)])

    def ep_status(self, status):
        if status < 200 or status in (204, 304):
            self.send_response(status)
            self.end_headers()
            return
        self.send_json(status, {"status": status})

    def ep_ws(self):
        key = self.headers.get("Sec-WebSocket-Key")
        upgrade = (self.headers.get("Upgrade") or "").lower()
        if not key or upgrade != "websocket":
            self.drain()
            return self.send_json(400, {"error": "not a websocket handshake"})
        accept = base64.b64encode(hashlib.sha1(key.strip().encode() + WS_GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        # read1 hands out what rfile already buffered past the head first, then
        # does at most one recv per call, so it never waits for more than is there.
        sock = self.connection
        try:
            while True:
                data = self.rfile.read1(BLOCK_SIZE)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def parse_listen(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:9000", help="HOST:PORT (default 127.0.0.1:9000)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    Handler.verbose = args.verbose
    host, port = parse_listen(args.listen)
    if ":" in host:
        Server.address_family = socket.AF_INET6
    server = Server((host, port), Handler)
    # SIGTERM: leave at once (the default would too, but this also runs
    # finally blocks and keeps the exit status 0).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bound = server.server_address
    shown = "[%s]" % bound[0] if ":" in bound[0] else bound[0]
    sys.stderr.write("ready %s:%d\n" % (shown, bound[1]))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
