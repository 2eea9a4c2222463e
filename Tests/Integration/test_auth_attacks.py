"""Attacks on token validation (SPEC §5, RFC 8725): each one must be a 401
(or the stated status) with the right JSON `error` and WWW-Authenticate, and
the upstream must never see the request (demo upstream /__stats).

Tokens are built by hand (gwtest.raw_token) where PyJWT would refuse to make
them: alg none, HS signed with a PEM, duplicate names, bad signatures.
"""

import base64
import hashlib
import hmac
import json
import time

import pytest

jwt = pytest.importorskip("jwt")
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

import gwtest  # noqa: E402
from gwtest import (HS_SECRET, assert_auth_answer, b64url, bearer, raw_token, send_raw, std_claims,  # noqa: E402
                    unique_path, upstream_hits)

# Group orders (SEC 2 / FIPS 186-4 D.1.2).
CURVE_N = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    "ES512": int("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                 "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409", 16),
}
COORD = {"ES256": 32, "ES384": 48, "ES512": 66}
HASH = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "ES512": hashes.SHA512()}


@pytest.fixture(scope="module")
def gw(start_module_gateway, auth_keys):
    """Every alg's key (public_key_file / secret_file), kid = alg lowercased."""
    return start_module_gateway(extra={"tokens": {"sources": ["header", "cookie:at"]}},
                                keys=[k.config("public") for k in auth_keys.values()])


@pytest.fixture(scope="module")
def solo(start_module_gateway, auth_keys):
    """Gateways with exactly one key, where a token without kid is verified:
    {"RS256": gw, "ES256": gw, "HS256": gw (the default test key)}."""
    return {
        "RS256": start_module_gateway(keys=[auth_keys["RS256"].config()]),
        "ES256": start_module_gateway(keys=[auth_keys["ES256"].config()]),
        "HS256": start_module_gateway(),
    }


def rejected(gateway, token=None, headers=None, status=401, error="invalid_token", description=None):
    """GET a fresh path with the token as Bearer (or the given headers);
    asserts the RFC 6750 answer and that the upstream never saw it."""
    path = unique_path("/attack-")
    r = gateway.get(path, headers=headers if headers is not None else bearer(token))
    body, _ = assert_auth_answer(r, status, error, description=description)
    assert upstream_hits(gateway.upstream_port, path) == 0, "rejected request reached the upstream"
    return body


def accepted(gateway, token):
    path = unique_path("/control-")
    r = gateway.get(path, headers=bearer(token))
    assert r.status == 200, "%r %r" % (r, r.body[:300])
    assert upstream_hits(gateway.upstream_port, path) == 1
    return r.json()


def hs(secret, signing_input, bits=256):
    return hmac.new(secret, signing_input.encode(), getattr(hashlib, "sha%d" % bits)).digest()


def split(token):
    h, p, s = token.split(".")
    return h, p, s


def resign(header, payload, key):
    """raw_token with the JSON given as text (bytes kept exactly)."""
    return raw_token(header.encode() if isinstance(header, str) else header,
                     payload.encode() if isinstance(payload, str) else payload, key=key)


# --------------------------------------------------------------------------
# alg none

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_with_kid(gw, auth_keys, alg):
    claims = std_claims()
    rejected(gw, raw_token({"alg": alg, "typ": "JWT", "kid": "hs256"}, claims))
    # ... and with a (meaningless) signature attached.
    h, p, _ = split(raw_token({"alg": alg, "kid": "hs256"}, claims))
    rejected(gw, "%s.%s.%s" % (h, p, b64url(hs(auth_keys["HS256"].private, h + "." + p))))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_without_kid_single_key(solo, alg):
    rejected(solo["HS256"], raw_token({"alg": alg, "typ": "JWT"}, std_claims()))


@pytest.mark.parametrize("alg", ["", "HS256 ", "hs256", "RS1", "HS1", "ES256K", "Ed25519"])
def test_unknown_or_miscased_alg(gw, auth_keys, alg):
    rejected(gw, raw_token({"alg": alg, "kid": "hs256"}, std_claims(), key=auth_keys["HS256"]))


