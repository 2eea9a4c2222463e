#!/usr/bin/env bash
# Runs one libFuzzer target with AddressSanitizer for N seconds (default 60).
#
#   scripts/fuzz.sh http [seconds]   # HTTP/1.1 head parser, chunked decoder, writer (Sources/ParserFuzz)
#   scripts/fuzz.sh jws  [seconds]   # JWS decoder, JSON parser, base64url (Sources/JWSFuzz)
#   scripts/fuzz.sh path [seconds]   # request-path validation and normalization (Sources/PathFuzz)
#   scripts/fuzz.sh storelog [seconds]  # the embedded store's log reader (Sources/StoreLogFuzz)
#   scripts/fuzz.sh claims [seconds] # ClaimsReader against JSONParser, claims and header (Sources/ClaimsFuzz)
#   scripts/fuzz.sh config [seconds] # the config loader: TOML text -> GatewayConfig (Sources/ConfigFuzz)
#   scripts/fuzz.sh jwks [seconds]   # JWK set loading and key import (Sources/JWKSFuzz)
#   scripts/fuzz.sh all [seconds]    # every target in turn, seconds each (default 60), one summary line each
#                                    # (FUZZ_TARGETS="config jwks" limits which)
#
# Extra arguments go to libFuzzer. Seeds come from Tests/Fuzz/corpus/<target>;
# the growing corpus and any crash artifacts go to fuzz-corpus-work/ (ignored
# by git). The sanitizers must be one combined -sanitize= flag: with two, the
# driver keeps only the last and the code loses coverage instrumentation.
# Built normally (without -D FUZZING), each target replays files instead,
# so the package never needs libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(http jws path storelog claims config jwks)
target="${1:?usage: scripts/fuzz.sh http|jws|path|storelog|claims|config|jwks|all [seconds] [libFuzzer args]}"; shift
seconds="${1:-60}"; shift || true
if [[ $target == all ]]; then
    # Each target runs to its end even when one finds something; the
    # summary counts the artifacts each run left (crash-, leak-, timeout-,
    # oom-), and the log of each run stays in fuzz-corpus-work/<target>/.
    summary=()
    # shellcheck disable=SC2206  # a list of names
    chosen=(${FUZZ_TARGETS:-${targets[*]}})
    for t in "${chosen[@]}"; do
        mkdir -p "fuzz-corpus-work/$t/artifacts"
        log="fuzz-corpus-work/$t/all.log"
        marker="fuzz-corpus-work/$t/.all-start"
        touch "$marker"
        status=ok
        "$0" "$t" "$seconds" "$@" > "$log" 2>&1 || status="exit $?"
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        corpus=$(find "fuzz-corpus-work/$t/corpus" -type f | wc -l)
        findings=$(find "fuzz-corpus-work/$t/artifacts" -type f -newer "$marker" \
            \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
        rm -f "$marker"
        line="$t: ${seconds}s, runs ${runs:-?}, corpus $corpus, cov ${cov:-?}, findings $findings ($status; log $log)"
        echo "$line"
        summary+=("$line")
    done
    echo "--- fuzz.sh all: summary"
    printf '%s\n' "${summary[@]}"
    exit 0
fi
case "$target" in
    http) product=ParserFuzz; max_len=4096 ;;
    jws)  product=JWSFuzz;    max_len=8192 ;;
    path) product=PathFuzz;   max_len=512 ;;
    storelog) product=StoreLogFuzz; max_len=8192 ;;
    claims) product=ClaimsFuzz; max_len=8300 ;;
    config) product=ConfigFuzz; max_len=8192 ;;
    # RSA import is slowish and a JWK set with a few RSA keys is large.
    jwks) product=JWKSFuzz; max_len=16384 ;;
    *) echo "fuzz.sh: unknown target $target (${targets[*]} or all)" >&2; exit 2 ;;
