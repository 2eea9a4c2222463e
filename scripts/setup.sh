#!/usr/bin/env bash
# Installs what building and running the gateway needs, and nothing that is
# already there. Idempotent; quiet unless something fails.
#
#   scripts/setup.sh            libevent-dev libssl-dev libhiredis-dev pkg-config
#                               openssl curl python3
#   scripts/setup.sh --test     also redis-server (the Redis store tests start
#                               their own) and the Python test deps: pytest,
#                               PyJWT[crypto], cryptography
#   scripts/setup.sh --bench    also nginx, haproxy, wrk (for scripts/bench.sh)
#   scripts/setup.sh --browser  also chromium (Tests/Integration/test_browser.py)
#
# Debian/Ubuntu (apt). Uses sudo when not root. Runs `apt-get update` only
# when a package is missing. The Swift toolchain is not an apt package: it is
# checked, and its absence reported, but not installed.
set -euo pipefail

want_test=0
want_bench=0
want_browser=0
for arg in "$@"; do
    case "$arg" in
        --test) want_test=1 ;;
        --bench) want_bench=1 ;;
        --browser) want_browser=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

log=$(mktemp -t gateway-setup.XXXXXX)
trap 'rm -f "$log"' EXIT

fail() {
    echo "setup.sh: $*" >&2
    if [[ -s "$log" ]]; then
        echo "---- output ----" >&2
        tail -n 40 "$log" >&2
    fi
    exit 1
}

sudo_cmd=()
if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not installed; run as root"
    sudo_cmd=(sudo)
fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: this script supports Debian/Ubuntu only"

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
need() {
    local pkg
    for pkg in "$@"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
}

# need_cmd CMD PKG: the package only when the command is absent (lets a
# locally built nginx or wrk count as present).
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]] || missing+=("$2")
}

need libevent-dev libssl-dev libhiredis-dev pkg-config
need_cmd openssl openssl
need_cmd curl curl
need_cmd python3 python3

# The Redis store tests (Tests/GatewayStoreTests/RedisStore*) run their own
# redis-server on a loopback port, and fail when it is not on PATH.
if (( want_test )); then
    need_cmd redis-server redis-server
fi

if (( want_bench )); then
    need_cmd nginx nginx-light
    need_cmd haproxy haproxy
    need_cmd wrk wrk
fi

# Any Chromium or Chrome on PATH (or $CHROMIUM) will do for the browser test;
# it drives the browser with a stdlib DevTools client, so no Python package.
if (( want_browser )); then
    if [[ -n "${CHROMIUM:-}" ]]; then
        command -v "$CHROMIUM" >/dev/null 2>&1 || fail "CHROMIUM=$CHROMIUM is not an executable"
    elif ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
            && ! command -v google-chrome >/dev/null 2>&1 && ! command -v google-chrome-stable >/dev/null 2>&1; then
        missing+=(chromium)
    fi
fi

# Test deps for the system Python come from apt (pip refuses to install into
# it, PEP 668); any other python3 (pyenv, venv) gets them from pip.
py_missing=()
py_is_system=0
if (( want_test )); then
    if command -v python3 >/dev/null 2>&1; then
        [[ "$(python3 -c 'import sys; print(sys.prefix)' 2>/dev/null)" == "/usr" ]] && py_is_system=1
        python3 -c 'import pytest' 2>/dev/null || py_missing+=(pytest)
        python3 -c 'import jwt' 2>/dev/null || py_missing+=("PyJWT[crypto]")
        python3 -c 'import cryptography' 2>/dev/null || py_missing+=(cryptography)
    else
        py_is_system=1
        py_missing=(pytest "PyJWT[crypto]" cryptography)
    fi
    if (( py_is_system )) && (( ${#py_missing[@]} )); then
        for m in "${py_missing[@]}"; do
            case "$m" in
                pytest) missing+=(python3-pytest) ;;
                PyJWT*) missing+=(python3-jwt) ;;
                cryptography) missing+=(python3-cryptography) ;;
            esac
        done
        py_missing=()
    fi
fi

if (( ${#missing[@]} )); then
    echo "setup.sh: installing ${missing[*]}" >&2
    # Installing nginx or haproxy would start their services (nginx on port
    # 80); the benchmark starts its own instances on loopback only, so keep
    # package scripts from starting daemons during this install.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
        "${sudo_cmd[@]}" chmod +x "$policy"
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    ok=1
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || ok=0
    if (( ok )); then
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1 || ok=0
    fi
    (( made_policy )) && "${sudo_cmd[@]}" rm -f "$policy"
    (( ok )) || fail "apt-get install ${missing[*]} failed"
fi

if (( ${#py_missing[@]} )); then
    echo "setup.sh: pip installing ${py_missing[*]}" >&2
    python3 -m pip --version >/dev/null 2>&1 || fail "python3 has no pip; install pip for $(command -v python3)"
    python3 -m pip install -q --disable-pip-version-check "${py_missing[@]}" >>"$log" 2>&1 \
        || fail "pip install ${py_missing[*]} failed"
fi

: >"$log"
if ! command -v swift >/dev/null 2>&1; then
    fail "swift not found on PATH: install a Swift 6 toolchain (https://www.swift.org/install/linux/), then run again"
fi
exit 0
