"""Protocol 3.0 messages: one frozen dataclass each, ``encode()`` to bytes and
``decode_frontend`` / ``decode_backend`` from a frame ``(type, body)``.

Field names follow the protocol documentation. Pure: no I/O.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from . import codes as c
from .framing import ProtocolViolation, frame

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")


class Reader:
    """Cursor over a message body; every read checks bounds (ProtocolViolation)."""

    __slots__ = ("b", "p")

    def __init__(self, body: bytes) -> None:
        self.b = body
        self.p = 0

    def _need(self, n: int) -> None:
        if n < 0 or self.p + n > len(self.b):
            raise ProtocolViolation("message is truncated")

    def byte(self) -> bytes:
        self._need(1)
        v = self.b[self.p:self.p + 1]
        self.p += 1
        return v

    def i16(self) -> int:
        self._need(2)
        v = _I16.unpack_from(self.b, self.p)[0]
        self.p += 2
        return v

    def i32(self) -> int:
        self._need(4)
        v = _I32.unpack_from(self.b, self.p)[0]
        self.p += 4
        return v

    def u32(self) -> int:
        self._need(4)
        v = _U32.unpack_from(self.b, self.p)[0]
        self.p += 4
        return v

    def cstr(self) -> str:
        end = self.b.find(b"\0", self.p)
        if end < 0:
            raise ProtocolViolation("unterminated string in message")
        v = self.b[self.p:end].decode("utf-8", "surrogateescape")
        self.p = end + 1
        return v

    def bytes_(self, n: int) -> bytes:
        self._need(n)
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def rest(self) -> bytes:
        v = self.b[self.p:]
        self.p = len(self.b)
        return v

    def count16(self) -> int:
        """An Int16 element count; negative is a protocol violation."""
        n = self.i16()
        if n < 0:
            raise ProtocolViolation(f"negative count {n} in message")
        return n

    def count32(self) -> int:
        n = self.i32()
        if n < 0:
            raise ProtocolViolation(f"negative count {n} in message")
        return n

    def value(self) -> bytes | None:
        n = self.i32()
        if n == -1:
            return None
        if n < -1:
            raise ProtocolViolation(f"invalid value length {n}")
        return self.bytes_(n)

    def end(self) -> None:
        if self.p != len(self.b):
            raise ProtocolViolation("message has trailing bytes")


def _cstr(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape") + b"\0"


def _value(v: bytes | None) -> bytes:
    if v is None:
        return b"\xff\xff\xff\xff"
    return _I32.pack(len(v)) + v


def _i16s(vals) -> bytes:
    return _I16.pack(len(vals)) + b"".join(_I16.pack(v) for v in vals)


# ---------------------------------------------------------------- untyped startup

@dataclass(frozen=True)
class StartupMessage:
    params: dict[str, str]
    protocol: int = c.PROTOCOL_3_0

    def encode(self) -> bytes:
        body = _I32.pack(self.protocol) + b"".join(
            _cstr(k) + _cstr(v) for k, v in self.params.items()) + b"\0"
        return _I32.pack(len(body) + 4) + body


@dataclass(frozen=True)
class SSLRequest:
    def encode(self) -> bytes:
        return _I32.pack(8) + _I32.pack(c.SSL_REQUEST_CODE)


@dataclass(frozen=True)
class GSSENCRequest:
    def encode(self) -> bytes:
        return _I32.pack(8) + _I32.pack(c.GSSENC_REQUEST_CODE)


@dataclass(frozen=True)
class CancelRequest:
    process_id: int
    secret_key: int

    def encode(self) -> bytes:
        return _I32.pack(16) + _I32.pack(c.CANCEL_REQUEST_CODE) + _I32.pack(
            self.process_id) + _I32.pack(self.secret_key)


def decode_startup(body: bytes):
    r = Reader(body)
    code = r.i32()
    if code == c.SSL_REQUEST_CODE:
        r.end()
        return SSLRequest()
    if code == c.GSSENC_REQUEST_CODE:
        r.end()
        return GSSENCRequest()
    if code == c.CANCEL_REQUEST_CODE:
        m = CancelRequest(r.i32(), r.i32())
        r.end()
        return m
    if code >> 16 != 3:
        raise ProtocolViolation(
            f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: server supports 3.0")
    params: dict[str, str] = {}
    while True:
        k = r.cstr()
        if not k:
            break
        params[k] = r.cstr()
    r.end()
    return StartupMessage(params, code)


# ---------------------------------------------------------------- frontend

@dataclass(frozen=True)
class Query:
    TYPE: ClassVar[bytes] = c.F_QUERY
    query: str

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.query))


@dataclass(frozen=True)
class Parse:
    TYPE: ClassVar[bytes] = c.F_PARSE
    statement: str
    query: str
    param_types: tuple[int, ...] = ()

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.statement) + _cstr(self.query) + _I16.pack(
            len(self.param_types)) + b"".join(_U32.pack(t) for t in self.param_types))


@dataclass(frozen=True)
class Bind:
    TYPE: ClassVar[bytes] = c.F_BIND
    portal: str
    statement: str
    param_formats: tuple[int, ...] = ()
    params: tuple[bytes | None, ...] = ()
    result_formats: tuple[int, ...] = ()

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.portal) + _cstr(self.statement) + _i16s(
            self.param_formats) + _I16.pack(len(self.params)) + b"".join(
            _value(p) for p in self.params) + _i16s(self.result_formats))

    def param_format(self, i: int) -> int:
        f = self.param_formats
        return f[0] if len(f) == 1 else (f[i] if f else 0)

    def result_format(self, i: int) -> int:
        f = self.result_formats
        return f[0] if len(f) == 1 else (f[i] if f else 0)


@dataclass(frozen=True)
class Describe:
    TYPE: ClassVar[bytes] = c.F_DESCRIBE
    kind: bytes  # b"S" statement or b"P" portal
    name: str

    def encode(self) -> bytes:
        return frame(self.TYPE, self.kind + _cstr(self.name))


@dataclass(frozen=True)
class Execute:
    TYPE: ClassVar[bytes] = c.F_EXECUTE
    portal: str
    max_rows: int = 0

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.portal) + _I32.pack(self.max_rows))


@dataclass(frozen=True)
class Close:
    TYPE: ClassVar[bytes] = c.F_CLOSE
    kind: bytes
    name: str

    def encode(self) -> bytes:
        return frame(self.TYPE, self.kind + _cstr(self.name))


@dataclass(frozen=True)
class Sync:
    TYPE: ClassVar[bytes] = c.F_SYNC

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class Flush:
    TYPE: ClassVar[bytes] = c.F_FLUSH

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class Terminate:
    TYPE: ClassVar[bytes] = c.F_TERMINATE

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class CopyData:
    TYPE: ClassVar[bytes] = c.F_COPY_DATA  # same byte both directions
    data: bytes

    def encode(self) -> bytes:
        return frame(self.TYPE, self.data)


@dataclass(frozen=True)
class CopyDone:
    TYPE: ClassVar[bytes] = c.F_COPY_DONE

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class CopyFail:
    TYPE: ClassVar[bytes] = c.F_COPY_FAIL
    message: str

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.message))


@dataclass(frozen=True)
class FunctionCall:
    TYPE: ClassVar[bytes] = c.F_FUNCTION_CALL
    function_oid: int
    arg_formats: tuple[int, ...]
    args: tuple[bytes | None, ...]
    result_format: int

    def encode(self) -> bytes:
        return frame(self.TYPE, _U32.pack(self.function_oid) + _i16s(self.arg_formats) + _I16.pack(
            len(self.args)) + b"".join(_value(a) for a in self.args) + _I16.pack(self.result_format))


@dataclass(frozen=True)
class PasswordMessage:
    """'p' message: the body is interpreted by the auth state (password, SASL, GSS)."""

    TYPE: ClassVar[bytes] = c.F_PASSWORD
    data: bytes

    def encode(self) -> bytes:
        return frame(self.TYPE, self.data)

    def password(self) -> str:
        r = Reader(self.data)
        v = r.cstr()
        r.end()
        return v

    def sasl_initial(self) -> tuple[str, bytes | None]:
        r = Reader(self.data)
        mech = r.cstr()
        return mech, r.value()

    @classmethod
    def cleartext(cls, password: str) -> "PasswordMessage":
        return cls(_cstr(password))

    @classmethod
    def sasl_initial_response(cls, mechanism: str, data: bytes) -> "PasswordMessage":
        return cls(_cstr(mechanism) + _value(data))


def _d_query(r):
    return Query(r.cstr())


def _d_parse(r):
    stmt, q = r.cstr(), r.cstr()
    n = r.i16()
    if n < 0:
        raise ProtocolViolation("negative parameter count")
    return Parse(stmt, q, tuple(r.u32() for _ in range(n)))


def _d_bind(r):
    portal, stmt = r.cstr(), r.cstr()
    nf = r.i16()
    if nf < 0:
        raise ProtocolViolation("negative format count")
    pf = tuple(r.i16() for _ in range(nf))
    np_ = r.i16()
    if np_ < 0:
        raise ProtocolViolation("negative parameter count")
    if nf > 1 and nf != np_:
        raise ProtocolViolation(f"bind message has {nf} parameter formats but {np_} parameters")
    params = tuple(r.value() for _ in range(np_))
    nr = r.i16()
    if nr < 0:
        raise ProtocolViolation("negative result format count")
    return Bind(portal, stmt, pf, params, tuple(r.i16() for _ in range(nr)))


def _d_describe(r, cls=Describe):
    kind = r.byte()
    if kind not in (b"S", b"P"):
        raise ProtocolViolation(f"invalid {cls.__name__} message subtype {kind!r}")
    return cls(kind, r.cstr())


def _d_function_call(r):
    oid = r.u32()
    fmts = tuple(r.i16() for _ in range(r.count16()))
    args = tuple(r.value() for _ in range(r.count16()))
    return FunctionCall(oid, fmts, args, r.i16())


_FRONTEND = {
    c.F_QUERY: _d_query,
    c.F_PARSE: _d_parse,
    c.F_BIND: _d_bind,
    c.F_DESCRIBE: _d_describe,
    c.F_EXECUTE: lambda r: Execute(r.cstr(), r.i32()),
    c.F_CLOSE: lambda r: _d_describe(r, Close),
    c.F_SYNC: lambda r: Sync(),
    c.F_FLUSH: lambda r: Flush(),
    c.F_TERMINATE: lambda r: Terminate(),
    c.F_COPY_DATA: lambda r: CopyData(r.rest()),
    c.F_COPY_DONE: lambda r: CopyDone(),
    c.F_COPY_FAIL: lambda r: CopyFail(r.cstr()),
    c.F_FUNCTION_CALL: _d_function_call,
    c.F_PASSWORD: lambda r: PasswordMessage(r.rest()),
}


def decode_frontend(mtype: bytes, body: bytes):
    fn = _FRONTEND.get(mtype)
    if fn is None:
        raise ProtocolViolation(f"invalid frontend message type {mtype[0] if mtype else 0}")
    r = Reader(body)
    m = fn(r)
    r.end()
    return m


# ---------------------------------------------------------------- backend

@dataclass(frozen=True)
class Authentication:
    TYPE: ClassVar[bytes] = c.B_AUTH
    code: int
    data: bytes = b""  # md5 salt, SASL mechanisms list or SASL payload

    def encode(self) -> bytes:
        return frame(self.TYPE, _I32.pack(self.code) + self.data)

    @classmethod
    def sasl(cls, mechanisms: list[str]) -> "Authentication":
        return cls(c.AUTH_SASL, b"".join(_cstr(m) for m in mechanisms) + b"\0")

    def sasl_mechanisms(self) -> list[str]:
        return [m for m in self.data.decode().split("\0") if m]


AUTH_OK_FRAME = Authentication(c.AUTH_OK).encode()


@dataclass(frozen=True)
class ParameterStatus:
    TYPE: ClassVar[bytes] = c.B_PARAMETER_STATUS
    name: str
    value: str

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.name) + _cstr(self.value))


@dataclass(frozen=True)
class BackendKeyData:
    TYPE: ClassVar[bytes] = c.B_BACKEND_KEY_DATA
    process_id: int
    secret_key: int

    def encode(self) -> bytes:
        return frame(self.TYPE, _I32.pack(self.process_id) + _I32.pack(self.secret_key))


@dataclass(frozen=True)
class ReadyForQuery:
    TYPE: ClassVar[bytes] = c.B_READY_FOR_QUERY
    status: bytes = c.TX_IDLE

    def encode(self) -> bytes:
        return frame(self.TYPE, self.status)


@dataclass(frozen=True)
class Field:
    name: str
    table_oid: int = 0
    column: int = 0
    type_oid: int = 25
    type_size: int = -1
    type_modifier: int = -1
    format: int = 0


@dataclass(frozen=True)
class RowDescription:
    TYPE: ClassVar[bytes] = c.B_ROW_DESCRIPTION
    fields: tuple[Field, ...]

    def encode(self) -> bytes:
        parts = [_I16.pack(len(self.fields))]
        for f in self.fields:
            parts.append(_cstr(f.name) + struct.pack(
                "!IhIhih", f.table_oid, f.column, f.type_oid, f.type_size, f.type_modifier, f.format))
        return frame(self.TYPE, b"".join(parts))


@dataclass(frozen=True)
class DataRow:
    TYPE: ClassVar[bytes] = c.B_DATA_ROW
    values: tuple[bytes | None, ...]

    def encode(self) -> bytes:
        return frame(self.TYPE, _I16.pack(len(self.values)) + b"".join(_value(v) for v in self.values))


@dataclass(frozen=True)
class CommandComplete:
    TYPE: ClassVar[bytes] = c.B_COMMAND_COMPLETE
    tag: str

    def encode(self) -> bytes:
        return frame(self.TYPE, _cstr(self.tag))


@dataclass(frozen=True)
class EmptyQueryResponse:
    TYPE: ClassVar[bytes] = c.B_EMPTY_QUERY

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


# ErrorResponse / NoticeResponse field codes
FIELD_NAMES = {
    "S": "severity_local", "V": "severity", "C": "code", "M": "message", "D": "detail",
    "H": "hint", "P": "position", "p": "internal_position", "q": "internal_query",
    "W": "where", "s": "schema", "t": "table", "c": "column", "d": "data_type",
    "n": "constraint", "F": "file", "L": "line", "R": "routine",
}


@dataclass(frozen=True)
class ErrorResponse:
    TYPE: ClassVar[bytes] = c.B_ERROR
    fields: tuple[tuple[str, str], ...]

    def encode(self) -> bytes:
        return frame(self.TYPE, b"".join(
            k.encode("latin-1") + _cstr(v) for k, v in self.fields) + b"\0")

    def get(self, code: str, default: str | None = None) -> str | None:
        for k, v in self.fields:
            if k == code:
                return v
        return default

    @property
    def sqlstate(self) -> str | None:
        return self.get("C")

    @property
    def message(self) -> str | None:
        return self.get("M")


@dataclass(frozen=True)
class NoticeResponse(ErrorResponse):
    TYPE: ClassVar[bytes] = c.B_NOTICE


@dataclass(frozen=True)
class NotificationResponse:
    TYPE: ClassVar[bytes] = c.B_NOTIFICATION
    process_id: int
    channel: str
    payload: str

    def encode(self) -> bytes:
        return frame(self.TYPE, _I32.pack(self.process_id) + _cstr(self.channel) + _cstr(self.payload))


@dataclass(frozen=True)
class ParseComplete:
    TYPE: ClassVar[bytes] = c.B_PARSE_COMPLETE

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class BindComplete:
    TYPE: ClassVar[bytes] = c.B_BIND_COMPLETE

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class CloseComplete:
    TYPE: ClassVar[bytes] = c.B_CLOSE_COMPLETE

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class NoData:
    TYPE: ClassVar[bytes] = c.B_NO_DATA

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class PortalSuspended:
    TYPE: ClassVar[bytes] = c.B_PORTAL_SUSPENDED

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class ParameterDescription:
    TYPE: ClassVar[bytes] = c.B_PARAMETER_DESCRIPTION
    type_oids: tuple[int, ...]

    def encode(self) -> bytes:
        return frame(self.TYPE, _I16.pack(len(self.type_oids)) + b"".join(
            _U32.pack(t) for t in self.type_oids))


@dataclass(frozen=True)
class CopyResponse:
    """CopyInResponse (G), CopyOutResponse (H) or CopyBothResponse (W)."""

    kind: bytes
    format: int
    column_formats: tuple[int, ...]

    def encode(self) -> bytes:
        return frame(self.kind, bytes([self.format]) + _i16s(self.column_formats))


@dataclass(frozen=True)
class BackendCopyData:
    TYPE: ClassVar[bytes] = c.B_COPY_DATA
    data: bytes

    def encode(self) -> bytes:
        return frame(self.TYPE, self.data)


@dataclass(frozen=True)
class BackendCopyDone:
    TYPE: ClassVar[bytes] = c.B_COPY_DONE

    def encode(self) -> bytes:
        return frame(self.TYPE, b"")


@dataclass(frozen=True)
class FunctionCallResponse:
    TYPE: ClassVar[bytes] = c.B_FUNCTION_CALL_RESPONSE
    result: bytes | None

    def encode(self) -> bytes:
        return frame(self.TYPE, _value(self.result))


@dataclass(frozen=True)
class NegotiateProtocolVersion:
    TYPE: ClassVar[bytes] = c.B_NEGOTIATE_PROTOCOL_VERSION
    newest_minor: int
    unrecognized: tuple[str, ...]

    def encode(self) -> bytes:
        return frame(self.TYPE, _I32.pack(self.newest_minor) + _I32.pack(
            len(self.unrecognized)) + b"".join(_cstr(o) for o in self.unrecognized))


def _d_error(r, cls=ErrorResponse):
    fields = []
    while True:
        code = r.byte()
        if code == b"\0":
            break
        fields.append((code.decode("latin-1"), r.cstr()))
    return cls(tuple(fields))


def _d_row_description(r):
    n = r.count16()
    out = []
    for _ in range(n):
        name = r.cstr()
        out.append(Field(name, r.u32(), r.i16(), r.u32(), r.i16(), r.i32(), r.i16()))
    return RowDescription(tuple(out))


def _d_copy_response(kind):
    def d(r):
        fmt = r.byte()[0]
        return CopyResponse(kind, fmt, tuple(r.i16() for _ in range(r.count16())))
    return d


_BACKEND = {
    c.B_AUTH: lambda r: Authentication(r.i32(), r.rest()),
    c.B_PARAMETER_STATUS: lambda r: ParameterStatus(r.cstr(), r.cstr()),
    c.B_BACKEND_KEY_DATA: lambda r: BackendKeyData(r.i32(), r.i32()),
    c.B_READY_FOR_QUERY: lambda r: ReadyForQuery(r.byte()),
    c.B_ROW_DESCRIPTION: _d_row_description,
    c.B_DATA_ROW: lambda r: DataRow(tuple(r.value() for _ in range(r.count16()))),
    c.B_COMMAND_COMPLETE: lambda r: CommandComplete(r.cstr()),
    c.B_EMPTY_QUERY: lambda r: EmptyQueryResponse(),
    c.B_ERROR: _d_error,
    c.B_NOTICE: lambda r: _d_error(r, NoticeResponse),
    c.B_NOTIFICATION: lambda r: NotificationResponse(r.i32(), r.cstr(), r.cstr()),
    c.B_PARSE_COMPLETE: lambda r: ParseComplete(),
    c.B_BIND_COMPLETE: lambda r: BindComplete(),
    c.B_CLOSE_COMPLETE: lambda r: CloseComplete(),
    c.B_NO_DATA: lambda r: NoData(),
    c.B_PORTAL_SUSPENDED: lambda r: PortalSuspended(),
    c.B_PARAMETER_DESCRIPTION: lambda r: ParameterDescription(
        tuple(r.u32() for _ in range(r.count16()))),
    c.B_COPY_IN_RESPONSE: _d_copy_response(c.B_COPY_IN_RESPONSE),
    c.B_COPY_OUT_RESPONSE: _d_copy_response(c.B_COPY_OUT_RESPONSE),
    c.B_COPY_BOTH_RESPONSE: _d_copy_response(c.B_COPY_BOTH_RESPONSE),
    c.B_COPY_DATA: lambda r: BackendCopyData(r.rest()),
    c.B_COPY_DONE: lambda r: BackendCopyDone(),
    c.B_FUNCTION_CALL_RESPONSE: lambda r: FunctionCallResponse(r.value()),
    c.B_NEGOTIATE_PROTOCOL_VERSION: lambda r: NegotiateProtocolVersion(
        r.i32(), tuple(r.cstr() for _ in range(r.count32()))),
}


def decode_backend(mtype: bytes, body: bytes):
    fn = _BACKEND.get(mtype)
    if fn is None:
        raise ProtocolViolation(f"invalid backend message type {mtype!r}")
    r = Reader(body)
    m = fn(r)
    r.end()
    return m


def error_fields(sqlstate: str, message: str, severity: str = "ERROR", detail: str | None = None,
                 hint: str | None = None) -> tuple[tuple[str, str], ...]:
    f = [("S", severity), ("V", severity), ("C", sqlstate), ("M", message)]
    if detail:
        f.append(("D", detail))
    if hint:
        f.append(("H", hint))
    return tuple(f)
