#!/usr/bin/env bash
# One benchmark run on loopback: the gateway against the bare upstream,
# nginx proxy_pass and HAProxy, each with one worker and the same CPU
# pinning, driven by wrk. Prints markdown tables of req/s, p99 latency, CPU
# microseconds per request and RSS; then token validation (gateway
# `auth = "required"` vs HAProxy `jwt_verify`, HS256/RS256/ES256, one token
# reused vs a different token per request) with the `openssl speed` verify
# rates that bound it; then idle memory (at start, and holding 10,000 idle
# keep-alive connections), and 1 vs 2 gateway workers.
#
#   scripts/bench.sh
#
# Environment: BENCH_DURATION (seconds per wrk run, default 10),
# GATEWAY_BIN (default .build/release/gateway, built when missing or
# stale), BENCH_IDLE_CONNS (default 10000), BENCH_PORT_BASE (default 18080),
# BENCH_JWT_TOKENS (distinct tokens per alg, default 20000; made up front by
# scripts/bench_jwt.py with PyJWT), BENCH_ONLY (comma list of the sections
# to run: proxy, jwt, refresh, memory, workers, state; default all; "state"
# is scripts/bench_state.sh: sessions, revocations and the stores, SPEC §7).
# Installs nginx, haproxy and wrk when missing (scripts/setup.sh --bench).
# Every listener is on 127.0.0.1; every process started here is stopped by
# PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

D=${BENCH_DURATION:-10}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
base=${BENCH_PORT_BASE:-18080}
UP_PORT=$((base + 1))        # bare upstream (nginx, static)
GW_PORT=$((base + 2))        # gateway
GW_ADMIN=$((base + 12))
NGX_PORT=$((base + 3))       # nginx proxy_pass
HAP_PORT=$((base + 4))       # haproxy
JWT_TOKENS=${BENCH_JWT_TOKENS:-20000}
ONLY=${BENCH_ONLY:-proxy,jwt,refresh,memory,workers,state}
want() { [[ ",$ONLY," == *",$1,"* ]]; }

scripts/setup.sh --bench

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
WRK=$(command -v wrk)

if [[ -z "${GATEWAY_BIN:-}" ]]; then
    echo "==> swift build -c release" >&2
    swift build -c release >&2 || echo "bench.sh: release build failed; gateway rows will be n/a" >&2
    GATEWAY_BIN=$repo/.build/release/gateway
fi

work=$(mktemp -d -t gateway-bench.XXXXXX)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
[[ $fd_limit == unlimited ]] && fd_limit=1048576
# HAProxy reserves two descriptors per connection and refuses to start when
# the limit is short; nginx warns. Size both to the limit we have.
hap_maxconn=$(( (fd_limit - 64) / 2 ))
(( hap_maxconn > IDLE_CONNS + 500 )) && hap_maxconn=$((IDLE_CONNS + 500))
ngx_conns=$(( fd_limit - 64 ))
(( ngx_conns > 2 * IDLE_CONNS + 1000 )) && ngx_conns=$((2 * IDLE_CONNS + 1000))
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- pinning
# Proxy under test on CPU 0. Upstream on CPU 1. wrk on its own cores when
# there are 3 or more; with 2 cores it shares CPU 1 with the upstream.
ncpu=$(nproc)
PROXY_CPU=0
UP_CPU=1
if (( ncpu >= 3 )); then
    WRK_CPUS="2-$((ncpu - 1))"
    WRK_THREADS=$((ncpu - 2))
    pin_note="proxy on CPU 0, upstream on CPU 1, wrk on CPUs $WRK_CPUS"
elif (( ncpu == 2 )); then
    WRK_CPUS=1
    WRK_THREADS=1
    pin_note="only 2 cores: proxy on CPU 0; upstream AND wrk share CPU 1 (bare-upstream rows: wrk on CPU 0)"
else
    PROXY_CPU=0; UP_CPU=0; WRK_CPUS=0; WRK_THREADS=1
    pin_note="1 core: everything shares CPU 0 (numbers are only indicative)"
fi
(( WRK_THREADS > 4 )) && WRK_THREADS=4

