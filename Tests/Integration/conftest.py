"""Fixtures: a demo upstream, and gateways started from generated configs.

Run from the repository root: `python3 -m pytest -q Tests/Integration`.
The binary is $GATEWAY_BIN, else .build/debug/gateway. Tests marked `slow`
(1 GiB streams) run only with GATEWAY_SLOW=1.
"""

import os

import pytest

import gwtest
from gwtest import Gateway, Upstream, free_port, make_config


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (1 GiB streams); run with GATEWAY_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("GATEWAY_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set GATEWAY_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory):
    """The shared demo upstream (session-wide; do not stop it in a test)."""
    up = Upstream(log_dir=tmp_path_factory.mktemp("upstream"))
    yield up
    up.stop()


@pytest.fixture
def start_upstream(tmp_path):
    """Factory: start_upstream(port=None) -> Upstream, stopped at teardown."""
    started = []

    def start(port=None):
        up = Upstream(port=port, log_dir=tmp_path)
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()


@pytest.fixture
def start_gateway(request, tmp_path, upstream):
    """Factory for gateways on fresh loopback ports.

    start_gateway(routes=None, extra=None, upstream_port=None, keys="default",
                  config_text=None, wait=True, env=None) -> gwtest.Gateway

    upstream_port defaults to the shared upstream (an int or a list of ints).
    config_text, when given, replaces the generated config; it may use
    {listen_port}, {admin_port} and {upstream_port} placeholders.
    With wait, returns once admin /healthz answers 200 (10 s, else the test
    fails showing the gateway's stderr). Every gateway is stopped by PID at
    teardown (SIGTERM, SIGKILL after 5 s); on a failed test its stderr tail
    is printed.
    """
    started = []

    def start(routes=None, extra=None, upstream_port=None, keys="default", config_text=None,
              wait=True, env=None):
        listen_port, admin_port = free_port(), free_port()
        up = upstream.port if upstream_port is None else upstream_port
        if config_text is None:
            text = make_config(up, listen_port, admin_port, routes=routes, extra=extra, keys=keys)
        else:
            text = config_text.format(listen_port=listen_port, admin_port=admin_port, upstream_port=up)
        workdir = tmp_path / ("gw%d" % len(started))
        gw = Gateway(workdir, text, listen_port, admin_port, upstream_port=up, env=env)
        started.append(gw)
        if wait:
            gw.wait_healthy(10)
        return gw

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for gw in started:
        gw.stop(timeout=5)
        if failed:
            print("---- gateway %d stderr (tail) ----" % gw.pid)
            print(gw.stderr_text()[-3000:])


@pytest.fixture
def gateway(start_gateway):
    """A gateway on the default test config (/public/ auth none, / auth required)."""
    return start_gateway()


@pytest.fixture
def make_gateway_config():
    """gwtest.make_config, for tests that write their own files."""
    return make_config


@pytest.fixture
def gw_helpers():
    return gwtest


# --------------------------------------------------------------------------
# Authentication tests (test_auth*.py)

@pytest.fixture(scope="session")
def auth_keys(tmp_path_factory):
    """{alg: gwtest.TestKey} for every JWS alg the gateway supports, kid = alg
    lowercased ("hs256", "rs256", ... "eddsa"), files in a session tmp dir.
    Needs PyJWT and cryptography."""
    pytest.importorskip("jwt")
    pytest.importorskip("cryptography")
    directory = tmp_path_factory.mktemp("authkeys")
    return {alg: gwtest.TestKey(alg, directory) for alg in gwtest.ALL_ALGS}


@pytest.fixture(scope="module")
def start_module_gateway(request, tmp_path_factory, upstream):
    """As start_gateway, but the gateways live for the whole test module
    (stopped by PID at module teardown; the stderr tail is printed when a
    test of the module failed). Same arguments, minus config_text."""
    started = []
    failures_before = request.session.testsfailed
    base = tmp_path_factory.mktemp("modgw")

    def start(routes=None, extra=None, upstream_port=None, keys="default", wait=True, env=None):
        listen_port, admin_port = free_port(), free_port()
        up = upstream.port if upstream_port is None else upstream_port
        text = make_config(up, listen_port, admin_port, routes=routes, extra=extra, keys=keys)
        gw = Gateway(base / ("gw%d" % len(started)), text, listen_port, admin_port, upstream_port=up, env=env)
        started.append(gw)
        if wait:
            gw.wait_healthy(10)
        return gw

    yield start
    failed = request.session.testsfailed > failures_before
    for gw in started:
        gw.stop(timeout=5)
        if failed:
            print("---- module gateway %d stderr (tail) ----" % gw.pid)
            print(gw.stderr_text()[-3000:])


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (free loopback port), killed by PID at teardown."""
    server = gwtest.RedisServer(tmp_path / "redis")
    yield server
    server.stop()
