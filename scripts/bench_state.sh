#!/usr/bin/env bash
# SPEC §7 figures (sessions, revocations, the stores), one run, printed as
# they come. Called by scripts/bench.sh (section "state"), or on its own:
#
#   scripts/bench_state.sh
#
#  1. the revocation view at 10^6 entries (RevocationBench: ns per check, bytes)
#  2. the embedded store alone (StoreBench: fsynced acks/s under 64 clients,
#     restart time at 10^6)
#  3. the gateway on a state_dir holding 10^6 revocations: time from start to
#     the view being loaded, and ES256 cached-token req/s against the same
#     gateway with an empty store (one worker, wrk c=50)
#  4. acknowledged revocations/s through the admin API (wrk c=64), embedded
#  5. /auth/refresh rotations/s on one worker, ES256 signing: embedded, then Redis
#  6. propagation: three instances on one Redis, 201 on one -> 401 on the
#     other two (p50/p99 over 200 revocations)
#
# Environment: BENCH_DURATION (seconds per wrk run, default 10),
# BENCH_PORT_BASE (default 19080), BENCH_STATE_ENTRIES (default 1000000),
# BENCH_STATE_ONLY (comma list of the parts to run, e.g. "3,5"; default all),
# BENCH_ROTATION_CHAINS (concurrent refresh-token chains in part 5, default 32).
# Needs wrk, nginx, redis-server (scripts/setup.sh --bench --test installs
# them). Every process started here is stopped by PID on exit. Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DUR=${BENCH_DURATION:-10}
base=${BENCH_PORT_BASE:-19080}
ENTRIES=${BENCH_STATE_ENTRIES:-1000000}
UP_PORT=$((base + 1)); GW_PORT=$((base + 2)); ADMIN_PORT=$((base + 3)); REDIS_PORT=$((base + 4))
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ADMIN_TOKEN=bench-admin-token-0123456789abcdef
PARTS=${BENCH_STATE_ONLY:-1,2,3,4,5,6}
part() { [[ ",$PARTS," == *",$1,"* ]]; }
export GATEWAY_ADMIN_TOKEN=$ADMIN_TOKEN

scripts/setup.sh --bench --test >/dev/null
for b in gateway StoreBench RevocationBench; do
    swift build -c release --product "$b" 2>&1 | grep -E "error|warning: unre" >&2 || true