# ---------------------------------------------------------------- processes
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() {  # forget PID: stop it and drop it from the list
    local pid=$1 kept=() p
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${pids[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    pids=("${kept[@]}")
}

wait_port() {  # wait_port PORT PID: until something accepts on 127.0.0.1:PORT
    local port=$1 pid=$2
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# The process and its children (nginx master + worker), by PID.
family() {
    local pid=$1
    echo "$pid"
    cat "/proc/$pid/task/"*/children 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+$' || true
}

cpu_ticks() {  # utime+stime of the PIDs given, in clock ticks
    local total=0 pid stat
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }            # fields after "(comm) "
        read -r -a f <<<"$stat"
        total=$((total + f[11] + f[12]))   # utime, stime (fields 14, 15)
    done
    echo "$total"
}

rss_kib() {  # VmRSS summed over the PIDs given
    local total=0 pid v
    for pid in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# ---------------------------------------------------------------- configs
mkdir -p "$work/www" "$work/tmp"
# nginx workers drop root to nobody: they must read the files and temp dirs.
chmod 755 "$work" "$work/www"
chmod 777 "$work/tmp"
printf 'hello' >"$work/www/small"
head -c 16384 /dev/zero | tr '\0' 'x' >"$work/www/16k"

nginx_common="
daemon off;
worker_processes 1;
error_log $work/%NAME%.err warn;
pid $work/%NAME%.pid;
events { worker_connections $ngx_conns; multi_accept on; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $work/tmp/%NAME%-body;
    proxy_temp_path $work/tmp/%NAME%-proxy;
    fastcgi_temp_path $work/tmp/%NAME%-fcgi;
    uwsgi_temp_path $work/tmp/%NAME%-uwsgi;
    scgi_temp_path $work/tmp/%NAME%-scgi;
    default_type application/octet-stream;
"

cat >"$work/upstream.conf" <<EOF
${nginx_common//%NAME%/upstream}
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location = /small { return 200 "hello"; }
        location = /16k { root $work/www; }
        location / { return 200 "hello"; }
    }
}
EOF

cat >"$work/nginx-proxy.conf" <<EOF
${nginx_common//%NAME%/nginx-proxy}
    upstream app {
        server 127.0.0.1:$UP_PORT;
        keepalive 128;
    }
    server {
        listen 127.0.0.1:$NGX_PORT backlog=4096;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }
    }
}
EOF

# What every HAProxy config here starts with: one thread, keep-alive both
# ways, connection reuse to the upstream, the frontend on HAP_PORT.
haproxy_common="global
    nbthread 1
    maxconn $hap_maxconn
defaults
    mode http
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:$HAP_PORT"

cat >"$work/haproxy.cfg" <<EOF
$haproxy_common
    default_backend be
backend be
    server s1 127.0.0.1:$UP_PORT
EOF

gateway_conf() {  # gateway_conf WORKERS FILE [ALG]: with ALG, auth = "required" (bench_jwt)
    local route_auth=none
    [[ -n "${3:-}" ]] && route_auth=required
    cat >"$2" <<EOF
[server]
listen = ["127.0.0.1:$GW_PORT"]
workers = $1
access_log = "off"
client_timeout = "300s"
max_connections = 30000

[admin]
listen = "127.0.0.1:$GW_ADMIN"

[upstreams.app]
servers = ["127.0.0.1:$UP_PORT"]
max_idle_connections = 128

[[routes]]
prefix = "/"
upstream = "app"
auth = "$route_auth"
EOF
    if [[ -n "${3:-}" ]]; then gateway_jwt_conf "$3" >>"$2"; fi
}

# ---------------------------------------------------------------- targets
# start_* set TARGET_PID (the process to stop) and TARGET_PORT; return 1 when
# the target does not come up.
start_nginx() {  # start_nginx NAME CPU PORT
    taskset -c "$2" "$NGINX" -p "$work/" -e "$work/$1.err" -c "$work/$1.conf" &
    TARGET_PID=$!
    pids+=("$TARGET_PID")
    TARGET_PORT=$3
    wait_port "$3" "$TARGET_PID"
}

start_haproxy() {  # start_haproxy [CONFIG] (default $work/haproxy.cfg)
    taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "${1:-$work/haproxy.cfg}" >"$work/haproxy.log" 2>&1 &
    TARGET_PID=$!
    pids+=("$TARGET_PID")
    TARGET_PORT=$HAP_PORT
    wait_port "$HAP_PORT" "$TARGET_PID"
}

start_gateway() {  # start_gateway WORKERS CPUS [ALG]
    gateway_conf "$1" "$work/gateway-$1.conf" "${3:-}"
    start_gateway_conf "$work/gateway-$1.conf" "$2"
}

start_gateway_conf() {  # start_gateway_conf CONFIG [CPUS]: sets TARGET_PID
    local cfg=$1 cpus=${2:-$PROXY_CPU} err="${1%.conf}.err"
    [[ -x "$GATEWAY_BIN" ]] || { echo "bench.sh: no gateway binary at $GATEWAY_BIN" >&2; return 1; }
    if ! "$GATEWAY_BIN" check --config "$cfg" >"$work/gateway-check.log" 2>&1; then
        echo "bench.sh: gateway check failed:" >&2; cat "$work/gateway-check.log" >&2
        return 1
    fi
    taskset -c "$cpus" "$GATEWAY_BIN" run --config "$cfg" \
        >"$work/gateway.out" 2>"$err" &
    TARGET_PID=$!
    pids+=("$TARGET_PID")
    TARGET_PORT=$GW_PORT
    for _ in $(seq 100); do
        kill -0 "$TARGET_PID" 2>/dev/null || break
        curl -fsS -o /dev/null "http://127.0.0.1:$GW_ADMIN/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench.sh: the gateway did not come up:" >&2
    tail -n 20 "$err" >&2
    return 1
}

# ---------------------------------------------------------------- wrk
rows=()
row() { rows+=("| $* |"); }

# run_wrk LABEL SCENARIO CONNS PATH WRK_CPUS THREADS PID...
run_wrk() {
    local label=$1 scenario=$2 conns=$3 path=$4 cpus=$5 threads=$6
    shift 6
    local measured=("$@") out t0 t1 reqs rps p99 errs cpu_us rss
    (( threads > conns )) && threads=$conns
    out="$work/wrk-${label// /_}-${scenario//[ ,\/]/_}-$conns.txt"
    # WRK_LUA (a wrk script) and WRK_LUA_ARGS (its arguments), when set.
    local pre=() post=()
    if [[ -n "${WRK_LUA:-}" ]]; then pre=(-s "$WRK_LUA"); post=(-- "${WRK_LUA_ARGS[@]}"); fi
    # Short warm-up: fills pools, caches and the kernel's socket buffers.
    taskset -c "$cpus" "$WRK" -t"$threads" -c"$conns" -d2s "${pre[@]}" "http://127.0.0.1:$TARGET_PORT$path" \
        "${post[@]}" >/dev/null 2>&1 || true
    t0=$(cpu_ticks "${measured[@]}")
    if ! taskset -c "$cpus" "$WRK" -t"$threads" -c"$conns" -d"${D}s" --latency "${pre[@]}" \
            "http://127.0.0.1:$TARGET_PORT$path" "${post[@]}" >"$out" 2>&1; then
        row "$label | $scenario | $conns | n/a (wrk failed) | | | | "
        return
    fi
    t1=$(cpu_ticks "${measured[@]}")
    reqs=$(awk '/requests in/ {print $1; exit}' "$out")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    p99=$(awk '$1 == "99%" {v=$2; u=v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
               m = (u == "us") ? v/1000 : (u == "s") ? v*1000 : (u == "m") ? v*60000 : v;
               printf "%.2f ms", m; exit}' "$out")
    errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
    if [[ -n "$reqs" && "$reqs" -gt 0 ]]; then
        cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN {printf "%.1f", d * 1e6 / hz / n}')
    else
        cpu_us="n/a"
    fi
    rss=$(awk -v k="$(rss_kib "${measured[@]}")" 'BEGIN {printf "%.1f", k / 1024}')
    row "$label | $scenario | $conns | ${rps:-n/a} | ${p99:-n/a} | $cpu_us | $rss | $errs"
}

scenarios() {  # scenarios LABEL WRK_CPUS THREADS PID...
    local label=$1 cpus=$2 threads=$3
    shift 3
    run_wrk "$label" "GET 5 B" 50 /small "$cpus" "$threads" "$@"
    run_wrk "$label" "GET 5 B" 256 /small "$cpus" "$threads" "$@"
    run_wrk "$label" "GET 16 KiB" 50 /16k "$cpus" "$threads" "$@"
}

na_rows() {  # na_rows LABEL REASON
    row "$1 | GET 5 B | 50 | $2 | | | | "
    row "$1 | GET 5 B | 256 | $2 | | | | "
    row "$1 | GET 16 KiB | 50 | $2 | | | | "
}

# ---------------------------------------------------------------- tokens
# Token validation: the gateway with `auth = "required"` against HAProxy
# `jwt_verify`, for HS256, RS256 and ES256, each with one token reused for
# every request (the gateway's verified-token cache answers after the first
# check) and with a different token per request (JWT_TOKENS of them, more
# than the gateway's 4096-entry cache holds, so every request costs a
# signature check). Both sides do the same work: the token's alg and kid must
# be the key's, then signature, exp and iat (30 s leeway), iss and aud; a
# failure is a 401 that never reaches the upstream. HAProxy has no cache, so
# its two rows differ only by noise. A sanity check before the rows proves
# each side accepts a good token and refuses a forged one and none.
JWT_ISSUER="https://issuer.bench"
JWT_AUDIENCE="api"
JWT_ALGS=(HS256 RS256 ES256)
# Rows for the gateway alone: HAProxy's jwt_verify has no PS* or EdDSA.
JWT_GATEWAY_ONLY_ALGS=(PS256 EdDSA)
JWT_DIR=""
JWT_SANITY=""

gateway_jwt_conf() {  # gateway_jwt_conf ALG: [tokens] and its one [[keys]] entry
    local alg=$1 stem=${1,,}
    cat <<EOF

[tokens]
issuers = ["$JWT_ISSUER"]
audiences = ["$JWT_AUDIENCE"]

[[keys]]
kid = "$stem"
alg = "$alg"
EOF
    if [[ $alg == HS* ]]; then
        echo "secret_file = \"$JWT_DIR/$stem.secret\""
    else
        echo "public_key_file = \"$JWT_DIR/$stem.pub.pem\""
    fi
}

haproxy_jwt_cfg() {  # haproxy_jwt_cfg ALG FILE
    local alg=$1 stem=${1,,} key
    # HMAC: the secret itself (printable, made so by bench_jwt.py); otherwise
    # the path of the SPKI public key, loaded at start.
    if [[ $alg == HS* ]]; then key=$(cat "$JWT_DIR/$stem.secret"); else key="$JWT_DIR/$stem.pub.pem"; fi
    # jwt_verify answers 1 on success, 0 or negative otherwise: match 1 exactly.
    cat >"$2" <<EOF
$haproxy_common
    http-request set-var(txn.bearer) http_auth_bearer
    http-request set-var(txn.jwt_alg) var(txn.bearer),jwt_header_query('\$.alg')
    http-request deny deny_status 401 unless { var(txn.jwt_alg) -m str $alg }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_header_query('\$.kid') -m str $stem }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.jwt_alg,"$key") -m int 1 }
    http-request set-var(txn.now) date()
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.exp','int'),add(30),sub(txn.now) -m int gt 0 }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.iat','int'),sub(txn.now) -m int le 30 }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.iss') -m str $JWT_ISSUER }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.aud') -m str $JWT_AUDIENCE }
    default_backend be
