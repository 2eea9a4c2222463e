"""Sessions and refresh tokens (SPEC §7) seen from a real browser.

Headless Chromium loads examples/browser/index.html THROUGH the gateway, as
in test_browser.py (whose DevTools client and fixtures this file reuses),
but against a gateway with [sessions]: the page logs in on an issue_session
route, keeps the 3 s access token in memory and the refresh token only in
the gateway's HttpOnly cookie, and when the access token has expired the
wrapper (gateway-fetch.js, or axios-interceptor.js on a minimal axios
stand-in) answers the 401 token_expired of every waiting request with ONE
cookie-carried POST /auth/refresh, then replays each request once. Two tabs
sharing the cookie jar refresh at the same moment: one rotation, one grace
replay, both tabs keep working. Transparent refresh (SPEC §6) is off here,
so that the access tokens really expire.

Skipped without Chromium, like test_browser.py. About 30 s.
"""

import json
import time
import urllib.request

import pytest

from gwtest import HS_KID, http_request, metric_values, wait_until
from test_browser import CDP, CHROMIUM, MINI_AXIOS, browser, claims, mint, static_upstream  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium (chromium, chromium-browser, google-chrome, or $CHROMIUM): "
           "run scripts/setup.sh --browser to install it")

COOKIE = "gw_refresh"
ACCESS_TTL_S = 3
LATENCY_MS = 300  # emulated round trip for the two-tab race


@pytest.fixture
def session_gateway(start_gateway, static_upstream):
    return start_gateway(
        routes=[
            {"prefix": "/demo/", "upstream": "static", "auth": "none"},
            {"prefix": "/login", "upstream": "app", "auth": "none", "issue_session": True},
            {"prefix": "/api/", "upstream": "app", "auth": "required"},
        ],
        extra={
            "server": {"workers": 2},
            "upstreams.static": {"servers": ["127.0.0.1:%d" % static_upstream],
                                 "connect_timeout": "1s", "response_timeout": "5s"},
            # No leeway: a token is refused from its exp on.
            "tokens": {"leeway": "0s"},
            # The key signs the session's access tokens; sliding refresh is
            # off, else every request would extend the 3 s token.
            "refresh": {"enabled": False, "signing_key": HS_KID},
            "sessions": {"access_ttl": "%ds" % ACCESS_TTL_S, "cookie": COOKIE},
            "store": {"state_dir": "state"},
        })


def outcomes(gw):
    """gateway_sessions_total by outcome."""
    return {labels["outcome"]: value for labels, value in metric_values(gw.metrics(), "gateway_sessions_total")}


def delta(after, before, outcome):
    return after.get(outcome, 0) - before.get(outcome, 0)


def open_demo(cdp, gw):
    """Loads the demo page (no token in the URL: it resumes from the cookie,
    if any); returns the token it resumed with, or None."""
    cdp.call("Page.navigate", {"url": "http://127.0.0.1:%d/demo/index.html" % gw.port})
    wait_until(lambda: cdp.evaluate("!!(window.gatewayDemo && gatewayDemo.ready)"), 10,
               what="the demo page to load")
    return cdp.evaluate("gatewayDemo.ready", await_promise=True)


def refresh_cookies(cdp, gw):
    """The browser's cookies that a POST /auth/refresh would carry."""
    return cdp.call("Network.getCookies", {"urls": ["http://127.0.0.1:%d/auth/refresh" % gw.port]})["cookies"]


def sleep_past_expiry(*tokens):
    exp = max(claims(t)["exp"] for t in tokens)
    time.sleep(max(0.0, exp + 0.2 - time.time()))


class Tab:
    """A second page target of the same browser (same profile, same cookie
    jar), opened over the DevTools HTTP endpoint."""

    def __init__(self, first):
        self.port = first.sock.getpeername()[1]
        req = urllib.request.Request("http://127.0.0.1:%d/json/new?about:blank" % self.port, method="PUT")
        with urllib.request.urlopen(req, timeout=5) as r:
            target = json.load(r)
        self.id = target["id"]
        self.cdp = CDP(target["webSocketDebuggerUrl"])
        self.cdp.call("Page.enable")
        self.cdp.call("Runtime.enable")

    def close(self):
        self.cdp.close()
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/json/close/%s" % (self.port, self.id), timeout=5).close()
        except OSError:
            pass


