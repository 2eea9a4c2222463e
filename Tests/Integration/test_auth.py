"""Token validation end to end (SPEC §5): every algorithm cross-checked with
PyJWT in both directions, claims, sources, scopes, optional routes,
forward_claims, the access log and the auth metrics.

Attacks (forged, malformed, confused tokens) are in test_auth_attacks.py.
Every rejection is checked for status, JSON `error`, WWW-Authenticate, and
that the upstream never saw the request (demo upstream /__stats).
"""

import json
import time

import pytest

jwt = pytest.importorskip("jwt")

import gwtest  # noqa: E402
from gwtest import (ALL_ALGS, AUDIENCE, HS_SECRET, ISSUER, assert_auth_answer, bearer, echo_headers,  # noqa: E402
                    run_cli, std_claims, unique_path, upstream_hits, wait_until)

FORWARD = {"sub": "X-Auth-Subject", "email": "X-Auth-Email", "roles": "X-Auth-Roles"}
ROUTES = [
    {"prefix": "/public/", "upstream": "app", "auth": "none"},
    {"prefix": "/opt/", "upstream": "app", "auth": "optional"},
    {"prefix": "/scoped/", "upstream": "app", "auth": "required", "scopes": ["read", "write"]},
    {"prefix": "/", "upstream": "app", "auth": "required"},
]
TOKENS = {"sources": ["header", "cookie:at", "query:access_token"], "forward_claims": FORWARD}


@pytest.fixture(scope="module")
def gw(start_module_gateway, auth_keys):
    """One gateway holding a key for every alg (public_key_file / secret_file)."""
    return start_module_gateway(routes=ROUTES, extra={"tokens": TOKENS},
                                keys=[k.config("public") for k in auth_keys.values()])


def passes(gateway, headers, prefix="/", target_suffix=""):
    """Requests a fresh path; asserts 200 and that the upstream saw it once.
    Returns the upstream's echo."""
    path = unique_path(prefix + "ok-")
    r = gateway.get(path + target_suffix, headers=headers)
    assert r.status == 200, "%r %r" % (r, r.body[:300])
    echo = r.json()
    assert echo["path"] == path + target_suffix
    assert upstream_hits(gateway.upstream_port, path) == 1
    return echo


def rejected(gateway, headers, status=401, error="invalid_token", prefix="/", description=None, scope=None,
             target_suffix=""):
    """Requests a fresh path; asserts the RFC 6750 answer and that the
    upstream never saw the request. Returns the JSON body."""
    path = unique_path(prefix + "no-")
    r = gateway.get(path + target_suffix, headers=headers)
    body, _ = assert_auth_answer(r, status, error, description=description, scope=scope)
    assert upstream_hits(gateway.upstream_port, path) == 0, "rejected request reached the upstream"
    return body


# --------------------------------------------------------------------------
# Every algorithm, both directions

@pytest.mark.parametrize("alg", ALL_ALGS)
def test_pyjwt_token_accepted(gw, auth_keys, alg):
    key = auth_keys[alg]
    token = key.sign(std_claims(sub="user-" + alg))
    echo = passes(gw, bearer(token))
    # Forwarded unchanged, and the subject header set from the token.
    assert echo_headers(echo, "Authorization") == ["Bearer " + token]
    assert echo_headers(echo, "X-Auth-Subject") == ["user-" + alg]


@pytest.mark.parametrize("alg,other", [("HS256", "hs384"), ("RS256", "ps256"), ("PS256", "rs256"),
                                       ("ES256", "es384"), ("EdDSA", "es256"), ("RS256", "rs384")])
def test_pyjwt_token_naming_another_key_refused(gw, auth_keys, alg, other):
    # Signed by this alg's key but naming a different key: refused whether the
    # algs differ (RS256 vs PS256 on one RSA key) or only the hash does.
    token = auth_keys[alg].sign(std_claims(), headers={"kid": other})
    rejected(gw, bearer(token))