def test_alg_missing_or_not_a_string(gw, auth_keys):
    key = auth_keys["HS256"]
    rejected(gw, raw_token({"kid": "hs256"}, std_claims(), key=key))
    rejected(gw, raw_token({"alg": ["HS256"], "kid": "hs256"}, std_claims(), key=key))
    rejected(gw, raw_token({"alg": None, "kid": "hs256"}, std_claims(), key=key))


# --------------------------------------------------------------------------
# Algorithm confusion

def pem_variants(key):
    pem = key.public_pem()
    der = key.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return [pem, pem.rstrip(b"\n"), der]


@pytest.mark.parametrize("family", ["RS256", "PS256", "ES256", "EdDSA"])
def test_hs256_signed_with_public_key_with_kid(gw, auth_keys, family):
    key = auth_keys[family]
    for secret in pem_variants(key):
        h = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}))
        p = b64url(json.dumps(std_claims()))
        rejected(gw, "%s.%s.%s" % (h, p, b64url(hs(secret, h + "." + p))))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hs_signed_with_public_key_single_rsa_key(solo, auth_keys, alg):
    key = auth_keys["RS256"]
    bits = int(alg[2:])
    for secret in pem_variants(key):
        h = b64url(json.dumps({"alg": alg, "typ": "JWT"}))
        p = b64url(json.dumps(std_claims()))
        rejected(solo["RS256"], "%s.%s.%s" % (h, p, b64url(hs(secret, h + "." + p, bits))))


def test_hs256_with_pem_against_single_ec_key(solo, auth_keys):
    key = auth_keys["ES256"]
    h = b64url(json.dumps({"alg": "HS256"}))
    p = b64url(json.dumps(std_claims()))
    rejected(solo["ES256"], "%s.%s.%s" % (h, p, b64url(hs(key.public_pem(), h + "." + p))))


@pytest.mark.parametrize("signer,kid", [("RS256", "ps256"), ("PS256", "rs256"), ("RS384", "rs256"),
                                        ("ES384", "es256"), ("HS512", "hs256")])
def test_alg_of_another_key_family_member(gw, auth_keys, tmp_path, signer, kid):
    # The header names kid K but an alg other than K's: refused even when the
    # signature would check under that alg with K's material.
    token = auth_keys[signer].sign(std_claims(), headers={"kid": kid})
    rejected(gw, token)


def test_rs256_signed_by_rs256_key_with_ps256_alg_header(gw, auth_keys):
    # Same RSA key bound to RS256 (kid rs256): a PS256 signature with that
    # key under kid rs256 is an alg mismatch.
    key = auth_keys["RS256"]
    token = jwt.encode(std_claims(), key.private, algorithm="PS256", headers={"kid": "rs256"})
    rejected(gw, token)


# --------------------------------------------------------------------------
# Signatures: stripped, truncated, ECDSA encodings

@pytest.mark.parametrize("alg", ["HS256", "RS256", "PS256", "ES256", "EdDSA"])
def test_signature_stripped(gw, auth_keys, alg):
    h, p, s = split(auth_keys[alg].sign(std_claims()))
    rejected(gw, "%s.%s." % (h, p))
    rejected(gw, "%s.%s" % (h, p))
    rejected(gw, "%s.%s.%s" % (h, p, s[:-4]))  # truncated
    rejected(gw, "%s.%s.%s" % (h, p, s + "AAAA"))  # extended


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_payload_changed_after_signing(gw, auth_keys, alg):
    h, _, s = split(auth_keys[alg].sign(std_claims(sub="alice")))
    p = b64url(json.dumps(std_claims(sub="admin")))
    rejected(gw, "%s.%s.%s" % (h, p, s))


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_bad_signatures(gw, auth_keys, alg):
    key = auth_keys[alg]
    size, n = COORD[alg], CURVE_N[alg]
    header, payload = {"alg": alg, "kid": key.kid}, std_claims()
    signing_input = raw_token(header, payload, signature=b"").rsplit(".", 1)[0]
    der = key.private.sign(signing_input.encode(), ec.ECDSA(HASH[alg]))
    r, s = decode_dss_signature(der)

    def raw(r_, s_, width=size):
        return r_.to_bytes(width, "big") + s_.to_bytes(width, "big")

    good = raw(r, s)
    accepted(gw, signing_input + "." + b64url(good))  # control: the raw form verifies
    bad = {
        "empty": b"",
        "all zero": bytes(2 * size),
        "r = 0": raw(0, s),
        "s = 0": raw(r, 0),
        "r = n": raw(n, s),
        "s = n": raw(r, n),
        "r = s = n": raw(n, n),
        "DER": der,
        "one byte short": good[:-1],
        "one byte long": good + b"\x00",
        "zero-padded coordinates": raw(r, s, size + 1),
        "r and s swapped": raw(s, r),
    }
    for name, sig in bad.items():
        try:
            rejected(gw, signing_input + "." + b64url(sig))
        except AssertionError as e:
            raise AssertionError("%s %s signature accepted or misanswered: %s" % (alg, name, e))


