"""Helpers for the integration tests: processes, config files, raw HTTP.

Standard library only. Everything talks to 127.0.0.1; every socket operation
has a timeout, so a hung gateway fails a test instead of the whole run.
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UPSTREAM_SCRIPT = REPO / "scripts" / "demo_upstream.py"

sys.path.insert(0, str(REPO / "scripts"))
import demo_upstream  # noqa: E402  (for the /bytes pattern)

# The HMAC key every default test config carries (kid "test-hs", HS256), so
# tests can mint tokens with PyJWT. 48 bytes: above the 32-byte minimum.
HS_KID = "test-hs"
HS_SECRET = b"integration-test-hmac-secret-0123456789abcdefgh"
ISSUER = "https://issuer.test"
AUDIENCE = "api"


def gateway_bin():
    """The binary under test: $GATEWAY_BIN, else the debug build."""
    env = os.environ.get("GATEWAY_BIN")
    return Path(env).resolve() if env else REPO / ".build" / "debug" / "gateway"


def free_port():
    """A loopback TCP port that was free a moment ago (bind 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value; returns it, or raises."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - polled conditions may fail while not ready
            last_exc = e
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s%s"
                         % (timeout, what, " (last error: %r)" % last_exc if last_exc else ""))


def pattern_sha256(n):
    """sha256 hex of the first n bytes /bytes/N produces."""
    h = hashlib.sha256()
    off = 0
    while off < n:
        k = min(demo_upstream.BLOCK_SIZE, n - off)
        h.update(demo_upstream.pattern_bytes(off, k))
        off += k
    return h.hexdigest()


def pattern_stream(n):
    """Yields n bytes of the /bytes pattern in blocks (for uploads)."""
    off = 0
    while off < n:
        k = min(demo_upstream.BLOCK_SIZE, n - off)
        yield demo_upstream.pattern_bytes(off, k)
        off += k


def rss_kib(pid):
    """VmRSS of a process in KiB, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


# --------------------------------------------------------------------------
# Processes

def _stop_process(proc, timeout=5.0, sig=signal.SIGTERM):
    """Signals by PID, waits, SIGKILLs after timeout. Returns the exit code."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


class Upstream:
    """demo_upstream.py on a loopback port."""

    def __init__(self, port=None, log_dir=None):
        self.port = port or free_port()
        self.log_path = Path(log_dir) / ("upstream-%d.log" % self.port) if log_dir else None
        err = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, str(UPSTREAM_SCRIPT), "--listen", "127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=err)
        if self.log_path:
            err.close()
        wait_until(self._accepts, 10, what="demo upstream on port %d" % self.port)

    def _accepts(self):
        if self.proc.poll() is not None:
            raise AssertionError("demo upstream exited with %s" % self.proc.returncode)
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True

    def stop(self):
        return _stop_process(self.proc, timeout=3)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join("%s = %s" % (toml_key(k), toml_value(x)) for k, x in v.items()) + " }"
    raise TypeError("no TOML form for %r" % (v,))


def toml_key(k):
    if k and all(c.isalnum() or c in "-_" for c in k):
        return k
    return json.dumps(k)


DEFAULT_ROUTES = [
    {"prefix": "/public/", "upstream": "app", "auth": "none"},
    {"prefix": "/", "upstream": "app", "auth": "required"},
]