backend be
    server s1 127.0.0.1:$UP_PORT
EOF
}

jwt_sanity() {  # jwt_sanity ALG: on TARGET_PORT a good token is 200, a forged one and none 401
    local stem=${1,,} url="http://127.0.0.1:$TARGET_PORT/small" good bad none
    good=$(curl -s -o /dev/null -w '%{http_code}' \
        -H "Authorization: Bearer $(head -n1 "$JWT_DIR/$stem-reused.tokens")" "$url" || true)
    bad=$(curl -s -o /dev/null -w '%{http_code}' \
        -H "Authorization: Bearer $(head -n1 "$JWT_DIR/$stem-forged.token")" "$url" || true)
    none=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    [[ $good == 200 && $bad == 401 && $none == 401 ]] && return 0
    JWT_SANITY="good token $good, forged $bad, none $none"
    return 1
}

jwt_rows() {  # jwt_rows LABEL ALG PID...
    local label=$1 stem=${2,,}
    shift 2
    WRK_LUA=$JWT_DIR/tokens.lua
    WRK_LUA_ARGS=("$JWT_DIR/$stem-reused.tokens" /small)
    run_wrk "$label" "GET 5 B, one token" 50 /small "$WRK_CPUS" "$WRK_THREADS" "$@"
    WRK_LUA_ARGS=("$JWT_DIR/$stem-distinct.tokens" /small)
    run_wrk "$label" "GET 5 B, $JWT_TOKENS tokens" 50 /small "$WRK_CPUS" "$WRK_THREADS" "$@"
    WRK_LUA=""
}