def test_ecdsa_signature_for_other_curve_size(gw, auth_keys):
    # A P-384 raw signature (96 bytes) presented as ES256.
    signing_input = raw_token({"alg": "ES256", "kid": "es256"}, std_claims(), signature=b"").rsplit(".", 1)[0]
    other = auth_keys["ES384"].sign_input(signing_input.encode())
    rejected(gw, signing_input + "." + b64url(other))


# --------------------------------------------------------------------------
# kid

@pytest.mark.parametrize("kid", [
    "../../../../../../dev/null", "/dev/null", "/etc/passwd", "keys/../hs256.secret",
    "' OR '1'='1", "hs256' --", "hs256\"; DROP TABLE keys; --", "hs256\u0000", "HS256", "hs256 ", " hs256",
    "", "nope", "x" * 5000,
])
def test_kid_injection_and_unknown(gw, auth_keys, kid):
    key = auth_keys["HS256"]
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    payload = std_claims()
    # Signed with the real secret (only the kid is wrong), and with an empty
    # secret (what /dev/null would give).
    rejected(gw, raw_token(header, payload, key=key))
    h, p, _ = split(raw_token(header, payload, signature=b""))
    rejected(gw, "%s.%s.%s" % (h, p, b64url(hs(b"", h + "." + p))))


def test_kid_is_the_secret_file_path(gw, auth_keys):
    key = auth_keys["HS256"]
    rejected(gw, raw_token({"alg": "HS256", "kid": str(key.secret_path)}, std_claims(), key=key))


@pytest.mark.parametrize("kid", [123, None, ["hs256"], {"kid": "hs256"}, True])
def test_kid_not_a_string(gw, auth_keys, kid):
    rejected(gw, raw_token({"alg": "HS256", "kid": kid}, std_claims(), key=auth_keys["HS256"]))


def test_no_kid_several_keys(gw, auth_keys):
    rejected(gw, auth_keys["ES256"].sign(std_claims(), kid=False))


def test_no_kid_single_key_control(solo, auth_keys):
    accepted(solo["ES256"], auth_keys["ES256"].sign(std_claims(), kid=False))
    accepted(solo["RS256"], auth_keys["RS256"].sign(std_claims(), kid=False))


# --------------------------------------------------------------------------
# crit, jku, x5u, jwk

@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["x-custom"], [], "exp", [1]])
def test_crit_header(gw, auth_keys, crit):
    key = auth_keys["ES256"]
    header = {"alg": "ES256", "kid": "es256", "crit": crit}
    if crit == ["b64"]:
        header["b64"] = False
    if crit == ["x-custom"]:
        header["x-custom"] = 1
    rejected(gw, raw_token(header, std_claims(), key=key))


@pytest.fixture
def attacker(tmp_path):
    return gwtest.TestKey("ES256", tmp_path / "attacker", kid="es256")