@pytest.fixture(scope="module")
def signing_config(tmp_path_factory, auth_keys, upstream):
    """A config whose keys carry private material (private_key_file /
    secret_file), for `token mint`; and a gateway on it."""
    d = tmp_path_factory.mktemp("mintcfg")
    text = gwtest.make_config(upstream.port, gwtest.free_port(), gwtest.free_port(),
                              keys=[k.config("private") for k in auth_keys.values()],
                              extra={"tokens": {"forward_claims": {"sub": "X-Auth-Subject"}}})
    path = d / "gateway.conf"
    path.write_text(text)
    return path


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_minted_token_verified_by_pyjwt(signing_config, auth_keys, alg):
    key = auth_keys[alg]
    before = int(time.time())
    r = run_cli("token", "mint", "--config", signing_config, "--sub", "minted-" + alg, "--ttl", "10m",
                "--kid", key.kid, "--claim", "role=admin", "--claim", "n=5")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg and header["kid"] == key.kid
    claims = jwt.decode(token, key.public, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)
    after = int(time.time())
    assert claims["sub"] == "minted-" + alg
    assert claims["role"] == "admin" and claims["n"] == 5
    assert before <= claims["iat"] <= after
    assert before + 600 <= claims["exp"] <= after + 600
    assert before <= claims["auth_time"] <= after
    assert isinstance(claims.get("jti"), str) and claims["jti"]
    # And `token inspect` agrees that it verifies under the same config.
    r = run_cli("token", "inspect", token, "--config", signing_config)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verifies: yes" in r.stdout


def test_minted_tokens_accepted_by_gateway(start_gateway, auth_keys):
    """The gateway verifies its own minted tokens for every alg (keys loaded
    from private_key_file: the public half verifies)."""
    gateway = start_gateway(keys=[k.config("private") for k in auth_keys.values()],
                            extra={"tokens": {"forward_claims": {"sub": "X-Auth-Subject"}}})
    for alg, key in auth_keys.items():
        r = run_cli("token", "mint", "--config", gateway.config_path, "--sub", "gw-" + alg, "--kid", key.kid)
        assert r.returncode == 0, r.stderr
        echo = passes(gateway, bearer(r.stdout.strip()))
        assert echo_headers(echo, "X-Auth-Subject") == ["gw-" + alg]


def test_minted_jtis_differ(signing_config, auth_keys):
    tokens = [run_cli("token", "mint", "--config", signing_config, "--sub", "a", "--kid", "hs256").stdout.strip()
              for _ in range(2)]
    jtis = [jwt.decode(t, auth_keys["HS256"].private, algorithms=["HS256"], audience=AUDIENCE)["jti"]
            for t in tokens]
    assert jtis[0] != jtis[1]


def test_inspect_reports_bad_signature(signing_config, auth_keys, tmp_path):
    forged = gwtest.TestKey("ES256", tmp_path, kid="es256").sign(std_claims())
    r = run_cli("token", "inspect", forged, "--config", signing_config)
    assert r.returncode != 0
    assert "verifies: no" in r.stdout


def test_jwks_file_with_several_keys(start_gateway, tmp_path):
    keys = {
        "RS256": gwtest.TestKey("RS256", tmp_path, kid="jw-rsa"),
        "PS384": gwtest.TestKey("PS384", tmp_path, kid="jw-pss"),
        "ES384": gwtest.TestKey("ES384", tmp_path, kid="jw-ec"),
        "EdDSA": gwtest.TestKey("EdDSA", tmp_path, kid="jw-ed"),
        "HS512": gwtest.TestKey("HS512", tmp_path, kid="jw-oct"),
    }
    jwks = [k.jwk() for k in keys.values()]
    # One JWK without alg (the entry's alg, PS384, applies) ...
    jwks[1].pop("alg")
    # ... and one whose alg does not fit its key: skipped, the rest serve.
    bad = gwtest.TestKey("ES256", tmp_path, kid="jw-misfit")
    misfit = bad.jwk()
    misfit["alg"] = "RS256"
    jwks.append(misfit)
    path = tmp_path / "keys.jwks"
    path.write_text(json.dumps({"keys": jwks}))
    gateway = start_gateway(keys=[{"alg": "PS384", "jwks_file": str(path)}],
                            extra={"tokens": {"forward_claims": {"sub": "X-Auth-Subject"}}})
    for alg, key in keys.items():
        echo = passes(gateway, bearer(key.sign(std_claims(sub="jwks-" + alg))))
        assert echo_headers(echo, "X-Auth-Subject") == ["jwks-" + alg]
    rejected(gateway, bearer(bad.sign(std_claims())))
    rejected(gateway, bearer(keys["ES384"].sign(std_claims(), headers={"kid": "jw-unknown"})))
    # Several keys: a token without kid is refused, even if it would verify.
    rejected(gateway, bearer(keys["ES384"].sign(std_claims(), kid=False)))


