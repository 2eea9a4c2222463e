#!/usr/bin/env bash
# Fault and load soak suite for the gateway: prints figures, asserts nothing
# for CI (each part prints a verdict against its goal, and the script ends
# with a summary table). Every part is bounded and stops on its own; every
# process started here is stopped by PID on exit, Ctrl-C included.
#
#   scripts/soak.sh [--only rss,slowloris,faults,reload,jwks,redis] [--minutes N]
#
# Parts (default: all, in this order; about 45 minutes with the defaults):
#   rss        peak req/s (wrk, small GET through the gateway to nginx), then
#              ~80% of that peak for N minutes (--minutes, default 30) in
#              1-minute wrk slices: RSS every minute, errors per minute.
#              Goal: RSS from minute 2 on within +-5% of its median, 0 errors.
#   slowloris  5,000 connections sending one header byte every 10 s, while
#              wrk measures normal clients. Goal: p99 < 2x a baseline run
#              without them; the slow ones closed at client_timeout.
#   faults     upstream dies mid-body, dies before the head, black hole,
#              too slow, refused: the client's answers (502 / 504 /
#              truncated body + close), then connections_open back to its
#              baseline and no socket of the gateway left behind (ss).
#   reload     100 SIGHUP reloads under wrk load. Goal: 0 failed requests.
#   jwks       ~1,000 tokens/s naming unknown kids for 20 s against a
#              jwks_url key set. Goal: at most one outbound fetch per 30 s
#              (SPEC §3: the throttle is fixed, there is no config key).
#   redis      Redis cut off and back every 5 s for a minute under load.
#              Goal: 0 errors on the authenticated route, 503 only from the
#              store endpoints while the store is down, healthy at the end.
#
# Environment: GATEWAY_BIN (default .build/release/gateway, built when
# missing), SOAK_PEAK_SECONDS (peak measurement, 20), SOAK_WRK_SECONDS
# (slowloris baseline/attack runs, 20), SOAK_SLOW_CONNS (5000),
# SOAK_CLIENT_TIMEOUT (slowloris gateway's client_timeout, 15s),
# SOAK_RELOADS (100), SOAK_JWKS_SECONDS (20), SOAK_JWKS_RATE (1000),
# SOAK_REDIS_SECONDS (60), SOAK_KEEP=1 keeps the work directory.
# Needs wrk, nginx, redis-server, python3 with PyJWT and cryptography
# (scripts/setup.sh --bench --test installs them). Loopback only, free
# ports picked by the kernel. One gateway worker throughout; nothing is
# pinned to a CPU (the machine is shared: figures are only indicative, and
# each part compares against a baseline measured in the same run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
here=$repo/scripts/soak

ONLY=rss,slowloris,faults,reload,jwks,redis
MINUTES=30
while (( $# )); do
    case "$1" in
        --only) ONLY=$2; shift 2 ;;
        --only=*) ONLY=${1#--only=}; shift ;;
        --minutes) MINUTES=$2; shift 2 ;;
        --minutes=*) MINUTES=${1#--minutes=}; shift ;;
        -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
        *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
for p in ${ONLY//,/ }; do
    case "$p" in rss|slowloris|faults|reload|jwks|redis) ;; *) echo "soak.sh: unknown part $p" >&2; exit 2 ;; esac
done
[[ $MINUTES =~ ^[0-9]+$ ]] && (( MINUTES >= 1 )) || { echo "soak.sh: --minutes wants a whole number >= 1" >&2; exit 2; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }

PEAK_SECONDS=${SOAK_PEAK_SECONDS:-20}
WRK_SECONDS=${SOAK_WRK_SECONDS:-20}
SLOW_CONNS=${SOAK_SLOW_CONNS:-5000}
CLIENT_TIMEOUT=${SOAK_CLIENT_TIMEOUT:-15}
RELOADS=${SOAK_RELOADS:-100}
JWKS_SECONDS=${SOAK_JWKS_SECONDS:-20}
JWKS_RATE=${SOAK_JWKS_RATE:-1000}
REDIS_SECONDS=${SOAK_REDIS_SECONDS:-60}
ISSUER=https://soak.issuer
AUDIENCE=api
ADMIN_TOKEN=soak-admin-token-$RANDOM$RANDOM-0123456789abcdef

scripts/setup.sh --bench --test >&2
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
WRK=$(command -v wrk)
REDIS=$(command -v redis-server)
GATEWAY_BIN=${GATEWAY_BIN:-$repo/.build/release/gateway}
if [[ ! -x $GATEWAY_BIN ]]; then
    echo "==> swift build -c release --product gateway" >&2
    swift build -c release --product gateway >&2
    GATEWAY_BIN=$repo/.build/release/gateway
fi

# 5,000 slow clients hold 5,000 descriptors here and as many in the gateway
# (which inherits this limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
[[ $fd_limit == unlimited ]] && fd_limit=1048576
if (( fd_limit < SLOW_CONNS + 1000 )); then
    echo "soak.sh: ulimit -n is $fd_limit: slowloris gets $((fd_limit - 1000)) connections" >&2
    SLOW_CONNS=$((fd_limit - 1000))
fi

work=$(mktemp -d -t gateway-soak.XXXXXX)
chmod 755 "$work"

