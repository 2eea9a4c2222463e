#!/usr/bin/env bash
# Instructions and heap allocations per proxied request, gateway against
# nginx proxy_pass, counted by valgrind (repeatable on noisy machines, where
# req/s is not). Workload: small GET, keep-alive, auth none, an nginx
# upstream answering "hello". Each target runs twice, with N1 and N2
# requests, and the figures are (count at N2 - count at N1) / (N2 - N1), so
# start-up and shutdown cancel out.
#
#   scripts/profile.sh            (builds release if needed)
#   PROFILE_N1=500 PROFILE_N2=3000 PROFILE_CONNS=4 scripts/profile.sh
#   PROFILE_SITES=1 scripts/profile.sh   also: the gateway's allocation sites per request
#   PROFILE_TOP=25 scripts/profile.sh     also: the top functions by instructions per request
#   PROFILE_KEEP=DIR scripts/profile.sh   keeps the callgrind and dhat outputs in DIR
#   PROFILE_AUTH=1 scripts/profile.sh     also: the gateway on an `auth = "required"`
#       route with one HS256 token reused (the verified-token cache answers
#       after the first request), against the same gateway with auth none
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N1=${PROFILE_N1:-1000}
N2=${PROFILE_N2:-5000}
CONNS=${PROFILE_CONNS:-4}
GATEWAY_BIN=${GATEWAY_BIN:-.build/release/gateway}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for tool in valgrind "$NGINX" python3 curl; do
    command -v "$tool" >/dev/null || { echo "profile.sh: $tool missing (scripts/setup.sh --bench)" >&2; exit 1; }
done
[[ -x "$GATEWAY_BIN" ]] || swift build -c release >/dev/null

work=$(mktemp -d /tmp/gateway-profile.XXXXXX)
pids=()
# valgrind 3.19 gives up on the DWARF Swift 6 writes ("possibly corrupted
# debuginfo"): profile a copy without it; the symbol table stays.
# PROFILE_LINES=1 keeps it, for a binary built with line tables only in
# DWARF 4 (-Xswiftc -gline-tables-only -Xswiftc -dwarf-version=4), which
# valgrind reads: callgrind_annotate then names source lines.
if [[ ${PROFILE_LINES:-0} != 1 ]]; then
    objcopy --strip-debug "$GATEWAY_BIN" "$work/gateway"
    GATEWAY_BIN=$work/gateway
