"""Property tests for FrameReader (proxy/wire/framing.py).

The same frames come out however the byte stream is cut into reads, through
``next_frame`` and through ``take_raw_frames``; bad lengths are a
ProtocolViolation as soon as the header is in, never a wait for more bytes.
"""

from __future__ import annotations

import os
import struct
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.wire import messages as m
from proxy.wire.framing import MAX_STARTUP_PACKET, FrameReader, ProtocolViolation, frame
sys.path.insert(0, os.path.dirname(__file__))  # the shared strategies, whatever the import mode
from test_codec_strategies import any_backend, any_frontend, any_startup  # noqa: E402

FAST = settings(max_examples=60, deadline=None)


@st.composite
def chunked(draw, data: bytes, max_pieces: int = 12):
    """``data`` cut at random points (some pieces may be empty)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max_pieces)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def drain(reader: FrameReader) -> list[tuple[bytes, bytes]]:
    out = []
    while (f := reader.next_frame()) is not None:
        out.append(f)
    return out


def frames_of(messages) -> list[tuple[bytes, bytes]]:
    return [(e[:1], e[5:]) for e in (msg.encode() for msg in messages)]


# ---------------------------------------------------------------- chunking

@FAST
@given(st.lists(any_frontend, max_size=8), st.data())
def test_frontend_frames_are_the_same_however_the_stream_is_split(msgs, data):
    stream = b"".join(msg.encode() for msg in msgs)
    reader = FrameReader()
    got = []
    for piece in data.draw(chunked(stream)):
        reader.feed(piece)
        got += drain(reader)
    assert got == frames_of(msgs)
    assert reader.buffered == 0
    assert [m.decode_frontend(*f) for f in got] == msgs


@FAST
@given(any_startup, st.lists(any_frontend, max_size=6), st.data())
def test_a_startup_packet_then_typed_frames_split_anywhere(startup, msgs, data):
    stream = startup.encode() + b"".join(msg.encode() for msg in msgs)
    reader = FrameReader(startup=True)
    got = []
    for piece in data.draw(chunked(stream)):
        reader.feed(piece)
        got += drain(reader)
    assert got[0] == (b"", startup.encode()[4:])
    assert m.decode_startup(got[0][1]) == startup
    assert got[1:] == frames_of(msgs)


@FAST
@given(st.lists(any_backend, max_size=8), st.data())
def test_raw_frames_are_the_same_however_the_stream_is_split(msgs, data):
    stream = b"".join(msg.encode() for msg in msgs)
    reader = FrameReader()
    relayed = bytearray()
    got = []
    for piece in data.draw(chunked(stream)):
        reader.feed(piece)
        buf, frames = reader.take_raw_frames()
        for mtype, start, end in frames:
            assert type(mtype) is bytes
            assert buf[start:start + 1] == mtype
            got.append((mtype, buf[start + 5:end]))
        # The whole buffer returned is exactly the complete frames, in order.
        assert (frames[-1][2] if frames else 0) == len(buf)
        relayed += buf
    assert bytes(relayed) == stream
    assert got == frames_of(msgs)
    assert [m.decode_backend(*f) for f in got] == msgs


@FAST
@given(st.lists(any_backend, max_size=8), st.data())
def test_next_frame_and_take_raw_frames_can_be_interleaved(msgs, data):
    stream = b"".join(msg.encode() for msg in msgs)
    reader = FrameReader()
    got = []
    for piece in data.draw(chunked(stream)):
        reader.feed(piece)
        if data.draw(st.booleans(), label="raw"):
            buf, frames = reader.take_raw_frames()
            got += [(t, buf[s + 5:e]) for t, s, e in frames]
        else:
            got += drain(reader)
    got += drain(reader)
    assert got == frames_of(msgs)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 90_000), min_size=1, max_size=4), st.data())
def test_large_frames_survive_buffer_compaction(sizes, data):
    # More than 64 KiB consumed makes feed() compact its buffer mid-stream.
    msgs = [m.CopyData(bytes([i % 251]) * n) for i, n in enumerate(sizes)]
    stream = b"".join(msg.encode() for msg in msgs)
    reader = FrameReader()
    got = []
    for piece in data.draw(chunked(stream, max_pieces=20)):
        reader.feed(piece)
        got += drain(reader)
    assert [m.decode_frontend(*f) for f in got] == msgs


@FAST
@given(st.lists(any_frontend, min_size=1, max_size=5), st.data())
def test_an_incomplete_last_frame_waits_and_keeps_its_bytes(msgs, data):
    stream = b"".join(msg.encode() for msg in msgs)
    cut = data.draw(st.integers(len(stream) - len(msgs[-1].encode()), len(stream) - 1))
    reader = FrameReader()
    reader.feed(stream[:cut])
    assert drain(reader) == frames_of(msgs[:-1])
    assert reader.next_frame() is None
    assert reader.buffered == cut - (len(stream) - len(msgs[-1].encode()))
    reader.feed(stream[cut:])
    assert drain(reader) == frames_of(msgs[-1:])


def test_frame_prefixes_type_and_length_including_itself():
    assert frame(b"Q", b"x\0") == b"Q\x00\x00\x00\x06x\x00"


# ---------------------------------------------------------------- bad lengths

@pytest.mark.parametrize("length", [0, 1, 3])
def test_a_typed_length_below_four_is_a_protocol_violation(length):
    for take in (FrameReader.next_frame, FrameReader.take_raw_frames):
        reader = FrameReader()
        reader.feed(b"Q" + struct.pack("!I", length))
        with pytest.raises(ProtocolViolation, match="invalid message length"):
            take(reader)


@pytest.mark.parametrize("raw", [b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\xff\xff\xff\xfc"])
def test_a_negative_typed_length_is_a_protocol_violation_without_waiting(raw):
    # Only the 5-byte header is buffered: the reader must not wait for a body.
    for take in (FrameReader.next_frame, FrameReader.take_raw_frames):
        reader = FrameReader()
        reader.feed(b"D" + raw)
        with pytest.raises(ProtocolViolation):
            take(reader)


@pytest.mark.parametrize("max_message", [16, 1024, 64 * 1024 * 1024])
def test_an_oversized_typed_length_is_a_protocol_violation_without_waiting(max_message):
    for take in (FrameReader.next_frame, FrameReader.take_raw_frames):
        reader = FrameReader(max_message=max_message)
        reader.feed(b"d" + struct.pack("!I", max_message + 1))
        with pytest.raises(ProtocolViolation, match="exceeds the maximum"):
            take(reader)


def test_a_frame_of_exactly_the_maximum_size_is_accepted():
    reader = FrameReader(max_message=16)
    reader.feed(b"d" + struct.pack("!I", 16) + b"x" * 11)
    assert reader.next_frame() is None
    reader.feed(b"y")
    assert reader.next_frame() == (b"d", b"x" * 11 + b"y")


def test_good_frames_before_a_bad_length_are_returned_first():
    reader = FrameReader()
    reader.feed(m.Sync().encode() + b"Q\x00\x00\x00\x02")
    assert reader.next_frame() == (b"S", b"")
    with pytest.raises(ProtocolViolation):
        reader.next_frame()


@pytest.mark.parametrize("length", [0, 4, 7, MAX_STARTUP_PACKET + 1, 2**31, 2**32 - 1])
def test_a_bad_startup_length_is_a_protocol_violation_without_waiting(length):
    reader = FrameReader(startup=True)
    reader.feed(struct.pack("!I", length))
    with pytest.raises(ProtocolViolation, match="startup packet"):
        reader.next_frame()


@pytest.mark.parametrize("length", [8, MAX_STARTUP_PACKET])
def test_a_startup_packet_at_the_length_limits_is_accepted(length):
    body = struct.pack("!i", 3 << 16) + b"\0" * (length - 8)
    reader = FrameReader(startup=True)
    reader.feed(struct.pack("!I", length) + body[:-1])
    assert reader.next_frame() is None
    reader.feed(body[-1:])
    assert reader.next_frame() == (b"", body)


def test_expect_startup_reads_one_untyped_frame_then_typed_ones():
    # After an SSLRequest is refused the client sends its startup packet untyped.
    reader = FrameReader(startup=True)
    reader.feed(m.SSLRequest().encode())
    assert m.decode_startup(reader.next_frame()[1]) == m.SSLRequest()
    reader.expect_startup()
    reader.feed(m.StartupMessage({"user": "u"}).encode() + m.Query("x").encode())
    assert m.decode_startup(reader.next_frame()[1]) == m.StartupMessage({"user": "u"})
    assert reader.next_frame() == (b"Q", b"x\0")


# ---------------------------------------------------------------- fuzz

def _frames_or_violation(take, chunks, startup=False):
    """Frames read from ``chunks`` then "violation" if the reader raised."""
    reader = FrameReader(max_message=4096, startup=startup)
    out = []
    try:
        for piece in chunks:
            reader.feed(piece)
            if take == "next":
                while (f := reader.next_frame()) is not None:
                    out.append(f)
            else:
                buf, frames = reader.take_raw_frames()
                out += [(t, buf[s + 5:e]) for t, s, e in frames]
    except ProtocolViolation:
        out.append("violation")
    return out


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_arbitrary_bytes_give_frames_or_a_protocol_violation(stream, data):
    chunks = data.draw(chunked(stream))
    by_next = _frames_or_violation("next", chunks)
    whole = _frames_or_violation("next", [stream])
    by_raw = _frames_or_violation("raw", chunks)
    # Nothing but ProtocolViolation escapes, and the split does not matter.
    assert by_next == whole
    # take_raw_frames raises without returning the good frames buffered before
    # the bad header in the same call, so it may see a prefix of them.
    if by_next and by_next[-1] == "violation":
        assert by_raw[-1] == "violation" and by_next[:len(by_raw) - 1] == by_raw[:-1]
    else:
        assert by_raw == by_next


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64), st.data())
def test_arbitrary_startup_bytes_give_a_frame_or_a_protocol_violation(stream, data):
    chunks = data.draw(chunked(stream))
    assert _frames_or_violation("next", chunks, True) == _frames_or_violation("next", [stream], True)
