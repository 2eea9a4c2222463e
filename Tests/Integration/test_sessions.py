"""Sessions, refresh tokens and revocation with the embedded store (SPEC §7).

A login route with issue_session starts sessions; POST /auth/refresh rotates
refresh tokens (grace replay byte for byte, theft revokes the session);
/auth/logout ends a session; the admin revocation API adds, lists and lifts
revocations, acknowledged only once durable (kill -9 loses nothing).
"""

import json
import os
import signal
import time
import urllib.parse

import pytest

from gwtest import (AUDIENCE, HS_KID, HS_SECRET, ISSUER, Conn, admin_get, b64url_decode, metric_values,
                    std_claims, wait_until)

ADMIN_TOKEN = "admin-secret-for-tests-0123456789"
ROUTES = [
    {"prefix": "/login", "upstream": "app", "auth": "none", "issue_session": True},
    {"prefix": "/public/", "upstream": "app", "auth": "none"},
    {"prefix": "/", "upstream": "app", "auth": "required"},
]


def session_extra(grace="30s", cookie=None, store=None, **sessions):
    s = {"grace": grace, "access_ttl": "15m"}
    if cookie:
        s["cookie"] = cookie
    s.update(sessions)
    return {
        "refresh": {"enabled": True, "signing_key": HS_KID},
        "sessions": s,
        "store": store or {"state_dir": "state"},
        "admin": {"token_env": "GATEWAY_ADMIN_TOKEN"},
    }


def admin_env():
    env = dict(os.environ)
    env["GATEWAY_ADMIN_TOKEN"] = ADMIN_TOKEN
    return env


@pytest.fixture
def start_stateful(start_gateway):
    def start(routes=ROUTES, env=None, **kw):
        return start_gateway(routes=routes, extra=session_extra(**kw), env=env or admin_env())
    return start


def hs_token(**claims):
    import jwt
    return jwt.encode(std_claims(**claims), HS_SECRET, algorithm="HS256", headers={"kid": HS_KID})