jwt_na_rows() {  # jwt_na_rows LABEL REASON
    row "$1 | GET 5 B, one token | 50 | $2 | | | | "
    row "$1 | GET 5 B, $JWT_TOKENS tokens | 50 | $2 | | | | "
}

bench_jwt() {
    local alg cfg
    JWT_DIR=$work/jwt
    echo "==> tokens: $JWT_TOKENS per alg (scripts/bench_jwt.py)" >&2
    if ! python3 scripts/bench_jwt.py --dir "$JWT_DIR" --count "$JWT_TOKENS" \
            --algs "$(IFS=,; echo "${JWT_ALGS[*]},${JWT_GATEWAY_ONLY_ALGS[*]}")" \
            --issuer "$JWT_ISSUER" --audience "$JWT_AUDIENCE" \
            >/dev/null 2>"$work/bench_jwt.err"; then
        cat "$work/bench_jwt.err" >&2
        for alg in "${JWT_ALGS[@]}"; do
            jwt_na_rows "gateway auth $alg" "n/a (token generation failed)"
            jwt_na_rows "haproxy jwt_verify $alg" "n/a (token generation failed)"
        done
        for alg in "${JWT_GATEWAY_ONLY_ALGS[@]}"; do jwt_na_rows "gateway auth $alg" "n/a (token generation failed)"; done
        return
    fi
    cat "$work/bench_jwt.err" >&2
    for alg in "${JWT_ALGS[@]}"; do
        echo "==> gateway auth $alg" >&2
        if start_gateway 1 "$PROXY_CPU" "$alg"; then
            if jwt_sanity "$alg"; then
                jwt_rows "gateway auth $alg" "$alg" "$TARGET_PID"
            else
                jwt_na_rows "gateway auth $alg" "n/a (sanity check failed: $JWT_SANITY)"
            fi
            forget "$TARGET_PID"
        else
            jwt_na_rows "gateway auth $alg" "n/a (gateway did not start)"
        fi
        echo "==> haproxy jwt_verify $alg" >&2
        cfg=$work/haproxy-jwt-${alg,,}.cfg
        haproxy_jwt_cfg "$alg" "$cfg"
        if start_haproxy "$cfg"; then
            if jwt_sanity "$alg"; then
                jwt_rows "haproxy jwt_verify $alg" "$alg" "$TARGET_PID"
            else
                jwt_na_rows "haproxy jwt_verify $alg" "n/a (sanity check failed: $JWT_SANITY)"
            fi
            forget "$TARGET_PID"
        else
            jwt_na_rows "haproxy jwt_verify $alg" "n/a (did not start: $(tail -n1 "$work/haproxy.log"))"
        fi
    done
    for alg in "${JWT_GATEWAY_ONLY_ALGS[@]}"; do
        echo "==> gateway auth $alg" >&2
        if start_gateway 1 "$PROXY_CPU" "$alg"; then
            if jwt_sanity "$alg"; then
                jwt_rows "gateway auth $alg" "$alg" "$TARGET_PID"
            else
                jwt_na_rows "gateway auth $alg" "n/a (sanity check failed: $JWT_SANITY)"
            fi
            forget "$TARGET_PID"
        else
            jwt_na_rows "gateway auth $alg" "n/a (gateway did not start)"
        fi
    done
}

