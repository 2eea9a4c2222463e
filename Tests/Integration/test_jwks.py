"""JWKS over HTTP(S) (SPEC §3, `jwks_url`): readiness until the first set,
unknown-kid refetch with its 30 s throttle, a failed fetch keeping the last
good set, TLS with ca_file and the host check.

A JWKS server on loopback (plain http, or https with a certificate made by
`openssl req` in tmp_path) serves ES256 JWKs built with `cryptography`/PyJWT
and counts its requests; tokens are signed with PyJWT.
"""

import json
import os
import re
import ssl
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gwtest import AUDIENCE, ISSUER, admin_get, make_config, metric_values, run_cli, wait_until




# --------------------------------------------------------------------------
# Keys and tokens

class SigningKey:
    """An ES256 key pair with a kid; its public JWK and tokens signed by it."""

    def __init__(self, kid=None):
        self.kid = kid or "k-" + uuid.uuid4().hex[:8]
        self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        d = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        d.update({"kid": self.kid, "alg": "ES256", "use": "sig"})
        return d

    def token(self, kid=None, sub="jwks-user"):
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300}
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": kid or self.kid})


def jwks_document(*keys, extra=()):
    return json.dumps({"keys": [k.jwk() for k in keys] + list(extra)}).encode()


# --------------------------------------------------------------------------
# The JWKS server

class JWKSServer:
    """Serves GET /jwks.json with the current document and status on
    127.0.0.1; counts requests. `stop()` closes the port (connect refused)."""

    def __init__(self, document=b'{"keys":[]}', status=200, tls=None, port=0):
        self.document = document
        self.status = status
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                with outer._lock:
                    outer.requests += 1
                    body, status = outer.document, outer.status
                if self.path != "/jwks.json":
                    body, status = b"not found", 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=600")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client refusing our certificate is expected in some tests

        self.httpd = Server(("127.0.0.1", port), Handler)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d/jwks.json" % (self.scheme, self.port)

    def serve(self, document=None, status=None):
        with self._lock:
            if document is not None:
                self.document = document
            if status is not None:
                self.status = status

    def count(self):
        with self._lock:
            return self.requests

    def stop(self):
        if self.thread is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.thread = None


@pytest.fixture
def jwks_server():
    servers = []

    def start(**kw):
        s = JWKSServer(**kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def make_certificate(directory, name, san):
    """Self-signed P-256 certificate with subjectAltName `san`: (cert, key)."""
    cert, key = Path(directory, name + ".crt"), Path(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san],
                   check=True, capture_output=True)
    return str(cert), str(key)


# --------------------------------------------------------------------------
# Gateway helpers

def jwks_key_entry(url, refresh="5m", timeout="2s", ca_file=None):
    entry = {"jwks_url": url, "refresh_interval": refresh, "fetch_timeout": timeout}
    if ca_file:
        entry["ca_file"] = ca_file
    return entry


def start_jwks_gateway(start_gateway, url, **kw):
    return start_gateway(keys=[jwks_key_entry(url, **kw)])


def readyz(gw):
    status, _, body = admin_get(gw.admin_port, "/readyz")
    return status, json.loads(body)


def wait_ready(gw, timeout=10):
    wait_until(lambda: readyz(gw)[0] == 200, timeout, what="/readyz 200")


def fetch_counts(gw, url):
    """(ok, error) from gateway_key_fetches_total{keys=url}."""
    ok = err = 0
    for labels, value in metric_values(gw.metrics(), "gateway_key_fetches_total"):
        if labels.get("keys") == url:
            if labels.get("result") == "ok":
                ok = value
            elif labels.get("result") == "error":
                err = value
    return ok, err


def key_set_age(gw, url):
    for labels, value in metric_values(gw.metrics(), "gateway_key_set_age_seconds"):
        if labels.get("keys") == url:
            return value
    return None


def api_status(gw, token):
    return gw.get("/api/jwks", headers={"Authorization": "Bearer " + token}).status


# --------------------------------------------------------------------------
# Without the runtime wiring: configuration only

def test_check_does_not_fetch(tmp_path, upstream, jwks_server):
    server = jwks_server(document=jwks_document(SigningKey()))
    p = tmp_path / "jwks.conf"
    p.write_text(make_config(upstream.port, 18080, 19901, keys=[jwks_key_entry(server.url)]))
    r = run_cli("check", "--config", p)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "JWKS URL" in r.stdout
    time.sleep(0.2)
    assert server.count() == 0


def test_plain_http_to_a_remote_host_is_a_config_error(tmp_path, upstream):
    p = tmp_path / "remote.conf"
    p.write_text(make_config(upstream.port, 18080, 19901,
                             keys=[jwks_key_entry("http://jwks.example.com/jwks.json")]))
    r = run_cli("check", "--config", p)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"remote\.conf:\d+:", r.stdout + r.stderr), r.stdout + r.stderr


# --------------------------------------------------------------------------
# With the wiring

def test_readyz_waits_for_the_first_set_then_tokens_verify(start_gateway, jwks_server):
    key = SigningKey()
    server = jwks_server(status=503)
    gw = start_jwks_gateway(start_gateway, server.url)

    def not_ready_with_reason():
        status, doc = readyz(gw)
        return status == 503 and ("keys %s: no key set fetched yet" % server.url) in doc.get("reasons", [])
    wait_until(not_ready_with_reason, 5, what="/readyz 503 naming the JWKS URL")
    assert api_status(gw, key.token()) == 401
    wait_until(lambda: fetch_counts(gw, server.url)[1] >= 1, 5, what="a failed fetch counted")
    assert key_set_age(gw, server.url) == float("inf")

    # Retries back off 1 s, 2 s, 4 s ...: the set arrives within a few seconds.
    server.serve(document=jwks_document(key), status=200)
    wait_ready(gw, 10)
    assert api_status(gw, key.token()) == 200
    assert fetch_counts(gw, server.url)[0] >= 1
    assert key_set_age(gw, server.url) < 60