def test_secret_file_trailing_newline_dropped(start_gateway, tmp_path):
    # SPEC §3: secret_file is raw bytes; one trailing newline is dropped.
    secret = b"0123456789abcdefghijklmnopqrstuvwxyzABCD"
    path = tmp_path / "nl.secret"
    path.write_bytes(secret + b"\n")
    gateway = start_gateway(keys=[{"kid": "nl", "alg": "HS256", "secret_file": str(path)}])
    passes(gateway, bearer(jwt.encode(std_claims(), secret, algorithm="HS256", headers={"kid": "nl"})))
    rejected(gateway, bearer(jwt.encode(std_claims(), secret + b"\n", algorithm="HS256", headers={"kid": "nl"})))


# --------------------------------------------------------------------------
# Claims

def test_expired(gw, auth_keys):
    token = auth_keys["ES256"].sign(std_claims(ttl=-120))
    rejected(gw, bearer(token), error="token_expired", description="token expired")


def test_expired_within_leeway_served(gw, auth_keys):
    # Default leeway 30 s.
    token = auth_keys["ES256"].sign(std_claims(ttl=-10))
    passes(gw, bearer(token))


def test_exp_fractional_accepted(gw, auth_keys):
    claims = std_claims()
    claims["exp"] = claims["exp"] + 0.5
    passes(gw, bearer(auth_keys["HS256"].sign(claims)))


def test_missing_exp(gw, auth_keys):
    rejected(gw, bearer(auth_keys["HS256"].sign(std_claims(exp=None))))


def test_nbf_in_future(gw, auth_keys):
    now = int(time.time())
    rejected(gw, bearer(auth_keys["HS256"].sign(std_claims(nbf=now + 300))))


def test_nbf_within_leeway_served(gw, auth_keys):
    now = int(time.time())
    passes(gw, bearer(auth_keys["HS256"].sign(std_claims(nbf=now + 10))))


def test_iat_in_future(gw, auth_keys):
    now = int(time.time())
    rejected(gw, bearer(auth_keys["HS256"].sign(std_claims(iat=now + 300))))


@pytest.mark.parametrize("iss", ["https://evil.test", "https://issuer.test/", "HTTPS://ISSUER.TEST", ""])
def test_wrong_issuer(gw, auth_keys, iss):
    rejected(gw, bearer(auth_keys["RS256"].sign(std_claims(iss=iss))))


def test_missing_issuer(gw, auth_keys):
    rejected(gw, bearer(auth_keys["RS256"].sign(std_claims(iss=None))))


@pytest.mark.parametrize("aud", ["other", ["other", "x"], [], "API"])
def test_wrong_audience(gw, auth_keys, aud):
    rejected(gw, bearer(auth_keys["RS256"].sign(std_claims(aud=aud))))


def test_missing_audience(gw, auth_keys):
    rejected(gw, bearer(auth_keys["RS256"].sign(std_claims(aud=None))))


def test_audience_array_containing_ours(gw, auth_keys):
    passes(gw, bearer(auth_keys["RS256"].sign(std_claims(aud=["other", AUDIENCE]))))


# --------------------------------------------------------------------------
# Scopes

def test_missing_scope_is_403(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims(scope="read"))
    body = rejected(gw, bearer(token), status=403, error="insufficient_scope", prefix="/scoped/")
    assert body["error"] == "insufficient_scope"
    r = gw.get(unique_path("/scoped/"), headers=bearer(token))
    _, params = assert_auth_answer(r, 403, "insufficient_scope")
    # RFC 6750 §3: every scope the route requires, the granted "read" too.
    assert sorted(params["scope"].split()) == ["read", "write"]