def access_log_statuses(gw, prefix):
    """Statuses of the access-log lines whose path starts with prefix."""
    return sorted(e.get("status") for e in gw.access_log() if str(e.get("path", "")).startswith(prefix))


# --------------------------------------------------------------------------

def test_page_logs_in_and_one_refresh_serves_all_requests_after_expiry(session_gateway, browser):
    gw = session_gateway
    assert open_demo(browser, gw) is None, "no cookie yet: nothing to resume"
    base_calls = browser.evaluate("gatewayDemo.refreshCalls")

    # -- login: access token adopted, refresh token only in the cookie --------
    login = browser.evaluate("gatewayDemo.login('alice')", await_promise=True)
    assert login["status"] == 200
    first = login["token"]
    c = claims(first)
    assert c["sub"] == "alice" and c["sid"] and c["exp"] - c["iat"] == ACCESS_TTL_S
    cookies = [k for k in refresh_cookies(browser, gw) if k["name"] == COOKIE]
    assert len(cookies) == 1, "the Secure cookie was not stored for http://127.0.0.1: %r" % cookies
    cookie = cookies[0]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/auth/"
    assert len(cookie["value"]) == 43
    script_sees = browser.evaluate(
        "JSON.stringify([document.cookie, Object.entries(sessionStorage), Object.entries(localStorage)])")
    assert cookie["value"] not in script_sees, "the refresh token must stay out of script's reach"
    assert browser.evaluate("gatewayDemo.call('/api/profile')", await_promise=True) == 200

    # -- ten parallel calls after expiry: one refresh, each replayed once -----
    for round_no in (1, 2):
        token = browser.evaluate("gatewayDemo.client.getToken()")
        sleep_past_expiry(token)
        before = outcomes(gw)
        calls = browser.evaluate("gatewayDemo.refreshCalls")
        burst = browser.evaluate("gatewayDemo.callMany(10, '/api/r%d/slow/200')" % round_no,
                                 await_promise=True, timeout=15)
        after = outcomes(gw)
        assert burst["statuses"] == [200] * 10, burst
        assert burst["sent"] == token
        assert browser.evaluate("gatewayDemo.refreshCalls") - calls == 1, "not a single flight"
        assert delta(after, before, "refreshed") == 1 and delta(after, before, "grace_replay") == 0, after
        new = burst["after"]
        assert new != token and claims(new)["sid"] == c["sid"] and claims(new)["exp"] > claims(token)["exp"]
        # Every request met token_expired once, and was sent once more.
        prefix = "/api/r%d/slow/200" % round_no
        statuses = wait_until(lambda: (lambda s: s if len(s) >= 20 else None)(access_log_statuses(gw, prefix)),
                              5, what="20 access-log lines")
        assert statuses == [200] * 10 + [401] * 10, statuses
        # The rotated cookie replaced the old one in the jar.
        assert [k["value"] for k in refresh_cookies(browser, gw) if k["name"] == COOKIE] != [cookie["value"]]
        cookie = next(k for k in refresh_cookies(browser, gw) if k["name"] == COOKIE)
    assert browser.evaluate("gatewayDemo.loginRequired") == []
    assert browser.evaluate("gatewayDemo.refreshCalls") - base_calls == 2

    # -- logout: session revoked, cookie cleared ------------------------------
    last = browser.evaluate("gatewayDemo.client.getToken()")
    assert browser.evaluate("gatewayDemo.logout()", await_promise=True) == 204
    assert browser.evaluate("gatewayDemo.client.getToken()") is None
    assert [k for k in refresh_cookies(browser, gw) if k["name"] == COOKIE] == []
    revoked = wait_until(lambda: (lambda r: r if r.status == 401 else None)(
        http_request(gw.port, "GET", "/api/after-logout", headers={"Authorization": "Bearer " + last})),
        3, what="the logged-out access token to be refused")
    assert json.loads(revoked.body)["error"] == "token_revoked"

    # -- a refused refresh: every waiting request goes to onLoginRequired ----
    dead = mint(gw, "1s")
    sleep_past_expiry(dead)
    calls = browser.evaluate("gatewayDemo.refreshCalls")
    failed = browser.evaluate("""(async () => {
        gatewayDemo.client.setToken(%s);
        const r = await gatewayDemo.callMany(5, "/api/dead/slow/200");
        return { statuses: r.statuses, login: gatewayDemo.loginRequired.map(e => e.error),
                 refresh: gatewayDemo.client.session.lastRefresh };
    })()""" % json.dumps(dead), await_promise=True, timeout=15)
    assert failed["statuses"] == [401] * 5
    assert failed["login"] == ["token_expired"] * 5
    assert failed["refresh"]["status"] == 400
    assert browser.evaluate("gatewayDemo.refreshCalls") - calls == 1