done
BIN=$(swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/gw-bench-state.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

wait_port() {  # wait_port PORT PID
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

metric_sum() {  # metric_sum NAME: sum of every sample of NAME on the admin port
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v n="$1" '$1 ~ "^"n"({|$)" { s += $2 } END { print s + 0 }'
}

wrk_summary() {  # the req/s line, p99 and errors of a wrk run
    awk '/Requests\/sec/ { rps = $2 } / 99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
         /Socket errors/ { err = $0 } END { printf "%s req/s, p99 %s, non-2xx %s%s\n", rps, p99, bad + 0, err ? ", " err : "" }'
}

# ------------------------------------------------------------- 1, 2
if part 1; then
    echo "## 1. Revocation view, 10^6 entries (RevocationBench)"
    "$BIN/RevocationBench"
    echo
fi
if part 2; then
    echo "## 2. Embedded store alone (StoreBench)"
    "$BIN/StoreBench" "$work/storebench"
    echo
fi

# ------------------------------------------------------------- fixtures
mkdir -p "$work/tmp"; chmod 777 "$work/tmp"
cat >"$work/upstream.conf" <<EOF
daemon off;
worker_processes 1;
error_log $work/upstream.err warn;
pid $work/upstream.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    server {
        listen 127.0.0.1:$UP_PORT;
        location /login { add_header Gateway-Session '{"sub":"bench"}' always; return 200 "ok"; }
        location / { return 200 "hello"; }
    }
}
EOF
"$NGINX" -p "$work/" -e "$work/upstream.err" -c "$work/upstream.conf" &
up_pid=$!; pids+=("$up_pid")
wait_port "$UP_PORT" "$up_pid" || { echo "nginx upstream did not start" >&2; exit 1; }

openssl ecparam -genkey -name prime256v1 -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$work/es256.pem"

gateway_conf() {  # gateway_conf FILE STORE_TABLE [LISTEN ADMIN]
    cat >"$1" <<EOF
[server]
listen = ["127.0.0.1:${3:-$GW_PORT}"]
workers = 1
access_log = "off"
[admin]
listen = "127.0.0.1:${4:-$ADMIN_PORT}"
token_env = "GATEWAY_ADMIN_TOKEN"
[upstreams.app]
servers = ["127.0.0.1:$UP_PORT"]
[[routes]]
prefix = "/login"
upstream = "app"
auth = "none"
issue_session = true
[[routes]]
prefix = "/"
upstream = "app"
auth = "required"
[tokens]
issuers = ["https://bench"]
audiences = ["api"]
[[keys]]
kid = "es"
alg = "ES256"
private_key_file = "$work/es256.pem"
[refresh]
enabled = true
signing_key = "es"
[sessions]
grace = "30s"
$2
EOF
}

start_gw() {  # start_gw CONFIG: sets GW_PID; waits for /healthz
    "$BIN/gateway" run --config "$1" >"$1.out" 2>"$1.err" &
    GW_PID=$!; pids+=("$GW_PID")
    for _ in $(seq 1 400); do
        curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$GW_PID" 2>/dev/null || { cat "$1.err" >&2; return 1; }
        sleep 0.025
    done
    return 1
}

# ------------------------------------------------------------- 3
gateway_conf "$work/empty.conf" "[store]
state_dir = \"$work/empty\""
if part 3; then
echo "## 3. The gateway on $ENTRIES revocations"
"$BIN/StoreBench" fill "$work/full" "$ENTRIES"
gateway_conf "$work/full.conf" "[store]
state_dir = \"$work/full\""
t0=$(date +%s.%N)
start_gw "$work/full.conf"
while [[ $(metric_sum gateway_revocations) -lt $ENTRIES ]]; do sleep 0.02; done
t1=$(date +%s.%N)
printf 'start to view loaded (%s entries): %.2f s\n' "$(metric_sum gateway_revocations)" "$(echo "$t1 - $t0" | bc)"
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$GW_PID/status")
echo "gateway RSS with the view loaded: $((rss / 1024)) MiB"
token=$("$BIN/gateway" token mint --config "$work/full.conf" --sub alice --ttl 1h)
echo "$token" >"$work/token"
full=$(wrk -t1 -c50 -d"${DUR}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$GW_PORT/small" | wrk_summary)
stop_pid "$GW_PID"
start_gw "$work/empty.conf"
none=$(wrk -t1 -c50 -d"${DUR}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$GW_PORT/small" | wrk_summary)
echo "ES256 cached token, $ENTRIES revocations: $full"
echo "ES256 cached token, empty store:      $none"
awk -v a="${full%% *}" -v b="${none%% *}" 'BEGIN { printf "ratio: %.3f\n", a / b }'
stop_pid "$GW_PID"
echo
fi

# ------------------------------------------------------------- 4
start_gw "$work/empty.conf"
if part 4; then
echo "## 4. Acknowledged revocations through the admin API (embedded, wrk c=64)"
cat >"$work/revoke.lua" <<EOF
local counter, n = 0, 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function request()
  n = n + 1
  return wrk.format("POST", "/admin/v1/revocations",
    { ["Authorization"] = "Bearer $ADMIN_TOKEN", ["Content-Type"] = "application/json" },
    '{"jti":"bench-' .. id .. '-' .. n .. '"}')
end
EOF
echo "$(wrk -t2 -c64 -d"${DUR}s" --latency -s "$work/revoke.lua" "http://127.0.0.1:$ADMIN_PORT/" | wrk_summary) (201s)"
echo
fi

# ------------------------------------------------------------- 5
rotations() {  # rotations LABEL: wrk chains of /auth/refresh, one per connection
    local chains=${BENCH_ROTATION_CHAINS:-32}
    : >"$work/rt"
    for i in $(seq 1 "$chains"); do
        curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$GW_PORT/login" \
            | awk 'tolower($1) == "x-refresh-token:" { sub(/\r$/, "", $2); print $2 }' >>"$work/rt"
    done
    cat >"$work/rotate.lua" <<'EOF'
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args)
  local i = 0
  for line in io.lines(args[1]) do i = i + 1; if i == id then token = line end end
end
function request()
  return wrk.format("POST", "/auth/refresh", { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  if status == 200 then
    local t = body:match('"refresh_token":"([^"]+)"')
    if t then token = t end
  end
end
EOF
    echo "$1: $(wrk -t"$chains" -c"$chains" -d"${DUR}s" --latency -s "$work/rotate.lua" \
        "http://127.0.0.1:$GW_PORT/" -- "$work/rt" | wrk_summary) ($chains chains, ES256)"
}
if part 5; then
echo "## 5. /auth/refresh rotations, one worker"
rotations "embedded"
fi
stop_pid "$GW_PID"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!; pids+=("$redis_pid")
wait_port "$REDIS_PORT" "$redis_pid"
gateway_conf "$work/redis.conf" "[store]
redis = \"redis://127.0.0.1:$REDIS_PORT/0\""
start_gw "$work/redis.conf"
until curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null; do sleep 0.05; done
if part 5; then rotations "redis"; echo; fi
stop_pid "$GW_PID"
part 6 || exit 0

# ------------------------------------------------------------- 6
echo "## 6. Propagation: three instances on one Redis"
confs=()
for i in 0 1 2; do
    gateway_conf "$work/p$i.conf" "[store]
redis = \"redis://127.0.0.1:$REDIS_PORT/0\"
redis_prefix = \"prop:\"" $((base + 10 + i)) $((base + 20 + i))
    "$BIN/gateway" run --config "$work/p$i.conf" >/dev/null 2>"$work/p$i.err" &
    pids+=("$!")
    wait_port $((base + 20 + i)) "$!"
    confs+=("$work/p$i.conf")
done
python3 - "$base" "$ADMIN_TOKEN" "$BIN/gateway" "${confs[0]}" <<'EOF'
import base64, http.client, json, subprocess, sys, time
base, admin_token, gateway, conf = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ports = [base + 10 + i for i in range(3)]
admins = [base + 20 + i for i in range(3)]
for a in admins:
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", a, timeout=2); c.request("GET", "/readyz")
            if c.getresponse().status == 200: break
        except OSError: pass
        time.sleep(0.05)
conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=5) for p in ports]
delays = []
for i in range(200):
    token = subprocess.run([gateway, "token", "mint", "--config", conf, "--sub", "p", "--ttl", "10m"],
                           capture_output=True, text=True).stdout.strip()
    payload = token.split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    src = i % 3
    a = http.client.HTTPConnection("127.0.0.1", admins[src], timeout=5)
    a.request("POST", "/admin/v1/revocations", json.dumps({"jti": jti}),
              {"Authorization": "Bearer " + admin_token, "Content-Type": "application/json"})
    r = a.getresponse(); r.read()
    t0 = time.monotonic()
    assert r.status == 201, r.status
    worst = 0.0
    for k in range(3):
        if k == src: continue
        while True:
            conns[k].request("GET", "/x", headers={"Authorization": "Bearer " + token})
            resp = conns[k].getresponse(); resp.read()
            if resp.status == 401: break
        worst = max(worst, time.monotonic() - t0)
    delays.append(worst * 1000)
delays.sort()
print("201 on one -> 401 on the other two: p50 %.2f ms, p99 %.2f ms, max %.2f ms (200 revocations)"
      % (delays[100], delays[197], delays[-1]))
EOF