def test_no_scope_at_all_is_403(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims())
    r = gw.get(unique_path("/scoped/"), headers=bearer(token))
    _, params = assert_auth_answer(r, 403, "insufficient_scope")
    assert sorted(params["scope"].split()) == ["read", "write"]


@pytest.mark.parametrize("claims", [
    {"scope": "read write"},
    {"scope": "write  admin read"},
    {"scp": ["write", "read"]},
    {"scp": ["read", "write", "admin"]},
])
def test_scopes_present(gw, auth_keys, claims):
    passes(gw, bearer(auth_keys["HS256"].sign(std_claims(**claims))), prefix="/scoped/")


@pytest.mark.parametrize("claims", [
    {"scope": "readwrite"},
    {"scope": "read,write"},
    {"scp": ["read"]},
    {"scp": ["read write"]},
])
def test_scopes_not_present(gw, auth_keys, claims):
    rejected(gw, bearer(auth_keys["HS256"].sign(std_claims(**claims))), status=403,
             error="insufficient_scope", prefix="/scoped/")


def test_token_cached_on_one_route_still_scope_checked_on_another(gw, auth_keys):
    token = auth_keys["ES256"].sign(std_claims(scope="read"))
    passes(gw, bearer(token))  # verified and cached on "/"
    rejected(gw, bearer(token), status=403, error="insufficient_scope", prefix="/scoped/")


# --------------------------------------------------------------------------
# Sources and presentation

def test_no_token(gw):
    r = gw.get(unique_path("/"))
    assert_auth_answer(r, 401, "missing_token")
    assert r.header("WWW-Authenticate") == 'Bearer realm="gateway"'


def test_other_scheme_is_no_token(gw):
    rejected(gw, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, error="missing_token")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_case_insensitive(gw, auth_keys, scheme):
    token = auth_keys["HS256"].sign(std_claims())
    passes(gw, {"Authorization": scheme + " " + token})


def test_bearer_several_spaces(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims())
    passes(gw, {"Authorization": "Bearer  " + token})


def test_token_in_cookie(gw, auth_keys):
    token = auth_keys["ES256"].sign(std_claims(sub="cookie-user"))
    echo = passes(gw, {"Cookie": "theme=dark; at=%s; other=1" % token})
    assert echo_headers(echo, "X-Auth-Subject") == ["cookie-user"]


def test_token_in_other_cookie_name_ignored(gw, auth_keys):
    token = auth_keys["ES256"].sign(std_claims())
    rejected(gw, {"Cookie": "token=%s" % token}, error="missing_token")


def test_token_in_query(gw, auth_keys):
    token = auth_keys["ES256"].sign(std_claims(sub="query-user"))
    echo = passes(gw, {}, target_suffix="?x=1&access_token=" + token)
    assert echo_headers(echo, "X-Auth-Subject") == ["query-user"]


def test_same_token_in_header_and_cookie(gw, auth_keys):
    token = auth_keys["ES256"].sign(std_claims())
    passes(gw, {"Authorization": "Bearer " + token, "Cookie": "at=" + token})


def test_different_tokens_in_header_and_cookie(gw, auth_keys):
    a = auth_keys["ES256"].sign(std_claims(sub="a"))
    b = auth_keys["ES256"].sign(std_claims(sub="b"))
    rejected(gw, {"Authorization": "Bearer " + a, "Cookie": "at=" + b})


def test_different_tokens_in_header_and_query(gw, auth_keys):
    a = auth_keys["ES256"].sign(std_claims(sub="a"))
    b = auth_keys["HS256"].sign(std_claims(sub="b"))
    rejected(gw, bearer(a), target_suffix="?access_token=" + b)


