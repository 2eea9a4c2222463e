"""Transparent refresh (SPEC §6) on the real binary.

A token close to expiry gets a new one in the response header; every request
with the same old token gets the same new one (also from a second gateway
process with the same key); caps stop it; claim updates from the upstream are
merged, never for reserved claims, and their header never reaches a client.

The upstream here is a small in-test server, so it can answer with
Gateway-Update-Claims and 401 on demand.
"""
import concurrent.futures
import http.server
import json
import threading
import time
import urllib.parse

import jwt
import pytest

import gwtest
from gwtest import AUDIENCE, HS_KID, HS_SECRET, ISSUER, free_port, metric_values

REFRESH_HEADER = "X-Refreshed-Token"


class ClaimsUpstream(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of 20 concurrent connects
    # from the gateway overflowed it on a loaded machine (SYNs dropped and
    # retried, now and then a 502).
    request_queue_size = 128


class ClaimsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        status = int(q.get("status", ["200"])[0])
        body = json.dumps({"path": url.path, "auth": self.headers.get("Authorization", "")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if "claims" in q:
            self.send_header("Gateway-Update-Claims", q["claims"][0])
        if "expose" in q:
            self.send_header("Access-Control-Expose-Headers", q["expose"][0])
        if "cache" in q:
            self.send_header("Cache-Control", q["cache"][0])
            self.send_header("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")
            self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def claims_upstream():
    server = ClaimsUpstream(("127.0.0.1", 0), ClaimsHandler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()


ROUTES = [
    {"prefix": "/claims/", "upstream": "app", "auth": "required", "claim_updates": True},
    {"prefix": "/", "upstream": "app", "auth": "required"},
]

REFRESH = {"enabled": True, "window": "5m", "ttl": "15m", "max_session": "72h",
           "max_refreshes": 50, "signing_key": HS_KID}


@pytest.fixture
def refreshing(start_gateway, claims_upstream):
    def start():
        return start_gateway(routes=ROUTES, upstream_port=claims_upstream, extra={"refresh": dict(REFRESH)})
    return start


def mint(exp_in, **claims):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now - 600, "exp": now + exp_in,
            "jti": "old-jti-1", "role": "reader"}
    body.update(claims)
    return jwt.encode(body, HS_SECRET, algorithm="HS256", headers={"kid": HS_KID})


def decode(token):
    return jwt.decode(token, HS_SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)


def away_from_quantum_boundary(margin=3.0):
    """Reissued tokens are identical within one 30 s iat quantum; a burst that
    straddles a boundary may legitimately get two. Start bursts well inside."""
    left = 30 - (time.time() % 30)
    if left < margin:
        time.sleep(left + 0.1)


def get(gw, target, token):
    return gw.get(target, headers={"Authorization": "Bearer " + token})


def refresh_outcomes(gw):
    return {labels["outcome"]: v for labels, v in metric_values(gw.metrics(), "gateway_refreshes_total")}


def test_near_expiry_token_gets_a_new_one_that_works(refreshing):
    gw = refreshing()
    old = mint(60)
    r = get(gw, "/x", old)
    assert r.status == 200
    new = r.header(REFRESH_HEADER)
    assert new, "no refreshed token on a token with 60 s left and a 5 m window"
    assert REFRESH_HEADER.lower() in r.header("Access-Control-Expose-Headers", "").lower()

    claims = decode(new)  # an independent library accepts it
    old_claims = jwt.decode(old, options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["role"] == "reader"
    assert claims["rfc"] == 1
    assert claims["auth_time"] == old_claims["iat"], "auth_time is the session start (old iat when absent)"
    assert claims["jti"] != old_claims["jti"]
    assert claims["exp"] - claims["iat"] <= 15 * 60
    assert claims["exp"] > old_claims["exp"]
    assert jwt.get_unverified_header(new)["kid"] == HS_KID

    # The new token is accepted, and being fresh it is not refreshed again.
    r2 = get(gw, "/x", new)
    assert r2.status == 200
    assert r2.header(REFRESH_HEADER) is None
    # Access-log lines are flushed in batches (every 100 ms).
    gwtest.wait_until(lambda: any(e.get("auth") == "refreshed" for e in gw.access_log()), 3,
                      what="an access-log line with auth=refreshed")


def test_refreshed_response_is_never_cacheable(refreshing):
    """A shared cache must never keep one user's new token for another
    (SPEC §4.5): the upstream's caching fields give way to no-store."""
    gw = refreshing()
    r = get(gw, "/x?cache=" + urllib.parse.quote("public, max-age=300"), mint(60))
    assert r.status == 200
    assert r.header(REFRESH_HEADER)
    assert r.header_all("Cache-Control") == ["no-store"]
    assert r.header("Expires") is None
    assert [v.strip() for v in r.header("Vary").split(",")] == ["Accept-Encoding", "Authorization"]
    # Without a minted token the upstream's caching fields pass untouched.
    r2 = get(gw, "/x?cache=" + urllib.parse.quote("public, max-age=300"), mint(3600))
    assert r2.header(REFRESH_HEADER) is None
    assert r2.header_all("Cache-Control") == ["public, max-age=300"]
    assert r2.header("Expires") is not None


def test_token_outside_the_window_is_not_refreshed(refreshing):
    gw = refreshing()
    r = get(gw, "/x", mint(3600))
    assert r.status == 200
    assert r.header(REFRESH_HEADER) is None


def test_expired_token_within_leeway_is_served_but_never_refreshed(refreshing):
    gw = refreshing()
    r = get(gw, "/x", mint(-5))  # default leeway 30 s
    assert r.status == 200
    assert r.header(REFRESH_HEADER) is None


def test_expired_token_is_refused_with_token_expired(refreshing):
    gw = refreshing()
    r = get(gw, "/x", mint(-3600))
    assert r.status == 401
    assert r.json()["error"] == "token_expired"
    assert r.header(REFRESH_HEADER) is None


def test_twenty_concurrent_requests_get_one_new_token(refreshing):
    gw = refreshing()
    old = mint(60)
    away_from_quantum_boundary()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: get(gw, "/x", old), range(20)))
    assert all(r.status == 200 for r in responses)
    tokens = {r.header(REFRESH_HEADER) for r in responses}
    assert len(tokens) == 1 and None not in tokens, "got %d distinct new tokens" % len(tokens)


def test_two_gateway_processes_agree(refreshing):
    a, b = refreshing(), refreshing()
    old = mint(60)
    away_from_quantum_boundary()
    ta = get(a, "/x", old).header(REFRESH_HEADER)
    tb = get(b, "/x", old).header(REFRESH_HEADER)
    assert ta and ta == tb


def test_claim_update_is_merged_and_reserved_claims_are_untouched(refreshing):
    gw = refreshing()
    update = json.dumps({"phone_number": "+1 555 0100", "sub": "mallory", "rfc": 99, "exp": 1})
    r = get(gw, "/claims/me?claims=" + urllib.parse.quote(update), mint(3600))
    assert r.status == 200
    assert r.header("Gateway-Update-Claims") is None, "the update header must not reach the client"
    new = r.header(REFRESH_HEADER)
    assert new, "a claim update reissues even outside the window"
    claims = decode(new)
    assert claims["phone_number"] == "+1 555 0100"
    assert claims["sub"] == "alice"
    assert claims["rfc"] == 1
    assert claims["exp"] > time.time() + 60
    assert refresh_outcomes(gw).get("claims_updated", 0) >= 1


def test_update_header_is_removed_and_ignored_on_other_routes(refreshing):
    gw = refreshing()
    update = json.dumps({"role": "admin"})
    r = get(gw, "/other?claims=" + urllib.parse.quote(update), mint(3600))
    assert r.status == 200
    assert r.header("Gateway-Update-Claims") is None
    assert r.header(REFRESH_HEADER) is None


def test_malformed_claim_update_is_ignored_and_counted(refreshing):
    gw = refreshing()
    r = get(gw, "/claims/me?claims=" + urllib.parse.quote("{not json"), mint(3600))
    assert r.status == 200
    assert r.header("Gateway-Update-Claims") is None
    assert r.header(REFRESH_HEADER) is None
    assert refresh_outcomes(gw).get("error", 0) >= 1


def test_refresh_count_cap(refreshing):
    gw = refreshing()
    r = get(gw, "/x", mint(60, rfc=50))
    assert r.status == 200
    assert r.header(REFRESH_HEADER) is None
    r = get(gw, "/x", mint(60, rfc=49))
    assert decode(r.header(REFRESH_HEADER))["rfc"] == 50
    assert refresh_outcomes(gw).get("capped_count", 0) >= 1


def test_session_age_cap(refreshing):
    gw = refreshing()
    r = get(gw, "/x", mint(60, auth_time=int(time.time()) - 73 * 3600))
    assert r.status == 200
    assert r.header(REFRESH_HEADER) is None
    assert refresh_outcomes(gw).get("capped_age", 0) >= 1


def test_new_token_never_outlives_the_session(refreshing):
    gw = refreshing()
    start = int(time.time()) - 72 * 3600 + 120  # two minutes of session left
    new = get(gw, "/x", mint(60, auth_time=start)).header(REFRESH_HEADER)
    assert new
    assert decode(new)["exp"] <= start + 72 * 3600


@pytest.mark.parametrize("status", [401, 403])
def test_no_new_token_when_the_upstream_refuses(refreshing, status):
    gw = refreshing()
    r = get(gw, "/x?status=%d" % status, mint(60))
    assert r.status == status
    assert r.header(REFRESH_HEADER) is None


def test_expose_header_is_joined_with_the_upstream_list(refreshing):
    gw = refreshing()
    r = get(gw, "/x?expose=X-Custom", mint(60))
    exposed = [v.strip().lower() for v in r.header("Access-Control-Expose-Headers", "").split(",")]
    assert "x-custom" in exposed and REFRESH_HEADER.lower() in exposed
