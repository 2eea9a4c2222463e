"""Upgrade: websocket is tunnelled after auth (SPEC §4.4)."""

import base64
import hashlib
import os

from gwtest import Conn

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0AD11B65"


def _handshake(c, target):
    key = base64.b64encode(os.urandom(16)).decode()
    c.request("GET", target, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                              ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
    return key, c.read_response()


def _recv_exact(c, n):
    out = b""
    while len(out) < n:
        data = c.read_some(n - len(out))
        assert data, "tunnel closed after %d of %d bytes" % (len(out), n)
        out += data
    return out


def test_websocket_upgrade_and_echo(gateway):
    with Conn(gateway.port, timeout=5) as c:
        key, r = _handshake(c, "/public/ws")
        assert r.status == 101
        assert r.header("Upgrade", "").lower() == "websocket"
        assert "upgrade" in r.header("Connection", "").lower()
        expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert r.header("Sec-WebSocket-Accept") == expected
        # Raw bytes both ways (the demo upstream echoes them as they are).
        c.send(b"\x81\x05hello")
        assert _recv_exact(c, 7) == b"\x81\x05hello"
        big = os.urandom(300_000)
        c.send(big)
        assert _recv_exact(c, len(big)) == big
        c.send(b"bye")
        assert _recv_exact(c, 3) == b"bye"


def test_websocket_needs_auth_on_protected_route(gateway):
    with Conn(gateway.port, timeout=5) as c:
        _, r = _handshake(c, "/api/ws")
        assert r.status == 401


def test_tunnel_closes_when_client_closes(gateway):
    import socket
    with Conn(gateway.port, timeout=5) as c:
        _, r = _handshake(c, "/public/ws")
        assert r.status == 101
        c.sock.shutdown(socket.SHUT_WR)
        assert c.is_closed(3.0)
    assert gateway.get("/public/after").status == 200
