"""Property tests for the sans-I/O message codec (proxy/wire/messages.py).

- decode(encode(m)) == m for every startup, frontend and backend message;
- malformed bodies (truncated, trailing bytes, unterminated strings, negative
  or oversized counts and lengths, unknown types) raise ProtocolViolation and
  never any other exception.
"""

from __future__ import annotations

import os
import struct
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proxy.wire import codes as c
from proxy.wire import messages as m
from proxy.wire.framing import FrameReader, ProtocolViolation
sys.path.insert(0, os.path.dirname(__file__))  # the shared strategies, whatever the import mode
from test_codec_strategies import (  # noqa: E402
    BACKEND, FRONTEND, REST_OF_BODY, STARTUP, any_backend, any_frontend, any_startup)

FAST = settings(max_examples=60, deadline=None)


def one_frame(data: bytes, startup: bool = False) -> tuple[bytes, bytes]:
    """Frame exactly one message from ``data``; it must consume every byte."""
    r = FrameReader(startup=startup)
    r.feed(data)
    f = r.next_frame()
    assert f is not None, "a whole encoded message did not make a frame"
    assert r.buffered == 0 and r.next_frame() is None
    return f


def split(encoded: bytes) -> tuple[bytes, bytes]:
    return encoded[:1], encoded[5:]


# ---------------------------------------------------------------- round trips

@FAST
@given(any_startup)
def test_startup_packets_round_trip(msg):
    mtype, body = one_frame(msg.encode(), startup=True)
    assert mtype == b""
    assert m.decode_startup(body) == msg


@FAST
@given(any_frontend)
def test_frontend_messages_round_trip(msg):
    assert m.decode_frontend(*one_frame(msg.encode())) == msg


@FAST
@given(any_backend)
def test_backend_messages_round_trip(msg):
    assert m.decode_backend(*one_frame(msg.encode())) == msg


@pytest.mark.parametrize("cls", list(FRONTEND), ids=lambda cls: cls.__name__)
def test_each_frontend_message_round_trips(cls):
    @settings(max_examples=15, deadline=None)
    @given(FRONTEND[cls])
    def check(msg):
        assert type(msg) is cls
        assert m.decode_frontend(*one_frame(msg.encode())) == msg
    check()


@pytest.mark.parametrize("cls", list(BACKEND), ids=lambda cls: cls.__name__)
def test_each_backend_message_round_trips(cls):
    @settings(max_examples=15, deadline=None)
    @given(BACKEND[cls])
    def check(msg):
        assert type(msg) is cls
        assert m.decode_backend(*one_frame(msg.encode())) == msg
    check()


@pytest.mark.parametrize("cls", list(STARTUP), ids=lambda cls: cls.__name__)
def test_each_startup_packet_round_trips(cls):
    @settings(max_examples=15, deadline=None)
    @given(STARTUP[cls])
    def check(msg):
        assert type(msg) is cls
        assert m.decode_startup(one_frame(msg.encode(), startup=True)[1]) == msg
    check()


def test_message_bytes_match_the_protocol_documentation():
    # A few hand-written frames, so the round trip is not only self-consistent.
    assert m.Sync().encode() == b"S\x00\x00\x00\x04"
    assert m.Query("SELECT 1").encode() == b"Q\x00\x00\x00\x0dSELECT 1\x00"
    assert m.ReadyForQuery(b"T").encode() == b"Z\x00\x00\x00\x05T"
    assert m.SSLRequest().encode() == b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
    assert m.StartupMessage({"user": "u"}).encode() == (
        b"\x00\x00\x00\x10\x00\x03\x00\x00user\x00u\x00\x00")
    assert m.DataRow((b"1", None)).encode() == (
        b"D\x00\x00\x00\x0f\x00\x02\x00\x00\x00\x011\xff\xff\xff\xff")
    assert m.AUTH_OK_FRAME == b"R\x00\x00\x00\x08\x00\x00\x00\x00"


@FAST
@given(st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
                        max_size=12), max_size=4))
def test_sasl_mechanism_list_round_trips(mechs):
    auth = m.decode_backend(*one_frame(m.Authentication.sasl(mechs).encode()))
    assert auth.code == c.AUTH_SASL and auth.sasl_mechanisms() == mechs


@FAST
@given(st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)), max_size=20),
       st.binary(max_size=40))
