"""Request and response bodies: framing, 100-continue, streaming with
bounded memory (SPEC §4.1)."""

import hashlib
import os
import threading
import time

import pytest

from gwtest import Conn, pattern_sha256, pattern_stream

MiB = 1024 * 1024


def test_chunked_request_body_is_reframed_and_echoed(gateway):
    pieces = [b"hello ", b"chunked ", b"x" * 5000, b" world"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces[:2])
    body += b"%x;ext=1\r\n%s\r\n" % (len(pieces[2]), pieces[2])   # chunk extension, RFC 9112 §7.1.1
    body += b"%x\r\n%s\r\n0\r\n\r\n" % (len(pieces[3]), pieces[3])
    with Conn(gateway.port) as c:
        c.request("POST", "/public/echo", [("Transfer-Encoding", "chunked")], body)
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"".join(pieces)
        # The connection is still in step afterwards.
        c.request("GET", "/public/next")
        assert c.read_response().json()["path"] == "/public/next"


def test_chunked_request_with_trailer(gateway):
    body = b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
    with Conn(gateway.port) as c:
        c.request("POST", "/public/echo", [("Transfer-Encoding", "chunked")], body)
        assert c.read_response().body == b"hello"
        c.request("GET", "/public/next")
        assert c.read_response().status == 200


def test_content_length_body_echoed(gateway):
    data = os.urandom(100_000)
    r = gateway.request("POST", "/public/echo", body=data)
    assert r.status == 200
    assert r.body == data
    assert r.header("X-Body-Framing") == "length"


def test_empty_body_post(gateway):
    r = gateway.request("POST", "/public/echo", body=b"")
    assert r.status == 200
    assert r.body == b""


def test_chunked_response_passes(gateway):
    with Conn(gateway.port) as c:
        c.request("GET", "/public/bytes/200000?chunked=1")
        h = hashlib.sha256()
        r = c.read_response(sink=h.update)
        assert r.status == 200 and r.complete
        assert r.body_len == 200_000
        assert h.hexdigest() == pattern_sha256(200_000)
        c.request("GET", "/public/next")
        assert c.read_response().status == 200


def test_expect_100_continue(gateway):
    with Conn(gateway.port, timeout=3) as c:
        c.request("POST", "/public/echo", [("Expect", "100-continue"), ("Content-Length", "11")])
        version, status, _, _ = c.read_head()
        assert status == 100, "expected 100 Continue before the body is sent, got %d" % status
        c.send(b"hello world")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"hello world"


def test_expect_100_continue_refused_on_protected_route(gateway):
    # Auth fails before the body is wanted: a final status, not 100.
    with Conn(gateway.port, timeout=3) as c:
        c.request("POST", "/api/upload", [("Expect", "100-continue"), ("Content-Length", "11")])
        _, status, _, _ = c.read_head()
        assert status == 401


def _upload(port, n, chunked):
    h = hashlib.sha256()
    with Conn(port, timeout=30) as c:
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(n))
        c.request("POST", "/public/sink", [framing])
        for block in pattern_stream(n):
            h.update(block)
            c.send(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            c.send(b"0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200
    assert r.json() == {"bytes": n, "sha256": h.hexdigest()}


def _download(port, n, chunked):
    h = hashlib.sha256()
    with Conn(port, timeout=30) as c:
        c.request("GET", "/public/bytes/%d%s" % (n, "?chunked=1" if chunked else ""))
        r = c.read_response(sink=h.update)
    assert r.status == 200 and r.complete
    assert r.body_len == n
    return h.hexdigest()


def test_64mib_upload_streamed(gateway):
    _upload(gateway.port, 64 * MiB, chunked=False)


def test_64mib_chunked_upload_streamed(gateway):
    _upload(gateway.port, 64 * MiB, chunked=True)


def test_64mib_download_streamed(gateway):
    assert _download(gateway.port, 64 * MiB, chunked=False) == pattern_sha256(64 * MiB)


class RSSSampler:
    def __init__(self, pid, period=0.05):
        self.pid, self.period = pid, period
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from gwtest import rss_kib
        while not self._stop.is_set():
            self.samples.append(rss_kib(self.pid))
            time.sleep(self.period)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


@pytest.mark.slow
def test_1gib_streams_with_bounded_memory(gateway):
    n = 1024 * MiB
    # Warm up pools and buffers, then take the baseline.
    _upload(gateway.port, 4 * MiB, chunked=False)
    _download(gateway.port, 4 * MiB, chunked=False)
    baseline = gateway.rss_kib()
    with RSSSampler(gateway.pid) as s:
        _upload(gateway.port, n, chunked=False)
        assert _download(gateway.port, n, chunked=True) == pattern_sha256(n)
    growth = max(s.samples) - baseline
    assert growth < 16 * 1024, "gateway RSS grew by %d KiB streaming 1 GiB (baseline %d KiB)" % (growth, baseline)
