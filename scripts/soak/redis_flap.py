#!/usr/bin/env python3
"""Redis flapping under load, for scripts/soak.sh (part redis).

  redis_flap.py --redis-port R --port-file F --gw-port G --admin-port A
                --admin-token T [--seconds 60] [--period 5] [--clients 4]

1. Starts a TCP relay 127.0.0.1:X -> Redis and writes X to F (soak.sh then
   starts the gateway with `[store] redis = "redis://127.0.0.1:X/0"`).
2. Waits for the gateway's /readyz, logs in a few sessions (POST /login).
3. For --seconds: the relay is cut (every relayed connection closed, new ones
   accepted and closed at once: Redis unreachable) and restored every
   --period seconds, while
     - --clients threads GET /api/soak with a session's access token
       (the normal authenticated route: must stay 200 throughout),
     - one thread rotates refresh tokens (POST /auth/refresh),
     - one thread POSTs revocations of random jtis (admin API),
     - one thread polls /metrics for gateway_store_up every 100 ms.
4. Restores the relay, waits for gateway_store_up 1 again, prints JSON:
   normal-route answers, store-endpoint answers split by relay state, the
   store_up transitions, and /healthz at the end.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from pathlib import Path


# The relay the integration tests cut (Tests/Integration/gwtest.py), not a copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "Integration"))
from gwtest import TCPRelay as Relay  # noqa: E402


def request(conn_box, port, method, path, body=None, headers=None, timeout=5):
    """One request on a kept-alive connection (reopened after a failure): (status, headers, body) or (None, str)."""
    for attempt in (0, 1):
        if conn_box[0] is None:
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c = conn_box[0]
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                conn_box[0] = None
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        except (OSError, http.client.HTTPException) as e:
            c.close()
            conn_box[0] = None
            # A kept-alive connection the server closed while idle: retry once on a new one.
            if attempt == 1 or not isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError,
                                                  ConnectionResetError)):
                return None, type(e).__name__, b""
    return None, "unreachable", b""


def metric(port, name):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
    except (OSError, http.client.HTTPException):
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--gw-port", type=int, required=True)
    ap.add_argument("--admin-port", type=int, required=True)
    ap.add_argument("--admin-token", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--period", type=float, default=5)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

    relay = Relay(args.redis_port)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(relay.port))
    os.replace(args.port_file + ".tmp", args.port_file)

    deadline = time.monotonic() + 30
    while True:
        box = [None]
        status, _, _ = request(box, args.admin_port, "GET", "/readyz")
        if status == 200:
            break
        if time.monotonic() > deadline:
            print(json.dumps({"error": "gateway not ready within 30 s", "readyz": status}))
            return
        time.sleep(0.1)

    sessions = []
    box = [None]
    for i in range(args.clients + 1):
        status, headers, body = request(box, args.gw_port, "POST", "/login", body=b"user=soak%d" % i,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200 or "x-refresh-token" not in headers:
            print(json.dumps({"error": "login failed", "status": status, "body": body.decode(errors="replace")}))
            return
        sessions.append((headers["x-refreshed-token"], headers["x-refresh-token"]))

    stop = threading.Event()
    lock = threading.Lock()
    t0 = time.monotonic()
    # "cut": the relay is cut; "reconnecting": restored, but the gateway's
    # gateway_store_up (polled every 100 ms) still says 0; "up": both up.
    state = {"cut": False, "store_up": 1.0}
    normal = {}            # status -> count on the normal route
    store_ops = {}         # (endpoint, relay state, status) -> count
    normal_errors = []     # first few unexpected answers
    store_up_samples = []  # (t, value)

    def bump(d, k):
        with lock:
            d[k] = d.get(k, 0) + 1

    def normal_client(access):
        box = [None]
        while not stop.is_set():
            status, info, _ = request(box, args.gw_port, "GET", "/api/soak",
                                      headers={"Authorization": "Bearer " + access})
            key = status if status is not None else "socket:" + str(info)
            bump(normal, key)
            if status != 200 and len(normal_errors) < 10:
                with lock:
                    normal_errors.append({"t": round(time.monotonic() - t0, 2), "answer": key,
                                          "relay_cut": state["cut"]})
            time.sleep(0.002)

    def phase():
        if state["cut"]:
            return "cut"
        return "up" if state["store_up"] == 1 else "reconnecting"

    def refresher(refresh_token):
        box = [None]
        while not stop.is_set():
            ph = phase()
            body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode()
            status, info, data = request(box, args.gw_port, "POST", "/auth/refresh", body=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            bump(store_ops, ("refresh", ph, status if status is not None else "socket"))
            if status == 200:
                refresh_token = json.loads(data)["refresh_token"]
            time.sleep(0.05)

    def revoker():
        box = [None]
        n = 0
        while not stop.is_set():
            ph = phase()
            n += 1
            body = json.dumps({"jti": "soak-flap-%d-%d" % (os.getpid(), n), "until": int(time.time()) + 600})
            status, _, _ = request(box, args.admin_port, "POST", "/admin/v1/revocations", body=body.encode(),
                                   headers={"Authorization": "Bearer " + args.admin_token,
                                            "Content-Type": "application/json"})
            bump(store_ops, ("revoke", ph, status if status is not None else "socket"))
            time.sleep(0.1)

    def poller():
        last = None
        while not stop.is_set():
            v = metric(args.admin_port, "gateway_store_up")
            if v is not None:
                state["store_up"] = v
            if v != last:
                with lock:
                    store_up_samples.append((round(time.monotonic() - t0, 2), v))
                last = v
            time.sleep(0.1)

    threads = [threading.Thread(target=normal_client, args=(sessions[i][0],)) for i in range(args.clients)]
    threads.append(threading.Thread(target=refresher, args=(sessions[-1][1],)))
    threads.append(threading.Thread(target=revoker))
    threads.append(threading.Thread(target=poller))
    for t in threads:
        t.start()
    flips = []
    next_flip = t0 + args.period
    end = t0 + args.seconds
    while time.monotonic() < end:
        time.sleep(max(0.0, min(next_flip, end) - time.monotonic()))
        if time.monotonic() >= end:
            break
        if state["cut"]:
            relay.restore()
        else:
            relay.cut()
        state["cut"] = not state["cut"]
        flips.append((round(time.monotonic() - t0, 2), "cut" if state["cut"] else "restored"))
        next_flip += args.period
    relay.restore()
    state["cut"] = False
    flips.append((round(time.monotonic() - t0, 2), "restored (end)"))
    # Leave the load running while the store comes back, then stop.
    back = None
    wait_until = time.monotonic() + 15
    while time.monotonic() < wait_until:
        if metric(args.admin_port, "gateway_store_up") == 1:
            back = round(time.monotonic() - t0, 2)
            break
        time.sleep(0.1)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(10)
    box = [None]
    healthz, _, _ = request(box, args.admin_port, "GET", "/healthz")
    # One more rotation and one revocation once the store is back: both must work.
    after = {}
    box = [None]
    status, headers, _ = request(box, args.gw_port, "POST", "/login", body=b"user=after",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    after["login"] = status
    if status == 200:
        body = urllib.parse.urlencode({"grant_type": "refresh_token",
                                       "refresh_token": headers["x-refresh-token"]}).encode()
        after["refresh"] = request(box, args.gw_port, "POST", "/auth/refresh", body=body,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})[0]
    after["revoke"] = request([None], args.admin_port, "POST", "/admin/v1/revocations",
                              body=json.dumps({"jti": "soak-after-%d" % os.getpid()}).encode(),
                              headers={"Authorization": "Bearer " + args.admin_token,
                                       "Content-Type": "application/json"})[0]
    ops = {}
    for (ep, st, status), n in sorted(store_ops.items(), key=str):
        ops.setdefault(ep, {}).setdefault(st, {})[str(status)] = n
    ups = [v for _, v in store_up_samples]
    print(json.dumps({
        "seconds": args.seconds, "period": args.period, "flips": len([f for f in flips if "end" not in f[1]]),
        "normal": {str(k): v for k, v in normal.items()}, "normal_unexpected": normal_errors,
        "store_ops": ops,
        "store_up_transitions": {"to_0": sum(1 for a, b in zip(ups, ups[1:]) if a == 1 and b == 0),
                                 "to_1": sum(1 for a, b in zip(ups, ups[1:]) if a == 0 and b == 1),
                                 "samples": store_up_samples},
        "store_up_again_at_s": back, "healthz_end": healthz, "after": after,
        "flip_log": flips,
    }))


if __name__ == "__main__":
    main()