@pytest.mark.parametrize("prefix", ["/", "/opt/", "/public/"])
@pytest.mark.parametrize("second", ["other", "same", "basic"])
def test_two_authorization_fields_are_400(gw, auth_keys, prefix, second):
    """Authorization is a singleton (RFC 9110 §11.6.2): with two, the gateway
    could verify one and the upstream read the other. 400 on every route."""
    a = auth_keys["ES256"].sign(std_claims(sub="a"))
    other = {"other": "Bearer " + auth_keys["ES256"].sign(std_claims(sub="b")),
             "same": "Bearer " + a, "basic": "Basic dXNlcjpwYXNz"}[second]
    path = unique_path(prefix + "two-")
    r = gw.get(path, headers=[("Authorization", "Bearer " + a), ("Authorization", other)])
    assert r.status == 400, r
    assert json.loads(r.body)["error"] == "bad_request"
    assert upstream_hits(gw.upstream_port, path) == 0


@pytest.mark.parametrize("value", ["Bearer\t{t}", "Bearer {t},Bearer {t}", "Bearer {t} {t}", "Bearer,{t}"])
@pytest.mark.parametrize("prefix", ["/", "/opt/"])
def test_malformed_bearer_is_invalid_token_even_on_optional_routes(gw, auth_keys, value, prefix):
    token = auth_keys["HS256"].sign(std_claims())
    rejected(gw, {"Authorization": value.format(t=token)}, prefix=prefix)


def test_query_source_not_configured_is_no_token(start_gateway):
    gateway = start_gateway()  # sources = ["header"]
    token = jwt.encode(std_claims(), HS_SECRET, algorithm="HS256")
    rejected(gateway, {}, error="missing_token", target_suffix="?access_token=" + token)


