#!/bin/sh
# Container entry point: creates the demo signing key when GATEWAY_DEMO_KEY
# names a file that does not exist yet (ES256, PKCS#8), then execs the
# gateway with the container's arguments. Production: mount real keys and
# leave GATEWAY_DEMO_KEY unset.
set -eu
if [ -n "${GATEWAY_DEMO_KEY:-}" ] && [ ! -f "$GATEWAY_DEMO_KEY" ]; then
    mkdir -p "$(dirname "$GATEWAY_DEMO_KEY")"
    (umask 077; openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$GATEWAY_DEMO_KEY")
    echo "gateway-entrypoint: generated demo key $GATEWAY_DEMO_KEY" >&2
fi
exec /usr/local/bin/gateway "$@"