fi
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n ${PROFILE_KEEP:-} ]]; then
        mkdir -p "$PROFILE_KEEP"
        cp "$work"/*.cg "$work"/*.dhat "$PROFILE_KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "profile.sh: nothing on port $1" >&2; return 1
}

UP_PORT=$(port); NGX_PORT=$(port); GW_PORT=$(port); GW_ADMIN=$(port)
chmod 755 "$work"
common="daemon off; master_process off; worker_processes 1; error_log $work/%N.err warn; pid $work/%N.pid;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
client_body_temp_path $work/%N-b; proxy_temp_path $work/%N-p; fastcgi_temp_path $work/%N-f;
uwsgi_temp_path $work/%N-u; scgi_temp_path $work/%N-s;"
cat >"$work/upstream.conf" <<CONF
${common//%N/upstream}
server { listen 127.0.0.1:$UP_PORT; location / { return 200 "hello"; } } }
CONF
cat >"$work/proxy.conf" <<CONF
${common//%N/proxy}
upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
server { listen 127.0.0.1:$NGX_PORT;
  location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
cat >"$work/gateway.conf" <<CONF
[server]
listen = ["127.0.0.1:$GW_PORT"]
workers = 1
access_log = "off"
client_timeout = "300s"
[admin]
listen = "127.0.0.1:$GW_ADMIN"
[upstreams.app]
servers = ["127.0.0.1:$UP_PORT"]
health_check_interval = "0s"
[[routes]]
prefix = "/"
upstream = "app"
auth = "none"
CONF
if [[ ${PROFILE_AUTH:-0} == 1 ]]; then
    # The same gateway, its route requiring a token: one HS256 token made by
    # scripts/bench_jwt.py (PyJWT), sent on every request.
    python3 scripts/bench_jwt.py --dir "$work/jwt" --count 1 --algs HS256 >/dev/null
    sed -e 's/^auth = "none"/auth = "required"/' "$work/gateway.conf" >"$work/gateway-auth.conf"
    cat >>"$work/gateway-auth.conf" <<CONF
[tokens]
issuers = ["https://issuer.bench"]
audiences = ["api"]
[[keys]]
kid = "hs256"
alg = "HS256"
secret_file = "$work/jwt/hs256.secret"
CONF
    AUTH_HEADER="Authorization: Bearer $(head -n1 "$work/jwt/hs256-reused.tokens")"
fi

"$NGINX" -p "$work/" -c "$work/upstream.conf" 2>"$work/upstream.stderr" &
pids+=($!)
wait_port "$UP_PORT"

# measure TOOL TARGET N: prints the tool's count for N requests.
measure() {
    local tool=$1 target=$2 n=$3 out="$work/$1-$2-$3" pid port
    local vg=(valgrind "--tool=$tool" --log-file="$out.log")
    [[ $tool == callgrind ]] && vg+=(--callgrind-out-file="$out.cg")
    [[ $tool == dhat ]] && vg+=(--dhat-out-file="$out.dhat")
    local client_args=()
    if [[ $target == gateway ]]; then
        "${vg[@]}" "$GATEWAY_BIN" run --config "$work/gateway.conf" >/dev/null 2>"$out.err" &
        port=$GW_PORT
    elif [[ $target == gateway-auth ]]; then
        "${vg[@]}" "$GATEWAY_BIN" run --config "$work/gateway-auth.conf" >/dev/null 2>"$out.err" &
        port=$GW_PORT
        client_args=(/small "$AUTH_HEADER")
    else
        "${vg[@]}" "$NGINX" -p "$work/" -c "$work/proxy.conf" 2>"$out.err" &
        port=$NGX_PORT
    fi
    pid=$!
    wait_port "$port"
    python3 scripts/profile_client.py "$port" "$n" "$CONNS" "${client_args[@]}"
    kill -TERM "$pid"; wait "$pid" || true
    if [[ $tool == callgrind ]]; then
        grep -o 'Collected : [0-9]*' "$out.log" | awk '{print $3}'
    else
        grep -o 'Total: *[0-9,]* bytes in [0-9,]* blocks' "$out.log" | awk '{gsub(",","",$5); print $5}'
    fi
}

per_request() {  # per_request TOOL TARGET
    local a b
    a=$(measure "$1" "$2" "$N1"); b=$(measure "$1" "$2" "$N2")
    [[ -n $a && -n $b ]] || { echo "profile.sh: no $1 count for $2 (see $work)" >&2; trap - EXIT; exit 1; }
    python3 -c "print(f'{($b - $a) / ($N2 - $N1):,.1f}')"
}

echo "workload: small GET, keep-alive, $CONNS connections, auth none; (N=$N2 minus N=$N1) / $((N2 - N1)) requests"
printf '| target | instructions per request | heap allocations per request |\n| --- | --- | --- |\n'
printf '| gateway | %s | %s |\n' "$(per_request callgrind gateway)" "$(per_request dhat gateway)"
printf '| nginx proxy_pass | %s | - |\n' "$(per_request callgrind nginx)"
if [[ ${PROFILE_AUTH:-0} == 1 ]]; then
    printf '| gateway, auth required, one HS256 token | %s | %s |\n' \
        "$(per_request callgrind gateway-auth)" "$(per_request dhat gateway-auth)"
fi
# Where the gateway's allocations come from (PROFILE_SITES=1).
if [[ ${PROFILE_SITES:-0} == 1 ]]; then
    echo
    python3 scripts/dhat_sites.py "$work/dhat-gateway-$N1.dhat" "$work/dhat-gateway-$N2.dhat" $((N2 - N1))
fi
# Where the gateway's instructions go (PROFILE_TOP=K): self instructions per
# request of the K costliest functions, by the same difference of two runs.
if [[ -n ${PROFILE_TOP:-} ]]; then
    echo
    python3 scripts/callgrind_diff.py "$work/callgrind-gateway-$N1.cg" "$work/callgrind-gateway-$N2.cg" \
        $((N2 - N1)) "$PROFILE_TOP"
fi
