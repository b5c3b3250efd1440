"""Framing: split a byte stream into protocol frames. Pure, no I/O.

The first frame a client sends has no type byte (startup packet, SSLRequest,
GSSENCRequest, CancelRequest): ``Int32 length`` then the body. Every later
frame is ``Byte1 type, Int32 length (including itself), body``.
"""

from __future__ import annotations

import struct

from .codes import PROTOCOL_VIOLATION

_HEADER = struct.Struct("!ci")

DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
MAX_STARTUP_PACKET = 10_000  # as Postgres


class ProtocolViolation(Exception):
    """The byte stream is not valid protocol: SQLSTATE 08P01, close the connection."""

    sqlstate = PROTOCOL_VIOLATION


class FrameReader:
    """Accumulates bytes and yields complete frames.

    ``feed(data)`` appends; ``next_frame()`` returns ``(type, body)`` or None when
    no complete frame is buffered. ``type`` is ``b""`` for an untyped startup frame.
    Call ``expect_startup()`` before a frame that has no type byte.
    """

    __slots__ = ("_buf", "_pos", "max_message", "_startup")

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, startup: bool = False) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.max_message = max_message
        self._startup = startup

    def expect_startup(self) -> None:
        self._startup = True

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos > 65536:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def take_rest(self) -> bytes:
        """Remove and return every buffered byte (complete frames or not)."""
        rest = bytes(self._buf[self._pos:])
        self._buf.clear()
        self._pos = 0
        return rest

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def next_frame(self) -> tuple[bytes, bytes] | None:
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if self._startup:
            if avail < 4:
                return None
            length = int.from_bytes(buf[pos:pos + 4], "big")
            if length < 8 or length > MAX_STARTUP_PACKET:
                raise ProtocolViolation(f"invalid length of startup packet: {length}")
            if avail < length:
                return None
            body = bytes(buf[pos + 4:pos + length])
            self._pos = pos + length
            self._startup = False
            return b"", body
        if avail < 5:
            return None
        length = int.from_bytes(buf[pos + 1:pos + 5], "big")
        if length < 4:
            raise ProtocolViolation(f"invalid message length: {length}")
        if length > self.max_message:
            raise ProtocolViolation(
                f"message of {length} bytes exceeds the maximum of {self.max_message}")
        if avail < length + 1:
            return None
        mtype = bytes(buf[pos:pos + 1])
        body = bytes(buf[pos + 5:pos + 1 + length])
        self._pos = pos + 1 + length
        return mtype, body

    def take_raw_frames(self) -> tuple[bytes, list[tuple[bytes, int, int]]]:
        """Return (buffer bytes, [(type, start, end)]) for every complete typed frame.

        For relaying: the caller forwards ``buffer[first_start:last_end]`` without
        copying each frame, and looks only at the types it cares about.
        """
        buf, pos = self._buf, self._pos
        n = len(buf)
        frames = []
        append = frames.append
        start = pos
        unpack = _HEADER.unpack_from
        maxlen = self.max_message
        while n - pos >= 5:
            t, length = unpack(buf, pos)
            if length < 4 or length > maxlen:
                if length < 4:
                    raise ProtocolViolation(f"invalid message length: {length}")
                raise ProtocolViolation(
                    f"message of {length} bytes exceeds the maximum of {maxlen}")
            end = pos + 1 + length
            if end > n:
                break
            append((t, pos - start, end - start))
            pos = end
        if start == 0 and pos == n:
            data = bytes(buf)
        else:
            data = bytes(buf[start:pos])
        self._pos = pos
        return data, frames


def frame(mtype: bytes, body: bytes) -> bytes:
    return mtype + (len(body) + 4).to_bytes(4, "big") + body
