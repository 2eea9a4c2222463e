#!/usr/bin/env bash
# The quick start: installs what is missing, builds the release binary, and
# runs the gateway on gateway.conf in front of the demo upstream
# (scripts/demo_upstream.py on 127.0.0.1:9000). Prints curl lines to try.
# Ctrl-C stops both.
#
#   scripts/demo.sh                 setup, build, run
#   scripts/demo.sh --no-build      use the existing .build/release/gateway
#
# Environment: GATEWAY_CONF (default gateway.conf), DEMO_UPSTREAM (default
# 127.0.0.1:9000; must match the servers of the config's upstream).
# Logs: run/gateway.log (operational), run/access.log (requests),
# run/demo-upstream.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=1
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

conf=${GATEWAY_CONF:-gateway.conf}
upstream_addr=${DEMO_UPSTREAM:-127.0.0.1:9000}
bin=.build/release/gateway

die() { echo "demo.sh: $*" >&2; exit 1; }

scripts/setup.sh
[[ -f "$conf" ]] || die "$conf not found (the demo runs the gateway on it)"

if (( build )); then
    echo "==> swift build -c release (a few minutes the first time)" >&2
    swift build -c release
fi
[[ -x "$bin" ]] || die "$bin missing: build with 'swift build -c release'"

# Demo signing key for gateway.conf's [[keys]] gw-1 (ES256, PKCS#8) and its
# public half. Generated once; keys/ stays out of git.
mkdir -p keys
if [[ ! -f keys/gw-1.pem ]]; then
    (umask 077; openssl ecparam -name prime256v1 -genkey -noout \
        | openssl pkcs8 -topk8 -nocrypt -out keys/gw-1.pem)
    openssl pkey -in keys/gw-1.pem -pubout -out keys/gw-1.pub.pem 2>/dev/null
    echo "==> generated demo key keys/gw-1.pem (ES256)" >&2
fi

"$bin" check --config "$conf" >/dev/null || die "$conf does not pass 'gateway check' (see above)"

# Where the gateway listens, from the config: first [server] listen, and
# [admin] listen. Wildcard addresses are reached on loopback.
read -r gw_addr admin_addr < <(python3 - "$conf" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    c = tomllib.load(f)
def local(a):
    host, _, port = a.rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}.get(host, host)
    return "%s:%s" % (host, port)
print(local(c.get("server", {}).get("listen", ["0.0.0.0:8080"])[0]),
      local(c.get("admin", {}).get("listen", "127.0.0.1:9901")))
PY
)
scheme=http
grep -Eq '^[[:space:]]*tls_certificate[[:space:]]*=' "$conf" && scheme=https
base="$scheme://$gw_addr"
curl_k=""
[[ $scheme == https ]] && curl_k="-k "

mkdir -p run
upstream_pid=""
gateway_pid=""
stop_all() {
    trap - INT TERM EXIT
    echo >&2
    if [[ -n "$gateway_pid" ]] && kill -0 "$gateway_pid" 2>/dev/null; then
        kill -TERM "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    if [[ -n "$upstream_pid" ]] && kill -0 "$upstream_pid" 2>/dev/null; then
        kill -TERM "$upstream_pid" 2>/dev/null || true
        wait "$upstream_pid" 2>/dev/null || true
    fi
    echo "demo.sh: stopped" >&2
}
trap stop_all INT TERM EXIT

python3 scripts/demo_upstream.py --listen "$upstream_addr" 2>run/demo-upstream.log &
upstream_pid=$!
for _ in $(seq 100); do
    grep -q '^ready' run/demo-upstream.log 2>/dev/null && break
    kill -0 "$upstream_pid" 2>/dev/null || { cat run/demo-upstream.log >&2; die "demo upstream failed to start on $upstream_addr"; }
    sleep 0.1
done

"$bin" run --config "$conf" >run/access.log 2>run/gateway.log &
gateway_pid=$!
ok=0
for _ in $(seq 150); do
    if curl -fsS -o /dev/null "http://$admin_addr/healthz" 2>/dev/null; then ok=1; break; fi
    kill -0 "$gateway_pid" 2>/dev/null || break
    sleep 0.1
done
if (( ! ok )); then
    tail -n 30 run/gateway.log >&2
    die "gateway did not answer http://$admin_addr/healthz"
fi

token=""
if token=$(timeout 10 "$bin" token mint --config "$conf" --sub alice --ttl 15m 2>/dev/null) && [[ -n "$token" ]]; then
    token=$(printf '%s' "$token" | tr -d '[:space:]')
else
    token=""
fi

cat <<EOF

gateway $("$bin" --version 2>/dev/null || true) is running on $base (admin http://$admin_addr),
in front of the demo upstream on $upstream_addr.  Logs: run/gateway.log, run/access.log

Try:
  curl -i ${curl_k}$base/public/hello                  # open route: the upstream's JSON echo
  curl -i ${curl_k}$base/api/orders                    # protected: 401 missing_token
EOF
if [[ -n "$token" ]]; then
    cat <<EOF
  TOKEN=$token
  curl -i ${curl_k}-H "Authorization: Bearer \$TOKEN" $base/api/orders    # 200 with a token
  $bin token inspect \$TOKEN --config $conf
EOF
fi
cat <<EOF
  curl -s http://$admin_addr/readyz
  curl -s http://$admin_addr/metrics | grep '^gateway_'

Ctrl-C stops the gateway and the demo upstream.
EOF

# Wait for Ctrl-C, or for either process to end on its own.
while kill -0 "$gateway_pid" 2>/dev/null && kill -0 "$upstream_pid" 2>/dev/null; do
    sleep 1
done
if ! kill -0 "$gateway_pid" 2>/dev/null; then
    echo "demo.sh: the gateway exited; last lines of run/gateway.log:" >&2
    tail -n 20 run/gateway.log >&2
fi
exit 0