def make_config(upstream_port, listen_port, admin_port, routes=None, extra=None, keys="default"):
    """A gateway.conf (TOML text) for tests.

    upstream_port: an int, or a list of ints for several servers in [upstreams.app].
    routes: list of dicts for [[routes]] (default: /public/ auth none, / auth required).
    extra: {"server": {...}, "upstreams.app": {...}, "tokens": {...}, "refresh": {...}, ...}:
        tables are merged over the defaults (a value of None deletes a key), new
        tables are added; a list of dicts makes an array of tables ("upstreams.x",
        "keys" ...).
    keys: "default" for one HS256 secret_file key (kid test-hs, file hs256.secret
        beside the config: see write_default_key_files), None for no [[keys]],
        or a list of dicts.
    """
    ports = upstream_port if isinstance(upstream_port, (list, tuple)) else [upstream_port]
    tables = {
        "server": {
            "listen": ["127.0.0.1:%d" % listen_port],
            "workers": 1,
            "client_timeout": "5s",
            "shutdown_timeout": "5s",
            "access_log": "json",
        },
        "admin": {"listen": "127.0.0.1:%d" % admin_port},
        "upstreams.app": {
            "servers": ["127.0.0.1:%d" % p for p in ports],
            "connect_timeout": "1s",
            "response_timeout": "5s",
        },
        "tokens": {"issuers": [ISSUER], "audiences": [AUDIENCE]},
    }
    arrays = {
        "routes": list(routes) if routes is not None else [dict(r) for r in DEFAULT_ROUTES],
    }
    if keys == "default":
        arrays["keys"] = [{"kid": HS_KID, "alg": "HS256", "secret_file": "hs256.secret"}]
    elif keys:
        arrays["keys"] = list(keys)
    for name, value in (extra or {}).items():
        if isinstance(value, list):
            arrays[name] = value
        elif name in tables:
            merged = dict(tables[name])
            for k, v in value.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            tables[name] = merged
        else:
            tables[name] = dict(value)
    out = ["# written by Tests/Integration (gwtest.make_config)"]
    for name, table in tables.items():
        out.append("")
        out.append("[%s]" % name)
        out.extend("%s = %s" % (toml_key(k), toml_value(v)) for k, v in table.items())
    for name, items in arrays.items():
        for item in items:
            out.append("")
            out.append("[[%s]]" % name)
            out.extend("%s = %s" % (toml_key(k), toml_value(v)) for k, v in item.items())
    return "\n".join(out) + "\n"


def write_default_key_files(directory):
    Path(directory, "hs256.secret").write_bytes(HS_SECRET)


