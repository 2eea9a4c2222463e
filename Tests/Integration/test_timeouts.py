"""Timeouts never end while bytes are stuck (SPEC §4.5): send_timeout on a
client that stops reading, read_timeout on an upstream that stalls mid-body,
tunnel_idle_timeout on a quiet tunnel, and a pooled upstream connection with a
stray byte on it is never reused. Each timeout is counted in
gateway_timeouts_total{kind}."""

import http.client
import socket
import ssl
import threading
import time

import pytest

from gwtest import Conn, metric_values, wait_until
from test_tls import make_certificate
from test_websocket import _handshake, _recv_exact

MiB = 1024 * 1024


def timeouts(gw, kind):
    for labels, value in metric_values(gw.metrics(), "gateway_timeouts_total"):
        if labels.get("kind") == kind:
            return value
    raise AssertionError("no gateway_timeouts_total{kind=%r}" % kind)


class ScriptedUpstream:
    """A raw TCP upstream: each request's path picks a script (see _serve).
    Keep-alive, so a stray byte left on a connection would reach whatever
    request the gateway sends on it next."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0  # that carried a request (health checks send none)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        buf = b""
        first = True
        with s:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                if first:
                    self.connections += 1
                    first = False
                method, path = head.split(b" ")[:2]
                try:
                    if not self._answer(s, method, path.decode()):
                        return
                except OSError:
                    return

    def _answer(self, s, method, path):
        """Writes one response; False ends the connection."""
        if path.startswith("/public/stall"):
            # Head and 100 of 1000 bytes, then nothing while the socket lives.
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"a" * 100)
            self._stop.wait(10)
            return False
        if path.startswith("/public/trickle"):
            # 6 pieces 0.4 s apart: 2 s in all, no gap near a 1 s read_timeout.
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n")
            for _ in range(6):
                time.sleep(0.4)
                s.sendall(b"t" * 100)
            return True
        if path.startswith("/public/stray-now"):
            # A body after a 204, in the same write as the head.
            s.sendall(b"HTTP/1.1 204 No Content\r\n\r\nSTRAY-BYTES")
            return True
        if path.startswith("/public/stray-late"):
            # A body after a HEAD answer, a moment after the head.
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
            time.sleep(0.1)
            s.sendall(b"STRAY-BYTES")
            return True
        body = ("ok " + path).encode()
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        return True

    def stop(self):
        self._stop.set()
        self.listener.close()


@pytest.fixture
def scripted():
    up = ScriptedUpstream()
    yield up
    up.stop()


def _stop_reading_download(port, size, wrap=None):
    """Asks for a large body, reads its head, then reads nothing. Returns the
    socket (small receive buffer, so the gateway's output backs up soon)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    if wrap:
        s = wrap(s)
    s.sendall(b"GET /public/bytes/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % size)
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 200"), first[:100]
    return s


def _drain_until_closed(s, limit):
    """Bytes received until EOF or reset; fails if more than limit arrive."""
    got = 0
    while True:
        try:
            data = s.recv(256 * 1024)
        except (ConnectionResetError, ssl.SSLError, OSError):
            return got
        if not data:
            return got
        got += len(data)
        assert got < limit, "the whole body arrived: the connection was never closed"


def test_client_that_stops_reading_is_closed_after_send_timeout(start_gateway):
    gw = start_gateway(extra={"server": {"send_timeout": "1s"}})
    s = _stop_reading_download(gw.port, 256 * MiB)
    try:
        wait_until(lambda: timeouts(gw, "send") == 1, 6, what="send timeout counted")
        got = _drain_until_closed(s, 256 * MiB)
        assert got < 64 * MiB
    finally:
        s.close()
    assert gw.get("/public/after").status == 200


def test_slow_but_steady_reader_is_not_cut_by_send_timeout(start_gateway):
    # Reads a little every 0.1 s for 4 s, twice send_timeout: writes keep
    # going through, and each one restarts the clock. (The clock restarts
    # when the kernel reports the socket writable, which on Linux needs a
    # third of the send buffer drained: like nginx's send_timeout, it cuts a
    # reader slower than that per period, here well under 1 MB/s.)
    gw = start_gateway(extra={"server": {"send_timeout": "2s"}})
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    try:
        s.sendall(b"GET /public/bytes/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (256 * MiB))
        got = 0
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            time.sleep(0.1)
            data = s.recv(256 * 1024)
            assert data, "closed after %d bytes while the client was still reading" % got
            got += len(data)
    finally:
        s.close()
    assert timeouts(gw, "send") == 0


def test_idle_keepalive_is_not_closed_by_send_timeout(start_gateway):
    # The send clock runs only while output waits: an idle connection with
    # nothing to send lives until client_timeout (5 s in tests).
    gw = start_gateway(extra={"server": {"send_timeout": "1s"}})
    with Conn(gw.port, timeout=5) as c:
        c.request("GET", "/public/one")
        assert c.read_response().status == 200
        assert not c.is_closed(2.5)
        c.request("GET", "/public/two")
        assert c.read_response().status == 200
    assert timeouts(gw, "send") == 0


def test_tls_send_timeout_closes_a_stuck_reader_and_spares_an_idle_one(start_gateway, tmp_path):
    cert, key = make_certificate(tmp_path)
    gw = start_gateway(extra={"server": {"send_timeout": "1s", "tls_certificate": cert,
                                         "tls_private_key": key}})
    context = ssl.create_default_context(cafile=cert)

    def wrap(sock):
        return context.wrap_socket(sock, server_hostname="127.0.0.1")

    # Idle over TLS: still usable after twice the send timeout.
    c = http.client.HTTPSConnection("127.0.0.1", gw.port, context=context, timeout=5)
    try:
        for i in range(2):
            c.request("GET", "/public/tls-idle")
            r = c.getresponse()
            assert r.status == 200
            r.read()
            if i == 0:
                time.sleep(2.2)
    finally:
        c.close()
    assert timeouts(gw, "send") == 0
    # Stuck over TLS: closed.
    s = _stop_reading_download(gw.port, 256 * MiB, wrap=wrap)
    try:
        wait_until(lambda: timeouts(gw, "send") == 1, 6, what="TLS send timeout counted")
        assert _drain_until_closed(s, 256 * MiB) < 64 * MiB
    finally:
        s.close()


def test_upstream_that_stalls_mid_body_is_cut_after_read_timeout(start_gateway, scripted):
    gw = start_gateway(upstream_port=scripted.port,
                       extra={"upstreams.app": {"read_timeout": "1s", "response_timeout": "5s"}})
    with Conn(gw.port, timeout=8) as c:
        started = time.monotonic()
        c.request("GET", "/public/stall")
        r = c.read_response()
        waited = time.monotonic() - started
    assert r.status == 200
    assert not r.complete and r.body_len == 100, r
    assert 0.8 <= waited <= 3.5, "cut after %.2fs with read_timeout 1s" % waited
    assert timeouts(gw, "upstream_read") == 1
    assert gw.get("/public/after").status == 200


def test_slow_but_steady_upstream_body_is_not_cut(start_gateway, scripted):
    # 2 s of body in 0.4 s steps: read_timeout bounds the gap, not the total.
    gw = start_gateway(upstream_port=scripted.port, extra={"upstreams.app": {"read_timeout": "1s"}})
    with Conn(gw.port, timeout=8) as c:
        c.request("GET", "/public/trickle")
        r = c.read_response()
    assert r.status == 200 and r.complete and r.body == b"t" * 600
    assert timeouts(gw, "upstream_read") == 0


def test_idle_tunnel_is_closed_and_a_busy_one_is_not(start_gateway):
    gw = start_gateway(extra={"server": {"tunnel_idle_timeout": "1s"}})
    with Conn(gw.port, timeout=5) as c:
        _, r = _handshake(c, "/public/ws")
        assert r.status == 101
        # Busy for 2 s in 0.3 s steps: never idle for the full second.
        for i in range(7):
            time.sleep(0.3)
            c.send(b"ping%d" % i)
            assert _recv_exact(c, 5) == b"ping%d" % i
        assert timeouts(gw, "tunnel_idle") == 0
        started = time.monotonic()
        assert c.is_closed(4.0), "idle tunnel still open 4 s after its last byte"
        waited = time.monotonic() - started
    assert 0.7 <= waited <= 3.0, "idle tunnel closed after %.2fs with tunnel_idle_timeout 1s" % waited
    assert timeouts(gw, "tunnel_idle") == 1


@pytest.mark.parametrize("script,method", [("/public/stray-now", "GET"), ("/public/stray-late", "HEAD")])
def test_late_body_never_reaches_the_next_request(start_gateway, scripted, script, method):
    gw = start_gateway(upstream_port=scripted.port)
    with Conn(gw.port, timeout=5) as c:
        c.request(method, script)
        r = c.read_response(method=method)
        assert r.status in (200, 204) and r.body == b""
        time.sleep(0.3)  # the late bytes are on the pooled connection by now
        for i in range(3):
            c.request("GET", "/public/next%d" % i)
            r = c.read_response()
            assert r.status == 200, r
            assert r.body == b"ok /public/next%d" % i
    # The poisoned connection was dropped, a clean one carries on.
    assert scripted.connections == 2
