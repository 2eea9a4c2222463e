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