def test_jku_x5u_jwk_pointing_elsewhere(gw, solo, auth_keys, attacker):
    up = gw.upstream_port
    jwks_path = unique_path("/attacker-jwks-")
    x5u_path = unique_path("/attacker-x5u-")
    embedded = attacker.jwk()
    variants = [
        {"jku": "http://127.0.0.1:%d%s" % (up, jwks_path)},
        {"x5u": "http://127.0.0.1:%d%s" % (up, x5u_path)},
        {"jwk": embedded},
        {"jku": "http://127.0.0.1:%d%s" % (up, jwks_path), "jwk": embedded,
         "x5u": "http://127.0.0.1:%d%s" % (up, x5u_path), "x5c": ["MIIB"]},
    ]
    for extra in variants:
        header = dict({"alg": "ES256", "kid": "es256"}, **extra)
        rejected(gw, raw_token(header, std_claims(), key=attacker))
        no_kid = dict({"alg": "ES256"}, **extra)
        rejected(solo["ES256"], raw_token(no_kid, std_claims(), key=attacker))
    time.sleep(0.2)
    assert upstream_hits(up, jwks_path) == 0, "the gateway fetched a jku"
    assert upstream_hits(up, x5u_path) == 0, "the gateway fetched an x5u"


def test_jku_jwk_headers_ignored_when_signed_by_real_key(gw, auth_keys, attacker):
    # Ignored means ignored: the real key's signature still verifies.
    header = {"alg": "ES256", "kid": "es256", "jku": "http://127.0.0.1:1/jwks", "jwk": attacker.jwk()}
    accepted(gw, raw_token(header, std_claims(), key=auth_keys["ES256"]))


# --------------------------------------------------------------------------
# base64url strictness

def signed_hs(auth_keys, want=None, **claims):
    """An HS256 token (kid hs256) whose signature segment contains one of the
    characters in `want` (tries fresh jti values until it does)."""
    key = auth_keys["HS256"]
    for i in range(500):
        token = key.sign(std_claims(jti="j%d" % i, **claims))
        if want is None or any(c in token.rsplit(".", 1)[1] for c in want):
            return token
    raise AssertionError("no signature with %r" % want)


def test_padding_rejected(gw, auth_keys):
    token = signed_hs(auth_keys)
    accepted(gw, token)
    h, p, s = split(token)
    # A 32-byte HMAC is 43 characters: one "=" would complete the padding.
    rejected(gw, "%s.%s.%s=" % (h, p, s))
    rejected(gw, "%s.%s.%s==" % (h, p, s))
    hp = h + "=" * (-len(h) % 4)
    pp = p + "=" * (-len(p) % 4)
    if hp != h:
        key = auth_keys["HS256"]
        rejected(gw, "%s.%s.%s" % (hp, p, b64url(key.sign_input((hp + "." + p).encode()))))
    if pp != p:
        key = auth_keys["HS256"]
        rejected(gw, "%s.%s.%s" % (h, pp, b64url(key.sign_input((h + "." + pp).encode()))))


def test_standard_alphabet_rejected(gw, auth_keys):
    token = signed_hs(auth_keys, want="-_")
    accepted(gw, token)
    h, p, s = split(token)
    rejected(gw, "%s.%s.%s" % (h, p, s.replace("-", "+").replace("_", "/")))


def test_standard_alphabet_in_signed_parts_rejected(gw, auth_keys):
    # Header/payload in standard base64 with + or /, correctly signed over
    # those exact bytes: still not base64url.
    key = auth_keys["HS256"]
    for i in range(500):
        payload = json.dumps(std_claims(jti="p%d~?>" % i)).encode()
        p = base64.b64encode(payload).decode().rstrip("=")
        if "+" in p or "/" in p:
            break
    else:
        pytest.fail("no payload with + or /")
    h = b64url(json.dumps({"alg": "HS256", "kid": "hs256"}))
    rejected(gw, "%s.%s.%s" % (h, p, b64url(key.sign_input((h + "." + p).encode()))))