esac
# One scratch directory per target: each links only its own product, and two
# targets can be fuzzed at the same time. -D FUZZING makes FuzzReplay.main
# hand the driver to libFuzzer instead of replaying files.
scratch=".build-fuzz-$target"
swift build -c debug --scratch-path "$scratch" --product "$product" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -D -Xswiftc FUZZING
work="fuzz-corpus-work/$target"
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "Tests/Fuzz/corpus/$target/"* "$work/corpus/" 2>/dev/null || true
if [[ $target == http ]]; then
    cat > "$work/dict" <<'DICT'
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
" HTTP/1.1\x0d\x0a"
" HTTP/1.0\x0d\x0a"
"HTTP/1.1 200 OK\x0d\x0a"
"HTTP/1.1 "
"GET /"
"POST /"
"HEAD "
"Host: a\x0d\x0a"
"Content-Length: "
"Transfer-Encoding: "
"chunked"
"identity"
"Connection: "
"close"
"keep-alive"
"upgrade"
"Upgrade: websocket\x0d\x0a"
"Expect: 100-continue\x0d\x0a"
"X-Forwarded-For: "
"Access-Control-Expose-Headers: "
"Keep-Alive"
"Proxy-Connection"
"TE"
"Trailer"
"http://"
"https://"
"%2e"
"%2E"
"%2F"
"%5C"
"%00"
"/../"
"/./"
"..;"
";ext=\"v\""
"0\x0d\x0a\x0d\x0a"
"ffffffffffffffff"
DICT
elif [[ $target == config ]]; then
    # TOML syntax, and the tables, keys and values the loader knows.
    cat > "$work/dict" <<'DICT'
"["
"]"
"[["
"]]"
"="
"{"
"}"
","
"."
"#"
"\x22"
"\x22\x22\x22"
"'''"
"'"
"\x0a"
"\x0d\x0a"
"\x5cu00e9"
"true"
"false"
"1979-05-27T07:32:00Z"
"0x1f"
"1e3"
"inf"
"nan"
"[server]"
"[admin]"
"[upstreams.app]"
"[[routes]]"
"[tokens]"
"[tokens.forward_claims]"
"[[keys]]"
"[refresh]"
"[sessions]"
"[store]"
"[[server.certificates]]"
"listen"
"workers"
"tls_certificate"
"tls_private_key"
"certificates"
"certificate"
"private_key"
"server_names"
"max_header_bytes"
"max_body_bytes"
"client_timeout"
"send_timeout"
"tunnel_idle_timeout"
"shutdown_timeout"
"access_log"
"max_connections"
"token_env"
"servers"
"connect_timeout"
"response_timeout"
"read_timeout"
"max_idle_connections"
"health_check_interval"
"prefix"
"host"
"upstream"
"auth"
"scopes"
"claim_updates"
"issue_session"
"issuers"
"audiences"
"leeway"
"sources"
"forward_claims"
"kid"
"alg"
"public_key_file"
"private_key_file"
"secret_file"
"secret_env"
"jwks_file"
"jwks_url"
"refresh_interval"
"fetch_timeout"
"ca_file"
"enabled"
"window"
"ttl"
"max_session"
"max_refreshes"
"header"
"signing_key"
"path"
"refresh_ttl"
"max_age"
"grace"
"access_ttl"
"cookie"
"state_dir"
"redis"
"redis_password_env"
"redis_prefix"
"\x22required\x22"
"\x22optional\x22"
"\x22none\x22"
"\x22HS256\x22"
"\x22ES256\x22"
"\x22GATEWAY_SECRET\x22"
"\x22127.0.0.1:8080\x22"
"\x22[::1]:9000\x22"
"\x22https://idp.example/jwks\x22"
"\x22redis://127.0.0.1:6379/0\x22"
"\x2230s\x22"
"\x221h\x22"
"\x22cookie:\x22"
"\x22query:\x22"
"missing"
DICT
elif [[ $target == jwks ]]; then
    # JWK members and values (RFC 7517, 7518 §6, 8037).
    cat > "$work/dict" <<'DICT'
