"""Persistent connections (RFC 9112 §9): reuse, pipelining, HTTP/1.0,
Connection: close, idle timeout."""

import time

from gwtest import Conn


def test_one_connection_serves_many_requests(gateway):
    with Conn(gateway.port) as c:
        for i in range(25):
            c.request("GET", "/public/ka/%d" % i)
            r = c.read_response()
            assert r.status == 200
            assert r.json()["path"] == "/public/ka/%d" % i
            assert "close" not in (r.header("Connection") or "").lower()
        # Bodies in both directions on the same connection too.
        c.request("POST", "/public/echo", body=b"abc")
        assert c.read_response().body == b"abc"
        c.request("GET", "/public/bytes/5000")
        assert c.read_response().body_len == 5000
        c.request("GET", "/public/last")
        assert c.read_response().status == 200


def test_pipelined_requests_answered_in_order(gateway):
    with Conn(gateway.port) as c:
        host = "Host: 127.0.0.1:%d\r\n" % gateway.port
        c.send("".join("GET /public/p/%d HTTP/1.1\r\n%s\r\n" % (i, host) for i in range(3)).encode())
        for i in range(3):
            r = c.read_response()
            assert r.status == 200
            assert r.json()["path"] == "/public/p/%d" % i


def test_pipelined_slow_first_keeps_order(gateway):
    with Conn(gateway.port) as c:
        host = "Host: 127.0.0.1:%d\r\n" % gateway.port
        c.send(("GET /public/slow/300 HTTP/1.1\r\n%s\r\n"
                "POST /public/echo HTTP/1.1\r\n%sContent-Length: 4\r\n\r\nbody"
                "GET /public/third HTTP/1.1\r\n%s\r\n" % (host, host, host)).encode())
        assert c.read_response().json()["path"] == "/public/slow/300"
        assert c.read_response().body == b"body"
        assert c.read_response().json()["path"] == "/public/third"


def test_http10_without_keepalive_closes(gateway):
    with Conn(gateway.port) as c:
        c.request("GET", "/public/old", version="HTTP/1.0")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["path"] == "/public/old"
        assert c.is_closed(2.0)


def test_http10_without_host_is_served(gateway):
    with Conn(gateway.port) as c:
        c.send(b"GET /public/nohost HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        # Forwarded as HTTP/1.1, which needs a Host: the upstream group's name.
        hosts = [v for k, v in r.json()["headers"] if k.lower() == "host"]
        assert hosts == ["app"]
        assert c.is_closed(2.0)


def test_http10_keepalive_is_kept(gateway):
    with Conn(gateway.port) as c:
        for i in range(3):
            c.request("GET", "/public/old-ka/%d" % i, headers=[("Connection", "keep-alive")], version="HTTP/1.0")
            r = c.read_response()
            assert r.status == 200
            assert r.json()["path"] == "/public/old-ka/%d" % i
            # An HTTP/1.0 client cannot read chunked framing (RFC 9112 §6.1).
            assert r.header("Transfer-Encoding") is None
            assert "keep-alive" in (r.header("Connection") or "").lower()


def test_http10_gets_chunked_upstream_body_unchunked(gateway):
    with Conn(gateway.port) as c:
        c.request("GET", "/public/bytes/3000?chunked=1", version="HTTP/1.0")
        r = c.read_response()
        assert r.status == 200
        assert r.header("Transfer-Encoding") is None
        assert r.body_len == 3000
        assert c.eof or c.is_closed(2.0)


def test_connection_close_is_honoured(gateway):
    with Conn(gateway.port) as c:
        c.request("GET", "/public/bye", headers=[("Connection", "close")])
        r = c.read_response()
        assert r.status == 200
        assert "close" in (r.header("Connection") or "").lower()
        assert c.is_closed(2.0)


def test_idle_keepalive_closed_after_client_timeout(start_gateway):
    gw = start_gateway(extra={"server": {"client_timeout": "1s"}})
    with Conn(gw.port) as c:
        c.request("GET", "/public/idle")
        assert c.read_response().status == 200
        started = time.monotonic()
        assert c.is_closed(4.0), "idle connection still open after 4s (client_timeout 1s)"
        waited = time.monotonic() - started
        assert 0.7 <= waited <= 3.5, "closed after %.2fs" % waited


def test_active_connection_not_closed_by_client_timeout(start_gateway):
    gw = start_gateway(extra={"server": {"client_timeout": "1s"}})
    with Conn(gw.port) as c:
        # Requests every 0.4 s for 2.4 s: the idle timer restarts each time.
        for i in range(6):
            c.request("GET", "/public/busy/%d" % i)
            assert c.read_response().status == 200
            time.sleep(0.4)
