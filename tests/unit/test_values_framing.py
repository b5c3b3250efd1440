"""DataRow framing: small results are framed in Python, larger ones with Arrow kernels;
both must give the same bytes for every type and NULL pattern."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pyarrow as pa
import pytest

from proxy.wire import values as V
from proxy.wire.values import OutputSettings, column_encoder, encode_data_rows

COLUMNS = [
    (23, pa.int32(), lambda r: r.randint(-2**31, 2**31 - 1)),
    (20, pa.int64(), lambda r: r.randint(-2**63, 2**63 - 1)),
    (21, pa.int16(), lambda r: r.randint(-2**15, 2**15 - 1)),
    (701, pa.float64(), lambda r: r.uniform(-1e9, 1e9)),
    (1700, pa.decimal128(12, 3), lambda r: Decimal(r.randint(-10**11, 10**11)).scaleb(-3)),
    (25, pa.string(), lambda r: "".join(r.choice("aé€ x'\"\\") for _ in range(r.randint(0, 12)))),
    (16, pa.bool_(), lambda r: r.random() < 0.5),
    (1082, pa.date32(), lambda r: dt.date(1970, 1, 1) + dt.timedelta(days=r.randint(-20000, 20000))),
    (1114, pa.timestamp("us"), lambda r: dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=r.randint(0, 10**15))),
    (17, pa.binary(), lambda r: bytes(r.randint(0, 255) for _ in range(r.randint(0, 6)))),
]


@pytest.mark.parametrize("fmt", [0, 1])
@pytest.mark.parametrize("rows", [1, 3, 64, 65, 200])
def test_small_and_vectorised_framing_give_the_same_bytes(fmt, rows, monkeypatch):
    r = random.Random(rows * 10 + fmt)
    arrays, encoders = [], []
    for oid, typ, gen in COLUMNS:
        arrays.append(pa.array([None if r.random() < 0.2 else gen(r) for _ in range(rows)], typ))
        encoders.append(column_encoder(oid, -1, fmt, typ, OutputSettings()))
    assert all(e is not None for e in encoders)
    batch = pa.record_batch(arrays, names=[f"c{i}" for i in range(len(arrays))])
    monkeypatch.setattr(V, "SMALL_ROWS", 10**9)
    small = encode_data_rows(batch, encoders)
    monkeypatch.setattr(V, "SMALL_ROWS", -1)
    vectorised = encode_data_rows(batch, encoders)
    assert small == vectorised
    assert small.count(b"D") >= rows