# ---------------------------------------------------------------- processes
pids=()
stop_pid() {  # stop_pid PID: TERM, 5 s grace, KILL; drops it from pids
    local pid=$1 kept=() p
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${pids[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    pids=(${kept[@]+"${kept[@]}"})
}
cleanup() {
    local pid
    trap - EXIT INT TERM
    for pid in ${pids[@]+"${pids[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in ${pids[@]+"${pids[@]}"}; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n ${SOAK_KEEP:-} ]]; then echo "soak.sh: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo "soak.sh: interrupted" >&2; exit 130' INT TERM

# run_fg CMD...: runs CMD in the background and waits for it, so a Ctrl-C
# or SIGTERM reaches our trap at once (bash defers traps while a foreground
# child runs) and the trap stops CMD by its PID.
run_fg() {
    local rc=0
    "$@" &
    local pid=$!
    pids+=("$pid")
    wait "$pid" || rc=$?
    stop_pid "$pid"
    return "$rc"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {  # wait_port PORT PID
    for _ in $(seq 200); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

wait_file() {  # wait_file FILE PID
    for _ in $(seq 300); do
        [[ -s $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

metric() {  # metric ADMIN_PORT NAME [LABEL_MATCH]: sum of NAME's samples whose labels contain LABEL_MATCH
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" \
        | awk -v n="$2" -v m="${3:-}" '$1 ~ "^"n"({|$)" && index($1, m) { s += $2 } END { printf "%.10g\n", s + 0 }'
}

jget() {  # jget FILE PYTHON_EXPR_ON_d
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Sockets of the gateway PID other than its listeners, as "STATE peer:count ...":
# gw_sockets PID [PORT=NAME ...] names the peer by port (the gateway's own
# listening port as "client"), others are "other".
gw_sockets() {
    local pid=$1; shift
    ss -Htanp 2>/dev/null | awk -v p="pid=$pid," -v names="$*" '
        BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, "="); name[kv[1]] = kv[2] } }
        index($0, p) && $1 != "LISTEN" {
            lp = $4; sub(/.*:/, "", lp); rp = $5; sub(/.*:/, "", rp)
            who = (lp in name) ? name[lp] : (rp in name) ? name[rp] : "other"
            c[$1 " " who]++
        }
        END { s = ""; for (k in c) s = s (s == "" ? "" : ", ") k ":" c[k]; print (s == "" ? "none" : s) }'
}
gw_socket_count() {
    ss -Htanp 2>/dev/null | awk -v p="pid=$1," 'index($0, p) && $1 != "LISTEN" { n++ } END { print n + 0 }'
}

# ---------------------------------------------------------------- wrk
# Pacing with scripts/soak/rate.lua: each of CONNS connections waits D ms
# after every response, so rate = CONNS * 1000 / (D + per-request time).
# first_delay CONNS TARGET: a first guess (0.5 ms per request);
# next_delay CONNS TARGET D REACHED: re-estimates the per-request time from
# the rate a run with D reached, and gives the D that meets TARGET.
first_delay() { awk -v c="$1" -v t="$2" 'BEGIN {v = c * 1000 / t - 0.5; printf "%.3f", v < 0 ? 0 : v}'; }
next_delay() {
    awk -v c="$1" -v t="$2" -v d="$3" -v r="$4" 'BEGIN {
        if (r <= 0) { print d; exit }
        over = c * 1000 / r - d; v = c * 1000 / t - over; printf "%.3f", v < 0 ? 0 : v }'
}

cpu_ticks() {  # utime+stime of the PIDs given, in clock ticks
    local total=0 pid stat f
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        read -r -a f <<<"$stat"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
cpu_pct() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f%%", t / hz / s * 100}'; }

# wrk_run OUT ARGS...: wrk with --latency into OUT (never fails the script).
wrk_run() {
    local out=$1; shift
    run_fg "$WRK" --latency "$@" >"$out" 2>&1 || echo "wrk exited non-zero" >>"$out"
}
wrk_rps() { awk '/^Requests\/sec:/ {printf "%.0f", $2; f = 1} END {if (!f) print 0}' "$1"; }
wrk_reqs() { awk '/requests in/ {print $1; f = 1; exit} END {if (!f) print 0}' "$1"; }
wrk_p99_ms() {
    awk '$1 == "99%" {v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
         m = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v;
         printf "%.2f", m; f = 1; exit} END {if (!f) print "n/a"}' "$1"
}
wrk_non2xx() { awk '/Non-2xx/ {n += $NF} END {print n + 0}' "$1"; }
wrk_sockerr() { awk '/Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$1"; }
wrk_errors() { echo $(( $(wrk_non2xx "$1") + $(wrk_sockerr "$1") )); }

# ---------------------------------------------------------------- fixtures
mkdir -p "$work/tmp"; chmod 777 "$work/tmp"
head -c 48 /dev/urandom | base64 | tr -d '\n=+/' >"$work/hs.secret"
UP_PORT=$(free_port)
cat >"$work/upstream.conf" <<EOF
daemon off;
worker_processes 1;
error_log $work/upstream.err warn;
pid $work/upstream.pid;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location /login { add_header Gateway-Session '{"sub":"soak"}' always; return 200 "ok"; }
        location / { return 200 "hello"; }
    }
}
EOF
"$NGINX" -p "$work/" -e "$work/upstream.err" -c "$work/upstream.conf" &
NGX_PID=$!; pids+=("$NGX_PID")
wait_port "$UP_PORT" "$NGX_PID" || { echo "soak.sh: nginx upstream did not start" >&2; cat "$work/upstream.err" >&2; exit 1; }

# gw_conf FILE GW_PORT ADMIN_PORT CLIENT_TIMEOUT: [server], [admin], the
# nginx upstream, routes "/public/" (auth none) and "/" (auth required), and
# the HS256 key; a part appends what it needs.
gw_conf() {
    cat >"$1" <<EOF
[server]
listen = ["127.0.0.1:$2"]
workers = 1
access_log = "off"
client_timeout = "$4"
shutdown_timeout = "5s"
max_connections = 30000

[admin]
listen = "127.0.0.1:$3"
token_env = "GATEWAY_ADMIN_TOKEN"

[upstreams.app]
servers = ["127.0.0.1:$UP_PORT"]
max_idle_connections = 128

[[routes]]
prefix = "/public/"
upstream = "app"
auth = "none"

[[routes]]
prefix = "/"
upstream = "app"
auth = "required"

[tokens]
issuers = ["$ISSUER"]
audiences = ["$AUDIENCE"]

[[keys]]
kid = "soak-hs"
alg = "HS256"
secret_file = "$work/hs.secret"
EOF
}

# start_gw NAME CONF ADMIN_PORT: sets GW_PID; waits for /healthz.
start_gw() {
    local name=$1 conf=$2 admin=$3
    if ! "$GATEWAY_BIN" check --config "$conf" >"$work/$name.check" 2>&1; then
        echo "soak.sh: gateway check failed for $name:" >&2; cat "$work/$name.check" >&2; return 1
    fi
    GATEWAY_ADMIN_TOKEN=$ADMIN_TOKEN "$GATEWAY_BIN" run --config "$conf" >"$work/$name.out" 2>"$work/$name.err" &
    GW_PID=$!; pids+=("$GW_PID")
    for _ in $(seq 200); do
        kill -0 "$GW_PID" 2>/dev/null || break
        curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$admin/healthz" && return 0
        sleep 0.05
    done
    echo "soak.sh: gateway $name did not come up:" >&2; tail -n 20 "$work/$name.err" >&2
    return 1
}

# A token for the "/" route (HS256, 4 h: never near the refresh window).
mint() { "$GATEWAY_BIN" token mint --config "$1" --sub soak --ttl 4h --kid soak-hs; }

healthz() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/healthz" || true; }

summary=()
verdict() {  # verdict PART GOAL RESULT PASS|FAIL
    summary+=("| $1 | $2 | $3 | $4 |")
}
pass_if() { if "$@"; then echo PASS; else echo FAIL; fi; }
note() { echo "  ($(date +%H:%M:%S)) $*" >&2; }

echo "# gateway soak ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "Gateway: $GATEWAY_BIN ($("$GATEWAY_BIN" --version 2>&1 | head -n1)), one worker, access log off."
echo "Upstream: nginx (one worker, \`return 200 \"hello\"\`): the demo upstream (Python, a thread per"
echo "connection) tops out far below the gateway, so it would measure itself. $("$WRK" -v 2>&1 | head -n1)."
echo

# ================================================================ 1. rss
part_rss() {
    local port admin conf token out peak target conns=100 threads=2 d cycle overhead i
    port=$(free_port); admin=$(free_port); conf=$work/rss.conf
    gw_conf "$conf" "$port" "$admin" 60s
    start_gw rss "$conf" "$admin" || return 1
    local pid=$GW_PID url="http://127.0.0.1:$port/api/soak"
    token=$(mint "$conf")
    local auth=(-H "Authorization: Bearer $token")
    echo "## 1. rss: ~80% of peak for $MINUTES min (GET /api/soak, auth required, one HS256 token, 5 B answer)"
    echo
    note "rss: warm-up and peak (${PEAK_SECONDS}s, wrk -t2 -c50)"
    wrk_run "$work/rss-warm.txt" -t2 -c50 -d3s "${auth[@]}" "$url"
    wrk_run "$work/rss-peak.txt" -t2 -c50 -d"${PEAK_SECONDS}s" "${auth[@]}" "$url"
    peak=$(wrk_rps "$work/rss-peak.txt")
    if (( peak < 100 )); then
        echo "peak run failed:"; cat "$work/rss-peak.txt"
        verdict rss "RSS flat +-5%, 0 errors" "peak run failed" FAIL; stop_pid "$pid"; return
    fi
    target=$((peak * 8 / 10))
    # Paced by rate.lua (see first_delay/next_delay): two 5 s calibration
    # runs, then every minute's slice corrects the delay for the next one,
    # half way only (latency moves with the load and with the neighbours, so
    # a full correction overshoots and the rate swings).
    d=$(first_delay $conns $target)
    pace() { awk -v a="$d" -v b="$(next_delay $conns $target "$d" "$1")" 'BEGIN {printf "%.3f", (a + b) / 2}'; }
    echo "Peak: $peak req/s, p99 $(wrk_p99_ms "$work/rss-peak.txt") ms, errors $(wrk_errors "$work/rss-peak.txt") (wrk -t2 -c50, ${PEAK_SECONDS}s)."
    echo "Target: $target req/s (80%), wrk -t$threads -c$conns with scripts/soak/rate.lua pacing each connection."
    echo
    for i in 1 2; do
        wrk_run "$work/rss-cal$i.txt" -t$threads -c$conns -d5s -s "$here/rate.lua" "${auth[@]}" "$url" -- "$d"
        note "rss: calibration $i: delay ${d} ms -> $(wrk_rps "$work/rss-cal$i.txt") req/s (target $target)"
        d=$(pace "$(wrk_rps "$work/rss-cal$i.txt")")
    done
    echo "| minute | delay ms | req/s | p99 ms | errors | RSS MiB |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
    echo "| 0 (start) | | | | | $(mib "$(rss_kib "$pid")") |"
    local rss=() errs=0 e r reqs=0
    for i in $(seq "$MINUTES"); do
        out=$work/rss-min$i.txt
        wrk_run "$out" -t$threads -c$conns -d60s -s "$here/rate.lua" "${auth[@]}" "$url" -- "$d"
        kill -0 "$pid" 2>/dev/null || { echo "| $i | gateway died | | | | |"; break; }
        r=$(rss_kib "$pid"); rss+=("$r")
        e=$(wrk_errors "$out"); errs=$((errs + e))
        reqs=$((reqs + $(wrk_reqs "$out")))
        echo "| $i | $d | $(wrk_rps "$out") | $(wrk_p99_ms "$out") | $e | $(mib "$r") |"
        d=$(pace "$(wrk_rps "$out")")
    done
    echo
    if (( ${#rss[@]} == 0 )); then
        verdict rss "RSS flat +-5%, 0 errors" "no minute completed" FAIL; return
    fi
    # RSS judgment: minutes 2.. against their median (minute 1 is warm-up: pools, caches, allocator arenas).
    local line
    line=$(printf '%s\n' "${rss[@]}" | awk '
        { v[NR] = $1 }
        END {
            n = NR; mn = v[1]; mx = v[1]
            for (i = 1; i <= n; i++) { if (v[i] < mn) mn = v[i]; if (v[i] > mx) mx = v[i] }
            k = 0; for (i = (n > 1 ? 2 : 1); i <= n; i++) w[++k] = v[i]
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
            med = (k % 2) ? w[(k + 1) / 2] : (w[k / 2] + w[k / 2 + 1]) / 2
            dev = 0; for (i = 1; i <= k; i++) { x = (w[i] - med) / med * 100; if (x < 0) x = -x; if (x > dev) dev = x }
            printf "%.1f %.1f %.1f %.1f %.1f %.2f", v[1] / 1024, v[n] / 1024, mn / 1024, mx / 1024, med / 1024, dev
        }')
    read -r first last mn mx med dev <<<"$line"
    echo "RSS MiB: first $first, last $last, min $mn, max $mx; median of minutes 2-${#rss[@]}: $med, largest deviation from it ${dev}%."
    echo "Errors (non-2xx + socket errors) over ${#rss[@]} minutes: $errs. Gateway alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo NO)."
    echo
    verdict rss "RSS (min 2+) within +-5% of median, 0 errors" \
        "peak $peak req/s, target $target, mean $((reqs / (60 * ${#rss[@]}))); RSS first $first / last $last / min $mn / max $mx MiB (dev ${dev}%); errors $errs" \
        "$(pass_if awk -v d="$dev" -v e="$errs" 'BEGIN {exit !(d <= 5 && e == 0)}')"
    stop_pid "$pid"
}

# ================================================================ 2. slowloris
part_slowloris() {
    local port admin conf token pid seconds peak target d conns=50
    port=$(free_port); admin=$(free_port); conf=$work/slow.conf
    gw_conf "$conf" "$port" "$admin" "${CLIENT_TIMEOUT}s"
    start_gw slowloris "$conf" "$admin" || return 1; pid=$GW_PID
    token=$(mint "$conf")
    local auth=(-H "Authorization: Bearer $token") url="http://127.0.0.1:$port/api/soak"
    echo "## 2. slowloris: $SLOW_CONNS connections, one header byte every 10 s; client_timeout ${CLIENT_TIMEOUT}s"
    echo
    echo "p99 is compared at a paced load of half the unpaced rate (wrk -t2 -c$conns, rate.lua): the same offered"
    echo "load with and without the slow clients. An unpaced wrk saturates the gateway, and its p99 then"
    echo "measures the queue, i.e. how much CPU the slow-client process and the other tenants of this 2-core"
    echo "machine leave over. Unpaced runs are shown for throughput. A slow client the gateway closes is"
    echo "replaced at once (so $SLOW_CONNS stay open): a reconnect storm every client_timeout as well."
    echo
    note "slowloris: baseline runs (${WRK_SECONDS}s each)"
    wrk_run "$work/slow-warm.txt" -t2 -c$conns -d3s "${auth[@]}" "$url"
    wrk_run "$work/slow-peak0.txt" -t2 -c$conns -d5s "${auth[@]}" "$url"
    peak=$(wrk_rps "$work/slow-peak0.txt"); target=$((peak / 2))
    d=$(first_delay $conns $target)
    wrk_run "$work/slow-cal.txt" -t2 -c$conns -d5s -s "$here/rate.lua" "${auth[@]}" "$url" -- "$d"
    d=$(next_delay $conns $target "$d" "$(wrk_rps "$work/slow-cal.txt")")
    # measured RUN SLICES ARGS...: WRK_SECONDS of wrk ARGS, in SLICES runs
    # of equal length ($work/slow-RUN-K.txt); the figures in M_*: requests,
    # req/s, errors, p99 = the median of the slices' p99s (a neighbour's
    # burst on this shared machine spoils one slice, not the figure) and
    # their range, CPU ticks of the gateway and of the slow clients (when
    # running), the load average after.
    local slow_pid=""
    declare -A P99=()
    measured() {
        local run=$1 n=$2 g0 g1 s0 s1 k p99s=() reqs=0 errs=0; shift 2
        g0=$(cpu_ticks "$pid"); s0=$(cpu_ticks $slow_pid)
        for k in $(seq "$n"); do
            wrk_run "$work/slow-$run-$k.txt" -d"$((WRK_SECONDS / n))s" "$@"
            reqs=$((reqs + $(wrk_reqs "$work/slow-$run-$k.txt")))
            errs=$((errs + $(wrk_errors "$work/slow-$run-$k.txt")))
            p99s+=("$(wrk_p99_ms "$work/slow-$run-$k.txt")")
        done
        g1=$(cpu_ticks "$pid"); s1=$(cpu_ticks $slow_pid)
        M_GW=$((g1 - g0)); M_SLOW=$((s1 - s0)); M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
        M_REQS=$reqs; M_ERR=$errs; M_RPS=$((reqs / WRK_SECONDS))
        read -r M_P99 M_RANGE < <(printf '%s\n' "${p99s[@]}" | sort -g | awk '{v[NR] = $1}
            END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                 printf "%.2f %s\n", m, (NR > 1) ? v[1] "-" v[NR] : "-"}')
        P99[$run]=$M_P99
    }
    row() {  # row LABEL CONNECTIONS_OPEN: a table row from measured's figures
        echo "| $1 | $M_RPS | $M_P99 | $M_RANGE | $M_ERR |" \
            "$(awk -v t=$M_GW -v n="$M_REQS" -v hz="$CLK_TCK" 'BEGIN {if (n > 0) printf "%.1f", t * 1e6 / hz / n}') |" \
            "$( [[ -n $slow_pid ]] && cpu_pct "$M_SLOW" "$WRK_SECONDS") | $M_LOAD | $2 |"
    }
    local errs_attack=0
    local rows=()
    measured peak 1 -t2 -c$conns "${auth[@]}" "$url"
    rows+=("$(row "unpaced, no slow clients" "")")
    measured base 4 -t2 -c$conns -s "$here/rate.lua" "${auth[@]}" "$url" -- "$d"
    rows+=("$(row "paced (~$target/s), no slow clients" "")")
    # Slow clients: 10 s to ramp up, 10 s to settle, two wrk runs, 10 s after.
    seconds=$((10 + 10 + 2 * WRK_SECONDS + 10))
    note "slowloris: $SLOW_CONNS slow connections for ${seconds}s"
    python3 "$here/slowloris.py" --port "$port" --conns "$SLOW_CONNS" --interval 10 --seconds "$seconds" \
        --ramp 10 --out "$work/slow.json" --admin-port "$admin" --client-timeout "$CLIENT_TIMEOUT" \
        >/dev/null 2>"$work/slowloris.err" &
    slow_pid=$!; pids+=("$slow_pid")
    run_fg sleep 20
    local open_before rss_attack
    open_before=$(metric "$admin" gateway_connections_open)
    measured attack 4 -t2 -c$conns -s "$here/rate.lua" "${auth[@]}" "$url" -- "$d"
    errs_attack=$((errs_attack + M_ERR))
    rows+=("$(row "paced, $SLOW_CONNS slow clients" "$open_before before, $(metric "$admin" gateway_connections_open) after")")
    measured attack-peak 1 -t2 -c$conns "${auth[@]}" "$url"
    errs_attack=$((errs_attack + M_ERR))
    rows+=("$(row "unpaced, $SLOW_CONNS slow clients" "$(metric "$admin" gateway_connections_open) after")")
    rss_attack=$(rss_kib "$pid")
    wait "$slow_pid" 2>/dev/null || true; stop_pid "$slow_pid"; slow_pid=""
    sleep 1
    local open_end; open_end=$(metric "$admin" gateway_connections_open)
    local head_timeouts; head_timeouts=$(metric "$admin" gateway_timeouts_total 'kind="request_head"')
    # The paced run once more without them: brackets the attack, shows how
    # far the machine drifted meanwhile.
    measured after 4 -t2 -c$conns -s "$here/rate.lua" "${auth[@]}" "$url" -- "$d"
    rows+=("$(row "paced, slow clients gone" "$open_end before")")
    local base=${P99[base]} attack=${P99[attack]} after=${P99[after]}
    echo "p99: the median of four ${WRK_SECONDS}/4 s slices for the paced runs (their range beside it)."
    echo
    echo "| run | req/s | p99 ms | p99 range | errors | gateway CPU µs/req | slow clients' CPU | load avg | connections_open |"
    echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    if [[ ! -s $work/slow.json ]]; then
        echo "slowloris.py gave no result:"; tail -n 20 "$work/slowloris.err"
        verdict slowloris "p99 < 2x baseline; slow ones closed at client_timeout" "slowloris.py failed" FAIL
        stop_pid "$pid"; return
    fi
    local s=$work/slow.json
    echo "Slow connections: opened $(jget "$s" 'd["opened"]') (peak open $(jget "$s" 'd["peak_open"]'), connect errors $(jget "$s" 'd["connect_errors"]')),"
    echo "closed by the gateway $(jget "$s" 'd["closed_by_server"]'), answers before the close $(jget "$s" 'd["answers"]');"
    echo "lifetime from connect to the gateway's close, s: min $(jget "$s" 'd["lifetime_s"]["min"]'), p50 $(jget "$s" 'd["lifetime_s"]["p50"]'), p99 $(jget "$s" 'd["lifetime_s"]["p99"]'), max $(jget "$s" 'd["lifetime_s"]["max"]') (client_timeout ${CLIENT_TIMEOUT} s;"
    echo "the gateway's side (its request_head timeout counter against each connection's deadline, 0.25 s polls):"
    echo "  $(jget "$s" 'd.get("server_late_s", {}).get("counted")') timeouts counted, s after the deadline: min $(jget "$s" 'd.get("server_late_s", {}).get("min")'), p50 $(jget "$s" 'd.get("server_late_s", {}).get("p50")'), p99 $(jget "$s" 'd.get("server_late_s", {}).get("p99")'), max $(jget "$s" 'd.get("server_late_s", {}).get("max")');"
    echo "the slow clients' own event loop woke up late by p50 $(jget "$s" 'd["loop_lag_s"]["p50"]') / p99 $(jget "$s" 'd["loop_lag_s"]["p99"]') / max $(jget "$s" 'd["loop_lag_s"]["max"]') s, which delays seeing a close);"
    echo "still open when the run ended (closed by us): $(jget "$s" 'd["still_open_at_end"]'). gateway_timeouts_total{kind=\"request_head\"}: $head_timeouts."
    echo "RSS with them: $(mib "$rss_attack") MiB, after: $(mib "$(rss_kib "$pid")") MiB. Gateway alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo NO)."
    echo
    local ok errs=$errs_attack
    # The reference is the larger of the two paced runs without slow clients
    # (before and after): on a shared machine either can be the noisy one.
    local ref; ref=$(awk -v a="$base" -v b="$after" 'BEGIN {print (a > b) ? a : b}')
    ok=$(pass_if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
base, attack, ct, errs = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
life = d["lifetime_s"]
# Closed at client_timeout: never before it, and half of them within 1 s
# after it (the rest may be seen late by a lagging client, reported above).
ok = (attack < 2 * base and errs == 0 and d["closed_by_server"] > 0 and life["min"] >= ct - 0.5
      and life["p50"] <= ct + 1)
sys.exit(0 if ok else 1)' "$s" "$ref" "$attack" "$CLIENT_TIMEOUT" "$errs")
    verdict slowloris "paced p99 < 2x baseline (max of before/after), 0 errors; slow ones closed at client_timeout" \
        "paced p99 $base (before) / $after (after) -> $attack ms; $(jget "$s" 'd["closed_by_server"]') closed by gateway at $(jget "$s" 'd["lifetime_s"]["min"]')-$(jget "$s" 'd["lifetime_s"]["max"]') s (timeout ${CLIENT_TIMEOUT} s), answers $(jget "$s" 'list(d["answers"])')" "$ok"
    stop_pid "$pid"
}

# ================================================================ 3. faults
part_faults() {
    local port admin conf pid ports
    port=$(free_port); admin=$(free_port); conf=$work/faults.conf; ports=$work/fault-ports.json
    python3 "$here/faults.py" serve --ports-file "$ports" --slow-seconds 3 2>"$work/faults-serve.err" &
    local fpid=$!; pids+=("$fpid")
    wait_file "$ports" "$fpid" || { echo "faults.py serve failed:"; cat "$work/faults-serve.err"; verdict faults "" "faults.py failed" FAIL; return; }
    gw_conf "$conf" "$port" "$admin" 30s
    # Each broken upstream alone in its group, health checks off (so every
    # request really goes to it), 1 s connect and response timeouts.
    local name
    for name in mid head slow hole refused; do
        cat >>"$conf" <<EOF

[upstreams.$name]
servers = ["127.0.0.1:$(jget "$ports" "d['$name']")"]
connect_timeout = "1s"
response_timeout = "1s"
health_check_interval = "0s"

[[routes]]
prefix = "/f/$name/"
upstream = "$name"
auth = "none"
EOF
    done
    start_gw faults "$conf" "$admin" || return 1; pid=$GW_PID
    echo "## 3. upstream faults (connect_timeout 1s, response_timeout 1s; 100 requests each, 20 at a time, one connection per request)"
    echo
    echo "Black hole: a socket listening with backlog 0 that never accepts, its accept queue filled"
    echo "($(jget "$ports" 'd["hole_fillers"]') connection) by faults.py itself: Linux then drops every further SYN, the way a"
    echo "firewall DROP rule or a vanished host does (no RST, no SYN-ACK), so the gateway's connect can only time out."
    echo "The slow upstream reads the request and answers after 3 s. Sockets are the gateway PID's in \`ss -tanp\`,"
    echo "by state and peer (client side, nginx pool, or the broken upstream)."
    echo
    curl -s -o /dev/null "http://127.0.0.1:$port/public/warm" || true
    sleep 0.5   # curl closed its connection: let the gateway see it before taking the baseline
    local base_open base_socks
    base_open=$(metric "$admin" gateway_connections_open)
    base_socks=$(gw_socket_count "$pid")
    local names="$port=client $UP_PORT=nginx"
    for name in mid head slow hole refused; do names+=" $(jget "$ports" "d['$name']")=$name"; done
    echo "Baseline before the faults: connections_open $base_open; gateway sockets (ss, not LISTEN): $(gw_sockets "$pid" $names)"
    echo
    echo "| case | expected | answers | p50 ms | max ms | connections_open after (waited) | gateway sockets after (ss) |"
    echo "| --- | --- | --- | ---: | ---: | --- | --- |"
    local all_ok=1 kind expect label res ok open waited socks brief=""
    for kind in mid head slow hole refused; do
        case $kind in
            mid) expect=truncated+closed; label="dies mid-body (head, 1000 of 100000 bytes, close)" ;;
            head) expect=502; label="dies before the head (reads, closes)" ;;
            slow) expect=504; label="answers after 3 s > response_timeout" ;;
            hole) expect=502; label="black hole (SYNs dropped)" ;;
            refused) expect=502; label="connect refused" ;;
        esac
        res=$work/fault-$kind.json
        run_fg python3 "$here/faults.py" check --port "$port" --path "/f/$kind/x" --expect "$expect" \
            --requests 100 --concurrency 20 --timeout 5 >"$res" 2>"$work/fault-$kind.err" || true
        if [[ ! -s $res ]]; then echo "| $label | $expect | faults.py check failed | | | | |"; all_ok=0; continue; fi
        ok=$(jget "$res" 'd["ok"]')
        # The slow upstream answers 3 s after each request; wait past that,
        # then for connections_open to come back (at most 10 s).
        [[ $kind == slow ]] && run_fg sleep 3
        waited=0
        for _ in $(seq 100); do
            open=$(metric "$admin" gateway_connections_open)
            [[ $open == "$base_open" ]] && break
            sleep 0.1; waited=$((waited + 1))
        done
        socks=$(gw_sockets "$pid" $names)
        echo "| $label | $expect | $(jget "$res" 'd["counts"]') | $(jget "$res" 'd["p50_ms"]') | $(jget "$res" 'd["max_ms"]') | $open ($(awk -v w=$waited 'BEGIN {printf "%.1f", w / 10}') s) | $socks |"
        [[ $ok == True && $open == "$base_open" && $(gw_socket_count "$pid") -le $base_socks ]] || all_ok=0
        brief+="${brief:+; }$kind: $(jget "$res" 'd["counts"].get(d["expect"], 0)')/100 $expect"
    done
    echo
    local m
    m=$(curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^gateway_(upstream_errors_total|timeouts_total)' | grep -v ' 0$' | sed 's/^gateway_/  /' | tr '\n' ';' || true)
    echo "Non-zero error counters afterwards: ${m:-none}"
    echo "Gateway alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo NO), /healthz $(healthz "$admin")."
    echo
    verdict faults "502 / 504 / truncated+close as SPEC §4.6; connections_open and sockets back to baseline" \
        "$brief; connections_open back to $base_open, sockets back to baseline after each: $( (( all_ok )) && echo yes || echo no)" \
        "$( (( all_ok )) && echo PASS || echo FAIL)"
    stop_pid "$pid"; stop_pid "$fpid"
}

# ================================================================ 4. reload
part_reload() {
    local port admin conf pid token i seconds
    port=$(free_port); admin=$(free_port); conf=$work/reload.conf
    # Two configs to alternate between, so every reload changes something:
    # the pool size and an extra route.
    gw_conf "$work/reload-a.conf" "$port" "$admin" 60s
    gw_conf "$work/reload-b.conf" "$port" "$admin" 60s
    sed -i 's/^max_idle_connections = 128/max_idle_connections = 64/' "$work/reload-b.conf"
    printf '\n[[routes]]\nprefix = "/extra/"\nupstream = "app"\nauth = "none"\n' >>"$work/reload-b.conf"
    cp "$work/reload-a.conf" "$conf"
    start_gw reload "$conf" "$admin" || return 1; pid=$GW_PID
    token=$(mint "$conf")
    echo "## 4. reload: $RELOADS SIGHUPs, one every 0.25 s, under wrk -t2 -c50 (auth required route)"
    echo
    local rss0; rss0=$(rss_kib "$pid")
    seconds=$(( RELOADS / 4 + 6 ))
    "$WRK" --latency -t2 -c50 -d"${seconds}s" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/soak" \
        >"$work/reload-wrk.txt" 2>&1 &
    local wpid=$!; pids+=("$wpid")
    run_fg sleep 2
    local sent=0
    for i in $(seq "$RELOADS"); do
        # Atomic swap (rename), so a reload never reads a half-written file.
        if (( i % 2 )); then cp "$work/reload-b.conf" "$conf.new"; else cp "$work/reload-a.conf" "$conf.new"; fi
        mv -f "$conf.new" "$conf"
        kill -HUP "$pid" 2>/dev/null && sent=$((sent + 1))
        sleep 0.25
    done
    wait "$wpid" 2>/dev/null || true; stop_pid "$wpid"
    local okc errc
    for _ in $(seq 50); do
        okc=$(metric "$admin" gateway_config_reloads_total 'result="ok"')
        (( okc >= sent )) && break; sleep 0.1
    done
    errc=$(metric "$admin" gateway_config_reloads_total 'result="error"')
    local f=$work/reload-wrk.txt e
    e=$(wrk_errors "$f")
    echo "| SIGHUPs sent | reloads ok | reloads error | requests | req/s | p99 ms | non-2xx | socket errors | RSS MiB before / after |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    echo "| $sent | $okc | $errc | $(wrk_reqs "$f") | $(wrk_rps "$f") | $(wrk_p99_ms "$f") | $(wrk_non2xx "$f") | $(wrk_sockerr "$f") | $(mib "$rss0") / $(mib "$(rss_kib "$pid")") |"
    echo
    echo "Gateway alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo NO), /healthz $(healthz "$admin")."
    echo
    verdict reload "0 failed requests over $RELOADS reloads" "$okc ok / $errc error reloads; $e failed of $(wrk_reqs "$f")" \
        "$(pass_if test "$e" -eq 0 -a "$okc" -ge "$sent" -a "$(wrk_reqs "$f")" -gt 0)"
    stop_pid "$pid"
}

# ================================================================ 5. jwks
part_jwks() {
    local port admin conf pid jdir jport url conns=20 d
    port=$(free_port); admin=$(free_port); conf=$work/jwks.conf; jdir=$work/jwks
    mkdir -p "$jdir"
    local ntokens=$(( JWKS_RATE * (JWKS_SECONDS + 5) ))
    python3 "$here/jwks_server.py" --dir "$jdir" --unknown "$ntokens" 2>"$work/jwks-server.err" &
    local jpid=$!; pids+=("$jpid")
    wait_file "$jdir/port" "$jpid" || { echo "jwks_server.py failed:"; cat "$work/jwks-server.err"; verdict jwks "" "jwks_server.py failed" FAIL; return; }
    jport=$(cat "$jdir/port"); url="http://127.0.0.1:$jport/jwks.json"
    gw_conf "$conf" "$port" "$admin" 60s
    # The JWKS entry in place of the HS256 key.
    python3 - "$conf" "$url" <<'EOF'
import sys
path, url = sys.argv[1], sys.argv[2]
text = open(path).read()
head, sep, _ = text.partition("[[keys]]")
open(path, "w").write(head + sep + '\njwks_url = "%s"\nrefresh_interval = "5m"\nfetch_timeout = "2s"\n' % url)
EOF
    start_gw jwks "$conf" "$admin" || return 1; pid=$GW_PID
    for _ in $(seq 100); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz") == 200 ]] && break; sleep 0.1
    done
    echo "## 5. jwks: unknown kids at ~$JWKS_RATE/s for ${JWKS_SECONDS}s (keys from jwks_url, refresh_interval 5m, max-age 600)"
    echo
    local good; good=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$jdir/good.token")" "http://127.0.0.1:$port/api/soak")
    local c0; c0=$(curl -s "http://127.0.0.1:$jport/count")
    # wrk -c20 with rate.lua: d = 20 * 1000 / rate ms less ~0.5 ms for the
    # 401 itself; every request carries another unknown kid. Next to it, 2
    # connections with the one valid token, every 100 ms.
    d=$(awk -v c=$conns -v r="$JWKS_RATE" 'BEGIN {v = c * 1000 / r - 0.5; printf "%.3f", v < 0 ? 0 : v}')
    "$WRK" -t1 -c2 -d"${JWKS_SECONDS}s" -s "$here/rate.lua" -H "Authorization: Bearer $(cat "$jdir/good.token")" \
        "http://127.0.0.1:$port/api/soak" -- 100 >"$work/jwks-good.txt" 2>&1 &
    local gpid=$!; pids+=("$gpid")
    wrk_run "$work/jwks-flood.txt" -t1 -c$conns -d"${JWKS_SECONDS}s" -s "$here/rate.lua" \
        "http://127.0.0.1:$port/api/soak" -- "$d" "$jdir/unknown.tokens"
    wait "$gpid" 2>/dev/null || true; stop_pid "$gpid"
    local c1; c1=$(curl -s "http://127.0.0.1:$jport/count")
    local f=$work/jwks-flood.txt fetched allowed
    fetched=$((c1 - c0))
    allowed=$(( (JWKS_SECONDS + 29) / 30 ))
    local ok_fetches err_fetches
    ok_fetches=$(metric "$admin" gateway_key_fetches_total 'result="ok"')
    err_fetches=$(metric "$admin" gateway_key_fetches_total 'result="error"')
    echo "| unknown-kid requests | req/s | 401s | socket errors | p99 ms | JWKS fetches during | allowed (1 per 30 s) | valid-token requests / non-2xx |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    echo "| $(wrk_reqs "$f") | $(wrk_rps "$f") | $(wrk_non2xx "$f") | $(wrk_sockerr "$f") | $(wrk_p99_ms "$f") | $fetched | $allowed | $(wrk_reqs "$work/jwks-good.txt") / $(wrk_non2xx "$work/jwks-good.txt") |"
    echo
    echo "Fetches seen by the JWKS server: $c0 before the flood (start-up), $c1 after. gateway_key_fetches_total: ok $ok_fetches, error $err_fetches."
    echo "Valid token before the flood: $good. Gateway alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo NO)."
    echo "(Every unknown-kid answer is a 401, so wrk's non-2xx count is the 401 count here.)"
    echo
    local reqs; reqs=$(wrk_reqs "$f")
    verdict jwks "<= 1 fetch per 30 s under a flood of unknown kids" \
        "$reqs unknown-kid requests ($(wrk_rps "$f")/s): $fetched fetches, allowed $allowed; valid token non-2xx $(wrk_non2xx "$work/jwks-good.txt")" \
        "$(pass_if test "$fetched" -le "$allowed" -a "$reqs" -gt 0 -a "$(wrk_non2xx "$f")" -eq "$reqs" -a "$(wrk_non2xx "$work/jwks-good.txt")" -eq 0 -a "$good" = 200)"
    stop_pid "$pid"; stop_pid "$jpid"
}

# ================================================================ 6. redis
part_redis() {
    local port admin conf pid rport rpid fpid res
    port=$(free_port); admin=$(free_port); rport=$(free_port); conf=$work/redis.conf; res=$work/redis.json
    mkdir -p "$work/redis"
    "$REDIS" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" >"$work/redis.log" 2>&1 &
    rpid=$!; pids+=("$rpid")
    wait_port "$rport" "$rpid" || { echo "redis-server did not start"; verdict redis "" "redis-server failed" FAIL; return; }
    python3 "$here/redis_flap.py" --redis-port "$rport" --port-file "$work/relay-port" --gw-port "$port" \
        --admin-port "$admin" --admin-token "$ADMIN_TOKEN" --seconds "$REDIS_SECONDS" --period 5 --clients 4 \
        >"$res" 2>"$work/redis-flap.err" &
    fpid=$!; pids+=("$fpid")
    wait_file "$work/relay-port" "$fpid" || { echo "redis_flap.py failed:"; cat "$work/redis-flap.err"; verdict redis "" "redis_flap.py failed" FAIL; return; }
    gw_conf "$conf" "$port" "$admin" 60s
    cat >>"$conf" <<EOF

[[routes]]
prefix = "/login"
upstream = "app"
auth = "none"
issue_session = true

[refresh]
enabled = true
signing_key = "soak-hs"

[sessions]
grace = "30s"
access_ttl = "15m"

[store]
redis = "redis://127.0.0.1:$(cat "$work/relay-port")/0"
redis_prefix = "soak:"
EOF
    start_gw redis "$conf" "$admin" || return 1; pid=$GW_PID
    local rss0; rss0=$(rss_kib "$pid")
    echo "## 6. redis: the gateway's link to Redis cut and restored every 5 s for ${REDIS_SECONDS}s"
    echo
    echo "A TCP relay in redis_flap.py sits between the gateway and redis-server; \"cut\" closes every relayed"
    echo "connection and closes new ones at once (Redis unreachable), \"restored\" relays again. Load: 4 clients on"
    echo "GET /api/soak (auth required, session access tokens), one refresh-token rotation every 50 ms, one"
    echo "revocation POST every 100 ms."
    echo
    note "redis: flapping for ${REDIS_SECONDS}s"
    wait "$fpid" 2>/dev/null || true; stop_pid "$fpid"
    if ! jget "$res" 'd["normal"]' >/dev/null 2>&1; then
        echo "redis_flap.py gave no result:"; cat "$res"; tail -n 20 "$work/redis-flap.err"
        verdict redis "" "redis_flap.py failed" FAIL; stop_pid "$pid"; return
    fi
    echo "| answers | relay up, store_up 1 | relay cut | relay restored, store_up still 0 |"
    echo "| --- | --- | --- | --- |"
    echo "| GET /api/soak (normal route) | $(jget "$res" 'd["normal"]') (all phases) | | |"
    local ep
    for ep in refresh revoke; do
        echo "| $( [[ $ep == refresh ]] && echo "POST /auth/refresh" || echo "POST /admin/v1/revocations") |" \
            "$(jget "$res" "d['store_ops'].get('$ep', {}).get('up', {})") |" \
            "$(jget "$res" "d['store_ops'].get('$ep', {}).get('cut', {})") |" \
            "$(jget "$res" "d['store_ops'].get('$ep', {}).get('reconnecting', {})") |"
    done
    echo
    echo "Relay flips: $(jget "$res" 'd["flips"]'); gateway_store_up transitions 1->0: $(jget "$res" 'd["store_up_transitions"]["to_0"]'), 0->1: $(jget "$res" 'd["store_up_transitions"]["to_1"]');"
    echo "store_up samples (s, value): $(jget "$res" '" ".join("%s:%s" % (t, int(v) if v is not None else "?") for t, v in d["store_up_transitions"]["samples"])')"
    echo "Back up after the last restore at $(jget "$res" 'd["store_up_again_at_s"]') s; after the run: login/refresh/revoke $(jget "$res" 'd["after"]'), /healthz $(jget "$res" 'd["healthz_end"]')."
    echo "Unexpected answers on the normal route (first 10): $(jget "$res" 'd["normal_unexpected"]')"
    echo "Gateway alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo NO), RSS $(mib "$rss0") -> $(mib "$(rss_kib "$pid")") MiB."
    echo
    local ok
    ok=$(pass_if python3 - "$res" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
normal_ok = set(d["normal"]) == {"200"}
ops = d["store_ops"]
# Store endpoints: only success or 503 (never another error, never a socket error).
good = {"refresh": {"200"}, "revoke": {"201"}}
answers_ok = all(set(v) <= good[ep] | {"503"} for ep, states in ops.items() for v in states.values())
some_503 = any(v.get("503", 0) for states in ops.values() for v in [states.get("cut", {})])
after = d["after"]
ok = (normal_ok and answers_ok and some_503 and d["healthz_end"] == 200 and d["store_up_again_at_s"] is not None
      and after.get("login") == 200 and after.get("refresh") == 200 and after.get("revoke") == 201
      and d["store_up_transitions"]["to_0"] > 0)
sys.exit(0 if ok else 1)
EOF
)
    kill -0 "$pid" 2>/dev/null || ok=FAIL
    verdict redis "0 errors on the normal route; only 503 from store endpoints while down; healthy after" \
        "normal $(jget "$res" 'd["normal"]'); store_up 1->0 x$(jget "$res" 'd["store_up_transitions"]["to_0"]'); healthz $(jget "$res" 'd["healthz_end"]')" "$ok"
    stop_pid "$pid"; stop_pid "$rpid"
}

for part in rss slowloris faults reload jwks redis; do
    want "$part" || continue
    note "part $part"
    "part_$part" || verdict "$part" "" "the part stopped early (see above)" FAIL
done

echo "## summary"
echo
echo "| part | goal | result | verdict |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${summary[@]}"