def test_password_and_sasl_initial_response_bodies_round_trip(password, data):
    pw = m.decode_frontend(*one_frame(m.PasswordMessage.cleartext(password).encode()))
    assert pw.password() == password
    sasl = m.decode_frontend(*one_frame(
        m.PasswordMessage.sasl_initial_response("SCRAM-SHA-256", data).encode()))
    assert sasl.sasl_initial() == ("SCRAM-SHA-256", data)


@FAST
@given(st.binary(max_size=16).filter(lambda b: b"\0" not in b))
def test_non_utf8_strings_survive_a_round_trip_as_bytes(raw):
    # Clients may send bytes in a non-UTF-8 client_encoding: they must come back out unchanged.
    frame_ = b"Q" + struct.pack("!i", len(raw) + 5) + raw + b"\0"
    assert m.decode_frontend(*one_frame(frame_)).encode() == frame_


# ---------------------------------------------------------------- malformed bodies

def _decoder_for(msg):
    if type(msg) in STARTUP:
        return m.decode_startup, b""
    if type(msg) in FRONTEND:
        return m.decode_frontend, msg.TYPE
    return m.decode_backend, msg.encode()[:1]


def _decode(msg, body):
    decode, mtype = _decoder_for(msg)
    return decode(body) if decode is m.decode_startup else decode(mtype, body)


def _body(msg) -> bytes:
    enc = msg.encode()
    return enc[4:] if type(msg) in STARTUP else enc[5:]


any_message = st.one_of(any_startup, any_frontend, any_backend)


@FAST
@given(any_message, st.data())
def test_a_truncated_body_is_a_protocol_violation(msg, data):
    body = _body(msg)
    if not body:
        return
    cut = data.draw(st.integers(0, len(body) - 1), label="cut")
    if isinstance(msg, REST_OF_BODY):
        if isinstance(msg, m.Authentication) and cut < 4:
            with pytest.raises(ProtocolViolation):
                _decode(msg, body[:cut])
        return  # a shorter "rest of the message" is a different, valid message
    with pytest.raises(ProtocolViolation):
        _decode(msg, body[:cut])