def test_two_tabs_refresh_at_the_same_moment(session_gateway, browser):
    gw = session_gateway
    open_demo(browser, gw)
    login = browser.evaluate("gatewayDemo.login('alice')", await_promise=True)
    assert login["status"] == 200
    sid = claims(login["token"])["sid"]

    # The second tab has no token of its own: it resumes from the shared cookie.
    tab = Tab(browser)
    try:
        before = outcomes(gw)
        resumed = open_demo(tab.cdp, gw)
        assert resumed and claims(resumed)["sid"] == sid, "the second tab did not resume the session"
        assert delta(outcomes(gw), before, "refreshed") == 1
        tabs = {"first": browser, "second": tab.cdp}

        # Both tabs' tokens have expired; both fire ten calls at one instant
        # (started by back-to-back evaluations, not by page timers, which
        # Chromium throttles in the tab that is not in front). On loopback a
        # refresh is answered in a few ms, less than the jitter between two
        # renderers, so the tabs get a 300 ms network (DevTools emulation:
        # the cookie is read when a request starts, a Set-Cookie stored when
        # its delayed answer arrives), as over a real link.
        for cdp in tabs.values():
            cdp.call("Network.enable")
            cdp.call("Network.emulateNetworkConditions",
                     {"offline": False, "latency": LATENCY_MS, "downloadThroughput": -1, "uploadThroughput": -1})
        sleep_past_expiry(login["token"], resumed)
        before = outcomes(gw)
        calls = {name: cdp.evaluate("gatewayDemo.refreshCalls") for name, cdp in tabs.items()}
        for cdp in tabs.values():
            cdp.evaluate("window.burst = null; gatewayDemo.callMany(10, '/api/tabs/slow/200')"
                         ".then(r => { window.burst = r; }); true")
        results = {name: wait_until(lambda cdp=cdp: cdp.evaluate("window.burst"), 20, what="the %s tab" % name)
                   for name, cdp in tabs.items()}
        after = outcomes(gw)

        for name, cdp in tabs.items():
            assert results[name]["statuses"] == [200] * 10, (name, results[name])
            assert cdp.evaluate("gatewayDemo.loginRequired") == [], name
            assert cdp.evaluate("gatewayDemo.refreshCalls") - calls[name] == 1, "%s tab: not a single flight" % name
        # The two refreshes overlapped: each left before the other's answer
        # (and its Set-Cookie) came back, so both carried the same cookie.
        first_log, second_log = (cdp.evaluate("gatewayDemo.refreshLog.at(-1)") for cdp in tabs.values())
        overlap = min(first_log["answered"], second_log["answered"]) - max(first_log["sent"], second_log["sent"])
        print("refreshes: first tab %.1f ms, second tab %.1f ms, overlap %.1f ms" % (
            first_log["answered"] - first_log["sent"], second_log["answered"] - second_log["sent"], overlap))
        assert overlap > 0, "the tabs did not refresh at the same moment: %r %r" % (first_log, second_log)
        # One rotation, one grace replay of the very same answer: both tabs
        # hold the same new access token, and nothing was taken for theft.
        assert delta(after, before, "refreshed") == 1, after
        assert delta(after, before, "grace_replay") == 1, after
        assert delta(after, before, "reuse_detected") == 0 and delta(after, before, "invalid") == 0, after
        assert results["first"]["after"] == results["second"]["after"]
        assert claims(results["first"]["after"])["sid"] == sid

        # The cookie both tabs share is the live successor: the next refresh rotates.
        before = outcomes(gw)
        again = tab.cdp.evaluate("gatewayDemo.client.refreshSession()", await_promise=True)
        assert again and claims(again)["sid"] == sid
        assert delta(outcomes(gw), before, "refreshed") == 1
        assert browser.evaluate("gatewayDemo.call('/api/profile')", await_promise=True) == 200
    finally:
        tab.close()


