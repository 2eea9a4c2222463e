"""Upstream failures (SPEC §4.6): 502, 504, truncated responses, retries."""

import socket
import time

from gwtest import Conn, free_port, metric_values


def test_upstream_down_is_502(start_gateway):
    gw = start_gateway(upstream_port=free_port())
    r = gw.get("/public/x")
    assert r.status == 502
    # And again, on a kept-alive client connection.
    with Conn(gw.port) as c:
        for _ in range(2):
            c.request("GET", "/public/y")
            assert c.read_response().status == 502


def upstream_errors(gw):
    return {labels["kind"]: v for labels, v in metric_values(gw.metrics(), "gateway_upstream_errors_total")}


def test_refused_connect_counts_once_and_is_not_retried_on_the_one_server(start_gateway):
    gw = start_gateway(upstream_port=free_port())
    for i in range(3):
        assert gw.get("/public/refused/%d" % i).status == 502
    errors = upstream_errors(gw)
    # One connect each: no second try on the only server, and no "reset" on top.
    assert errors.get("connect") == 3, errors
    assert errors.get("reset", 0) == 0, errors


def test_black_holed_single_server_costs_one_connect_timeout(start_gateway):
    # A listener whose backlog is full and which never accepts: SYNs are
    # dropped, so a connect can only time out (a firewall DROP, a dead host).
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    fillers = []
    try:
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(hole.getsockname())
            fillers.append(f)
        time.sleep(0.2)
        gw = start_gateway(upstream_port=hole.getsockname()[1],
                           extra={"upstreams.app": {"connect_timeout": "1s"}})
        started = time.monotonic()
        r = gw.get("/public/hole", timeout=10)
        waited = time.monotonic() - started
        assert r.status == 502
        assert waited < 1.9, "502 after %.2fs with connect_timeout 1s: retried on the same server" % waited
    finally:
        for f in fillers:
            f.close()
        hole.close()


def test_response_timeout_is_504(start_gateway):
    gw = start_gateway(extra={"upstreams.app": {"response_timeout": "1s"}})
    started = time.monotonic()
    r = gw.get("/public/slow/3000")
    waited = time.monotonic() - started
    assert r.status == 504
    assert 0.8 <= waited <= 2.8, "504 after %.2fs with response_timeout 1s" % waited
    # A fast request still works afterwards.
    assert gw.get("/public/fast").status == 200


def test_upstream_close_mid_body_closes_client(gateway):
    with Conn(gateway.port, timeout=5) as c:
        c.request("GET", "/public/close-mid")
        r = c.read_response()
        if r.status == 200:
            # Headers went out before the upstream failed: the only honest
            # signal left is closing the connection short of the length.
            assert not r.complete, "truncated body presented as complete: %r" % r
            assert r.body_len < 1000
            assert c.eof or c.is_closed(2.0)
        else:
            # The gateway noticed before sending anything: an error status.
            assert r.status in (502, 504), r
    assert gateway.get("/public/after").status == 200


def test_idempotent_get_retried_on_other_server(start_gateway, upstream):
    dead = free_port()
    gw = start_gateway(upstream_port=[dead, upstream.port])
    for i in range(12):
        r = gw.get("/public/retry/%d" % i)
        assert r.status == 200, "request %d: %r" % (i, r)


def test_upstream_connections_reused(gateway):
    # Several client connections in a row: the upstream should see pooled
    # keep-alive connections (Connection not "close").
    for i in range(5):
        echo = gateway.get("/public/pool/%d" % i).json()
        for k, v in echo["headers"]:
            if k.lower() == "connection":
                assert "close" not in v.lower()
