"""Strict HTTP/1.1 parsing (SPEC §4.1, RFC 9112): bad requests get an error
status and a closed connection, and the gateway keeps serving others."""

import time

import pytest

from gwtest import Conn

H = b"Host: gw.test\r\n"

# (id, raw request, expected status)
VECTORS = [
    ("cl-and-te", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-and-cl", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("two-different-cl", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("cl-list-differs", b"POST /public/echo HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("cl-not-a-number", b"POST /public/echo HTTP/1.1\r\n" + H + b"Content-Length: 1e3\r\n\r\n", 400),
    ("cl-negative", b"POST /public/echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    ("cl-plus-sign", b"POST /public/echo HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", 400),
    ("te-chunked-not-final", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked, x\r\n\r\n0\r\n\r\n", 400),
    ("te-unknown", b"POST /public/echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("te-chunked-twice", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad-chunk-size", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk-size-overflow", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk-size-negative", b"POST /public/echo HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400),
    ("obs-fold", b"GET /public/x HTTP/1.1\r\n" + H + b"X-A: 1\r\n  folded\r\n\r\n", 400),
    ("obs-fold-tab", b"GET /public/x HTTP/1.1\r\n" + H + b"X-A: 1\r\n\tfolded\r\n\r\n", 400),
    ("space-before-colon", b"GET /public/x HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n", 400),
    ("space-in-name", b"GET /public/x HTTP/1.1\r\n" + H + b"X A: 1\r\n\r\n", 400),
    ("empty-name", b"GET /public/x HTTP/1.1\r\n" + H + b": 1\r\n\r\n", 400),
    ("nul-in-value", b"GET /public/x HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("bare-cr-in-value", b"GET /public/x HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("bare-lf-in-head", b"GET /public/x HTTP/1.1\r\n" + H + b"X-A: 1\nX-B: 2\r\n\r\n", 400),
    ("missing-host", b"GET /public/x HTTP/1.1\r\nX-A: 1\r\n\r\n", 400),
    ("two-hosts", b"GET /public/x HTTP/1.1\r\n" + H + b"Host: other.test\r\n\r\n", 400),
    ("bad-request-line", b"GET /public/x\r\n" + H + b"\r\n", 400),
    ("bad-version", b"GET /public/x HTTP/1.x\r\n" + H + b"\r\n", 400),
    ("space-in-target", b"GET /public/a b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("dot-dot", b"GET /public/../secret HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("dot-dot-encoded", b"GET /public/%2e%2e/secret HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("dot-dot-encoded-upper", b"GET /public/%2E%2E/secret HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("dot-dot-mixed", b"GET /public/.%2e/secret HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("dot-dot-encoded-slash", b"GET /public/..%2Fsecret HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("dot-dot-at-end", b"GET /public/x/.. HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("single-dot", b"GET /public/./x HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("backslash", b"GET /public/a\\b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("backslash-encoded", b"GET /public/..%5Csecret HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("absolute-form-foreign-host", b"GET http://evil.example/public/x HTTP/1.1\r\nHost: evil.example\r\n\r\n",
     400),
    ("asterisk-form-get", b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400),
    # Host is one name or IP literal with an optional port, never a list
    # (frameworks split on commas and build links from the first element).
    ("host-list", b"GET /public/x HTTP/1.1\r\nHost: gw.test,evil.example\r\n\r\n", 400),
    ("host-sub-delim", b"GET /public/x HTTP/1.1\r\nHost: gw.test;evil\r\n\r\n", 400),
    ("host-escape", b"GET /public/x HTTP/1.1\r\nHost: gw%2etest\r\n\r\n", 400),
    ("host-bad-port", b"GET /public/x HTTP/1.1\r\nHost: gw.test:80x\r\n\r\n", 400),
    ("two-authorization", b"GET /public/x HTTP/1.1\r\n" + H
     + b"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n", 400),
]


def _expect_rejected(gw, raw, status):
    with Conn(gw.port, timeout=3) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == status, "expected %d, got %r" % (status, r)
        assert c.is_closed(2.0), "connection left open after %d" % status


def _expect_served(gw):
    r = gw.get("/public/after")
    assert r.status == 200
    assert r.json()["path"] == "/public/after"


@pytest.fixture(scope="module")
def strict_gw(request, tmp_path_factory, upstream):
    # One gateway for the whole vector table keeps the module fast; each
    # vector uses its own connection.
    from gwtest import Gateway, free_port, make_config
    lp, ap = free_port(), free_port()
    gw = Gateway(tmp_path_factory.mktemp("strict"), make_config(upstream.port, lp, ap), lp, ap, upstream.port)
    try:
        gw.wait_healthy(10)
    except AssertionError:
        gw.stop()
        raise
    yield gw
    gw.stop()


@pytest.mark.parametrize("raw,status", [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS])
def test_rejected_and_closed(strict_gw, raw, status):
    _expect_rejected(strict_gw, raw, status)
    _expect_served(strict_gw)


def test_dot_segment_cannot_reach_protected_prefix(strict_gw):
    # /public/ is open, / is protected: neither form may turn into a 200.
    for target in (b"/public/../api", b"/public/%2e%2e/api", b"/public/..%2fapi"):
        _expect_rejected(strict_gw, b"GET " + target + b" HTTP/1.1\r\n" + H + b"\r\n", 400)


def test_header_over_max_header_bytes_is_431(start_gateway):
    gw = start_gateway(extra={"server": {"max_header_bytes": 4096}})
    assert gw.get("/public/fits", headers={"X-Pad": "a" * 2000}).status == 200
    raw = b"GET /public/x HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 6000 + b"\r\n\r\n"
    _expect_rejected(gw, raw, 431)
    _expect_served(gw)


def test_many_headers_over_max_header_bytes_is_431(start_gateway):
    gw = start_gateway(extra={"server": {"max_header_bytes": 4096}})
    raw = b"GET /public/x HTTP/1.1\r\n" + H + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(150)) \
        + b"\r\n"
    _expect_rejected(gw, raw, 431)
    _expect_served(gw)


def test_content_length_over_max_body_bytes_is_413(start_gateway):
    gw = start_gateway(extra={"server": {"max_body_bytes": 1000}})
    assert gw.request("POST", "/public/echo", body=b"x" * 1000).body == b"x" * 1000
    # Head only: the declared length alone is enough to refuse.
    _expect_rejected(gw, b"POST /public/echo HTTP/1.1\r\n" + H + b"Content-Length: 5000\r\n\r\n", 413)
    _expect_served(gw)


def test_chunked_body_over_max_body_bytes_is_413(start_gateway):
    gw = start_gateway(extra={"server": {"max_body_bytes": 1000}})
    body = b"".join(b"100\r\n" + b"y" * 256 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n"
    _expect_rejected(gw, b"POST /public/sink HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + body, 413)
    _expect_served(gw)


def test_slow_headers_get_408(start_gateway):
    gw = start_gateway(extra={"server": {"client_timeout": "1s"}})
    with Conn(gw.port, timeout=5) as c:
        c.send(b"GET /public/slow-head HTTP/1.1\r\n" + H)
        started = time.monotonic()
        r = c.read_response()
        waited = time.monotonic() - started
        assert r.status == 408
        assert 0.8 <= waited <= 4.0, "408 after %.2fs with client_timeout 1s" % waited
        assert c.is_closed(2.0)
    _expect_served(gw)