def test_rotation_new_kid_is_fetched_at_once(start_gateway, jwks_server):
    old, new = SigningKey("old"), SigningKey("new")
    server = jwks_server(document=jwks_document(old))
    gw = start_jwks_gateway(start_gateway, server.url, refresh="5m")
    wait_ready(gw)
    assert api_status(gw, old.token()) == 200
    before = server.count()

    server.serve(document=jwks_document(new))
    # Unknown kid "new": one refetch, the request waits for it and passes.
    assert api_status(gw, new.token()) == 200
    assert server.count() == before + 1
    # The rotated-out key is gone from the set.
    assert api_status(gw, old.token()) == 401


def test_flood_of_unknown_kids_costs_at_most_one_fetch(start_gateway, jwks_server):
    key = SigningKey()
    server = jwks_server(document=jwks_document(key))
    gw = start_jwks_gateway(start_gateway, server.url, refresh="5m")
    wait_ready(gw)
    before = server.count()
    started = time.monotonic()
    statuses = [api_status(gw, key.token(kid="random-" + uuid.uuid4().hex)) for _ in range(50)]
    assert statuses == [401] * 50
    assert server.count() - before <= 1
    # Throttled kids answer at once: no request waited for a fetch.
    assert time.monotonic() - started < 10
    # The real key still works, without a fetch.
    assert api_status(gw, key.token()) == 200
    assert server.count() - before <= 1


def test_concurrent_unknown_kids_share_one_fetch(start_gateway, jwks_server):
    key, rotated = SigningKey(), SigningKey()
    server = jwks_server(document=jwks_document(key))
    gw = start_jwks_gateway(start_gateway, server.url, refresh="5m")
    wait_ready(gw)
    server.serve(document=jwks_document(key, rotated))
    before = server.count()
    results = []

    def one():
        results.append(api_status(gw, rotated.token()))
    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert server.count() - before == 1
    # Those that arrived while the round ran got the new key; any later one
    # found it already published.
    assert results == [200] * 10


def test_server_down_keeps_the_last_good_set(start_gateway, jwks_server):
    key = SigningKey()
    server = jwks_server(document=jwks_document(key))
    gw = start_jwks_gateway(start_gateway, server.url, refresh="1s", timeout="500ms")
    wait_ready(gw)
    assert api_status(gw, key.token()) == 200
    _, errors_before = fetch_counts(gw, server.url)

    server.stop()
    wait_until(lambda: fetch_counts(gw, server.url)[1] >= errors_before + 2, 10,
               what="gateway_key_fetches_total{result=\"error\"} to grow")
    assert api_status(gw, key.token()) == 200
    assert readyz(gw)[0] == 200
    assert "fetch failed" in gw.stderr_text()


def test_refused_jwk_is_skipped_and_the_rest_serves(start_gateway, jwks_server):
    key = SigningKey()
    no_kid = SigningKey().jwk()
    del no_kid["kid"]
    server = jwks_server(document=jwks_document(key, extra=[no_kid]))
    gw = start_jwks_gateway(start_gateway, server.url)
    wait_ready(gw)
    assert api_status(gw, key.token()) == 200
    assert re.search(r"keys %s: .*refused" % re.escape(server.url), gw.stderr_text())


def test_hmac_jwk_from_a_url_is_refused(start_gateway, jwks_server):
    """A published set is public: an oct key in it would let anyone sign
    (SPEC §5). It is refused and logged; the rest of the set serves."""
    import base64
    key = SigningKey()
    secret = b"published-hmac-secret-that-anyone-can-read-0123456789"
    oct_jwk = {"kty": "oct", "kid": "hs-public", "alg": "HS256", "use": "sig",
               "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode()}
    server = jwks_server(document=jwks_document(key, extra=[oct_jwk]))
    gw = start_jwks_gateway(start_gateway, server.url)
    wait_ready(gw)
    assert api_status(gw, key.token()) == 200
    now = int(time.time())
    forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 300},
                        secret, algorithm="HS256", headers={"kid": "hs-public"})
    assert api_status(gw, forged) == 401
    assert re.search(r"keys %s: JWK \"hs-public\" refused: .*HMAC" % re.escape(server.url), gw.stderr_text())


def test_https_with_ca_file(start_gateway, jwks_server, tmp_path):
    cert, private = make_certificate(tmp_path, "jwks", "IP:127.0.0.1,DNS:localhost")
    key = SigningKey()
    server = jwks_server(document=jwks_document(key), tls=(cert, private))
    gw = start_jwks_gateway(start_gateway, server.url, ca_file=cert)
    wait_ready(gw)
    assert api_status(gw, key.token()) == 200
    assert fetch_counts(gw, server.url)[0] >= 1


def test_https_certificate_for_another_host_is_a_fetch_error(start_gateway, jwks_server, tmp_path):
    cert, private = make_certificate(tmp_path, "other", "DNS:other.example")
    server = jwks_server(document=jwks_document(SigningKey()), tls=(cert, private))
    gw = start_jwks_gateway(start_gateway, server.url, ca_file=cert)
    wait_until(lambda: fetch_counts(gw, server.url)[1] >= 1, 5, what="a failed TLS fetch counted")
    assert fetch_counts(gw, server.url)[0] == 0
    assert readyz(gw)[0] == 503
    assert "TLS" in gw.stderr_text()