def run_cli(*args, timeout=30, env=None):
    """Runs the gateway binary with args; returns CompletedProcess (text)."""
    return subprocess.run([str(gateway_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def gateway_env():
    env = dict(os.environ)
    # The admin API must be off unless a test turns it on.
    env.pop("GATEWAY_ADMIN_TOKEN", None)
    return env


class Gateway:
    """A running `gateway run --config FILE` with its ports and logs."""

    def __init__(self, workdir, config_text, listen_port, admin_port, upstream_port=None, env=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_default_key_files(self.workdir)
        self.port = listen_port
        self.admin_port = admin_port
        self.upstream_port = upstream_port
        self.config_path = self.workdir / "gateway.conf"
        self.stdout_path = self.workdir / "gateway.stdout"
        self.stderr_path = self.workdir / "gateway.stderr"
        self.env = env if env is not None else gateway_env()
        self.write_config(config_text)
        binary = gateway_bin()
        if not binary.exists():
            raise AssertionError("gateway binary not found at %s (build it, or set GATEWAY_BIN)" % binary)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([str(binary), "run", "--config", str(self.config_path)],
                                         stdout=out, stderr=err, cwd=str(self.workdir), env=self.env)
        self.pid = self.proc.pid

    def write_config(self, text):
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)

    def wait_healthy(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("gateway exited with %s before /healthz answered; stderr:\n%s"
                                     % (self.proc.returncode, self.stderr_text()[-4000:]))
            try:
                if admin_get(self.admin_port, "/healthz", timeout=0.5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("gateway /healthz did not answer 200 within %.0fs; stderr:\n%s"
                             % (timeout, self.stderr_text()[-4000:]))

    # -- signals and lifetime --
    def reload(self):
        os.kill(self.pid, signal.SIGHUP)

    def terminate(self):
        os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout):
        """Exit code, or raises subprocess.TimeoutExpired."""
        return self.proc.wait(timeout)

    def stop(self, timeout=10.0):
        """SIGTERM, wait (SIGKILL after timeout); returns the exit code."""
        return _stop_process(self.proc, timeout=timeout)

    def running(self):
        return self.proc.poll() is None

    # -- logs and state --
    def stdout_text(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self):
        return self.stderr_path.read_text(errors="replace")

    def access_log(self):
        """Parsed JSON access-log lines so far (non-JSON lines skipped)."""
        out = []
        for line in self.stdout_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def rss_kib(self):
        return rss_kib(self.pid)

    def metrics(self):
        status, _, body = admin_get(self.admin_port, "/metrics")
        assert status == 200, "metrics answered %d" % status
        return body.decode()

    def request(self, method, target, headers=None, body=None, timeout=10.0):
        return http_request(self.port, method, target, headers=headers, body=body, timeout=timeout)

    def get(self, target, headers=None, timeout=10.0):
        return self.request("GET", target, headers=headers, timeout=timeout)


def admin_get(port, path, timeout=5.0):
    """GET on the admin listener: (status, headers dict, body bytes)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def metric_values(text, name):
    """[(labels dict, float value)] for every sample of metric `name`."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        labels = {}
        rest = line[len(name):]
        if rest.startswith("{"):
            end = rest.index("}")
            for part in _split_labels(rest[1:end]):
                k, _, v = part.partition("=")
                labels[k.strip()] = json.loads(v.strip())
            rest = rest[end + 1:]
        out.append((labels, float(rest.split()[0])))
    return out


def _split_labels(s):
    parts, cur, quoted, esc = [], "", False, False
    for c in s:
        if esc:
            cur += c
            esc = False
        elif c == "\\":
            cur += c
            esc = True
        elif c == '"':
            cur += c
            quoted = not quoted
        elif c == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        parts.append(cur)
    return parts


# --------------------------------------------------------------------------
# Raw HTTP/1.1

class Closed(Exception):
    """The peer closed (or reset) the connection before a full response."""


class Response:
    def __init__(self, version, status, reason, headers, body, complete, body_len):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] as received
        self.body = body                # bytes (b"" when a sink took it)
        self.complete = complete        # framing finished (CL reached / last chunk)
        self.body_len = body_len

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %s %r body=%d>" % (self.status, self.reason, self.headers, self.body_len)


def echo_headers(echo, name):
    """Values of header `name` in a demo-upstream JSON echo, in order."""
    name = name.lower()
    return [v for k, v in echo["headers"] if k.lower() == name]


class Conn:
    """One client connection with a read buffer; a minimal HTTP/1.1 client."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.port = port

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=None, body=None, version="HTTP/1.1", host=True):
        """Sends one request. headers: list of (name, value) or dict. body:
        bytes (Content-Length added unless a framing header is given)."""
        hs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in hs}
        if host and "host" not in names:
            hs.insert(0, ("Host", "127.0.0.1:%d" % self.port))
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            hs.append(("Content-Length", str(len(body))))
        head = "%s %s %s\r\n" % (method, target, version)
        head += "".join("%s: %s\r\n" % (k, v) for k, v in hs) + "\r\n"
        self.send(head.encode("latin-1") + (body or b""))

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(256 * 1024)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def readline(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) > limit:
                raise AssertionError("line over %d bytes" % limit)
            if not self._fill():
                raise Closed("closed while reading a line (have %r)" % self.buf[:200])

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise Closed("closed with %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_some(self, max_n):
        """Up to max_n bytes: buffered ones first, else one recv. b"" at EOF."""
        if not self.buf:
            self._fill()
        out, self.buf = self.buf[:max_n], self.buf[max_n:]
        return out

    def is_closed(self, timeout=2.0):
        """True when the peer closes (FIN or RST) within timeout with no more
        data; False if the connection stays open; raises if data arrives."""
        if self.buf:
            raise AssertionError("unexpected data: %r" % self.buf[:200])
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        finally:
            self.sock.settimeout(old)
        if data:
            raise AssertionError("unexpected data: %r" % data[:200])
        self.eof = True
        return True

    def read_head(self):
        """(version, status, reason, headers) of the next response head."""
        line = self.readline()
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise AssertionError("bad status line %r" % line)
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        while True:
            line = self.readline()
            if line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip(), v.strip()))
        return version, status, reason, headers

    def read_response(self, method="GET", skip_informational=True, sink=None):
        """Reads one response. 1xx other than 101 are skipped unless
        skip_informational is False. With sink, body pieces go to sink(bytes)
        instead of Response.body. A body cut short by a close gives
        complete=False rather than an exception."""
        while True:
            version, status, reason, headers = self.read_head()
            if 100 <= status < 200 and status != 101 and skip_informational:
                continue
            break
        resp_headers = {k.lower(): v for k, v in headers}
        pieces = []
        count = 0

        def take(data):
            nonlocal count
            count += len(data)
            if sink:
                sink(data)
            else:
                pieces.append(data)

        complete = True
        if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            pass
        elif "chunked" in resp_headers.get("transfer-encoding", "").lower():
            complete = False
            try:
                while True:
                    size_line = self.readline()
                    size = int(size_line.split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.readline() not in (b"\r\n", b"\n"):
                            pass
                        complete = True
                        break
                    remaining = size
                    while remaining:
                        data = self.read_some(min(remaining, 256 * 1024))
                        if not data:
                            raise Closed("chunk cut short")
                        take(data)
                        remaining -= len(data)
                    if self.readline() not in (b"\r\n", b"\n"):
                        raise AssertionError("no CRLF after chunk")
            except Closed:
                pass
        elif "content-length" in resp_headers:
            remaining = int(resp_headers["content-length"])
            while remaining:
                data = self.read_some(min(remaining, 256 * 1024))
                if not data:
                    complete = False
                    break
                take(data)
                remaining -= len(data)
        else:
            # Delimited by close.
            while True:
                data = self.read_some(256 * 1024)
                if not data:
                    break
                take(data)
        return Response(version, status, reason, headers, b"".join(pieces), complete, count)


def http_request(port, method, target, headers=None, body=None, timeout=10.0, version="HTTP/1.1"):
    """One request on a fresh connection (Connection: close); the Response."""
    hs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if not any(k.lower() == "connection" for k, _ in hs):
        hs.append(("Connection", "close"))
    with Conn(port, timeout=timeout) as c:
        c.request(method, target, hs, body, version=version)
        return c.read_response(method)


def send_raw(port, data, timeout=2.0):
    """Sends bytes on a fresh connection; returns everything received until
    the peer closes or `timeout` passes with nothing new (a reset counts as
    a close)."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
    return out


def parse_status(raw):
    """Status code of the first response in raw bytes (None if none)."""
    if not raw.startswith(b"HTTP/"):
        return None
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------
# Authentication tests: upstream counters, RFC 6750 answers, keys and tokens.
# The key/token helpers need PyJWT and cryptography; they import them lazily
# so the rest of this module stays standard-library only.

ALL_ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
            "ES256", "ES384", "ES512", "EdDSA"]


def upstream_stats(port, path=None, timeout=5.0):
    """The demo upstream's /__stats: {"requests": N, "paths": {...}[, "path": n]}."""
    from urllib.parse import quote
    target = "/__stats" + ("?path=" + quote(path, safe="/") if path is not None else "")
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, target), timeout=timeout) as r:
        return json.loads(r.read())


