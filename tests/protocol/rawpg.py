"""A raw-socket PostgreSQL client for protocol tests: literal bytes in and out.

Deliberately independent of ``proxy.wire`` so that the tests do not share the
code they test. Blocking sockets with a timeout: a test that waits for an
answer that never comes fails with ``socket.timeout`` instead of hanging.
"""

from __future__ import annotations

import socket
import struct
import time

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def frame(mtype: bytes, body: bytes = b"") -> bytes:
    return mtype + struct.pack("!i", len(body) + 4) + body


def startup_packet(user: str, database: str = "postgres", **params: str) -> bytes:
    body = struct.pack("!i", PROTOCOL_3)
    for k, v in {"user": user, "database": database, **params}.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def request_packet(code: int) -> bytes:
    return struct.pack("!ii", 8, code)


def query(sql: str) -> bytes:
    return frame(b"Q", sql.encode() + b"\0")


def error_fields(body: bytes) -> dict[str, str]:
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return out


class RawConn:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.backend_key: tuple[int, int] | None = None
        self.params: dict[str, str] = {}

    # -------------------------------------------------------------- bytes

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            chunk = self.sock.recv(262144)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_byte(self) -> bytes:
        """One untyped byte (the answer to SSLRequest/GSSENCRequest)."""
        if not self._fill(1):
            return b""
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_msg(self) -> tuple[bytes, bytes] | None:
        """Next backend message (type, body), or None at EOF."""
        if not self._fill(5):
            return None
        mtype = self.buf[:1]
        (length,) = struct.unpack("!i", self.buf[1:5])
        if not self._fill(1 + length):
            return None
        body = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return mtype, body

    def read_until_ready(self) -> list[tuple[bytes, bytes]]:
        out = []
        while True:
            m = self.read_msg()
            if m is None:
                raise ConnectionError(f"EOF before ReadyForQuery; got {out!r}")
            out.append(m)
            if m[0] == b"Z":
                return out

    def read_to_eof(self, limit: float = 10.0) -> list[tuple[bytes, bytes]]:
        """All messages until the server closes the connection (fails after ``limit`` s)."""
        out = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                m = self.read_msg()
            except (ConnectionResetError, BrokenPipeError):
                return out
            if m is None:
                return out
            out.append(m)
        raise TimeoutError(f"connection still open after {limit}s; got {out!r}")

    def is_closed_by_peer(self, wait: float = 5.0) -> bool:
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    # -------------------------------------------------------------- protocol

    def login(self, user: str = "postgres", database: str = "postgres", password: str | None = None,
              **params: str) -> list[tuple[bytes, bytes]]:
        """Startup + authentication (trust, cleartext, md5, SCRAM-SHA-256) up to ReadyForQuery."""
        self.send(startup_packet(user, database, **params))
        scram = None
        msgs = []
        while True:
            m = self.read_msg()
            if m is None:
                raise ConnectionError(f"EOF during login; got {msgs!r}")
            t, body = m
            msgs.append(m)
            if t == b"E":
                raise LoginError(error_fields(body))
            if t == b"R":
                (code,) = struct.unpack("!i", body[:4])
                if code == 0:
                    continue
                if code == 3:
                    self.send(frame(b"p", password.encode() + b"\0"))
                elif code == 5:
                    import hashlib

                    inner = hashlib.md5((password + user).encode()).hexdigest()
                    md5 = "md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                    self.send(frame(b"p", md5.encode() + b"\0"))
                elif code == 10:
                    import scramp

                    scram = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
                    first = scram.get_client_first().encode()
                    self.send(frame(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
                elif code == 11:
                    scram.set_server_first(body[4:].decode())
                    self.send(frame(b"p", scram.get_client_final().encode()))
                elif code == 12:
                    scram.set_server_final(body[4:].decode())
                else:
                    raise AssertionError(f"unsupported auth request {code}")
            elif t == b"S":
                k, v, _ = body.split(b"\0", 2)
                self.params[k.decode()] = v.decode()
            elif t == b"K":
                self.backend_key = struct.unpack("!ii", body[:8])
            elif t == b"Z":
                return msgs

    def simple(self, sql: str) -> list[list[str | None]]:
        """Run a simple Query; return text rows, raise QueryError on ErrorResponse."""
        self.send(query(sql))
        rows, err = [], None
        for t, body in self.read_until_ready():
            if t == b"D":
                (n,) = struct.unpack("!h", body[:2])
                pos, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", body[pos:pos + 4])
                    pos += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(body[pos:pos + ln].decode())
                        pos += ln
                rows.append(row)
            elif t == b"E":
                err = error_fields(body)
        if err:
            raise QueryError(err)
        return rows

    def abort(self) -> None:
        """Close with RST: the client vanished."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LoginError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(f"{fields.get('C')}: {fields.get('M')}")
        self.fields = fields


class QueryError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(f"{fields.get('C')}: {fields.get('M')}")
        self.fields = fields