"{\x22keys\x22:["
"\x22kty\x22"
"\x22kid\x22"
"\x22alg\x22"
"\x22use\x22"
"\x22crv\x22"
"\x22k\x22"
"\x22n\x22"
"\x22e\x22"
"\x22x\x22"
"\x22y\x22"
"\x22d\x22"
"\x22p\x22"
"\x22q\x22"
"\x22oct\x22"
"\x22RSA\x22"
"\x22EC\x22"
"\x22OKP\x22"
"\x22P-256\x22"
"\x22P-384\x22"
"\x22P-521\x22"
"\x22Ed25519\x22"
"\x22X25519\x22"
"\x22sig\x22"
"\x22enc\x22"
"\x22HS256\x22"
"\x22HS512\x22"
"\x22RS256\x22"
"\x22PS256\x22"
"\x22ES256\x22"
"\x22ES384\x22"
"\x22ES512\x22"
"\x22EdDSA\x22"
"\x22AQAB\x22"
"\x22AA\x22"
"\x5cu0000"
"[]"
"{}"
"null"
DICT
elif [[ $target == path ]]; then
    cat > "$work/dict" <<'DICT'
"/"
"//"
"?"
";"
"."
".."
"%"
"%2e"
"%2E"
"%2F"
"%2f"
"%5C"
"%00"
"%25"
"%3B"
"%61"
"%7e"
"%7E"
"%41"
"%2a"
"%C3%A9"
"http://"
"https://"
"http://h"
"/admin"
DICT
elif [[ $target == claims ]]; then
    cat > "$work/dict" <<'DICT'
"{"
"}"
"["
"]"
":"
","
"\""
"\"iss\":"
"\"aud\":"
"\"sub\":"
"\"exp\":"
"\"nbf\":"
"\"iat\":"
"\"auth_time\":"
"\"jti\":"
"\"sid\":"
"\"scope\":"
"\"scp\":"
"\"rfc\":"
"\"email\":"
"\"roles\":"
"\"alg\":"
"\"kid\":"
"\"crit\":"
"\"HS256\""
"\"none\""
"\"K\""
"\xe2\x84\xaa"
"e\xcc\x81"
"\xc3\xa9"
"\\u0000"
"\\u212a"
"\\u0065"
"\\ud800"
"\\udc00"
"\\ud83d\\ude00"
"\\\""
"\\/"
"\xed\xa0\x80"
"\xf4\x90\x80\x80"
"\xc0\xaf"
"1e400"
"-0"
"1.5"
"9223372036854775807"
"9223372036854775808"
"-9223372036854775809"
"1.7976931348623157e308"
"true"
"false"
"null"
"[]"
"{}"
DICT
else
    cat > "$work/dict" <<'DICT'
"eyJ"
"."
"\"alg\""
"\"kid\""
"\"crit\""
"\"exp\""
"\"HS256\""
"\"ES256\""
"\"none\""
"\\u0000"
"\\ud800"
"1e400"
"-0"
"[]"
"{}"
DICT
fi
# Swift's own crash backtracer trips ASan; libFuzzer reports crashes itself.
export SWIFT_BACKTRACE=enable=no
if [[ $target == config ]]; then
    # TOMLKit 0.6 leaks by design: TOMLTable(string:) never frees the toml++
    # table (no deinit) nor a parse error, and `keys` mallocs an array of
    # strdup'ed names per call. Not ours to fix here. As every input leaks,
    # libFuzzer's per-input leak scan would run on each (5 runs/s): it is
    # off, and the check at exit reports leaks with no TOMLKit frame.
    printf 'leak:TOMLKit\n' > "$work/lsan.supp"
    export LSAN_OPTIONS="suppressions=$PWD/$work/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    set -- -detect_leaks=0 "$@"
fi
exec "$scratch/debug/$product" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 -dict="$work/dict" "$@" \
    "$work/corpus" "Tests/Fuzz/corpus/$target"