# The crypto floor: `openssl speed` on the proxy's core. A request with a
# token not seen before costs at least one verify, so 1e6 / (verify/s) is the
# least CPU µs per request such a row can show.
crypto_rows=()
crypto_speed() {  # crypto_speed LABEL ALGORITHM LINE_REGEX
    local out="$work/openssl-speed-$2.txt" line sign verify
    if taskset -c "$PROXY_CPU" openssl speed -seconds 3 "$2" >"$out" 2>&1 \
            && line=$(grep -E "$3" "$out" | tail -n1) && [[ -n $line ]]; then
        read -r sign verify <<<"$(awk '{print $(NF-1), $NF}' <<<"$line")"
        crypto_rows+=("| $1 | openssl speed $2 | $sign | $verify | $(awk -v v="$verify" 'BEGIN {printf "%.1f", 1e6 / v}') |")
    else
        crypto_rows+=("| $1 | openssl speed $2 | n/a | n/a | |")
    fi
}

crypto_floor() {
    echo "==> openssl speed (3 s each, CPU $PROXY_CPU)" >&2
    crypto_speed ES256 ecdsap256 '^ *256 bits ecdsa'
    # PS256 verifies with the same RSA public operation (PSS costs a hash more).
    crypto_speed "RS256, PS256" rsa2048 '^rsa +2048 bits'
    crypto_speed EdDSA ed25519 '^ *253 bits EdDSA'
}