def upstream_hits(port, path):
    """How many requests for `path` (query dropped) the demo upstream served."""
    return upstream_stats(port, path)["path"]


_unique_counter = [0]


def unique_path(prefix="/auth/"):
    """A path no other request has used, so the upstream's count for it is
    this test's alone."""
    import uuid
    _unique_counter[0] += 1
    return "%s%d-%s" % (prefix, _unique_counter[0], uuid.uuid4().hex[:12])


def parse_www_authenticate(value):
    """(scheme, {param: value}) of a WWW-Authenticate with one challenge."""
    scheme, _, rest = value.partition(" ")
    params = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        j = rest.find("=", i)
        if j < 0:
            break
        name = rest[i:j].strip()
        i = j + 1
        if i < n and rest[i] == '"':
            i += 1
            val = ""
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                val += rest[i]
                i += 1
            i += 1
        else:
            k = rest.find(",", i)
            k = n if k < 0 else k
            val = rest[i:k].strip()
            i = k
        params[name] = val
    return scheme, params


def assert_auth_answer(r, status, error, description=None, scope=None):
    """Asserts an RFC 6750 answer (SPEC §5 table): status, JSON body with
    `error` (and `error_description` when given), and WWW-Authenticate."""
    assert r.status == status, "expected %d %s, got %r body=%r" % (status, error, r, r.body[:300])
    body = json.loads(r.body)
    assert body.get("error") == error, body
    assert isinstance(body.get("error_description"), str), body
    if description is not None:
        assert body["error_description"] == description, body
    challenges = r.header_all("WWW-Authenticate")
    assert len(challenges) == 1, r.headers
    scheme, params = parse_www_authenticate(challenges[0])
    assert scheme == "Bearer", challenges[0]
    assert params.get("realm") == "gateway", challenges[0]
    if error == "missing_token":
        assert "error" not in params, challenges[0]
    else:
        assert params.get("error") == ("insufficient_scope" if error == "insufficient_scope"
                                       else "invalid_token"), challenges[0]
    if description is not None:
        assert params.get("error_description") == description, challenges[0]
    if scope is not None:
        assert set(params.get("scope", "").split()) == set(scope.split()), challenges[0]
    return body, params


