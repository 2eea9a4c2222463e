#!/usr/bin/env python3
"""Keys, tokens and a wrk script for the token-validation rows of bench.sh.

  bench_jwt.py --dir DIR [--count 20000] [--algs HS256,RS256,ES256,PS256,EdDSA]
               [--issuer https://issuer.bench] [--audience api] [--ttl 7200]

Writes into DIR, for each alg (file stem = alg lowercased):
  ALG.secret            HS*: the HMAC secret, 64 printable characters, no
                        newline (HAProxy takes it inline in its config)
  ALG.key.pem ALG.pub.pem   RS*/ES*: PKCS#8 private key, SPKI public key
  ALG-reused.tokens     one valid token
  ALG-distinct.tokens   COUNT valid tokens, all different (sub and jti vary)
  ALG-forged.token      a token under the right kid and alg whose signature
                        does not verify (for the reject sanity check)
  tokens.lua            wrk script: `wrk -s tokens.lua URL -- FILE [PATH]`
                        sends one token per request, cycling through FILE,
                        each wrk thread from its own offset.

Tokens carry kid = alg lowercased, iss, aud (a string), sub, iat, exp and
jti, signed by PyJWT (RSA signing runs on every core: 20,000 RS256 tokens
take a few seconds). Prints "ready DIR" when done.
"""

import argparse
import multiprocessing
import os
import secrets
import string
import sys
import time
from pathlib import Path

LUA = r"""-- Sends `Authorization: Bearer <token>` with a different token per request,
-- cycling through the file given after `--`; optional second arg: the path.
local threads = 0
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end

function init(args)
    tokens = {}
    for line in io.lines(args[1]) do
        if #line > 0 then tokens[#tokens + 1] = line end
    end
    target = args[2] or "/small"
    -- Threads start far apart so they do not send the same tokens in step.
    i = ((id or 0) * 7919) % #tokens
end

function request()
    i = i % #tokens + 1
    return wrk.format("GET", target, { ["Authorization"] = "Bearer " .. tokens[i] })
end
"""

_worker_key = None
_worker_alg = None


def _init_worker(pem, alg):
    global _worker_key, _worker_alg
    from cryptography.hazmat.primitives import serialization
    _worker_alg = alg
    _worker_key = pem if alg.startswith("HS") else serialization.load_pem_private_key(pem, None)


def _sign(args):
    import jwt
    claims, kid = args
    return jwt.encode(claims, _worker_key, algorithm=_worker_alg, headers={"kid": kid})


def make_key(alg, directory):
    """Writes the key files; returns (signing material bytes, kid)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    stem = alg.lower()
    if alg.startswith("HS"):
        alphabet = string.ascii_letters + string.digits
        secret = "".join(secrets.choice(alphabet) for _ in range(64)).encode()
        (directory / (stem + ".secret")).write_bytes(secret)
        return secret, stem
    if alg.startswith("RS") or alg.startswith("PS"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
    else:
        raise SystemExit("bench_jwt.py: unsupported alg %s" % alg)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    (directory / (stem + ".key.pem")).write_bytes(pem)
    (directory / (stem + ".pub.pem")).write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return pem, stem


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--algs", default="HS256,RS256,ES256")
    ap.add_argument("--issuer", default="https://issuer.bench")
    ap.add_argument("--audience", default="api")
    ap.add_argument("--ttl", type=int, default=7200)
    args = ap.parse_args()
    try:
        import jwt  # noqa: F401
    except ImportError:
        raise SystemExit("bench_jwt.py: PyJWT is missing (pip install pyjwt cryptography)")
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokens.lua").write_text(LUA)
    now = int(time.time())

    def claims(i):
        return {"iss": args.issuer, "aud": args.audience, "sub": "user-%d" % i, "iat": now,
                "exp": now + args.ttl, "jti": "bench-%d-%s" % (i, secrets.token_hex(4))}

    procs = max(1, os.cpu_count() or 1)
    for alg in [a.strip() for a in args.algs.split(",") if a.strip()]:
        t0 = time.monotonic()
        material, kid = make_key(alg, directory)
        stem = alg.lower()
        work = [(claims(i), kid) for i in range(args.count + 1)]
        if alg.startswith("HS") or args.count < 2000:
            _init_worker(material, alg)
            tokens = [_sign(w) for w in work]
        else:
            with multiprocessing.Pool(procs, initializer=_init_worker, initargs=(material, alg)) as pool:
                tokens = pool.map(_sign, work, chunksize=256)
        assert len(set(tokens)) == len(tokens)
        (directory / (stem + "-reused.tokens")).write_text(tokens[0] + "\n")
        (directory / (stem + "-distinct.tokens")).write_text("\n".join(tokens[1:]) + "\n")
        # Forged: a valid token's signature with its first character changed
        # (the base64url stays well-formed; the signature no longer checks).
        h, p, s = tokens[0].split(".")
        s = ("A" if s[0] != "A" else "B") + s[1:]
        (directory / (stem + "-forged.token")).write_text("%s.%s.%s\n" % (h, p, s))
        sys.stderr.write("bench_jwt.py: %s: %d tokens in %.1fs\n" % (alg, args.count, time.monotonic() - t0))
    print("ready %s" % directory)


if __name__ == "__main__":
    main()