# ---------------------------------------------------------------- run
echo "==> bench: ${D}s per run; $pin_note" >&2

start_nginx upstream "$UP_CPU" "$UP_PORT" || { cat "$work/upstream.err" >&2; echo "bench.sh: upstream nginx failed" >&2; exit 1; }
UP_PID=$TARGET_PID

# Bare upstream: wrk gets the other core (there is no proxy to pin).
bare_cpus=$WRK_CPUS
(( ncpu == 2 )) && bare_cpus=$PROXY_CPU
if want proxy; then
    echo "==> bare upstream" >&2
    scenarios "bare upstream (nginx)" "$bare_cpus" "$WRK_THREADS" $(family "$UP_PID")

    echo "==> gateway (workers = 1)" >&2
    if start_gateway 1 "$PROXY_CPU"; then
        scenarios "gateway" "$WRK_CPUS" "$WRK_THREADS" "$TARGET_PID"
        forget "$TARGET_PID"
    else
        na_rows "gateway" "n/a (gateway did not start)"
    fi

    echo "==> nginx proxy_pass" >&2
    if start_nginx nginx-proxy "$PROXY_CPU" "$NGX_PORT"; then
        scenarios "nginx proxy_pass" "$WRK_CPUS" "$WRK_THREADS" $(family "$TARGET_PID")
        forget "$TARGET_PID"
    else
        na_rows "nginx proxy_pass" "n/a (did not start)"
    fi

    echo "==> haproxy" >&2
    if start_haproxy; then
        scenarios "haproxy" "$WRK_CPUS" "$WRK_THREADS" "$TARGET_PID"
        forget "$TARGET_PID"
    else
        na_rows "haproxy" "n/a (did not start)"
    fi
fi

jwt_table=()
if want jwt; then
    saved=("${rows[@]}")
    rows=()
    bench_jwt
    jwt_table=("${rows[@]}")
    rows=("${saved[@]}")
    crypto_floor
fi

# ---------------------------------------------------------------- refresh
# Transparent refresh (SPEC §6), ES256 with the signing key on the gateway:
# the same config serves a token outside the window (no reissue), one
# near-expiry token reused (the reissue cache answers after the first), and
# 20000 distinct near-expiry tokens (verify + sign on every request).
gateway_refresh_conf() {  # gateway_refresh_conf FILE
    gateway_conf 1 "$1"
    sed -i 's/^auth = "none"/auth = "required"/' "$1"
    cat >>"$1" <<EOF2

[tokens]
issuers = ["$JWT_ISSUER"]
audiences = ["$JWT_AUDIENCE"]

[[keys]]
kid = "es256"
alg = "ES256"
private_key_file = "$REFRESH_DIR/es256.key.pem"

[refresh]
enabled = true
window = "5m"
ttl = "15m"
signing_key = "es256"
EOF2
}

