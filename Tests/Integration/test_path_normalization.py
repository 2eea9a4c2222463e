"""Request-path normalization (SPEC §4.1-4.2): a path an upstream reads as
`/admin/...` must route to the `/admin/` route, and the upstream must get
exactly the path the router read.

Routes: `/admin/` auth=required, `/scoped/` auth=required with scope
`admin`, `/` auth=none. Raw request lines go out byte for byte (gwtest.Conn);
a dedicated demo upstream echoes the target it received and counts every
request, so "the upstream saw nothing" is a total that did not move.
"""

import pytest

jwt = pytest.importorskip("jwt")

import gwtest  # noqa: E402
from gwtest import HS_KID, HS_SECRET, Conn, Upstream, std_claims, upstream_stats, wait_until  # noqa: E402

ROUTES = [
    {"prefix": "/admin/", "upstream": "app", "auth": "required"},
    {"prefix": "/scoped/", "upstream": "app", "auth": "required", "scopes": ["admin"]},
    {"prefix": "/", "upstream": "app", "auth": "none"},
]


def token(**claims):
    return jwt.encode(std_claims(**claims), HS_SECRET, algorithm="HS256", headers={"kid": HS_KID})


@pytest.fixture(scope="module")
def own_upstream(tmp_path_factory):
    up = Upstream(log_dir=tmp_path_factory.mktemp("pathup"))
    yield up
    up.stop()


@pytest.fixture(scope="module")
def gw(start_module_gateway, own_upstream):
    return start_module_gateway(routes=ROUTES, upstream_port=own_upstream.port)


def upstream_total(gw):
    return upstream_stats(gw.upstream_port)["requests"]


def send(gw, target, headers=()):
    """One raw request line `GET <target> HTTP/1.1`; returns the response."""
    raw = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % gw.port
    raw += b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers)
    raw += b"Connection: close\r\n\r\n"
    with Conn(gw.port, timeout=5) as c:
        c.send(raw)
        return c.read_response()


def bearer(t):
    return [("Authorization", "Bearer " + t)]


# (raw target, what the upstream must receive)
ADMIN_SPELLINGS = [
    (b"/%61dmin/x", b"/admin/x"),
    (b"/%61%64%6d%69%6E/x", b"/admin/x"),
    (b"//admin/x", b"/admin/x"),
    (b"///admin//x", b"/admin/x"),
    (b"/admin;p/x", b"/admin;p/x"),
    (b"/;p/admin/x", b"/;p/admin/x"),
    (b"//%61dmin;p//x?q=%2F//%61&r", b"/admin;p/x?q=%2F//%61&r"),
    (b"/admin/%7euser/%2a", b"/admin/~user/%2A"),
]


@pytest.mark.parametrize("target,forwarded", ADMIN_SPELLINGS, ids=[t.decode() for t, _ in ADMIN_SPELLINGS])
def test_admin_spellings_need_a_token(gw, target, forwarded):
    before = upstream_total(gw)
    r = send(gw, target)
    assert r.status == 401, "%s: %r %r" % (target, r, r.body[:200])
    assert upstream_total(gw) == before, "a refused request reached the upstream"


@pytest.mark.parametrize("target,forwarded", ADMIN_SPELLINGS, ids=[t.decode() for t, _ in ADMIN_SPELLINGS])
def test_admin_spellings_forward_the_normalized_target(gw, target, forwarded):
    before = upstream_total(gw)
    r = send(gw, target, bearer(token()))
    assert r.status == 200, "%s: %r %r" % (target, r, r.body[:200])
    assert r.json()["path"].encode() == forwarded
    assert upstream_total(gw) == before + 1


def test_double_encoded_is_not_admin(gw):
    # %25 stays an escape: the upstream decodes once to "/%61dmin/x", which is
    # not "/admin/x"; so this is the open route, and it goes up unchanged.
    before = upstream_total(gw)
    r = send(gw, b"/%2561dmin/x")
    assert r.status == 200
    assert r.json()["path"] == "/%2561dmin/x"
    assert upstream_total(gw) == before + 1


@pytest.mark.parametrize("target", [b"/%73coped/x", b"//scoped/x", b"/scoped;v=1/x", b"/;a/scoped/x"])
def test_scopes_cannot_be_skipped(gw, target):
    before = upstream_total(gw)
    assert send(gw, target).status == 401
    r = send(gw, target, bearer(token(scope="read")))
    assert r.status == 403, "%s: %r" % (target, r)
    assert upstream_total(gw) == before, "a refused request reached the upstream"
    r = send(gw, target, bearer(token(scope="read admin")))
    assert r.status == 200
    assert upstream_total(gw) == before + 1


@pytest.mark.parametrize("target", [
    b"/admin%2Fx", b"/admin%2fx", b"/x/%2F../admin/x", b"/a%5cb", b"/a%5Cb", b"/a%00b",
    b"/a/%2e%2e/admin", b"/a/.%2E/admin", b"/a/..;x/admin/x", b"/a/%G0", b"/a/%4",
])
def test_refused_paths_are_400_and_never_forwarded(gw, target):
    before = upstream_total(gw)
    r = send(gw, target, bearer(token()))
    assert r.status == 400, "%s: %r" % (target, r)
    assert upstream_total(gw) == before


def test_absolute_form_goes_upstream_as_normalized_origin_form(gw):
    host = b"127.0.0.1:%d" % gw.port
    before = upstream_total(gw)
    r = send(gw, b"http://" + host + b"//%61dmin/x?y=%2f")
    assert r.status == 401
    assert upstream_total(gw) == before
    r = send(gw, b"http://" + host + b"//%61dmin/x?y=%2f", bearer(token()))
    assert r.status == 200
    assert r.json()["path"] == "/admin/x?y=%2f"


def test_access_log_shows_the_path_routing_read(gw):
    send(gw, b"/%61dmin/logged-%7e;p?secret=1")
    entries = wait_until(lambda: [e for e in gw.access_log() if e.get("path") == "/admin/logged-~;p"], 5,
                         what="access log line for the normalized path")
    assert entries[-1]["status"] == 401
    assert entries[-1]["route"] == "/admin/"
    assert not any("%61dmin/logged" in e.get("path", "") for e in gw.access_log())


def test_normal_paths_are_unchanged(gw):
    r = send(gw, b"/pub/a%C3%A9/b;v=1/?q=%7e&r=//x")
    assert r.status == 200
    assert r.json()["path"] == "/pub/a%C3%A9/b;v=1/?q=%7e&r=//x"


def test_matching_is_case_sensitive(gw):
    # RFC 3986 §6.2.2.1: the path is not case-folded; /Admin/ is another resource.
    r = send(gw, b"/%41dmin/x")
    assert r.status == 200
    assert r.json()["path"] == "/Admin/x"
