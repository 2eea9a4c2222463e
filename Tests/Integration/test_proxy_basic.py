"""Requests pass through with the forwarding rules of SPEC §4.4; 404; 401."""

import json

from gwtest import Conn, echo_headers


def test_get_passes_through(gateway):
    r = gateway.get("/public/hello?x=1")
    assert r.status == 200
    echo = r.json()
    assert echo["method"] == "GET"
    assert echo["path"] == "/public/hello?x=1"


def test_post_body_passes_through(gateway):
    r = gateway.request("POST", "/public/echo", headers={"Content-Type": "text/plain"}, body=b"hello, upstream")
    assert r.status == 200
    assert r.body == b"hello, upstream"
    assert r.header("Content-Type") == "text/plain"


def test_upstream_status_and_headers_come_back(gateway):
    r = gateway.get("/public/status/418")
    assert r.status == 418
    assert r.json() == {"status": 418}
    assert r.header("Server", "").startswith("demo-upstream")


def test_head_has_no_body(gateway):
    with Conn(gateway.port) as c:
        c.request("HEAD", "/public/bytes/100")
        r = c.read_response("HEAD")
        assert r.status == 200
        assert r.header("Content-Length") == "100"
        # The connection must still be usable: no stray body bytes.
        c.request("GET", "/public/after-head")
        assert c.read_response().json()["path"] == "/public/after-head"


def test_end_to_end_headers_forwarded(gateway):
    r = gateway.get("/public/h", headers=[("X-Custom", "one"), ("X-Custom", "two"), ("Accept", "text/x-test"),
                                          ("User-Agent", "gw-it/1")])
    echo = r.json()
    assert echo_headers(echo, "X-Custom") in (["one", "two"], ["one, two"])
    assert echo_headers(echo, "Accept") == ["text/x-test"]
    assert echo_headers(echo, "User-Agent") == ["gw-it/1"]
    assert len(echo_headers(echo, "Host")) == 1


def _joined(echo, name):
    return ", ".join(echo_headers(echo, name))


def test_x_forwarded_for_appended(gateway):
    echo = gateway.get("/public/xff", headers={"X-Forwarded-For": "a, b"}).json()
    assert _joined(echo, "X-Forwarded-For") == "a, b, 127.0.0.1"


def test_x_forwarded_for_set_when_absent(gateway):
    echo = gateway.get("/public/xff").json()
    assert _joined(echo, "X-Forwarded-For") == "127.0.0.1"


def test_x_forwarded_proto_and_host_replaced(gateway):
    # A client's copies are dropped (SPEC §4.4): upstreams that read the first
    # value would otherwise build links from them.
    echo = gateway.get("/public/xfp", headers={"X-Forwarded-Proto": "https",
                                               "X-Forwarded-Host": "evil.example"}).json()
    assert _joined(echo, "X-Forwarded-Proto") == "http"
    host = _joined(echo, "X-Forwarded-Host")
    assert host.startswith("127.0.0.1:") and "evil" not in host


def test_request_id_added_when_absent(gateway):
    ids = set()
    for _ in range(3):
        echo = gateway.get("/public/rid").json()
        values = echo_headers(echo, "X-Request-Id")
        assert len(values) == 1 and values[0].strip() != ""
        ids.add(values[0])
    assert len(ids) == 3, "request ids must differ per request"


def test_request_id_kept_when_present(gateway):
    echo = gateway.get("/public/rid", headers={"X-Request-Id": "client-id-123"}).json()
    assert echo_headers(echo, "X-Request-Id") == ["client-id-123"]