def test_non_canonical_trailing_bits_rejected(gw, auth_keys):
    # 43 characters carry 258 bits for a 256-bit HMAC: the last character's
    # two low bits must be zero (RFC 4648 §3.5). Another character that
    # decodes to the same bytes makes a different token for one signature.
    token = signed_hs(auth_keys)
    h, p, s = split(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(s[-1])
    assert last & 3 == 0
    rejected(gw, "%s.%s.%s%s" % (h, p, s[:-1], alphabet[last | 1]))


@pytest.mark.parametrize("mangle", [
    lambda t: t + ".",
    lambda t: t + ".e30",
    lambda t: ".".join(t.split(".") + ["AAAA", "BBBB"]),
    # (" " + t is not here: RFC 6750 §2.1 allows 1*SP after "Bearer";
    #  test_auth.py::test_bearer_several_spaces accepts it.)
    lambda t: t.replace(".", ". ", 1),
    lambda t: t.replace(".", "..", 1),
    lambda t: t[:10] + "%2E" + t[10:],
    lambda t: t[:10] + "!" + t[10:],
    lambda t: t.split(".")[0],
])
def test_malformed_shapes(gw, auth_keys, mangle):
    token = auth_keys["HS256"].sign(std_claims())
    rejected(gw, headers={"Authorization": "Bearer " + mangle(token)})


def test_empty_bearer(gw):
    rejected(gw, headers={"Authorization": "Bearer "})
    rejected(gw, headers={"Authorization": "Bearer"})


# --------------------------------------------------------------------------
# JSON: duplicates, nesting, types

def test_duplicate_claims(gw, auth_keys):
    key = auth_keys["HS256"]
    now = int(time.time())
    base = '"iss":"https://issuer.test","aud":"api","iat":%d' % now
    cases = [
        '{%s,"sub":"alice","exp":%d,"exp":%d}' % (base, now - 1000, now + 600),
        '{%s,"sub":"alice","exp":%d,"exp":%d}' % (base, now + 600, now - 1000),
        '{%s,"sub":"alice","sub":"admin","exp":%d}' % (base, now + 600),
        '{%s,"sub":"alice","\\u0073ub":"admin","exp":%d}' % (base, now + 600),
        '{%s,"aud":"other","sub":"alice","exp":%d}' % (base, now + 600),
        '{%s,"iss":"https://evil.test","sub":"a","exp":%d}' % (base, now + 600),
    ]
    h = json.dumps({"alg": "HS256", "kid": "hs256"}, separators=(",", ":"))
    accepted(gw, resign(h, '{%s,"sub":"alice","exp":%d}' % (base, now + 600), key))  # control
    for payload in cases:
        rejected(gw, resign(h, payload, key))


def test_duplicate_header_names(gw, auth_keys):
    key = auth_keys["HS256"]
    payload = json.dumps(std_claims())
    rejected(gw, resign('{"alg":"none","alg":"HS256","kid":"hs256"}', payload, key))
    rejected(gw, resign('{"alg":"HS256","kid":"nope","kid":"hs256"}', payload, key))
    rejected(gw, resign('{"alg":"HS256","kid":"hs256","kid":"hs256"}', payload, key))


@pytest.mark.parametrize("depth", [17, 64, 3000])
def test_deeply_nested_claims(gw, auth_keys, depth):
    key = auth_keys["HS256"]
    claims = json.dumps(std_claims())
    nested = claims[:-1] + ',"x":' + "[" * depth + "]" * depth + "}"
    h = '{"alg":"HS256","kid":"hs256"}'
    rejected(gw, resign(h, nested, key))
    # (Objects cost 6 bytes a level: capped so the token fits the 16 KiB head.)
    d = min(depth, 1500)
    nested_obj = claims[:-1] + ',"x":' + '{"a":' * d + "1" + "}" * d + "}"
    rejected(gw, resign(h, nested_obj, key))


def test_deeply_nested_header(gw, auth_keys):
    key = auth_keys["HS256"]
    h = '{"alg":"HS256","kid":"hs256","x":' + "[" * 3000 + "]" * 3000 + "}"
    rejected(gw, resign(h, json.dumps(std_claims()), key))


def test_moderate_nesting_accepted(gw, auth_keys):
    key = auth_keys["HS256"]
    claims = json.dumps(std_claims())
    h = '{"alg":"HS256","kid":"hs256"}'
    accepted(gw, resign(h, claims[:-1] + ',"x":[[[{"a":[1]}]]]}', key))


@pytest.mark.parametrize("exp", ['"%d"', '1e400', '-1e400', '1e300', '9.3e18', '99999999999999999999999',
                                 'true', 'null', '[%d]', '{"v":%d}', 'NaN', 'Infinity', '0x7fffffff',
                                 '%d.', '+%d', '0%d'])
def test_exp_wrong_type_or_overflow(gw, auth_keys, exp):
    key = auth_keys["HS256"]
    now = int(time.time())
    text = exp % (now + 600) if "%d" in exp else exp
    payload = '{"iss":"https://issuer.test","aud":"api","sub":"a","iat":%d,"exp":%s}' % (now, text)
    rejected(gw, resign('{"alg":"HS256","kid":"hs256"}', payload, key))


def test_exp_far_future_integer_ok(gw, auth_keys):
    # A large but exact integer is a valid NumericDate.
    claims = std_claims()
    claims["exp"] = 4102444800  # 2100-01-01
    accepted(gw, auth_keys["HS256"].sign(claims))


@pytest.mark.parametrize("claim,value", [("nbf", '"0"'), ("iat", '"0"'), ("iss", "1"), ("aud", "1"),
                                         ("aud", '["api",1]'), ("sub", "1"), ("nbf", "1e400")])
def test_other_claims_wrong_type(gw, auth_keys, claim, value):
    key = auth_keys["HS256"]
    c = std_claims()
    c.pop(claim, None)
    text = json.dumps(c)[:-1] + ',"%s":%s}' % (claim, value)
    rejected(gw, resign('{"alg":"HS256","kid":"hs256"}', text, key))


@pytest.mark.parametrize("payload", ['[]', '"x"', '1', 'null', '', '{', '{"exp":1}x', '\ufeff{}',
                                     '{"exp":9999999999,}'])
def test_payload_not_a_json_object(gw, auth_keys, payload):
    rejected(gw, resign('{"alg":"HS256","kid":"hs256"}', payload, auth_keys["HS256"]))


def test_payload_invalid_utf8(gw, auth_keys):
    c = json.dumps(std_claims())
    bad = c[:-1].encode() + b',"x":"\xff\xfe"}'
    rejected(gw, resign(b'{"alg":"HS256","kid":"hs256"}', bad, auth_keys["HS256"]))


def test_header_not_an_object(gw, auth_keys):
    for h in ['["HS256"]', '"HS256"', '', '{"alg":"HS256","kid":"hs256"']:
        rejected(gw, resign(h, json.dumps(std_claims()), auth_keys["HS256"]))


# --------------------------------------------------------------------------
# Size

def test_one_mib_token_is_431(gw):
    """A 1 MiB bearer token: the head is over max_header_bytes (16 KiB
    default), so the answer is 431 before any token work, and the upstream
    never sees it."""
    path = unique_path("/attack-big-")
    token = "eyJhbGciOiJIUzI1NiJ9." + "A" * (1 << 20) + ".sig"
    head = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % (path, token)).encode()
    raw = send_raw(gw.port, head, timeout=5)
    assert gwtest.parse_status(raw) == 431, raw[:300]
    assert token[:1000].encode() not in raw
    assert upstream_hits(gw.upstream_port, path) == 0


