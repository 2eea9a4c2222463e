"""Transparent refresh (SPEC §6) seen from a real browser.

Headless Chromium loads examples/browser/index.html THROUGH the gateway (an
auth = "none" route to a small static server started here) and runs its
JavaScript against the real gateway: the page's gateway-fetch.js must adopt
every X-Refreshed-Token so a client polling past its first token's expiry
never sees a 401, and ten parallel requests with one near-expiry token must
all get the same new token (also through axios-interceptor.js, on a
minimal axios stand-in).

Chromium is driven over the DevTools protocol with a small stdlib websocket
client (no extra Python packages). Install it with `scripts/setup.sh
--browser`; without it (or $CHROMIUM pointing elsewhere) the test is
skipped. About 15 s.
"""

import base64
import functools
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from gwtest import REPO, http_request, run_cli, wait_until

EXAMPLES = REPO / "examples" / "browser"
REFRESH_HEADER = "X-Refreshed-Token"


def chromium_binary():
    """$CHROMIUM, else the first of chromium / chromium-browser / google-chrome on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = chromium_binary()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium (chromium, chromium-browser, google-chrome, or $CHROMIUM): "
           "run scripts/setup.sh --browser to install it")


def claims(token):
    """The (unverified) payload of a compact JWS."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --------------------------------------------------------------------------
# A minimal DevTools-protocol client over a stdlib websocket (RFC 6455)

class CDPError(AssertionError):
    pass