def test_hop_by_hop_headers_removed(gateway):
    headers = [
        ("Connection", "keep-alive, X-Hop-Named"),
        ("X-Hop-Named", "secret"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Trailing"),
        ("Proxy-Connection", "keep-alive"),
        ("X-End-To-End", "kept"),
    ]
    with Conn(gateway.port) as c:
        c.request("GET", "/public/hop", headers)
        echo = c.read_response().json()
    names = {k.lower() for k, _ in echo["headers"]}
    for gone in ("x-hop-named", "keep-alive", "te", "trailer", "proxy-connection"):
        assert gone not in names, "%s reached the upstream" % gone
    for v in echo_headers(echo, "Connection"):
        assert "x-hop-named" not in v.lower()
    assert echo_headers(echo, "X-End-To-End") == ["kept"]


def test_target_forwarded_byte_for_byte(gateway):
    # An already-normal target (SPEC §4.1) goes up unchanged, query and all.
    for target in ("/public/a%2Cb?x=1&y=%20", "/public/~user/A%2A?q=%2F%2f&&z", "/public/x;p=1?"):
        echo = gateway.get(target).json()
        assert echo["path"] == target


def test_target_forwarded_normalized(gateway):
    # Otherwise the normalized path goes up (what routing read); the query
    # is still byte for byte. test_path_normalization.py has the rest.
    echo = gateway.get("/public/%7Euser//A%2a?q=%2F%2f&&z").json()
    assert echo["path"] == "/public/~user/A%2A?q=%2F%2f&&z"
    assert gateway.get("/public/a%2Fb?x=1").status == 400


def test_no_route_is_404(start_gateway):
    gw = start_gateway(routes=[{"prefix": "/public/", "upstream": "app", "auth": "none"}])
    assert gw.get("/public/x").status == 200
    r = gw.get("/other/x")
    assert r.status == 404
    assert gw.get("/").status == 404


def test_longest_prefix_wins(start_gateway):
    gw = start_gateway(routes=[
        {"prefix": "/", "upstream": "app", "auth": "required"},
        {"prefix": "/public/", "upstream": "app", "auth": "none"},
        {"prefix": "/public/private/", "upstream": "app", "auth": "required"},
    ])
    assert gw.get("/public/x").status == 200
    assert gw.get("/public/private/x").status == 401
    assert gw.get("/x").status == 401


def test_required_route_without_token_is_401(gateway):
    r = gateway.get("/api/thing")
    assert r.status == 401
    assert r.header("WWW-Authenticate") == 'Bearer realm="gateway"'
    assert r.header("Content-Type", "").startswith("application/json")
    body = json.loads(r.body)
    assert body["error"] == "missing_token"
    assert "error_description" in body


def test_access_log_line_per_request(gateway):
    gateway.get("/public/logged?token=should-not-appear")
    from gwtest import wait_until
    lines = wait_until(lambda: [l for l in gateway.access_log() if l.get("path") == "/public/logged"], 5,
                       what="access log line")
    line = lines[0]
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert "should-not-appear" not in gateway.stdout_text()
    for field in ("time", "client", "route", "upstream", "duration_ms", "bytes_in", "bytes_out", "auth",
                  "request_id"):
        assert field in line, field


def test_access_log_fields_belong_to_their_own_exchange(start_gateway):
    # Two identical requests on one keep-alive connection log the same
    # bytes_out (they used to add up), and an upload the client stalls after
    # a 401 on the same connection logs 408, not the 401 before it.
    from gwtest import Conn, wait_until
    gw = start_gateway(extra={"server": {"client_timeout": "1s"}})
    with Conn(gw.port, timeout=5) as c:
        for _ in range(2):
            c.request("GET", "/public/same")
            assert c.read_response().status == 200
        c.request("GET", "/private/x")
        assert c.read_response().status == 401
        c.send(b"POST /public/stalled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789")
        assert c.is_closed(4.0)

    def same():
        found = [l for l in gw.access_log() if l.get("path") == "/public/same"]
        return found if len(found) == 2 else None
    lines = wait_until(same, 5, what="two log lines")
    assert lines[0]["bytes_out"] == lines[1]["bytes_out"] > 0
    assert lines[0]["bytes_in"] == lines[1]["bytes_in"] > 0
    stalled = wait_until(lambda: [l for l in gw.access_log() if l.get("path") == "/public/stalled"], 5,
                         what="stalled upload logged")
    assert stalled[0]["status"] == 408, json.dumps(stalled[0])
    assert stalled[0]["bytes_in"] == len(b"POST /public/stalled HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                         b"Content-Length: 100\r\n\r\n") + 10