def b64url(data):
    import base64
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def std_claims(sub="alice", ttl=600, **extra):
    """iss/aud of the default test config, iat now, exp now+ttl, and extra
    (a value of None drops the claim)."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + ttl}
    for k, v in extra.items():
        if v is None:
            claims.pop(k, None)
        else:
            claims[k] = v
    return claims


class TestKey:
    """A key for one JWS alg, with its files written to `directory`.

    .alg, .kid, .private (cryptography key or HMAC secret bytes), .public,
    .secret_path (HS), .private_path / .public_path (PEM, asymmetric),
    .config(source) -> a [[keys]] dict, .jwk() -> public JWK dict,
    .sign(claims, headers=None) -> PyJWT token.
    """

    __test__ = False  # not a pytest class

    _rsa_cache = {}

    def __init__(self, alg, directory, kid=None, rsa_bits=2048):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        self.alg = alg
        self.kid = kid if kid is not None else alg.lower()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.secret_path = self.private_path = self.public_path = None
        if alg.startswith("HS"):
            size = int(alg[2:]) // 8
            # The gateway drops one trailing newline from a secret_file (SPEC
            # §3): a random secret must not end in one, or it would be one
            # byte shorter there (and under 32 bytes for HS256).
            secret = os.urandom(size)
            while secret.endswith(b"\n"):
                secret = os.urandom(size)
            self.private = self.public = secret
            self.secret_path = d / ("%s.secret" % self.kid)
            self.secret_path.write_bytes(self.private)
            return
        if alg[:2] in ("RS", "PS"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        elif alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
            self.private = ec.generate_private_key(curve)
        elif alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)
        self.public = self.private.public_key()
        self.private_path = d / ("%s.key.pem" % self.kid)
        self.private_path.write_bytes(self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.public_path = d / ("%s.pub.pem" % self.kid)
        self.public_path.write_bytes(self.public_pem())

    def public_pem(self):
        from cryptography.hazmat.primitives import serialization
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)

    def config(self, source="public"):
        """[[keys]] entry: source "public" (public_key_file; secret_file for HS)
        or "private" (private_key_file; secret_file for HS)."""
        entry = {"kid": self.kid, "alg": self.alg}
        if self.secret_path is not None:
            entry["secret_file"] = str(self.secret_path)
        elif source == "private":
            entry["private_key_file"] = str(self.private_path)
        else:
            entry["public_key_file"] = str(self.public_path)
        return entry

    def jwk(self, with_alg=True):
        import jwt
        algs = jwt.algorithms
        if self.secret_path is not None:
            out = {"kty": "oct", "k": b64url(self.private)}
        elif self.alg[:2] in ("RS", "PS"):
            out = json.loads(algs.RSAAlgorithm.to_jwk(self.public))
        elif self.alg.startswith("ES"):
            out = json.loads(algs.ECAlgorithm.to_jwk(self.public))
        else:
            out = json.loads(algs.OKPAlgorithm.to_jwk(self.public))
        out["kid"] = self.kid
        if with_alg:
            out["alg"] = self.alg
        return out

    def sign(self, claims, headers=None, kid=True):
        """A token signed by PyJWT. kid=True puts this key's kid in the header."""
        import jwt
        h = dict(headers or {})
        if kid and "kid" not in h:
            h["kid"] = self.kid
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=h)

    def sign_input(self, signing_input):
        """Raw signature bytes (JWS form: raw r||s for ECDSA) over signing_input bytes."""
        import hashlib as _h
        import hmac
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        if self.secret_path is not None:
            return hmac.new(self.private, signing_input, getattr(_h, "sha" + self.alg[2:])).digest()
        if self.alg == "EdDSA":
            return self.private.sign(signing_input)
        digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[self.alg[2:]]
        if self.alg.startswith("RS"):
            return self.private.sign(signing_input, padding.PKCS1v15(), digest)
        if self.alg.startswith("PS"):
            return self.private.sign(signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
        der = self.private.sign(signing_input, ec.ECDSA(digest))
        r, s = decode_dss_signature(der)
        size = (self.private.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def raw_token(header, payload, key=None, signature=None):
    """A compact JWS built by hand. header/payload: dict (compact JSON) or
    bytes/str (used as they are, e.g. JSON with duplicate names). Signed with
    key.sign_input unless `signature` (bytes) is given."""
    def enc(part):
        if isinstance(part, dict):
            part = json.dumps(part, separators=(",", ":"))
        return b64url(part)
    signing_input = enc(header) + "." + enc(payload)
    if signature is None:
        signature = key.sign_input(signing_input.encode()) if key is not None else b""
    return signing_input + "." + b64url(signature)


def bearer(token):
    return {"Authorization": "Bearer " + token}


# --------------------------------------------------------------------------
# Redis (SPEC §7 shared store): a redis-server of the test's own, and a TCP
# relay the test can cut to simulate a network partition.

class RedisServer:
    """redis-server on a loopback port (free one by default), no persistence,
    in `directory`; stopped by PID. Fails clearly when redis-server is missing
    (scripts/setup.sh --test installs it)."""

    def __init__(self, directory, port=None):
        import shutil
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is not on PATH (scripts/setup.sh --test installs it)")
        self.binary = binary
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc = None
        self.start()

    def start(self):
        log = open(self.directory / ("redis-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
                                     stdout=log, stderr=log)
        wait_until(self.ping, 10, what="redis-server on port %d" % self.port)
        return self

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self):
        _stop_process(self.proc, timeout=5) if self.proc else None


class TCPRelay:
    """Forwards 127.0.0.1:port to target_port. cut() closes every relayed
    connection and refuses new ones (accepted, then closed at once) until
    restore()."""

    def __init__(self, target_port):
        import threading
        self.target_port = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.cut_now = False
        self.pairs = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_now:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.cut_now = True
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass

    def restore(self):
        self.cut_now = False

    def close(self):
        self.running = False
        self.cut()
        self.listener.close()
