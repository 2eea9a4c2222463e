#!/usr/bin/env bash
# Runs the tests under the sanitizers: the Swift unit tests under thread
# sanitizer and under address sanitizer, then the Python integration suite
# (Tests/Integration) against a gateway built with address sanitizer.
# Exits non-zero when a test fails or a sanitizer reports anything; prints a
# summary (ok/FAIL, seconds per step) at the end. Slow: each sanitizer is a
# separate debug build of the whole package (.build-tsan, .build-asan).
#
#   scripts/sanitize.sh                 everything
#   scripts/sanitize.sh --only tsan     one part: tsan, asan (unit tests) or integration
#   scripts/sanitize.sh -- -k keepalive extra arguments after -- go to pytest
#
# Environment: GATEWAY_SLOW=1 also runs the 1 GiB streaming test (off here by
# default: its RSS bound cannot hold with ASan's quarantine and shadow memory).
# Known false positives are suppressed by scripts/tsan.supp (one comment each).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

only=""
pytest_args=()
while (( $# )); do
    case "$1" in
        --only) shift; only=${1:-}
                [[ $only == tsan || $only == asan || $only == integration ]] \
                    || { echo "sanitize.sh: --only takes tsan, asan or integration" >&2; exit 2; } ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "sanitize.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
wants() { [[ -z $only || $only == "$1" ]]; }

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
    echo "==== sanitize summary ===="
    printf '%s\n' "${summary[@]}"
    if (( failed )); then echo "RESULT: FAILED"; else echo "RESULT: all passed"; fi
    exit "$failed"
}

# Runs a command with its output teed to a log, and fails when the command
# fails or when the log holds a sanitizer report (a report in a child process
# or one that does not change the exit code still counts).
run_logged() {
    local log=$1 pattern=$2; shift 2
    mkdir -p "$(dirname "$log")"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    if grep -q "$pattern" "$log"; then
        echo "sanitize.sh: $(grep -c "$pattern" "$log") sanitizer report(s), see $log" >&2
        return 1
    fi
    return "$rc"
}

tsan_env=(env "TSAN_OPTIONS=suppressions=$repo/scripts/tsan.supp:halt_on_error=0:second_deadlock_stack=1:print_suppressions=1")
# XCTest and Swift Testing leak by design: no leak checking in the unit tests.
asan_unit_env=(env "ASAN_OPTIONS=detect_leaks=0")

step "setup (scripts/setup.sh --test)" scripts/setup.sh --test || finish

if wants tsan; then
    if step "build tests (thread sanitizer, .build-tsan)" \
            swift build --build-tests --sanitize=thread --scratch-path .build-tsan; then
        step "swift test (thread sanitizer)" run_logged .build-tsan/sanitize-test.log "WARNING: ThreadSanitizer" \
            "${tsan_env[@]}" swift test --sanitize=thread --scratch-path .build-tsan
    else
        summary+=("skip  swift test (thread sanitizer): build failed")
    fi
fi

if wants asan; then
    if step "build tests (address sanitizer, .build-asan)" \
            swift build --build-tests --sanitize=address --scratch-path .build-asan; then
        step "swift test (address sanitizer)" run_logged .build-asan/sanitize-test.log "ERROR: AddressSanitizer" \
            "${asan_unit_env[@]}" swift test --sanitize=address --scratch-path .build-asan
    else
        summary+=("skip  swift test (address sanitizer): build failed")
    fi
fi

# Each gateway's stderr is captured by the tests in their tmp dirs; with
# log_path every ASan report also leaves a file here, which fails the step.
# abort_on_error: a report kills the gateway, so the test that caused it fails.
integration_with_asan() {
    local bin=$1 logs=$repo/.build-asan/integration-asan
    rm -rf "$logs" && mkdir -p "$logs"
    GATEWAY_BIN=$bin GATEWAY_SLOW=${GATEWAY_SLOW:-0} \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$logs/asan" \
        python3 -m pytest -q -p no:cacheprovider Tests/Integration "${pytest_args[@]}"
    local rc=$?
    local reports=("$logs"/asan*)
    if [[ -e ${reports[0]} ]]; then
        echo "sanitize.sh: ${#reports[@]} AddressSanitizer report(s) from the gateway:" >&2
        local f
        for f in "${reports[@]}"; do echo "---- $f ----" >&2; cat "$f" >&2; done
        return 1
    fi
    return "$rc"
}

if wants integration; then
    if step "build gateway (address sanitizer)" \
            swift build --sanitize=address --scratch-path .build-asan --product gateway; then
        bin_dir=$(swift build --sanitize=address --scratch-path .build-asan --show-bin-path)
        step "integration (pytest Tests/Integration, ASan gateway)" integration_with_asan "$bin_dir/gateway"
    else
        summary+=("skip  integration (ASan gateway): build failed")
    fi
fi
finish
