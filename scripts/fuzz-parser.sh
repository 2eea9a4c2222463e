#!/usr/bin/env bash
# Builds Sources/ParserFuzz with libFuzzer + AddressSanitizer and runs it on
# the seed corpus. Usage: scripts/fuzz-parser.sh [seconds=60] [extra libFuzzer flags...]
#
# Recipe: every Swift module is compiled with -sanitize=fuzzer,address
# (one flag: the swift driver keeps only the last -sanitize= it is given).
# That instruments for coverage and makes the driver link libclang_rt.fuzzer
# (/opt/swift/usr/lib/clang/*/lib/linux/); -D PARSER_FUZZ makes main.swift
# call LLVMFuzzerRunDriver instead of replaying files, so the normal build
# never needs libFuzzer. ld.gold warns "Cannot export local symbol
# __asan_..."; harmless.
# New inputs go to fuzz-corpus-work/corpus/ (a working copy), crashes to fuzz-corpus-work/artifacts/.
# Replay a crash with the normal build: swift build --product ParserFuzz &&
#   .build/debug/ParserFuzz fuzz-corpus-work/artifacts/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true
scratch=.build-fuzz
swift build -c debug --scratch-path "$scratch" --product ParserFuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -D -Xswiftc PARSER_FUZZ
mkdir -p fuzz-corpus-work/corpus fuzz-corpus-work/artifacts
cp -n Tests/Fuzz/corpus/http/* fuzz-corpus-work/corpus/ 2>/dev/null || true
# A dictionary of HTTP tokens helps libFuzzer build well-formed heads.
cat > fuzz-corpus-work/http.dict <<'DICT'
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
# Swift's own crash backtracer trips ASan; libFuzzer reports crashes itself.
export SWIFT_BACKTRACE=enable=no
exec "$scratch/debug/ParserFuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -artifact_prefix=fuzz-corpus-work/artifacts/ -print_final_stats=1 -dict=fuzz-corpus-work/http.dict "$@" fuzz-corpus-work/corpus Tests/Fuzz/corpus/http
