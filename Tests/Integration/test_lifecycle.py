"""Signals and the command line (SPEC §2): reload, graceful stop, check."""

import re
import socket
import threading
import time

import pytest

from gwtest import Conn, make_config, metric_values, run_cli, wait_until, write_default_key_files

PUBLIC_ONLY = [{"prefix": "/public/", "upstream": "app", "auth": "none"}]


def test_sighup_reload_applies_new_route(start_gateway, upstream):
    gw = start_gateway(routes=PUBLIC_ONLY)
    assert gw.get("/other/x").status == 404
    gw.write_config(make_config(upstream.port, gw.port, gw.admin_port,
                                routes=PUBLIC_ONLY + [{"prefix": "/other/", "upstream": "app", "auth": "none"}]))
    gw.reload()
    wait_until(lambda: gw.get("/other/x").status == 200, 5, what="new route after SIGHUP")
    assert gw.get("/public/x").status == 200
    assert gw.running()
    oks = [v for labels, v in metric_values(gw.metrics(), "gateway_config_reloads_total")
           if labels.get("result") == "ok"]
    assert oks and oks[0] >= 1


def test_broken_config_on_reload_is_refused(start_gateway, upstream):
    gw = start_gateway(routes=PUBLIC_ONLY)
    with Conn(gw.port) as kept:
        kept.request("GET", "/public/before")
        assert kept.read_response().status == 200
        gw.write_config("[server]\nlisten = [\"127.0.0.1:%d\"]\nno_such_key = 1\n" % gw.port)
        gw.reload()

        def refused():
            return [v for labels, v in metric_values(gw.metrics(), "gateway_config_reloads_total")
                    if labels.get("result") != "ok" and v >= 1]
        wait_until(refused, 5, what="a failed reload counted in gateway_config_reloads_total")
        assert gw.running()
        assert gw.get("/public/still").status == 200
        kept.request("GET", "/public/kept")
        assert kept.read_response().status == 200
    assert "no_such_key" in gw.stderr_text()
    # A good config afterwards still loads.
    gw.write_config(make_config(upstream.port, gw.port, gw.admin_port,
                                routes=PUBLIC_ONLY + [{"prefix": "/later/", "upstream": "app", "auth": "none"}]))
    gw.reload()
    wait_until(lambda: gw.get("/later/x").status == 200, 5, what="good reload after a bad one")


def test_sigterm_lets_inflight_request_finish(start_gateway):
    gw = start_gateway()
    result = {}

    def slow():
        try:
            result["r"] = gw.get("/public/slow/1500", timeout=10)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            result["e"] = e
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)
    started = time.monotonic()
    gw.terminate()
    # New connections are refused at once.
    time.sleep(0.3)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
    t.join(10)
    assert "e" not in result, result.get("e")
    assert result["r"].status == 200
    assert result["r"].json()["path"] == "/public/slow/1500"
    assert gw.wait(10) == 0
    assert time.monotonic() - started < 5


def test_sigterm_closes_idle_keepalive_and_exits_0(start_gateway):
    gw = start_gateway()
    with Conn(gw.port) as idle:
        idle.request("GET", "/public/idle")
        assert idle.read_response().status == 200
        started = time.monotonic()
        gw.terminate()
        assert idle.is_closed(3.0)
        assert gw.wait(5) == 0
        assert time.monotonic() - started < 3


def test_sigterm_after_shutdown_timeout_closes_the_rest(start_gateway):
    gw = start_gateway(extra={"server": {"shutdown_timeout": "1s"}})
    with Conn(gw.port, timeout=10) as c:
        c.request("GET", "/public/slow/6000")
        time.sleep(0.3)
        started = time.monotonic()
        gw.terminate()
        assert gw.wait(5) == 0
        assert time.monotonic() - started < 4


def _write(tmp_path, name, text):
    write_default_key_files(tmp_path)
    p = tmp_path / name
    p.write_text(text)
    return p


def test_check_good_config(tmp_path, upstream):
    p = _write(tmp_path, "good.conf", make_config(upstream.port, 18080, 19901))
    r = run_cli("check", "--config", p)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (r.stdout + r.stderr).strip() != ""


@pytest.mark.parametrize("bad_line,line_no", [
    ("no_such_key = 1", 3),
    ('workers = "two"', 3),
    ('client_timeout = "ten seconds"', 3),
])
def test_check_bad_config_points_at_the_line(tmp_path, bad_line, line_no):
    text = "[server]\nlisten = [\"127.0.0.1:18080\"]\n%s\n\n[admin]\nlisten = \"127.0.0.1:19901\"\n" % bad_line
    p = _write(tmp_path, "bad.conf", text)
    r = run_cli("check", "--config", p)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert re.search(r"bad\.conf:%d:" % line_no, out), out


def test_check_missing_key_file_is_an_error(tmp_path, upstream):
    text = make_config(upstream.port, 18080, 19901,
                       keys=[{"kid": "k", "alg": "ES256", "public_key_file": "missing.pem"}])
    p = _write(tmp_path, "nokey.conf", text)
    r = run_cli("check", "--config", p)
    assert r.returncode == 1
    assert re.search(r"nokey\.conf:\d+:", r.stdout + r.stderr), r.stdout + r.stderr


def test_start_with_bad_config_fails(tmp_path):
    p = _write(tmp_path, "bad.conf", "[server]\nbogus = true\n")
    r = run_cli("run", "--config", p, timeout=10)
    assert r.returncode != 0
    assert re.search(r"bad\.conf:2:", r.stderr), r.stderr


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() != ""