def test_one_mib_token_in_cookie_is_431(gw):
    path = unique_path("/attack-big-")
    head = ("GET %s HTTP/1.1\r\nHost: x\r\nCookie: at=%s\r\n\r\n" % (path, "A" * (1 << 20))).encode()
    assert gwtest.parse_status(send_raw(gw.port, head, timeout=5)) == 431
    assert upstream_hits(gw.upstream_port, path) == 0


def test_token_with_large_claims_under_header_limit(gw, auth_keys):
    """A token whose claims JSON is over the verifier's 8 KiB limit but whose
    head fits in 16 KiB: refused as invalid_token (not a crash, not a pass)."""
    token = auth_keys["HS256"].sign(std_claims(pad="x" * 9000))
    assert len(token) < 14000
    rejected(gw, token)


# --------------------------------------------------------------------------
# Replays across keys and sources

def test_hs_token_from_other_secret(gw, solo):
    token = jwt.encode(std_claims(), HS_SECRET, algorithm="HS256", headers={"kid": "hs256"})
    rejected(gw, token)  # the all-algs gateway's hs256 has a different secret


def test_different_token_in_cookie_and_header(gw, auth_keys):
    a = auth_keys["ES256"].sign(std_claims(sub="a"))
    forged = raw_token({"alg": "none", "kid": "es256"}, std_claims(sub="admin"))
    rejected(gw, headers={"Authorization": "Bearer " + a, "Cookie": "at=" + forged})
    rejected(gw, headers={"Authorization": "Bearer " + forged, "Cookie": "at=" + a})
