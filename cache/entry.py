"""A stored result and its versioned byte format.

The payload is opaque here: the encoded wire result the proxy sends back for a hit
(RowDescription + DataRow... + CommandComplete frames, no ReadyForQuery). The rest
is what decides whether it may be served and what is needed to compute it again.

On disk an entry is ``MAGIC | u32 meta_len | u64 payload_len | meta (JSON) |
payload``; anything that does not decode exactly (garbage, a truncated value, an
old format) raises ``CorruptEntry`` and the store drops it.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field

from .key import CacheKey

MAGIC = b"PGAC\x01"
_HEAD = struct.Struct("<IQ")

Table = tuple[str, str]


class CorruptEntry(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Entry:
    payload: bytes                       # wire frames, sent as is on a hit
    tables: dict[Table, int]             # generation of each table read, snapshotted before the query ran
    created_at: float                    # when it was stored (wall clock)
    rows: int
    fingerprint: str
    sql_preview: str                     # first 200 characters of the statement, for SHOW pgaccel.cache
    valid_as_of: float = 0.0             # the origin state it reflects (see generations.py); 0 = created_at
    expires_at: float | None = None      # TTL / end of a time bucket (wall clock)
    epoch: int = 0                       # generations epoch it was stored in
    sql: str = ""                        # full statement text, to compute it again (prewarm, refresh)
    key: CacheKey | None = field(default=None, compare=False)   # everything else needed to recompute

    @property
    def nbytes(self) -> int:
        return len(self.payload) + len(self.sql) + 200

    def as_of(self) -> float:
        return self.valid_as_of or self.created_at


def _b(x: bytes | None) -> str | None:
    return None if x is None else base64.b64encode(x).decode()


def _unb(x: str | None) -> bytes | None:
    return None if x is None else base64.b64decode(x)


def encode(entry: Entry) -> bytes:
    k = entry.key
    meta = {
        "t": [[s, t, g] for (s, t), g in entry.tables.items()],
        "c": entry.created_at, "r": entry.rows, "f": entry.fingerprint, "p": entry.sql_preview,
        "v": entry.valid_as_of, "x": entry.expires_at, "e": entry.epoch, "q": entry.sql,
        "k": None if k is None else {
            "f": k.fingerprint, "p": [_b(p) for p in k.params], "pf": list(k.param_formats),
            "pt": list(k.param_types), "rf": list(k.result_formats), "r": k.role, "d": k.database,
            "s": [list(kv) for kv in k.settings], "h": k.hex,
        },
    }
    m = json.dumps(meta, separators=(",", ":")).encode()
    return b"".join((MAGIC, _HEAD.pack(len(m), len(entry.payload)), m, entry.payload))


def decode(blob: object) -> Entry:
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise CorruptEntry(f"not bytes: {type(blob).__name__}")
    blob = bytes(blob)
    n = len(MAGIC)
    if blob[:n] != MAGIC or len(blob) < n + _HEAD.size:
        raise CorruptEntry("bad magic")
    mlen, plen = _HEAD.unpack_from(blob, n)
    start = n + _HEAD.size
    if len(blob) != start + mlen + plen:
        raise CorruptEntry("truncated")
    try:
        meta = json.loads(blob[start:start + mlen])
        km = meta["k"]
        key = None
        if km is not None:
            key = CacheKey(fingerprint=km["f"], params=tuple(_unb(p) for p in km["p"]),
                           param_formats=tuple(km["pf"]), param_types=tuple(km["pt"]),
                           result_formats=tuple(km["rf"]), role=km["r"], database=km["d"],
                           settings=tuple((a, b) for a, b in km["s"]))
            if key.hex != km["h"]:
                raise CorruptEntry("key does not match its digest")
        return Entry(
            payload=blob[start + mlen:],
            tables={(s, t): int(g) for s, t, g in meta["t"]},
            created_at=float(meta["c"]), rows=int(meta["r"]), fingerprint=meta["f"],
            sql_preview=meta["p"], valid_as_of=float(meta["v"]),
            expires_at=None if meta["x"] is None else float(meta["x"]),
            epoch=int(meta["e"]), sql=meta["q"], key=key,
        )
    except CorruptEntry:
        raise
    except Exception as e:
        raise CorruptEntry(f"bad metadata: {type(e).__name__}: {e}") from None