def claims_of(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def login(gw, user="alice"):
    r = gw.request("POST", "/login", headers={"Content-Type": "application/x-www-form-urlencoded"},
                   body=("user=%s" % user).encode())
    assert r.status == 200, (r, r.body)
    return r


def refresh(gw, token, content_type="form", extra_headers=None):
    headers = dict(extra_headers or {})
    if content_type == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": token}).encode()
    elif content_type == "json":
        headers["Content-Type"] = "application/json"
        body = json.dumps({"grant_type": "refresh_token", "refresh_token": token}).encode()
    else:
        body = b""
    return gw.request("POST", "/auth/refresh", headers=headers, body=body)


def admin(gw, method, path, body=None, token=ADMIN_TOKEN):
    headers = [("Authorization", "Bearer " + token)]
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.append(("Content-Type", "application/json"))
    with Conn(gw.admin_port, timeout=10) as c:
        c.request(method, path, headers=headers + [("Connection", "close")], body=data)
        r = c.read_response(method)
    return r.status, (json.loads(r.body) if r.body else None)


def wait_status(gw, token, status, path="/api/x", timeout=5.0):
    return wait_until(lambda: gw.get(path, headers={"Authorization": "Bearer " + token}).status == status,
                      timeout, interval=0.02, what="status %d with the token" % status)


# ---------------------------------------------------------------------------
# Sessions

def test_login_starts_a_session_with_tokens(start_stateful):
    gw = start_stateful()
    r = login(gw, "alice")
    access, refresh_token = r.header("X-Refreshed-Token"), r.header("X-Refresh-Token")
    assert access and refresh_token and len(refresh_token) == 43
    assert r.header("Gateway-Session") is None, "the session header must not reach the client"
    assert "no-store" in r.header("Cache-Control", "")
    assert "X-Refresh-Token" in r.header("Access-Control-Expose-Headers", "")
    assert json.loads(r.body) == {"user": "alice"}, "the body passes unchanged"
    c = claims_of(access)
    assert c["sub"] == "alice" and c["name"] == "alice" and c["iss"] == ISSUER and c["aud"] == AUDIENCE
    assert len(c["sid"]) == 22 and c["auth_time"] == c["iat"] and c["exp"] - c["iat"] == 900
    assert gw.get("/api/me", headers={"Authorization": "Bearer " + access}).status == 200
    # A failed login starts nothing.
    bad = gw.request("POST", "/login", headers={"Content-Type": "application/x-www-form-urlencoded"},
                     body=b"user=fail")
    assert bad.status == 401 and bad.header("X-Refresh-Token") is None
    assert [v for l, v in metric_values(gw.metrics(), "gateway_sessions_total") if l["outcome"] == "started"] == [1]


def test_refresh_rotates_and_replays_within_grace(start_stateful):
    gw = start_stateful(grace="30s")
    first = login(gw).header("X-Refresh-Token")
    r1 = refresh(gw, first)
    assert r1.status == 200, r1.body
    assert "no-store" in r1.header("Cache-Control", "")
    doc = r1.json()
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 900
    assert doc["refresh_token"] != first and len(doc["refresh_token"]) == 43
    assert claims_of(doc["access_token"])["sub"] == "alice"
    assert gw.get("/api/x", headers={"Authorization": "Bearer " + doc["access_token"]}).status == 200
    # A retry (lost answer, second tab) inside grace: the very same bytes.
    r2 = refresh(gw, first, content_type="json")
    assert r2.status == 200 and r2.body == r1.body
    # The successor rotates in turn.
    r3 = refresh(gw, doc["refresh_token"])
    assert r3.status == 200 and r3.json()["refresh_token"] not in (first, doc["refresh_token"])
    outcomes = {l["outcome"]: v for l, v in metric_values(gw.metrics(), "gateway_sessions_total")}
    assert outcomes["refreshed"] == 2 and outcomes["grace_replay"] == 1


def test_reuse_after_grace_is_theft_and_revokes_the_session(start_stateful):
    gw = start_stateful(grace="1s")
    login_answer = login(gw)
    first, access = login_answer.header("X-Refresh-Token"), login_answer.header("X-Refreshed-Token")
    succ = refresh(gw, first).json()
    time.sleep(1.3)
    stolen = refresh(gw, first)
    assert stolen.status == 400 and stolen.json() == {"error": "invalid_grant"}
    # The whole family: the successor, and every access token of the session.
    assert refresh(gw, succ["refresh_token"]).status == 400
    for t in (access, succ["access_token"]):
        r = wait_status(gw, t, 401) and gw.get("/api/x", headers={"Authorization": "Bearer " + t})
        assert r.json()["error"] == "token_revoked"
    wait_until(lambda: [e for e in gw.access_log() if e.get("path") == "/api/x" and e.get("auth") == "revoked"],
               5, what="an access-log line with auth revoked")
    outcomes = {l["outcome"]: v for l, v in metric_values(gw.metrics(), "gateway_sessions_total")}
    assert outcomes["reuse_detected"] == 1


def test_refresh_errors(start_stateful):
    gw = start_stateful()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert gw.get("/auth/refresh").status == 405
    r = gw.request("POST", "/auth/refresh", headers=form, body=b"grant_type=password&refresh_token=x")
    assert r.status == 400 and r.json()["error"] == "unsupported_grant_type"
    r = gw.request("POST", "/auth/refresh", headers=form, body=b"grant_type=refresh_token&refresh_token=short")
    assert r.status == 400 and r.json()["error"] == "invalid_grant"
    unknown = "A" * 43
    assert refresh(gw, unknown).json() == {"error": "invalid_grant"}
    r = gw.request("POST", "/auth/refresh", headers=form, body=b"refresh_token=" + b"A" * 43)
    assert r.status == 400 and r.json()["error"] == "invalid_request", "grant_type is required"
    r = gw.request("POST", "/auth/refresh", headers=form,
                   body=b"grant_type=refresh_token&grant_type=refresh_token&refresh_token=" + b"A" * 43)
    assert r.status == 400 and r.json()["error"] == "invalid_request"
    r = gw.request("POST", "/auth/refresh", headers={"Content-Type": "application/json"}, body=b"{bad")
    assert r.status == 400
    r = gw.request("POST", "/auth/refresh", headers=form, body=b"x" * (17 * 1024))
    assert r.status == 413
    # None of these reached the upstream; the connection stays usable.
    with Conn(gw.port) as c:
        c.request("POST", "/auth/refresh", headers=list(form.items()), body=b"grant_type=refresh_token")
        assert c.read_response().status == 400
        c.request("GET", "/public/after")
        assert c.read_response().status == 200


def test_cookie_flow(start_stateful):
    gw = start_stateful(cookie="gw_refresh")
    r = login(gw)
    cookie = r.header("Set-Cookie")
    assert cookie.startswith("gw_refresh=" + r.header("X-Refresh-Token") + ";")
    for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/auth/"):
        assert attr in cookie, cookie
    # An empty body with the cookie is a refresh.
    r2 = gw.request("POST", "/auth/refresh", headers={"Cookie": "other=1; gw_refresh=%s" % r.header("X-Refresh-Token")},
                    body=b"")
    assert r2.status == 200, r2.body
    assert r2.header("Set-Cookie").startswith("gw_refresh=" + r2.json()["refresh_token"] + ";")
    # Logout with the cookie clears it.
    out = gw.request("POST", "/auth/logout", headers={"Cookie": "gw_refresh=%s" % r2.json()["refresh_token"]})
    assert out.status == 204
    assert "Max-Age=0" in out.header("Set-Cookie")
    assert refresh(gw, r2.json()["refresh_token"]).status == 400


def test_logout_with_the_access_token(start_stateful):
    gw = start_stateful()
    r = login(gw)
    access, rt = r.header("X-Refreshed-Token"), r.header("X-Refresh-Token")
    out = gw.request("POST", "/auth/logout", headers={"Authorization": "Bearer " + access})
    assert out.status == 204
    wait_status(gw, access, 401)
    assert refresh(gw, rt).status == 400
    # Again: still 204.
    assert gw.request("POST", "/auth/logout", headers={"Authorization": "Bearer " + access}).status == 204
    # Nothing to log out with.
    assert gw.request("POST", "/auth/logout").status == 400


# ---------------------------------------------------------------------------
# The revocation API

def test_revocation_api_and_enforcement(start_stateful):
    gw = start_stateful()
    token = hs_token(jti="tok-1")
    assert gw.get("/api/x", headers={"Authorization": "Bearer " + token}).status == 200
    status, entry = admin(gw, "POST", "/admin/v1/revocations", {"jti": "tok-1"})
    assert status == 201, entry
    assert entry["kind"] == "jti" and entry["jti"] == "tok-1" and entry["until"] > entry["created"]
    wait_status(gw, token, 401)
    r = gw.get("/api/x", headers={"Authorization": "Bearer " + token})
    assert r.json()["error"] == "token_revoked"
    # Idempotent: the same id.
    status, again = admin(gw, "POST", "/admin/v1/revocations", {"jti": "tok-1"})
    assert status == 201 and again["id"] == entry["id"]
    # Lift it.
    assert admin(gw, "DELETE", "/admin/v1/revocations/" + entry["id"])[0] == 204
    wait_status(gw, token, 200)
    assert admin(gw, "DELETE", "/admin/v1/revocations/" + entry["id"])[0] == 404


def test_revocation_by_subject_before(start_stateful):
    gw = start_stateful()
    old = hs_token(sub="bob", iat=int(time.time()) - 100)
    now = int(time.time())
    status, _ = admin(gw, "POST", "/admin/v1/revocations", {"sub": "bob", "before": now - 10})
    assert status == 201
    wait_status(gw, old, 401)
    assert gw.get("/api/x", headers={"Authorization": "Bearer " + hs_token(sub="bob")}).status == 200
    assert gw.get("/api/x", headers={"Authorization": "Bearer " + hs_token(sub="carol", iat=now - 100)}).status == 200


def test_revocation_api_rejects_bad_input(start_stateful):
    gw = start_stateful()
    for body in ({}, {"jti": "a", "sid": "b"}, {"sub": "x"}, {"jti": "a", "before": 1}, {"jti": ""},
                 {"jti": "a", "extra": 1}, {"jti": 5}, {"jti": "a", "until": 1}, ["jti"]):
        status, doc = admin(gw, "POST", "/admin/v1/revocations", body)
        assert status == 400 and doc["error"] == "invalid_request", (body, status, doc)
    assert admin(gw, "POST", "/admin/v1/revocations", {"jti": "a"}, token="wrong")[0] == 401
    assert admin(gw, "PUT", "/admin/v1/revocations")[0] == 405
    assert admin(gw, "GET", "/admin/v1/revocations?limit=0")[0] == 400
    assert admin(gw, "GET", "/admin/v1/revocations?cursor=nonsense")[0] == 400


def test_revocation_list_pages_oldest_first(start_stateful):
    gw = start_stateful()
    ids = [admin(gw, "POST", "/admin/v1/revocations", {"jti": "j%d" % i})[1]["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        path = "/admin/v1/revocations?limit=3" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        status, page = admin(gw, "GET", path)
        assert status == 200 and len(page["items"]) <= 3
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    # The gauge follows the view, which the view thread publishes just after the 201s.
    wait_until(lambda: {l["kind"]: v for l, v in metric_values(gw.metrics(), "gateway_revocations")}.get("jti") == 7,
               5, what="gateway_revocations{kind=jti} 7")


# ---------------------------------------------------------------------------
# Durability and the state directory

def test_acknowledged_revocations_survive_kill_9(start_stateful, tmp_path):
    gw = start_stateful()
    acked = []
    for i in range(40):
        status, entry = admin(gw, "POST", "/admin/v1/revocations", {"jti": "k9-%d" % i})
        assert status == 201
        acked.append(entry["id"])
    os.kill(gw.pid, signal.SIGKILL)
    gw.proc.wait(5)
    gw2 = restart(gw)
    status, page = admin(gw2, "GET", "/admin/v1/revocations?limit=1000")
    assert status == 200
    assert set(acked) <= {i["id"] for i in page["items"]}
    wait_status(gw2, hs_token(jti="k9-7"), 401)
    gw2.stop()


def restart(gw):
    """The same config and state_dir in a new process."""
    import subprocess
    from gwtest import gateway_bin
    with open(gw.stdout_path, "ab") as out, open(gw.stderr_path, "ab") as err:
        gw.proc = subprocess.Popen([str(gateway_bin()), "run", "--config", str(gw.config_path)],
                                   stdout=out, stderr=err, cwd=str(gw.workdir), env=gw.env)
    gw.pid = gw.proc.pid
    return gw.wait_healthy(10)


def test_second_process_on_the_same_state_dir_refuses(start_stateful):
    import subprocess
    from gwtest import gateway_bin
    gw = start_stateful()
    text = gw.config_path.read_text()
    # Same state_dir, other ports.
    from gwtest import free_port
    other = gw.workdir / "other.conf"
    other.write_text(text.replace(":%d\"" % gw.port, ":%d\"" % free_port())
                         .replace(":%d\"" % gw.admin_port, ":%d\"" % free_port()))
    p = subprocess.run([str(gateway_bin()), "run", "--config", str(other)], capture_output=True, text=True,
                       timeout=20, cwd=str(gw.workdir), env=gw.env)
    assert p.returncode != 0
    assert "in use by another gateway process" in p.stderr, p.stderr
    assert gw.get("/public/still").status == 200


def test_torn_tail_is_skipped_and_logged(start_stateful):
    gw = start_stateful()
    status, entry = admin(gw, "POST", "/admin/v1/revocations", {"jti": "before-tear"})
    assert status == 201
    gw.stop()
    log = gw.workdir / "state" / "state.log"
    with open(log, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02\x03\x04\x01")  # a record header promising 64 bytes, then 1
    restart(gw)
    assert "torn" in gw.stderr_text()
    status, page = admin(gw, "GET", "/admin/v1/revocations")
    assert entry["id"] in [i["id"] for i in page["items"]]
    status, _ = admin(gw, "POST", "/admin/v1/revocations", {"jti": "after-tear"})
    assert status == 201
    gw.stop()


def test_stateless_config_has_no_store(start_gateway):
    env = admin_env()
    gw = start_gateway(env=env, extra={"admin": {"token_env": "GATEWAY_ADMIN_TOKEN"}})
    assert not (gw.workdir / "state").exists()
    assert admin(gw, "GET", "/admin/v1/revocations")[0] == 404
    assert gw.request("POST", "/auth/refresh").status == 401, "no sessions: /auth/ is an ordinary route"


def test_readyz_and_store_metric(start_stateful):
    gw = start_stateful()
    status, _, body = admin_get(gw.admin_port, "/readyz")
    assert status == 200 and json.loads(body)["degraded"] == []
    assert metric_values(gw.metrics(), "gateway_store_up") == [({}, 1)]


def test_full_disk_refuses_without_acknowledging_and_keeps_serving(start_gateway, tmp_path):
    import subprocess
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): %s" % mounted.stderr.strip())
    try:
        gw = start_gateway(routes=ROUTES, extra=session_extra(store={"state_dir": str(disk / "state")}),
                           env=admin_env())
        acked, refused = [], None
        for i in range(2000):
            status, entry = admin(gw, "POST", "/admin/v1/revocations", {"jti": "fill-%04d-%s" % (i, "x" * 200)})
            if status == 201:
                acked.append(entry["id"])
                continue
            refused = (status, entry)
            break
        assert refused is not None, "a 32 KiB disk never filled up"
        assert refused == (503, {"error": "temporarily_unavailable"}), refused
        assert len(acked) > 10
        # Serving goes on; the store says it is failing; logins are refused cleanly.
        assert gw.get("/public/x").status == 200
        status, _, body = admin_get(gw.admin_port, "/readyz")
        assert status == 200 and json.loads(body)["degraded"], body
        assert metric_values(gw.metrics(), "gateway_store_up") == [({}, 0)]
        # Everything acknowledged is there after a restart.
        gw.stop()
        restart(gw)
        status, page = admin(gw, "GET", "/admin/v1/revocations?limit=1000")
        assert status == 200 and set(acked) <= {i["id"] for i in page["items"]}
        gw.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_gateway_revoke_command(start_stateful):
    from gwtest import run_cli
    gw = start_stateful()
    env = admin_env()
    conf = str(gw.config_path)
    p = run_cli("revoke", "--config", conf, "--jti", "cli-1", env=env)
    assert p.returncode == 0, p.stderr
    entry = json.loads(p.stdout)
    assert entry["jti"] == "cli-1"
    wait_status(gw, hs_token(jti="cli-1"), 401)
    p = run_cli("revoke", "--config", conf, "--sub", "dave", "--before", "now", env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["kind"] == "sub", p.stderr
    p = run_cli("revoke", "list", "--config", conf, "--limit", "10", env=env)
    assert p.returncode == 0 and [i["kind"] for i in json.loads(p.stdout)["items"]] == ["jti", "sub"]
    p = run_cli("revoke", "delete", "--config", conf, entry["id"], env=env)
    assert p.returncode == 0, p.stderr
    wait_status(gw, hs_token(jti="cli-1"), 200)
    # Unknown id, no kind, and no admin token: non-zero with a message.
    assert run_cli("revoke", "delete", "--config", conf, "nope", env=env).returncode == 1
    assert run_cli("revoke", "--config", conf, env=env).returncode != 0
    noenv = dict(env)
    noenv.pop("GATEWAY_ADMIN_TOKEN")
    p = run_cli("revoke", "--config", conf, "--jti", "x", env=noenv)
    assert p.returncode == 1 and "admin API is off" in p.stderr