@FAST
@given(any_message, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_after_a_message_are_a_protocol_violation(msg, extra):
    if isinstance(msg, REST_OF_BODY):
        return
    with pytest.raises(ProtocolViolation, match="trailing"):
        _decode(msg, _body(msg) + extra)


@pytest.mark.parametrize("mtype,body", [
    (b"Q", b"SELECT 1"),
    (b"P", b"stmt\0SELECT 1"),
    (b"B", b"portal"),
    (b"D", b"Sname"),
    (b"E", b"portal"),
    (b"C", b"Pname"),
    (b"f", b"copy failed"),
])
def test_an_unterminated_frontend_string_is_a_protocol_violation(mtype, body):
    with pytest.raises(ProtocolViolation, match="unterminated|truncated"):
        m.decode_frontend(mtype, body)


@pytest.mark.parametrize("mtype,body", [
    (b"S", b"TimeZone\0UTC"),
    (b"C", b"SELECT 1"),
    (b"E", b"SERROR\0C08P01"),
    (b"N", b"SNOTICE"),
    (b"A", b"\0\0\0\1chan\0payload"),
    (b"T", b"\0\1name"),
    (b"v", b"\0\0\0\0\0\0\0\1_pq_.x"),
])
def test_an_unterminated_backend_string_is_a_protocol_violation(mtype, body):
    with pytest.raises(ProtocolViolation, match="unterminated|truncated"):
        m.decode_backend(mtype, body)


def test_an_unterminated_startup_parameter_is_a_protocol_violation():
    for body in (b"\0\3\0\0user\0bob\0",        # no final terminator
                 b"\0\3\0\0user\0bob",          # value not terminated
                 b"\0\3\0\0user"):              # key not terminated
        with pytest.raises(ProtocolViolation):
            m.decode_startup(body)


@pytest.mark.parametrize("code", [0, 1 << 16, 2 << 16, 4 << 16, -1, 1234 << 16 | 5677])
def test_an_unsupported_protocol_version_is_a_protocol_violation(code):
    with pytest.raises(ProtocolViolation, match="protocol"):
        m.decode_startup(struct.pack("!i", code) + b"user\0u\0\0")


@FAST
@given(st.binary(min_size=1, max_size=1).filter(lambda t: t not in m._FRONTEND),
       st.binary(max_size=8))
def test_an_unknown_frontend_type_is_a_protocol_violation(mtype, body):
    with pytest.raises(ProtocolViolation, match="invalid frontend message type"):
        m.decode_frontend(mtype, body)


@FAST
@given(st.binary(min_size=1, max_size=1).filter(lambda t: t not in m._BACKEND),
       st.binary(max_size=8))
def test_an_unknown_backend_type_is_a_protocol_violation(mtype, body):
    with pytest.raises(ProtocolViolation, match="invalid backend message type"):
        m.decode_backend(mtype, body)


@pytest.mark.parametrize("decode,kind", [(m.decode_frontend, b"D"), (m.decode_frontend, b"C")])
def test_an_unknown_describe_or_close_target_is_a_protocol_violation(decode, kind):
    with pytest.raises(ProtocolViolation, match="subtype"):
        decode(kind, b"Xname\0")


@pytest.mark.parametrize("length", [-2, -100, -(2**31)])
def test_a_negative_value_length_is_a_protocol_violation(length):
    bind = b"\0\0" + b"\0\0" + b"\0\1" + struct.pack("!i", length) + b"\0\0"
    with pytest.raises(ProtocolViolation, match="value length"):
        m.decode_frontend(b"B", bind)
    with pytest.raises(ProtocolViolation, match="value length"):
        m.decode_backend(b"D", b"\0\1" + struct.pack("!i", length))
    with pytest.raises(ProtocolViolation, match="value length"):
        m.decode_backend(b"V", struct.pack("!i", length))


@pytest.mark.parametrize("length", [1, 100, 2**31 - 1])
def test_a_value_length_beyond_the_body_is_a_protocol_violation(length):
    with pytest.raises(ProtocolViolation, match="truncated"):
        m.decode_backend(b"D", b"\0\1" + struct.pack("!i", length) + b"\0" * min(length - 1, 8))


@pytest.mark.parametrize("mtype,body", [
    (b"P", b"\0SELECT 1\0\xff\xff"),                       # Parse: -1 parameter types
    (b"B", b"\0\0\xff\xff\0\0\0\0"),                       # Bind: -1 parameter formats
    (b"B", b"\0\0\0\0\xff\xff\0\0"),                       # Bind: -1 parameters
    (b"B", b"\0\0\0\0\0\0\xff\xff"),                       # Bind: -1 result formats
])
def test_a_negative_count_in_a_frontend_message_is_a_protocol_violation(mtype, body):
    with pytest.raises(ProtocolViolation, match="negative"):
        m.decode_frontend(mtype, body)


# BUG (proxy/wire/messages.py, _d_function_call / _BACKEND lambdas): these
# decoders clamp a negative count with max(n, 0) and so accept a malformed
# message as an empty one instead of raising, unlike Parse and Bind above.
@pytest.mark.parametrize("decode,mtype,body", [
    (m.decode_frontend, b"F", b"\0\0\0\1\xff\xff\0\0\0\0"),   # FunctionCall: -1 arg formats
    (m.decode_frontend, b"F", b"\0\0\0\1\0\0\xff\xff\0\0"),   # FunctionCall: -1 args
    (m.decode_backend, b"D", b"\xff\xff"),                    # DataRow: -1 columns
    (m.decode_backend, b"T", b"\xff\xff"),                    # RowDescription: -1 fields
    (m.decode_backend, b"t", b"\xff\xff"),                    # ParameterDescription: -1 types
    (m.decode_backend, b"G", b"\0\xff\xff"),                  # CopyInResponse: -1 columns
    (m.decode_backend, b"v", b"\0\0\0\0\xff\xff\xff\xff"),   # NegotiateProtocolVersion: -1
], ids=["FunctionCall-formats", "FunctionCall-args", "DataRow", "RowDescription",
        "ParameterDescription", "CopyInResponse", "NegotiateProtocolVersion"])
def test_a_negative_count_in_any_message_is_a_protocol_violation(decode, mtype, body):
    with pytest.raises(ProtocolViolation):
        decode(mtype, body)


def test_bind_with_format_count_not_matching_parameter_count_is_a_protocol_violation():
    body = b"\0\0" + b"\0\2\0\0\0\1" + b"\0\3" + b"\0\0\0\0" * 3 + b"\0\0"
    with pytest.raises(ProtocolViolation, match="2 parameter formats but 3 parameters"):
        m.decode_frontend(b"B", body)


def test_special_requests_with_trailing_bytes_are_protocol_violations():
    for code in (c.SSL_REQUEST_CODE, c.GSSENC_REQUEST_CODE):
        with pytest.raises(ProtocolViolation):
            m.decode_startup(struct.pack("!i", code) + b"\0")
    with pytest.raises(ProtocolViolation):
        m.decode_startup(struct.pack("!iii", c.CANCEL_REQUEST_CODE, 1, 2) + b"\0")
    with pytest.raises(ProtocolViolation):
        m.decode_startup(struct.pack("!ii", c.CANCEL_REQUEST_CODE, 1))


# ---------------------------------------------------------------- fuzz: no other exception

def _only_protocol_violation(fn, *args):
    try:
        return fn(*args)
    except ProtocolViolation:
        return None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(m._FRONTEND)), st.binary(max_size=40))
