#!/usr/bin/env python3
"""A JWKS server that counts its requests, for scripts/soak.sh (part jwks).

  jwks_server.py --dir D [--unknown N]

Makes an ES256 key pair (kid "soak-es"), serves its public JWK at
http://127.0.0.1:PORT/jwks.json (Cache-Control: max-age=600, so the gateway's
periodic refresh stays out of a short run), and answers GET /count with the
number of /jwks.json requests so far. Writes into D: port (the port),
good.token (one valid token, 1 h), unknown.tokens (N tokens, one a line,
each naming a different unknown kid; their signatures are random bytes of the
right length: a kid the gateway does not know is refused before any
signature check, so they need no real signing). Runs until SIGTERM.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ISSUER = "https://soak.issuer"
AUDIENCE = "api"
KID = "soak-es"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--unknown", type=int, default=30000)
    args = ap.parse_args()

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": KID, "alg": "ES256", "use": "sig"})
    document = json.dumps({"keys": [jwk]}).encode()
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "soak", "iat": now, "exp": now + 3600}
    with open(os.path.join(args.dir, "good.token"), "w") as f:
        f.write(jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID}) + "\n")
    payload = b64(json.dumps(claims).encode())
    with open(os.path.join(args.dir, "unknown.tokens"), "w") as f:
        for _ in range(args.unknown):
            header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "unknown-" + os.urandom(8).hex()}).encode())
            f.write("%s.%s.%s\n" % (header, payload, b64(os.urandom(64))))

    lock = threading.Lock()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/jwks.json":
                with lock:
                    count[0] += 1
                body, status = document, 200
            elif self.path == "/count":
                with lock:
                    body, status = str(count[0]).encode(), 200
            else:
                body, status = b"not found", 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=600")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Handler)
    with open(os.path.join(args.dir, "port.tmp"), "w") as f:
        f.write(str(httpd.server_address[1]))
    os.replace(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    httpd.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
