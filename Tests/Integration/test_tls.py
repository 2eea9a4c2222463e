"""TLS on the listeners (SPEC §3 [server] tls_certificate / tls_private_key):
requests, keep-alive and bodies over TLS, X-Forwarded-Proto "https", and a
client speaking plain HTTP to the TLS port gets nowhere without hurting the
next one."""
import http.client
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest


def make_certificate(directory):
    """Self-signed P-256 certificate for 127.0.0.1: (cert, key)."""
    cert, key = Path(directory, "server.crt"), Path(directory, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_gateway(start_gateway, tmp_path):
    cert, key = make_certificate(tmp_path)
    gw = start_gateway(extra={"server": {"tls_certificate": cert, "tls_private_key": key}})
    context = ssl.create_default_context(cafile=cert)
    return gw, context


def https(gw, context):
    return http.client.HTTPSConnection("127.0.0.1", gw.port, context=context, timeout=5)


def test_request_over_tls_is_forwarded_as_https(tls_gateway):
    gw, context = tls_gateway
    c = https(gw, context)
    c.request("GET", "/public/tls?x=1")
    r = c.getresponse()
    assert r.status == 200
    echo = json.loads(r.read())
    assert echo["path"] == "/public/tls?x=1"
    proto = [v for k, v in echo["headers"] if k.lower() == "x-forwarded-proto"]
    assert proto == ["https"]


def test_keep_alive_and_bodies_over_tls(tls_gateway):
    gw, context = tls_gateway
    c = https(gw, context)
    for i in range(3):
        body = b"x" * (100_000 + i)
        c.request("POST", "/public/echo", body=body, headers={"Content-Type": "application/octet-stream"})
        r = c.getresponse()
        assert r.status == 200
        assert r.read() == body
    # One TCP connection carried all three.
    assert c.sock is not None


def test_protected_route_over_tls_still_needs_a_token(tls_gateway):
    gw, context = tls_gateway
    c = https(gw, context)
    c.request("GET", "/secret")
    r = c.getresponse()
    assert r.status == 401
    assert json.loads(r.read())["error"] == "missing_token"


def test_plain_http_to_the_tls_port_fails_cleanly(tls_gateway):
    gw, context = tls_gateway
    with socket.create_connection(("127.0.0.1", gw.port), timeout=3) as s:
        s.sendall(b"GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n")
        try:
            data = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")
    c = https(gw, context)
    c.request("GET", "/public/after")
    assert c.getresponse().status == 200