bench_refresh() {
    REFRESH_DIR=$work/jwt-refresh
    echo "==> refresh: near-expiry ES256 tokens (scripts/bench_jwt.py --ttl 240)" >&2
    if ! python3 scripts/bench_jwt.py --dir "$REFRESH_DIR" --count "$JWT_TOKENS" --algs ES256 \
            --issuer "$JWT_ISSUER" --audience "$JWT_AUDIENCE" --ttl 240 >/dev/null 2>"$work/bench_refresh.err"; then
        row "gateway refresh ES256 | all | 50 | n/a (token generation failed) | | | | "
        return
    fi
    # A token outside the window, signed by the same key, for the baseline row.
    python3 - "$REFRESH_DIR" "$JWT_ISSUER" "$JWT_AUDIENCE" <<'PY'
import sys, time, jwt, pathlib
d, iss, aud = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
key = (d / "es256.key.pem").read_bytes()
now = int(time.time())
tok = jwt.encode({"iss": iss, "aud": aud, "sub": "far", "iat": now, "exp": now + 7200, "jti": "far-1"},
                 key, algorithm="ES256", headers={"kid": "es256"})
(d / "far.tokens").write_text(tok + "\n")
PY
    local cfg=$work/gateway-refresh.conf
    gateway_refresh_conf "$cfg"
    echo "==> gateway refresh ES256" >&2
    if ! start_gateway_conf "$cfg"; then
        row "gateway refresh ES256 | all | 50 | n/a (gateway did not start) | | | | "
        return
    fi
    WRK_LUA=$REFRESH_DIR/tokens.lua
    WRK_LUA_ARGS=("$REFRESH_DIR/far.tokens" /small)
    run_wrk "gateway refresh ES256" "outside the window, one token" 50 /small "$WRK_CPUS" "$WRK_THREADS" "$TARGET_PID"
    WRK_LUA_ARGS=("$REFRESH_DIR/es256-reused.tokens" /small)
    run_wrk "gateway refresh ES256" "near expiry, one token (reissued)" 50 /small "$WRK_CPUS" "$WRK_THREADS" "$TARGET_PID"
    WRK_LUA_ARGS=("$REFRESH_DIR/es256-distinct.tokens" /small)
    run_wrk "gateway refresh ES256" "near expiry, $JWT_TOKENS tokens (reissued)" 50 /small "$WRK_CPUS" "$WRK_THREADS" "$TARGET_PID"
    WRK_LUA=""
    local issued
    issued=$(curl -s "http://127.0.0.1:$GW_ADMIN/metrics" | awk '/^gateway_refreshes_total\{outcome="issued"\}/ {print $2}')
    refresh_note="refreshes issued during the refresh rows: ${issued:-?}"
    forget "$TARGET_PID"
}

refresh_table=()
refresh_note=""
if want refresh; then
    saved=("${rows[@]}")
    rows=()
    bench_refresh
    refresh_table=("${rows[@]}")
    rows=("${saved[@]}")
fi

# ---------------------------------------------------------------- memory
mem_rows=()
# idle_memory LABEL PID...: RSS at rest, then holding IDLE_CONNS keep-alive
# connections (each has served one GET).
idle_memory() {
    local label=$1
    shift
    local measured=("$@") idle held client line ok
    idle=$(rss_kib "${measured[@]}")
    python3 scripts/bench_idle_conns.py --port "$TARGET_PORT" --count "$IDLE_CONNS" \
        >"$work/idle.out" 2>"$work/idle.err" &
    client=$!
    pids+=("$client")
    line=""
    for _ in $(seq 1200); do
        line=$(grep -m1 '^held' "$work/idle.out" 2>/dev/null || true)
        [[ -n "$line" ]] && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    held=$(rss_kib "${measured[@]}")
    forget "$client"
    if [[ -z "$line" ]]; then
        mem_rows+=("| $label | $(awk -v k="$idle" 'BEGIN {printf "%.1f", k/1024}') | n/a (client failed: $(tail -n1 "$work/idle.err")) | |")
        return
    fi
    read -r _ ok _ <<<"$line"
    mem_rows+=("| $label | $(awk -v k="$idle" 'BEGIN {printf "%.1f", k/1024}') | $(awk -v k="$held" 'BEGIN {printf "%.1f", k/1024}') ($ok conns) | $(awk -v a="$idle" -v b="$held" -v n="$ok" 'BEGIN {if (n > 0) printf "%.2f", (b-a)/n; else print "n/a"}') |")
}

if want memory; then
    echo "==> idle memory ($IDLE_CONNS keep-alive connections)" >&2
    if start_gateway 1 "$PROXY_CPU"; then
        idle_memory "gateway (workers = 1)" "$TARGET_PID"
        forget "$TARGET_PID"
    else
        mem_rows+=("| gateway (workers = 1) | n/a (gateway did not start) | | |")
    fi
    if start_nginx nginx-proxy "$PROXY_CPU" "$NGX_PORT"; then
        idle_memory "nginx proxy_pass" $(family "$TARGET_PID")
        forget "$TARGET_PID"
    fi
    if start_haproxy; then
        idle_memory "haproxy" "$TARGET_PID"
        forget "$TARGET_PID"
    fi
fi