class CDP:
    """One DevTools websocket session: call(method, params) and evaluate(js)."""

    def __init__(self, ws_url, timeout=10.0):
        u = urlsplit(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (u.path, u.hostname, u.port, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise CDPError("websocket handshake refused: %r" % head[:200])
        self.next_id = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise CDPError("DevTools websocket closed")
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        # Client frames are masked (RFC 6455 §5.3).
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def _recv_message(self):
        parts = []
        while True:
            b0, b1 = self._take(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8))[0]
            mask = self._take(4) if b1 & 0x80 else None
            payload = self._take(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise CDPError("DevTools websocket closed by the browser")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if b0 & 0x80:
                return json.loads(b"".join(parts))

    def call(self, method, params=None, timeout=10.0):
        self.next_id += 1
        mid = self.next_id
        self._send_frame(0x1, json.dumps({"id": mid, "method": method, "params": params or {}}).encode())
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("no answer to %s within %.0fs" % (method, timeout))
            self.sock.settimeout(left)
            try:
                msg = self._recv_message()
            except socket.timeout:
                raise CDPError("no answer to %s within %.0fs" % (method, timeout)) from None
            if msg.get("id") != mid:
                continue  # an event
            if "error" in msg:
                raise CDPError("%s failed: %s" % (method, msg["error"]))
            return msg.get("result", {})

    def evaluate(self, expression, await_promise=False, timeout=10.0):
        """The JSON value of a page expression (exceptions raise CDPError)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, timeout=timeout)
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise CDPError("page exception: %s %s" % (d.get("text"), d.get("exception", {}).get("description", "")))
        return result.get("result", {}).get("value")


# --------------------------------------------------------------------------
# Fixtures: the static upstream, Chromium

class _StaticHandler(SimpleHTTPRequestHandler):
    """examples/browser under /demo/ (the gateway forwards the path unchanged)."""

    protocol_version = "HTTP/1.1"

    def translate_path(self, path):
        if path.startswith("/demo/"):
            path = path[len("/demo"):]
        return super().translate_path(path)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def static_upstream():
    """A threaded static file server for examples/browser; yields its port."""
    handler = functools.partial(_StaticHandler, directory=str(EXAMPLES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-upstream", daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with remote debugging; yields a CDP session on its
    page. The browser is stopped by PID at teardown (SIGTERM, then SIGKILL of
    its process group, which holds its renderer and helper processes)."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    log = open(tmp_path / "chromium.stderr", "wb")
    args = [CHROMIUM, "--headless=new", "--remote-debugging-port=0", "--user-data-dir=%s" % profile,
            "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--mute-audio", "--no-proxy-server", "--disable-crash-reporter",
            "--disable-breakpad", "about:blank"]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    log.close()
    cdp = None
    try:
        port_file = profile / "DevToolsActivePort"

        def devtools_port():
            if proc.poll() is not None:
                raise AssertionError("chromium exited with %s: %s" % (
                    proc.returncode, (tmp_path / "chromium.stderr").read_text(errors="replace")[-2000:]))
            lines = port_file.read_text().split("\n") if port_file.exists() else []
            return int(lines[0]) if lines and lines[0].strip() else None

        port = wait_until(devtools_port, 20, what="Chromium's DevToolsActivePort")

        def page_target():
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=2) as r:
                targets = json.load(r)
            return next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)

        cdp = CDP(wait_until(page_target, 10, what="a Chromium page target"))
        cdp.call("Page.enable")
        cdp.call("Runtime.enable")
        yield cdp
    finally:
        if cdp:
            cdp.close()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers (renderer, zygote) share the group
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.wait(5)


def mint(gw, ttl):
    r = run_cli("token", "mint", "--config", gw.config_path, "--sub", "alice", "--ttl", ttl)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


# A minimal axios stand-in: interceptors, request(config), get(url); errors
# for status >= 400 carry .response and .config, as axios's do.
MINI_AXIOS = r"""
function miniAxios() {
  const lists = { request: [], response: [] };
  const manager = (list) => ({ use(f, r) { list.push({ f, r }); return list.length - 1; },
                               eject(i) { list[i] = null; } });
  const inst = { interceptors: { request: manager(lists.request), response: manager(lists.response) } };
  inst.request = async (config) => {
    config = { headers: {}, ...config };
    for (const h of lists.request) if (h) config = await h.f(config);
    let p = fetch(config.url, { headers: config.headers, cache: "no-store" }).then(async (res) => {
      const text = await res.text();
      const headers = {};
      res.headers.forEach((v, k) => { headers[k] = v; });
      let data = text;
      try { data = JSON.parse(text); } catch {}
      const response = { status: res.status, data, headers, config };
      if (res.status >= 400) { const e = new Error("status " + res.status); e.response = response; e.config = config; throw e; }
      return response;
    });
    for (const h of lists.response) if (h) p = p.then(h.f, h.r);
    return p;
  };
  inst.get = (url) => inst.request({ url });
  return inst;
}
"""


def wait_past_quantum_edge(margin=5):
    """Sleeps into the next 30 s quantum when fewer than `margin` seconds
    are left in this one: a reissued token's iat is floored to the quantum
    (SPEC §6), so a burst that straddles an edge may get two new tokens."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.05)


def test_page_keeps_its_session_and_parallel_requests_share_one_new_token(
        start_gateway, static_upstream, browser):
    gw = start_gateway(
        routes=[
            {"prefix": "/demo/", "upstream": "static", "auth": "none"},
            {"prefix": "/api/", "upstream": "app", "auth": "required"},
        ],
        extra={
            "server": {"workers": 2},
            "upstreams.static": {"servers": ["127.0.0.1:%d" % static_upstream],
                                 "connect_timeout": "1s", "response_timeout": "5s"},
            # No leeway: a request still carrying the first token after its
            # exp would be answered 401, so adoption is really tested.
            "tokens": {"leeway": "0s"},
            "refresh": {"enabled": True, "window": "3s", "ttl": "10s", "signing_key": "test-hs"},
        })

    # -- 1. Poll every 500 ms for 8 s, past the first token's expiry ----------
    first = mint(gw, "4s")
    expired = mint(gw, "1s")  # long dead by step 5
    first_exp = claims(first)["exp"]
    url = "http://127.0.0.1:%d/demo/index.html#token=%s&interval=500&api=/api/profile" % (gw.port, first)
    browser.call("Page.navigate", {"url": url})
    wait_until(lambda: browser.evaluate("!!(window.gatewayDemo && gatewayDemo.results.length)"), 10,
               what="the demo page to start polling")
    assert browser.evaluate("location.hash") == "", "the page must drop the token from the URL"
    started_ms = browser.evaluate("gatewayDemo.results[0].start")
    wait_until(lambda: browser.evaluate("Date.now()") - started_ms >= 8000, 12, interval=0.2,
               what="8 s of polling")
    browser.evaluate("gatewayDemo.stop()")
    wait_until(lambda: browser.evaluate("gatewayDemo.results.every(r => r.end)"), 5,
               what="the last request to finish")
    results = browser.evaluate("gatewayDemo.results")
    login_required = browser.evaluate("gatewayDemo.loginRequired")

    statuses = [(r["seq"], r["status"], r["error"]) for r in results]
    assert all(status == 200 for _, status, _ in statuses), statuses
    assert login_required == []
    assert len(results) >= 14, "expected a request every 500 ms for 8 s, got %d" % len(results)
    assert results[0]["sent"] == first
    sent_tokens = list(dict.fromkeys(r["sent"] for r in results))
    assert len(sent_tokens) >= 2, "the token in use never changed"
    refreshed = [r for r in results if r["refreshed"]]
    assert refreshed, "no response carried %s" % REFRESH_HEADER
    for r in refreshed:
        assert REFRESH_HEADER.lower() in [h.strip().lower() for h in (r["expose"] or "").split(",")], r["expose"]
    # Requests after the first token's exp used a newer token, and passed.
    late = [r for r in results if r["start"] > first_exp * 1000 + 100]
    assert len(late) >= 4, "polling did not go past the first token's expiry"
    assert all(r["sent"] != first and claims(r["sent"])["exp"] > first_exp for r in late)
    last = browser.evaluate("gatewayDemo.client.getToken()")
    assert claims(last)["sub"] == "alice" and claims(last)["rfc"] >= 1
    assert browser.evaluate("sessionStorage.getItem('gateway.token')") == last

    # -- 2. Ten parallel requests with one near-expiry token ------------------
    wait_past_quantum_edge()
    burst_token = mint(gw, "2s")
    burst = browser.evaluate("""(async () => {
        const c = gatewayDemo.client;
        c.setToken(%s);
        // /slow/200: each answer takes 200 ms, so the ten are in flight together.
        const rs = await Promise.all(Array.from({ length: 10 },
            (_, i) => c.fetch("/api/slow/200?burst=" + i, { cache: "no-store" })));
        return { statuses: rs.map(r => r.status), tokens: rs.map(r => r.headers.get(%s)),
                 current: c.getToken() };
    })()""" % (json.dumps(burst_token), json.dumps(REFRESH_HEADER)), await_promise=True, timeout=15)
    assert burst["statuses"] == [200] * 10
    new = burst["tokens"][0]
    assert new and new != burst_token
    assert burst["tokens"] == [new] * 10, "parallel requests forked the session: %d distinct tokens" \
        % len(set(burst["tokens"]))
    assert burst["current"] == new
    old_claims, new_claims = claims(burst_token), claims(new)
    assert new_claims["rfc"] == 1 and new_claims["sub"] == "alice"
    assert new_claims["exp"] > old_claims["exp"]
    assert new_claims["jti"] != old_claims["jti"]
    # The new token is accepted by the gateway.
    assert http_request(gw.port, "GET", "/api/check", headers={"Authorization": "Bearer " + new}).status == 200

    # -- 3. The same through the axios interceptors ---------------------------
    # Minted now, not with the burst's: a 2 s token made before step 2 could
    # expire while these ten are in flight on a slow machine (the response
    # phase would then rightly not refresh it).
    wait_past_quantum_edge()
    axios_token = mint(gw, "2s")
    ax = browser.evaluate(MINI_AXIOS + """(async () => {
        const { install } = await import("/demo/axios-interceptor.js");
        const api = miniAxios();
        const login = [];
        const gw = install(api, { token: %s, onLoginRequired: (e) => login.push(e.error) });
        const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => api.get("/api/slow/200?axios=" + i)));
        const out = { statuses: rs.map(r => r.status), tokens: rs.map(r => r.headers[%s]),
                      sentAuth: rs.map(r => r.data.headers.filter(h => h[0].toLowerCase() === "authorization")
                                                      .map(h => h[1])),
                      current: gw.getToken() };
        gw.setToken("not.a.token");
        try { await api.get("/api/after-bad-token"); out.bad = "no error"; }
        catch (e) { out.bad = e.response && e.response.status; }
        out.login = login;
        return out;
    })()""" % (json.dumps(axios_token), json.dumps(REFRESH_HEADER.lower())), await_promise=True, timeout=15)
    assert ax["statuses"] == [200] * 10
    assert ax["sentAuth"] == [["Bearer " + axios_token]] * 10
    anew = ax["tokens"][0]
    assert anew and anew != axios_token and ax["tokens"] == [anew] * 10
    assert ax["current"] == anew
    assert claims(anew)["rfc"] == 1
    assert ax["bad"] == 401 and ax["login"] == ["invalid_token"]

    # -- 4. The fetch wrapper hands a dead token to onLoginRequired -----------
    dead = browser.evaluate("""(async () => {
        gatewayDemo.client.setToken("not.a.token");
        const r = await gatewayDemo.client.fetch("/api/after-bad-token", { cache: "no-store" });
        return { status: r.status, login: gatewayDemo.loginRequired.map(e => e.error) };
    })()""", await_promise=True)
    assert dead == {"status": 401, "login": ["invalid_token"]}

    # -- 5. Retries on token_expired: a token replaced in flight, renewToken --
    assert claims(expired)["exp"] < time.time()
    retry = browser.evaluate("""(async () => {
        const { createGatewayFetch } = await import("/demo/gateway-fetch.js");
        const login = [];
        // Sent with a dead token, which a "parallel response" replaces in flight.
        const a = createGatewayFetch({ token: %(expired)s, onLoginRequired: (e) => login.push(e.error) });
        const pending = a.fetch("/api/replaced", { cache: "no-store" });
        a.setToken(%(valid)s);
        const ra = await pending;
        // No newer token: renewToken (shared by concurrent 401s) gives one.
        let renewals = 0;
        const b = createGatewayFetch({ token: %(expired)s, onLoginRequired: (e) => login.push(e.error),
                                       renewToken: async () => { renewals += 1; return %(renewed)s; } });
        const rb = await Promise.all([1, 2, 3].map(i => b.fetch("/api/renewed?i=" + i, { cache: "no-store" })));
        // Nothing to retry with: the hook gets token_expired.
        const c = createGatewayFetch({ token: %(expired)s, onLoginRequired: (e) => login.push(e.error) });
        const rc = await c.fetch("/api/dead", { cache: "no-store" });
        return { a: ra.status, b: rb.map(r => r.status), renewals, c: rc.status, login };
    })()""" % {"expired": json.dumps(expired), "valid": json.dumps(new), "renewed": json.dumps(anew)},
        await_promise=True)
    assert retry == {"a": 200, "b": [200, 200, 200], "renewals": 1, "c": 401, "login": ["token_expired"]}
