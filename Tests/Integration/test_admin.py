"""Admin listener (SPEC §8): /healthz, /readyz, /metrics, admin API off."""

import json

from gwtest import admin_get, free_port, metric_values, wait_until


def test_healthz(gateway):
    status, _, body = admin_get(gateway.admin_port, "/healthz")
    assert status == 200
    assert body.strip() == b"ok"


def _readyz(gw):
    status, headers, body = admin_get(gw.admin_port, "/readyz")
    return status, json.loads(body)


def test_readyz_ready(gateway):
    status, doc = wait_until(lambda: (lambda s: s if s[0] == 200 else None)(_readyz(gateway)), 5,
                             what="/readyz 200")
    assert doc == {"ready": True, "reasons": [], "degraded": []}


def test_readyz_not_ready_when_upstream_down_then_recovers(start_gateway, start_upstream):
    port = free_port()
    gw = start_gateway(upstream_port=port, extra={"upstreams.app": {"health_check_interval": "500ms"}})

    def not_ready():
        status, doc = _readyz(gw)
        return (status, doc) if status == 503 and "upstream app: no healthy server" in doc.get("reasons", []) \
            else None
    status, doc = wait_until(not_ready, 5, what="/readyz 503 with the upstream reason")
    assert doc["ready"] is False
    assert isinstance(doc["degraded"], list)

    start_upstream(port)
    wait_until(lambda: _readyz(gw)[0] == 200, 5, what="/readyz 200 after the upstream came up")
    assert gw.get("/public/back").status == 200


def test_metrics(gateway):
    assert gateway.get("/public/m").status == 200
    assert gateway.get("/api/m").status == 401
    status, headers, body = admin_get(gateway.admin_port, "/metrics")
    assert status == 200
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert ctype.startswith("text/plain")
    text = body.decode()
    for name in ("gateway_requests_total", "gateway_connections_open", "gateway_build_info"):
        assert metric_values(text, name), "%s missing from /metrics" % name
    statuses = {labels.get("status") for labels, _ in metric_values(text, "gateway_requests_total")}
    assert {"200", "401"} <= statuses
    assert all(v >= 1 for _, v in metric_values(text, "gateway_requests_total"))
    assert any("version" in labels for labels, _ in metric_values(text, "gateway_build_info"))
    assert "# TYPE gateway_requests_total counter" in text


def test_admin_api_off_without_token_env(gateway):
    status, _, _ = admin_get(gateway.admin_port, "/admin/v1/revocations")
    assert status == 404


def test_admin_unknown_path_is_404(gateway):
    assert admin_get(gateway.admin_port, "/nope")[0] == 404


def test_admin_bodies_are_read_whole_and_keep_the_connection(gateway):
    # A request with a body (fixed or chunked) is read to its end, so the
    # next request on the same connection parses cleanly.
    from gwtest import Conn
    with Conn(gateway.admin_port, timeout=5) as c:
        c.request("POST", "/admin/v1/revocations", body=b'{"sub":"alice"}' * 100)
        r = c.read_response()
        assert r.status == 404 and r.json() == {"error": "not_found"}
        c.request("POST", "/admin/v1/revocations", headers=[("Transfer-Encoding", "chunked")],
                  body=b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n")
        assert c.read_response().status == 404
        c.request("GET", "/healthz")
        r = c.read_response()
        assert r.status == 200 and r.body == b"ok\n"


def test_admin_bodies_over_64kib_are_413(gateway):
    from gwtest import Conn
    # Declared too large: refused at the head, nothing read.
    with Conn(gateway.admin_port, timeout=5) as c:
        c.request("POST", "/admin/v1/revocations", headers=[("Content-Length", str(64 * 1024 + 1))])
        r = c.read_response()
        assert r.status == 413 and r.json() == {"error": "payload_too_large"}
        assert c.is_closed(3.0)
    # Chunked past the limit: refused as it arrives, the answer still
    # readable although the rest of the body is never read.
    with Conn(gateway.admin_port, timeout=5) as c:
        chunk = b"%x\r\n%s\r\n" % (16 * 1024, b"z" * 16 * 1024)
        c.request("POST", "/admin/v1/revocations", headers=[("Transfer-Encoding", "chunked")], body=chunk * 5)
        r = c.read_response()
        assert r.status == 413
    # Exactly 64 KiB is fine.
    with Conn(gateway.admin_port, timeout=5) as c:
        c.request("POST", "/admin/v1/revocations", body=b"x" * (64 * 1024))
        assert c.read_response().status == 404
