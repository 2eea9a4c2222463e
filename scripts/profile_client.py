#!/usr/bin/env python3
"""Sends exactly N small GETs over C keep-alive connections and checks each
answer (for scripts/profile.sh: a fixed workload, so instruction and
allocation counts divide by a known request count)."""
import socket
import sys
import threading


def run(port, n, path, headers):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, headers)).encode()
    buf = b""
    for _ in range(n):
        s.sendall(req)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v)
                if len(buf) >= end + 4 + length:
                    if not head.startswith("HTTP/1.1 200"):
                        raise SystemExit("profile_client: got %r" % head.split("\r\n")[0])
                    buf = buf[end + 4 + length:]
                    break
            data = s.recv(65536)
            if not data:
                raise SystemExit("profile_client: connection closed")
            buf += data
    s.close()


def main():
    port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/small"
    headers = sys.argv[5] if len(sys.argv) > 5 else ""
    if headers and not headers.endswith("\r\n"):
        headers += "\r\n"   # one field line, given without its CRLF
    threads = [threading.Thread(target=run, args=(port, n // conns, path, headers)) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