def test_axios_interceptor_logs_in_and_refreshes_once(session_gateway, browser):
    gw = session_gateway
    open_demo(browser, gw)
    login = browser.evaluate(MINI_AXIOS + """(async () => {
        const { install } = await import("/demo/axios-interceptor.js");
        const api = miniAxios();
        const ax = window.ax = { api, login: [], refreshCalls: 0 };
        ax.gw = install(api, {
            session: true,
            onLoginRequired: (e) => ax.login.push(e.error),
            fetch: (req) => { if (new URL(req.url).pathname === "/auth/refresh") ax.refreshCalls += 1; return fetch(req); },
        });
        const res = await ax.gw.login({ user: "bob" });
        const check = await api.get("/api/check");
        return { status: res.status, token: ax.gw.getToken(), check: check.status };
    })()""", await_promise=True)
    assert login["status"] == 200 and login["check"] == 200
    token = login["token"]
    assert claims(token)["sub"] == "bob"

    sleep_past_expiry(token)
    before = outcomes(gw)
    burst = browser.evaluate("""(async () => {
        const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => ax.api.get("/api/axios/slow/200?i=" + i)));
        return { statuses: rs.map(r => r.status),
                 sentAuth: rs.map(r => r.data.headers.filter(h => h[0].toLowerCase() === "authorization")
                                                 .map(h => h[1])),
                 current: ax.gw.getToken(), refreshCalls: ax.refreshCalls, login: ax.login };
    })()""", await_promise=True, timeout=15)
    after = outcomes(gw)
    assert burst["statuses"] == [200] * 10
    assert burst["refreshCalls"] == 1 and burst["login"] == []
    new = burst["current"]
    assert new != token and claims(new)["sid"] == claims(token)["sid"]
    assert burst["sentAuth"] == [["Bearer " + new]] * 10, "the replays must carry the new token"
    assert delta(after, before, "refreshed") == 1 and delta(after, before, "grace_replay") == 0
    statuses = wait_until(lambda: (lambda s: s if len(s) >= 20 else None)(access_log_statuses(gw, "/api/axios/slow/200")),
                          5, what="20 access-log lines")
    assert statuses == [200] * 10 + [401] * 10

    # Logout through the interceptor's handle, then a refused refresh.
    out = browser.evaluate("ax.gw.logout().then(r => r.status)", await_promise=True)
    assert out == 204 and browser.evaluate("ax.gw.getToken()") is None
    dead = mint(gw, "1s")
    sleep_past_expiry(dead)
    failed = browser.evaluate("""(async () => {
        ax.gw.setToken(%s);
        const calls = ax.refreshCalls;
        const rs = await Promise.all([1, 2, 3].map(i => ax.api.get("/api/axios-dead/slow/200?i=" + i)
                                                       .then(r => r.status, e => e.response && e.response.status)));
        return { statuses: rs, refreshCalls: ax.refreshCalls - calls, login: ax.login };
    })()""" % json.dumps(dead), await_promise=True, timeout=15)
    assert failed == {"statuses": [401] * 3, "refreshCalls": 1, "login": ["token_expired"] * 3}