def test_no_kid_with_one_key(start_gateway):
    gateway = start_gateway()  # one HS256 key
    token = jwt.encode(std_claims(), HS_SECRET, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(token)
    passes(gateway, bearer(token))


def test_no_kid_with_several_keys(gw, auth_keys):
    # Would verify under hs256, but the gateway must not try keys in turn.
    rejected(gw, bearer(auth_keys["HS256"].sign(std_claims(), kid=False)))


# --------------------------------------------------------------------------
# Optional routes

def test_optional_without_token(gw):
    echo = passes(gw, {"X-Auth-Subject": "mallory"}, prefix="/opt/")
    assert echo_headers(echo, "X-Auth-Subject") == []


def test_optional_with_good_token(gw, auth_keys):
    echo = passes(gw, bearer(auth_keys["EdDSA"].sign(std_claims(sub="opt-user"))), prefix="/opt/")
    assert echo_headers(echo, "X-Auth-Subject") == ["opt-user"]


def test_optional_with_bad_token(gw, auth_keys, tmp_path):
    forged = gwtest.TestKey("EdDSA", tmp_path, kid="eddsa").sign(std_claims())
    rejected(gw, bearer(forged), prefix="/opt/")


def test_optional_with_expired_token(gw, auth_keys):
    rejected(gw, bearer(auth_keys["EdDSA"].sign(std_claims(ttl=-300))), prefix="/opt/",
             error="token_expired", description="token expired")


def test_optional_with_garbage(gw):
    rejected(gw, {"Authorization": "Bearer not-a-jwt"}, prefix="/opt/")


# --------------------------------------------------------------------------
# forward_claims

SPOOFED = [("X-Auth-Subject", "mallory"), ("x-auth-subject", "mallory2"), ("X-AUTH-EMAIL", "m@evil"),
           ("X-Auth-Roles", "[\"admin\"]")]


def test_forward_claims_removed_on_auth_none(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims(sub="alice", email="a@x"))
    echo = passes(gw, SPOOFED + [("Authorization", "Bearer " + token)], prefix="/public/")
    for name in FORWARD.values():
        assert echo_headers(echo, name) == [], name
    # Authorization itself still goes through unchanged.
    assert echo_headers(echo, "Authorization") == ["Bearer " + token]


def test_forward_claims_set_on_required(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims(sub="alice", email="a@x", roles=["r1", "r2"]))
    echo = passes(gw, SPOOFED + [("Authorization", "Bearer " + token)])
    assert echo_headers(echo, "X-Auth-Subject") == ["alice"]
    assert echo_headers(echo, "X-Auth-Email") == ["a@x"]
    assert json.loads(echo_headers(echo, "X-Auth-Roles")[0]) == ["r1", "r2"]


def test_forward_claims_absent_claim_still_strips_client_copy(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims(sub="bob"))  # no email, no roles
    echo = passes(gw, SPOOFED + [("Authorization", "Bearer " + token)])
    assert echo_headers(echo, "X-Auth-Subject") == ["bob"]
    assert echo_headers(echo, "X-Auth-Email") == []
    assert echo_headers(echo, "X-Auth-Roles") == []


def test_forward_claims_control_bytes_do_not_split_headers(gw, auth_keys):
    token = auth_keys["HS256"].sign(std_claims(sub="eve\r\nX-Injected: 1"))
    # Forwarded with the control bytes neutralised (the header writer
    # replaces them); never a second header upstream.
    echo = passes(gw, bearer(token))
    assert echo_headers(echo, "X-Injected") == []
    subjects = echo_headers(echo, "X-Auth-Subject")
    assert len(subjects) == 1 and "\r" not in subjects[0] and "\n" not in subjects[0]


# --------------------------------------------------------------------------
# Cache and reload

def test_cached_token_rejected_once_expired(start_gateway):
    gateway = start_gateway(extra={"tokens": {"leeway": "0s"}})
    token = jwt.encode(std_claims(ttl=2), HS_SECRET, algorithm="HS256")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    passes(gateway, bearer(token))
    passes(gateway, bearer(token))
    time.sleep(max(0.0, exp - time.time()) + 1.1)
    rejected(gateway, bearer(token), error="token_expired", description="token expired")


def test_key_removed_by_reload_stops_verifying(start_gateway, auth_keys, make_gateway_config):
    keys = [auth_keys["ES256"].config(), auth_keys["HS256"].config()]
    gateway = start_gateway(keys=keys)
    token = auth_keys["ES256"].sign(std_claims())
    passes(gateway, bearer(token))  # now in the verified-token cache
    gateway.write_config(make_gateway_config(gateway.upstream_port, gateway.port, gateway.admin_port,
                                             keys=[auth_keys["HS256"].config()]))
    gateway.reload()

    def reloaded():
        return any(labels.get("result") == "ok" and v >= 1 for labels, v in
                   gwtest.metric_values(gateway.metrics(), "gateway_config_reloads_total"))
    wait_until(reloaded, 10, what="config reload")
    rejected(gateway, bearer(token))
    passes(gateway, bearer(auth_keys["HS256"].sign(std_claims())))


# --------------------------------------------------------------------------
# Access log and metrics

def test_access_log_has_auth_and_sub_never_the_token(start_gateway, auth_keys):
    gateway = start_gateway(keys=[auth_keys["ES256"].config(), auth_keys["HS256"].config()],
                            extra={"tokens": {"sources": ["header", "cookie:at", "query:access_token"]}})
    good = auth_keys["ES256"].sign(std_claims(sub="log-alice"))
    expired = auth_keys["ES256"].sign(std_claims(sub="log-old", ttl=-600))
    bad = auth_keys["HS256"].sign(std_claims(sub="log-forged"), headers={"kid": "es256"})
    p_ok, p_q, p_c, p_exp, p_bad, p_none = (unique_path("/log-") for _ in range(6))
    assert gateway.get(p_ok, headers=bearer(good)).status == 200
    assert gateway.get(p_q + "?access_token=" + good).status == 200
    assert gateway.get(p_c, headers={"Cookie": "at=" + good}).status == 200
    assert gateway.get(p_exp, headers=bearer(expired)).status == 401
    assert gateway.get(p_bad, headers=bearer(bad)).status == 401
    assert gateway.get(p_none).status == 401

    def lines():
        by_path = {e.get("path"): e for e in gateway.access_log()}
        return by_path if all(p in by_path for p in (p_ok, p_q, p_c, p_exp, p_bad, p_none)) else None
    by_path = wait_until(lines, 5, what="access log lines")
    for p in (p_ok, p_q, p_c):
        assert by_path[p]["auth"] == "ok", by_path[p]
        assert by_path[p]["sub"] == "log-alice", by_path[p]
        assert by_path[p]["status"] == 200
    assert by_path[p_exp]["auth"] == "expired"
    assert by_path[p_bad]["auth"] == "invalid"
    assert by_path[p_none]["auth"] == "missing"
    for p in (p_exp, p_bad, p_none):
        assert by_path[p]["status"] == 401
        assert by_path[p].get("sub") in (None, "", "-"), by_path[p]
    everything = gateway.stdout_text() + gateway.stderr_text()
    for token in (good, expired, bad):
        for part in token.split("."):
            assert part not in everything, "a token segment reached the logs"
    assert "access_token" not in gateway.stdout_text()


def test_auth_results_metric_counts(start_gateway, auth_keys):
    routes = [{"prefix": "/public/", "upstream": "app", "auth": "none"},
              {"prefix": "/scoped/", "upstream": "app", "auth": "required", "scopes": ["admin"]},
              {"prefix": "/", "upstream": "app", "auth": "required"}]
    gateway = start_gateway(routes=routes, keys=[auth_keys["HS256"].config()])
    key = auth_keys["HS256"]
    good = key.sign(std_claims())
    sent = [
        ("/a", bearer(good), 200),
        ("/b", bearer(good), 200),
        ("/c", bearer(key.sign(std_claims(sub="other"))), 200),
        ("/d", {}, 401),
        ("/e", bearer(key.sign(std_claims(ttl=-600))), 401),
        ("/f", bearer(good + "x"), 401),
        ("/g", {"Authorization": "Bearer a.b.c"}, 401),
        ("/scoped/h", bearer(good), 403),
        ("/public/i", {}, 200),
    ]
    for path, headers, status in sent:
        assert gateway.get(path, headers=headers).status == status, path
    want = {"ok": 3, "missing": 1, "expired": 1, "invalid": 2, "forbidden": 1, "none": 1}

    def counts():
        got = {labels["result"]: v for labels, v in
               gwtest.metric_values(gateway.metrics(), "gateway_auth_results_total")}
        return got if all(got.get(k, 0) >= v for k, v in want.items()) else None
    got = wait_until(counts, 5, what="auth metrics")
    for k, v in want.items():
        assert got[k] == v, got
    for k in ("revoked", "refreshed"):
        assert got.get(k, 0) == 0, got


# --------------------------------------------------------------------------
# CORS preflight: browsers never send credentials on it, so it passes to the
# upstream unauthenticated; anything else without a token is still refused.

def test_cors_preflight_passes_without_token(gw):
    path = gwtest.unique_path("/preflight/")
    r = gw.request("OPTIONS", path, headers={"Origin": "https://app.test",
                                             "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization"})
    assert r.status == 200
    assert gwtest.upstream_hits(gw.upstream_port, path) == 1


def test_options_without_preflight_headers_needs_a_token(gw):
    path = gwtest.unique_path("/preflight/")
    r = gw.request("OPTIONS", path, headers={"Origin": "https://app.test"})
    assert r.status == 401
    assert gwtest.upstream_hits(gw.upstream_port, path) == 0


@pytest.mark.parametrize("extra", [
    {"Content-Length": "5"},
    {"Connection": "upgrade", "Upgrade": "websocket", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
     "Sec-WebSocket-Version": "13"},
])
def test_preflight_with_a_body_or_upgrade_needs_a_token(gw, extra):
    """Otherwise "preflight" is an unauthenticated way to send a body or
    open a tunnel (SPEC §5)."""
    path = gwtest.unique_path("/preflight/")
    headers = {"Origin": "https://app.test", "Access-Control-Request-Method": "POST"}
    headers.update(extra)
    r = gw.request("OPTIONS", path, headers=headers, body=b"hello" if "Content-Length" in extra else None)
    assert r.status == 401
    assert gwtest.upstream_hits(gw.upstream_port, path) == 0


def test_preflight_with_a_bad_token_is_still_refused(gw):
    path = gwtest.unique_path("/preflight/")
    r = gw.request("OPTIONS", path, headers={"Origin": "https://app.test",
                                             "Access-Control-Request-Method": "POST",
                                             "Authorization": "Bearer a.b.c"})
    assert r.status == 401
    assert gwtest.upstream_hits(gw.upstream_port, path) == 0
