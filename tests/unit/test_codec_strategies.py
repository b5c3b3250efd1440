"""Hypothesis strategies for every protocol message in ``proxy.wire.messages``,
and the meta-test that there is one for every message class.

Shared by the codec and framing property tests (``from test_codec_strategies
import ...``). Sizes are kept small so the property tests run in a few seconds.
"""

from __future__ import annotations

import dataclasses
import inspect

from hypothesis import strategies as st

from proxy.wire import codes as c
from proxy.wire import messages as m

I16 = st.integers(-(2**15), 2**15 - 1)
I32 = st.integers(-(2**31), 2**31 - 1)
U32 = st.integers(0, 2**32 - 1)

# Protocol strings are NUL-terminated, so a NUL can never be encoded; lone
# surrogates are excluded because they are how the codec carries undecodable
# bytes (surrogateescape), which is a lossy mapping in the str -> bytes direction.
TEXT = st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)), max_size=16)
NONEMPTY_TEXT = TEXT.filter(bool)
VALUE = st.none() | st.binary(max_size=24)
SMALL = dict(max_size=5)


def _tuple(elem, **kw):
    return st.lists(elem, **(kw or SMALL)).map(tuple)


# ---------------------------------------------------------------- untyped startup

STARTUP_PARAMS = st.dictionaries(NONEMPTY_TEXT, TEXT, max_size=5)

STARTUP = {
    m.StartupMessage: st.builds(
        m.StartupMessage, STARTUP_PARAMS,
        st.integers(0, 0xFFFF).map(lambda minor: (3 << 16) | minor)),
    m.SSLRequest: st.just(m.SSLRequest()),
    m.GSSENCRequest: st.just(m.GSSENCRequest()),
    m.CancelRequest: st.builds(m.CancelRequest, I32, I32),
}

# ---------------------------------------------------------------- frontend


@st.composite
def _bind(draw):
    params = draw(_tuple(VALUE))
    # Zero formats (all text), one format (applies to all) or one per parameter.
    nformats = draw(st.sampled_from(sorted({0, 1, len(params)})))
    formats = tuple(draw(st.lists(I16, min_size=nformats, max_size=nformats)))
    return m.Bind(draw(TEXT), draw(TEXT), formats, params, draw(_tuple(I16)))


KIND = st.sampled_from([b"S", b"P"])

FRONTEND = {
    m.Query: st.builds(m.Query, TEXT),
    m.Parse: st.builds(m.Parse, TEXT, TEXT, _tuple(U32)),
    m.Bind: _bind(),
    m.Describe: st.builds(m.Describe, KIND, TEXT),
    m.Execute: st.builds(m.Execute, TEXT, I32),
    m.Close: st.builds(m.Close, KIND, TEXT),
    m.Sync: st.just(m.Sync()),
    m.Flush: st.just(m.Flush()),
    m.Terminate: st.just(m.Terminate()),
    m.CopyData: st.builds(m.CopyData, st.binary(max_size=64)),
    m.CopyDone: st.just(m.CopyDone()),
    m.CopyFail: st.builds(m.CopyFail, TEXT),
    m.FunctionCall: st.builds(m.FunctionCall, U32, _tuple(I16), _tuple(VALUE), I16),
    m.PasswordMessage: st.builds(m.PasswordMessage, st.binary(max_size=64)),
}

# ---------------------------------------------------------------- backend

FIELD = st.builds(m.Field, TEXT, U32, I16, U32, I16, I32, I16)
# ErrorResponse field codes are single bytes (S, V, C, M, ...; latin-1 in the
# dataclass); NUL ends the list.
ERROR_FIELDS = _tuple(st.tuples(
    st.characters(min_codepoint=1, max_codepoint=255), TEXT), max_size=6)

BACKEND = {
    m.Authentication: st.builds(m.Authentication, I32, st.binary(max_size=32)),
    m.ParameterStatus: st.builds(m.ParameterStatus, TEXT, TEXT),
    m.BackendKeyData: st.builds(m.BackendKeyData, I32, I32),
    m.ReadyForQuery: st.builds(m.ReadyForQuery, st.sampled_from([c.TX_IDLE, c.TX_IN_BLOCK,
                                                                 c.TX_FAILED])),
    m.RowDescription: st.builds(m.RowDescription, _tuple(FIELD)),
    m.DataRow: st.builds(m.DataRow, _tuple(VALUE, max_size=8)),
    m.CommandComplete: st.builds(m.CommandComplete, TEXT),
    m.EmptyQueryResponse: st.just(m.EmptyQueryResponse()),
    m.ErrorResponse: st.builds(m.ErrorResponse, ERROR_FIELDS),
    m.NoticeResponse: st.builds(m.NoticeResponse, ERROR_FIELDS),
    m.NotificationResponse: st.builds(m.NotificationResponse, I32, TEXT, TEXT),
    m.ParseComplete: st.just(m.ParseComplete()),
    m.BindComplete: st.just(m.BindComplete()),
    m.CloseComplete: st.just(m.CloseComplete()),
    m.NoData: st.just(m.NoData()),
    m.PortalSuspended: st.just(m.PortalSuspended()),
    m.ParameterDescription: st.builds(m.ParameterDescription, _tuple(U32)),
    m.CopyResponse: st.builds(
        m.CopyResponse,
        st.sampled_from([c.B_COPY_IN_RESPONSE, c.B_COPY_OUT_RESPONSE, c.B_COPY_BOTH_RESPONSE]),
        st.integers(0, 255), _tuple(I16)),
    m.BackendCopyData: st.builds(m.BackendCopyData, st.binary(max_size=64)),
    m.BackendCopyDone: st.just(m.BackendCopyDone()),
    m.FunctionCallResponse: st.builds(m.FunctionCallResponse, VALUE),
    m.NegotiateProtocolVersion: st.builds(m.NegotiateProtocolVersion, I32, _tuple(TEXT)),
}

any_startup = st.one_of(*STARTUP.values())
any_frontend = st.one_of(*FRONTEND.values())
any_backend = st.one_of(*BACKEND.values())

# Messages whose body ends with "the rest of the message": a shorter or longer
# body is a different valid message, not a malformed one.
REST_OF_BODY = (m.CopyData, m.PasswordMessage, m.BackendCopyData, m.Authentication)


def _message_classes():
    """Every dataclass in proxy.wire.messages that can encode itself."""
    return {obj for _, obj in inspect.getmembers(m, inspect.isclass)
            if obj.__module__ == m.__name__ and dataclasses.is_dataclass(obj)
            and hasattr(obj, "encode")}


def test_every_message_class_has_a_strategy():
    covered = set(STARTUP) | set(FRONTEND) | set(BACKEND)
    missing = _message_classes() - covered
    assert not missing, f"add strategies for {sorted(c.__name__ for c in missing)}"


def test_every_frontend_and_backend_type_byte_has_a_strategy():
    front = {cls.TYPE for cls in FRONTEND}
    back = {cls.TYPE for cls in BACKEND if cls is not m.CopyResponse} | {
        c.B_COPY_IN_RESPONSE, c.B_COPY_OUT_RESPONSE, c.B_COPY_BOTH_RESPONSE}
    assert front == set(m._FRONTEND)
    assert back == set(m._BACKEND)