# ---------------------------------------------------------------- workers
# 1 vs 2 gateway workers. Unpinned: with 2 workers the gateway needs both
# cores, so the upstream and wrk share them; compare these two rows only
# with each other.
worker_rows=()
all_cpus="0-$((ncpu - 1))"
for w in 1 2; do
    want workers || break
    echo "==> gateway workers = $w (unpinned)" >&2
    if start_gateway "$w" "$all_cpus"; then
        saved=("${rows[@]}")
        rows=()
        run_wrk "gateway workers=$w" "GET 5 B" 256 /small "$all_cpus" 2 "$TARGET_PID"
        worker_rows+=("${rows[@]}")
        rows=("${saved[@]}")
        forget "$TARGET_PID"
    else
        worker_rows+=("| gateway workers=$w | GET 5 B | 256 | n/a (gateway did not start) | | | | |")
    fi
done

# ---------------------------------------------------------------- report
versions() {
    echo "- gateway: $("$GATEWAY_BIN" --version 2>/dev/null | head -n1 || echo n/a)"
    echo "- $("$NGINX" -v 2>&1 | head -n1)"
    echo "- $("$HAPROXY" -v 2>&1 | head -n1)"
    echo "- $("$WRK" -v 2>&1 | head -n1)"
    echo "- kernel $(uname -r), $ncpu CPUs: $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')"
}

cat <<EOF

## gateway benchmark (loopback, ${D}s per run, one worker each)

Pinning: $pin_note.
CPU µs/req: user+system CPU of the target's processes over the run / requests.
RSS: VmRSS of the target's processes after the run. Access logs off everywhere.

EOF
if want proxy; then
    cat <<EOF
| target | request | conns | req/s | p99 | CPU µs/req | RSS MiB | errors |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    if (( ${#rows[@]} )); then printf '%s\n' "${rows[@]}"; fi
fi

if want jwt; then
    cat <<EOF

### token validation: gateway auth = "required" vs HAProxy jwt_verify

Same pinning. Each side checks alg and kid against its one key, the
signature, exp and iat (30 s leeway), iss and aud; failures are 401s (the
errors column counts any non-2xx). "one token": the same token on every
request (the gateway verifies it once, then its per-worker cache answers);
"$JWT_TOKENS tokens": a different token per request, cycling through more
tokens than the cache holds, so every request pays a signature check.
HAProxy 2.6 cannot verify PS* tokens and has no cache.

| target | request | conns | req/s | p99 | CPU µs/req | RSS MiB | errors |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    if (( ${#jwt_table[@]} )); then printf '%s\n' "${jwt_table[@]}"; fi
    cat <<EOF

Crypto floor on the proxy's core (one verify per request with a fresh
token; floor µs = 1e6 / verify/s):

| alg | measured with | sign/s | verify/s | floor CPU µs/req |
| --- | --- | ---: | ---: | ---: |
EOF
    if (( ${#crypto_rows[@]} )); then printf '%s\n' "${crypto_rows[@]}"; fi
fi

if want refresh; then
    cat <<EOF

### transparent refresh: ES256, signing key on the gateway (window 5m)

One gateway, one config. "outside the window": a token with 2 h left (no
reissue). "near expiry, one token": the same token with 4 min left on every
request (reissued once per 30 s quantum, then the per-worker reissue cache
answers). "near expiry, $JWT_TOKENS tokens": a different near-expiry token
per request (verify + sign every time). ${refresh_note}

| target | request | conns | req/s | p99 | CPU µs/req | RSS MiB | errors |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    if (( ${#refresh_table[@]} )); then printf '%s\n' "${refresh_table[@]}"; fi
fi

if want memory; then
    cat <<EOF

### memory: idle, and holding $IDLE_CONNS idle keep-alive connections

| target | idle RSS MiB | RSS MiB with connections | KiB per connection |
| --- | ---: | ---: | ---: |
EOF
    if (( ${#mem_rows[@]} )); then printf '%s\n' "${mem_rows[@]}"; fi
fi

if want workers; then
    cat <<EOF

### gateway workers: 1 vs 2 (unpinned, wrk -t2; same machine as the upstream)

| target | request | conns | req/s | p99 | CPU µs/req | RSS MiB | errors |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    if (( ${#worker_rows[@]} )); then printf '%s\n' "${worker_rows[@]}"; fi
fi
echo
versions

if want state; then
    echo
    echo "### sessions, revocations, stores (scripts/bench_state.sh)"
    echo
    scripts/bench_state.sh
fi
