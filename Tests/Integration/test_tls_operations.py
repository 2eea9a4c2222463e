"""TLS that operators can run: several certificates chosen by SNI
([[server.certificates]]), ALPN http/1.1 only, ECDHE+AEAD suites on TLS 1.2,
certificates reloaded on SIGHUP (new handshakes get the new pair, open
connections go on, a pair that does not load is refused), `gateway check`
on a mismatched or expiring pair, and the expiry metric."""
import http.client
import os
import re
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gwtest import make_config, metric_values, run_cli, wait_until, write_default_key_files, free_port


def make_certificate(directory, name, sans, days=30, cn=None):
    """Self-signed P-256 certificate: (cert path, key path)."""
    cert, key = Path(directory, name + ".crt"), Path(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
                    "-subj", "/CN=%s" % (cn or sans[0].split(":", 1)[1]),
                    "-addext", "subjectAltName=" + ",".join(sans)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def der(cert_path):
    return ssl.PEM_cert_to_DER_cert(Path(cert_path).read_text())


def bundle(directory, *certs):
    """One CA file trusting every (self-signed) certificate given."""
    path = Path(directory, "bundle-%d.pem" % len(list(Path(directory).glob("bundle-*.pem"))))
    path.write_text("".join(Path(c).read_text() for c in certs))
    return str(path)


def client_context(cafile, check_hostname=False, alpn=None):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = check_hostname
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def handshake(port, ctx, server_hostname=None):
    """(peer DER, peer cert dict, ALPN) of one fresh handshake."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            return s.getpeercert(binary_form=True), s.getpeercert(), s.selected_alpn_protocol()


def subject_cn(cert):
    return dict(x[0] for x in cert["subject"])["commonName"]


def replace_pair(src_cert, src_key, dst_cert, dst_key):
    """Copies a pair over the files the config names, each file atomically."""
    for src, dst in ((src_cert, dst_cert), (src_key, dst_key)):
        tmp = dst + ".tmp"
        Path(tmp).write_bytes(Path(src).read_bytes())
        os.replace(tmp, dst)


def reloads(gw):
    return {labels["result"]: v for labels, v in metric_values(gw.metrics(), "gateway_config_reloads_total")}


def reload_and_wait(gw, result):
    before = reloads(gw).get(result, 0)
    gw.reload()
    wait_until(lambda: reloads(gw).get(result, 0) == before + 1, 5, what="reload counted as %s" % result)


def certificate_sets(gw):
    return metric_values(gw.metrics(), "gateway_tls_certificate_sets")[0][1]


@pytest.fixture
def sni_gateway(start_gateway, tmp_path):
    default = make_certificate(tmp_path, "default", ["DNS:default.test", "DNS:pinned.apps.example.com", "IP:127.0.0.1"])
    api = make_certificate(tmp_path, "api", ["DNS:api.example.com"])
    wild = make_certificate(tmp_path, "wild", ["DNS:*.apps.example.com"])
    gw = start_gateway(extra={"server.certificates": [
        {"certificate": default[0], "private_key": default[1],
         "server_names": ["default.test", "pinned.apps.example.com"]},
        {"certificate": api[0], "private_key": api[1], "server_names": ["API.example.com"]},
        {"certificate": wild[0], "private_key": wild[1], "server_names": ["*.apps.example.com"]},
    ]})
    return gw, {"default": default, "api": api, "wild": wild}, bundle(tmp_path, default[0], api[0], wild[0])


# -- SNI -------------------------------------------------------------------

def test_sni_picks_the_certificate_of_the_name(sni_gateway):
    gw, certs, cafile = sni_gateway
    strict = client_context(cafile, check_hostname=True)
    for name, which in [("api.example.com", "api"), ("x.apps.example.com", "wild"),
                        ("pinned.apps.example.com", "default"), ("default.test", "default")]:
        peer, parsed, _ = handshake(gw.port, strict, name)
        assert peer == der(certs[which][0]), name
        assert ("DNS", name) in parsed["subjectAltName"] or which == "wild"
    _, parsed, _ = handshake(gw.port, strict, "x.apps.example.com")
    assert subject_cn(parsed) == "*.apps.example.com"
    assert ("DNS", "*.apps.example.com") in parsed["subjectAltName"]
    # A request goes through on the connection SNI switched.
    c = http.client.HTTPSConnection("127.0.0.1", gw.port, context=client_context(cafile), timeout=5)
    c.sock = client_context(cafile).wrap_socket(socket.create_connection(("127.0.0.1", gw.port), timeout=5),
                                                server_hostname="api.example.com")
    c.request("GET", "/public/sni")
    assert c.getresponse().status == 200
    assert c.sock.getpeercert(binary_form=True) == der(certs["api"][0])
    c.close()


def test_unknown_name_and_no_name_get_the_default(sni_gateway):
    gw, certs, cafile = sni_gateway
    ctx = client_context(cafile)
    # A wildcard covers one label only.
    for name in ["unknown.test", "deep.x.apps.example.com", "apps.example.com", None]:
        peer, parsed, _ = handshake(gw.port, ctx, name)
        assert peer == der(certs["default"][0]), name
        assert subject_cn(parsed) == "default.test"


# -- ALPN and suites -----------------------------------------------------------

def test_alpn_negotiates_http11_only(sni_gateway):
    gw, _, cafile = sni_gateway
    assert handshake(gw.port, client_context(cafile, alpn=["h2", "http/1.1"]))[2] == "http/1.1"
    assert handshake(gw.port, client_context(cafile))[2] is None
    with pytest.raises(ssl.SSLError) as e:
        handshake(gw.port, client_context(cafile, alpn=["h2"]))
    assert "NO APPLICATION PROTOCOL" in str(e.value).upper().replace("_", " ")


def test_tls12_allows_only_ecdhe_aead_suites(sni_gateway):
    gw, _, cafile = sni_gateway
    good = client_context(cafile)
    good.maximum_version = ssl.TLSVersion.TLSv1_2
    good.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as raw:
        with good.wrap_socket(raw) as s:
            assert s.version() == "TLSv1.2"
            assert s.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    cbc = client_context(cafile)
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    with pytest.raises(ssl.SSLError):
        handshake(gw.port, cbc)


# -- SIGHUP ----------------------------------------------------------------------

@pytest.fixture
def reloadable(start_gateway, tmp_path):
    """A gateway serving live.crt/live.key (a copy of pair A); pair B ready."""
    a = make_certificate(tmp_path, "a", ["DNS:a.test", "IP:127.0.0.1"])
    b = make_certificate(tmp_path, "b", ["DNS:b.test", "IP:127.0.0.1"])
    live = (str(tmp_path / "live.crt"), str(tmp_path / "live.key"))
    replace_pair(*a, *live)
    gw = start_gateway(extra={"server": {"workers": 2, "tls_certificate": live[0], "tls_private_key": live[1]}})
    return gw, a, b, live, bundle(tmp_path, a[0], b[0])


def test_sighup_serves_the_new_certificate_and_keeps_open_connections(reloadable):
    gw, a, b, live, cafile = reloadable
    ctx = client_context(cafile)
    old = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ctx, timeout=5)
    old.request("GET", "/public/before")
    assert old.getresponse().read() and True
    old_sock = old.sock
    assert old_sock.getpeercert(binary_form=True) == der(a[0])
    assert certificate_sets(gw) == 1

    replace_pair(*b, *live)
    reload_and_wait(gw, "ok")
    wait_until(lambda: handshake(gw.port, ctx)[0] == der(b[0]), 5, what="new handshakes see certificate B")
    for _ in range(4):  # every worker
        assert handshake(gw.port, ctx)[0] == der(b[0])

    # The keep-alive connection opened before the reload goes on, on A.
    for i in range(3):
        old.request("GET", "/public/after%d" % i)
        r = old.getresponse()
        assert r.status == 200
        r.read()
    assert old.sock is old_sock
    assert old_sock.getpeercert(binary_form=True) == der(a[0])
    # A's set stays in memory while that connection holds it, and only then.
    assert certificate_sets(gw) == 2
    old.close()
    wait_until(lambda: certificate_sets(gw) == 1, 5, what="the old certificate set freed after its last connection")


def test_reload_with_a_broken_key_is_refused(reloadable, tmp_path):
    gw, a, b, live, cafile = reloadable
    ctx = client_context(cafile)
    # B's certificate with A's key: does not match.
    replace_pair(b[0], a[1], *live)
    reload_and_wait(gw, "error")
    wait_until(lambda: "does not match private key" in gw.stderr_text(), 5, what="mismatch logged")
    assert "reload refused" in gw.stderr_text()
    assert handshake(gw.port, ctx)[0] == der(a[0])
    # A key file that is not a key at all.
    Path(live[0]).write_bytes(Path(b[0]).read_bytes())
    Path(live[1]).write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    reload_and_wait(gw, "error")
    wait_until(lambda: "cannot load private key" in gw.stderr_text(), 5, what="bad key logged")
    assert handshake(gw.port, ctx)[0] == der(a[0])
    c = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ctx, timeout=5)
    c.request("GET", "/public/still")
    assert c.getresponse().status == 200
    c.close()
    # Fixed files: the next reload takes them.
    replace_pair(*b, *live)
    reload_and_wait(gw, "ok")
    wait_until(lambda: handshake(gw.port, ctx)[0] == der(b[0]), 5, what="certificate B after the fix")


def test_reloads_under_load_fail_no_handshake(reloadable):
    gw, a, b, live, cafile = reloadable
    ctx = client_context(cafile)
    stop = threading.Event()
    done, failures, seen = [0], [], set()

    def client():
        while not stop.is_set():
            try:
                c = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ctx, timeout=5)
                c.request("GET", "/public/load")
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    failures.append("status %d" % r.status)
                seen.add(c.sock.getpeercert(binary_form=True))
                c.close()
                done[0] += 1
            except (OSError, ssl.SSLError, http.client.HTTPException) as e:
                failures.append(repr(e))

    t = threading.Thread(target=client, daemon=True)
    t.start()
    try:
        for i in range(5):
            replace_pair(*(b if i % 2 == 0 else a), *live)
            reload_and_wait(gw, "ok")
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(10)
    assert failures == []
    assert done[0] >= 10
    assert seen == {der(a[0]), der(b[0])}


# -- gateway check and the metric -----------------------------------------------

def write_config(directory, server):
    write_default_key_files(directory)
    path = Path(directory, "gateway.conf")
    path.write_text(make_config(9, free_port(), free_port(), extra={"server": server}))
    return path


def test_check_refuses_a_certificate_that_does_not_match_its_key(tmp_path):
    a = make_certificate(tmp_path, "a", ["DNS:a.test"])
    b = make_certificate(tmp_path, "b", ["DNS:b.test"])
    path = write_config(tmp_path, {"tls_certificate": a[0], "tls_private_key": b[1]})
    r = run_cli("check", "--config", path)
    assert r.returncode == 1
    line = [l for l in r.stderr.splitlines() if "does not match" in l]
    assert line, r.stderr
    assert line[0].startswith("%s:" % path)
    assert "server.tls_certificate: certificate %s does not match private key %s" % (a[0], b[1]) in line[0]
    good = write_config(tmp_path, {"tls_certificate": a[0], "tls_private_key": a[1]})
    r = run_cli("check", "--config", good)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stdout


def test_check_warns_about_a_certificate_expiring_within_14_days(tmp_path):
    soon = make_certificate(tmp_path, "soon", ["DNS:soon.test"], days=5)
    path = write_config(tmp_path, {"tls_certificate": soon[0], "tls_private_key": soon[1]})
    r = run_cli("check", "--config", path)
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stdout.splitlines() if l.startswith("warning:")]
    assert len(warnings) == 1, r.stdout
    # notAfter is now + 5 days to the second: 4 days 23 hours left, or 5 days 0 hours within that second.
    assert re.search(r"certificate %s expires in (4 days 23|5 days 0) hours$" % re.escape(soon[0]), warnings[0]), warnings
    assert "configuration OK" in r.stdout


def test_expiry_metric_counts_down_to_not_after(start_gateway, tmp_path):
    soon = make_certificate(tmp_path, "soon", ["DNS:soon.test", "IP:127.0.0.1"], days=5)
    later = make_certificate(tmp_path, "later", ["DNS:later.test"], days=90)
    gw = start_gateway(extra={"server.certificates": [
        {"certificate": soon[0], "private_key": soon[1]},
        {"certificate": later[0], "private_key": later[1], "server_names": ["later.test"]},
    ]})
    values = {labels["name"]: v for labels, v in metric_values(gw.metrics(), "gateway_tls_certificate_expiry_seconds")}
    assert set(values) == {soon[0], later[0]}
    assert 5 * 86400 - 300 < values[soon[0]] <= 5 * 86400
    assert 90 * 86400 - 300 < values[later[0]] <= 90 * 86400
    assert re.search(r"warn .*server\.certificates\[0\]: certificate %s expires in (4|5) days" % re.escape(soon[0]),
                     gw.stderr_text())
