#!/usr/bin/env bash
# Runs every test: Swift unit tests, then the Python integration suite
# (Tests/Integration) against the debug binary, or $GATEWAY_BIN when set.
# Exits non-zero when anything fails; prints a summary at the end.
#
#   scripts/test.sh                  everything
#   scripts/test.sh --integration    only the integration suite (binary must exist)
#   scripts/test.sh -- -k keepalive  extra arguments after -- go to pytest
#
# Environment: GATEWAY_BIN (binary under test), GATEWAY_SLOW=0 (skip the
# 1 GiB streaming tests, on by default), SWIFT_TEST_FLAGS (extra flags for `swift test`,
# e.g. --no-parallel).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

only_integration=0
pytest_args=()
while (( $# )); do
    case "$1" in
        --integration) only_integration=1 ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

summary=()
failed=0
step() {
    local name=$1; shift
    local t0=$SECONDS
    echo "==> $name" >&2
    if "$@"; then
        summary+=("ok    $name ($((SECONDS - t0))s)")
        return 0
    fi
    summary+=("FAIL  $name ($((SECONDS - t0))s)")
    failed=1
    return 1
}

finish() {
    echo
    echo "==== test summary ===="
    printf '%s\n' "${summary[@]}"
    if (( failed )); then echo "RESULT: FAILED"; else echo "RESULT: all passed"; fi
    exit "$failed"
}

replay_corpora() {
    local pair target product
    for pair in http:ParserFuzz jws:JWSFuzz path:PathFuzz storelog:StoreLogFuzz claims:ClaimsFuzz \
                config:ConfigFuzz jwks:JWKSFuzz; do
        target=${pair%%:*} product=${pair##*:}
        .build/debug/"$product" "Tests/Fuzz/corpus/$target" || return 1
    done
}

step "setup (scripts/setup.sh --test)" scripts/setup.sh --test || finish
# Chromium for the browser end-to-end test; without it that test is skipped.
scripts/setup.sh --browser || echo "test.sh: chromium could not be installed; Tests/Integration/test_browser.py will be skipped" >&2

if (( ! only_integration )); then
    built=0
    step "swift build (debug)" swift build && built=1
    if (( built )); then
        # shellcheck disable=SC2086  # SWIFT_TEST_FLAGS is a list of flags
        step "swift test" swift test ${SWIFT_TEST_FLAGS:-}
        # Every fuzz target replays its committed seed corpus (built
        # normally, the drivers replay files): a crash once found stays fixed.
        step "fuzz corpus replay (Tests/Fuzz/corpus)" replay_corpora
    else
        summary+=("skip  swift test (build failed)")
    fi
fi

# The 1 GiB streaming test (RSS bound) takes seconds: run it unless told not to.
export GATEWAY_SLOW=${GATEWAY_SLOW:-1}

bin=${GATEWAY_BIN:-.build/debug/gateway}
if [[ -x "$bin" ]]; then
    # Absolute: the tests start the binary from temporary directories.
    GATEWAY_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
    export GATEWAY_BIN
    step "integration (pytest Tests/Integration, $bin)" \
        python3 -m pytest -q -p no:cacheprovider Tests/Integration "${pytest_args[@]}"
else
    summary+=("FAIL  integration: no gateway binary at $bin")
    failed=1
fi
finish