def test_arbitrary_frontend_bodies_decode_or_raise_protocol_violation(mtype, body):
    _only_protocol_violation(m.decode_frontend, mtype, body)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(m._BACKEND)), st.binary(max_size=40))
def test_arbitrary_backend_bodies_decode_or_raise_protocol_violation(mtype, body):
    _only_protocol_violation(m.decode_backend, mtype, body)


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=36).map(lambda b: b"\0\3\0\0" + b),
    st.sampled_from([c.SSL_REQUEST_CODE, c.GSSENC_REQUEST_CODE, c.CANCEL_REQUEST_CODE]).flatmap(
        lambda code: st.binary(max_size=12).map(lambda b: struct.pack("!i", code) + b))))
def test_arbitrary_startup_bodies_decode_or_raise_protocol_violation(body):
    _only_protocol_violation(m.decode_startup, body)


# A frame that decodes must re-encode to the very same bytes: the decoder accepts
# exactly one spelling of each message, so a relay that decodes and re-encodes
# cannot change what the other side sees.
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(m._BACKEND)), st.binary(max_size=30))
@example(b"D", b"\xff\xff")
def test_a_backend_frame_that_decodes_re_encodes_to_the_same_bytes(mtype, body):
    try:
        msg = m.decode_backend(mtype, body)
    except ProtocolViolation:
        return
    assert msg.encode() == mtype + struct.pack("!i", len(body) + 4) + body


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(m._FRONTEND)), st.binary(max_size=30))
@example(b"F", b"\0\0\0\1\xff\xff\0\0\0\0")
def test_a_frontend_frame_that_decodes_re_encodes_to_the_same_bytes(mtype, body):
    try:
        msg = m.decode_frontend(mtype, body)
    except ProtocolViolation:
        return
    assert msg.encode() == mtype + struct.pack("!i", len(body) + 4) + body


def test_error_field_codes_are_single_bytes_both_ways():
    body = b"\xe9x\0Mmsg\0\0"
    assert m.decode_backend(b"E", body).encode()[5:] == body


def _mutations(msg_strategy):
    """An encoded message with one byte flipped, inserted or removed."""
    @st.composite
    def mutate(draw):
        body = bytearray(_body(draw(msg_strategy)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        i = draw(st.integers(0, len(body)))
        if op == "insert" or not body:
            body[i:i] = bytes([draw(st.integers(0, 255))])
        elif op == "flip":
            body[min(i, len(body) - 1)] = draw(st.integers(0, 255))
        else:
            del body[min(i, len(body) - 1)]
        return bytes(body)
    return mutate()


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(FRONTEND)), st.data())
def test_mutated_frontend_messages_decode_or_raise_protocol_violation(cls, data):
    body = data.draw(_mutations(FRONTEND[cls]))
    _only_protocol_violation(m.decode_frontend, cls.TYPE, body)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(BACKEND)), st.data())
def test_mutated_backend_messages_decode_or_raise_protocol_violation(cls, data):
    msg = data.draw(BACKEND[cls])
    body = data.draw(_mutations(st.just(msg)))
    _only_protocol_violation(m.decode_backend, msg.encode()[:1], body)
