#!/usr/bin/env bash
# Runs one libFuzzer target with AddressSanitizer for N seconds (default 60).
#
#   scripts/fuzz.sh http [seconds]   # HTTP/1.1 head parser, chunked decoder, writer (Sources/ParserFuzz)
#   scripts/fuzz.sh jws  [seconds]   # JWS decoder, JSON parser, base64url (Sources/JWSFuzz)
#   scripts/fuzz.sh path [seconds]   # request-path validation and normalization (Sources/PathFuzz)
#   scripts/fuzz.sh storelog [seconds]  # the embedded store's log reader (Sources/StoreLogFuzz)
#   scripts/fuzz.sh claims [seconds] # ClaimsReader against JSONParser, claims and header (Sources/ClaimsFuzz)
#
# Extra arguments go to libFuzzer. Seeds come from Tests/Fuzz/corpus/<target>;
# the growing corpus and any crash artifacts go to fuzz-corpus-work/ (ignored
# by git). The sanitizers must be one combined -sanitize= flag: with two, the
# driver keeps only the last and the code loses coverage instrumentation.
# Built normally (without -D ..._FUZZ), each target replays files instead,
# so the package never needs libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh http|jws|path|storelog|claims [seconds] [libFuzzer args]}"; shift
seconds="${1:-60}"; shift || true
case "$target" in
    http) product=ParserFuzz; define=PARSER_FUZZ; max_len=4096 ;;
    jws)  product=JWSFuzz;    define=JWS_FUZZ;    max_len=8192 ;;
    path) product=PathFuzz;   define=PATH_FUZZ;   max_len=512 ;;
    storelog) product=StoreLogFuzz; define=STORELOG_FUZZ; max_len=8192 ;;
    claims) product=ClaimsFuzz; define=CLAIMS_FUZZ; max_len=8300 ;;
    *) echo "fuzz.sh: unknown target $target (http, jws, path, storelog or claims)" >&2; exit 2 ;;
esac
scratch=.build-fuzz
swift build -c debug --scratch-path "$scratch" --product "$product" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -D -Xswiftc "$define"
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
exec "$scratch/debug/$product" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 -dict="$work/dict" "$@" \
    "$work/corpus" "Tests/Fuzz/corpus/$target"
