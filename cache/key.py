"""Cache keys: everything a result depends on, as one explicit frozen type.

Normalisation is token-based, not an AST round trip
----------------------------------------------------
The fingerprint of a statement is its canonical token stream from sqlglot's Postgres
tokenizer: comments and whitespace are dropped, unquoted words (keywords and
identifiers, which Postgres folds to lower case) are lower-cased, and every quoted
token (string literals of every kind, quoted identifiers, ``$n`` placeholders) is
kept byte for byte. Literals are never replaced: a different literal is a different
query, and ``GROUP BY 1`` stays ``group by 1``.

Why not ``sqlglot.transpile(sql, read="postgres", write="postgres")``: the AST
round trip merges statements that Postgres answers differently. ``date_part('year',
x)`` (float8) and ``extract(year from x)`` (numeric) both come out as ``EXTRACT(YEAR
FROM x)``; ``substr`` and ``substring`` (different column names) both become
``SUBSTRING``; ``strpos`` becomes ``POSITION``. A cache keyed on that would return
the bytes of one for the other. Two statements with the same token stream are the
same statement to Postgres; that is the only equivalence the cache may use.

One more care: two operator characters that touch in the source stay glued in the
canonical text (``x@-1`` is not ``x @ -1`` to Postgres), other tokens are joined by
one space.

Normalisation is memoised by exact statement text (``functools.lru_cache``: a hit
is a C dict lookup, well under a microsecond); a miss tokenises (~15-40 µs).

Cacheability
------------
``is_cacheable`` admits only a single statement that starts like a read (SELECT,
WITH, VALUES, TABLE, parenthesis), has no write keyword anywhere (a data-modifying
CTE, SELECT INTO), no locking clause, and calls only functions known to be
immutable or stable builtins. Volatile or time-dependent functions (random(),
now(), sequences, txid_*/pg_* admin functions, set_config/current_setting...) and
unknown functions (user-defined ones may be volatile) refuse, unless the statement
is on the configured allowlist (fingerprints or regexes over the canonical text).

A time bucket is allowed: ``date_trunc('<unit>', now())`` (or current_timestamp,
localtimestamp, transaction_timestamp(), statement_timestamp(), clock_timestamp())
and bare ``current_date`` are constant until the next boundary of that unit in the
session's TimeZone, so they are cacheable with ``expires_at`` set to that
boundary. Anything done to now() before truncating (``now() - interval '1 hour'``)
shifts the boundary and refuses.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Sequence

import sqlglot
from sqlglot.tokens import TokenType

_DIALECT = sqlglot.Dialect.get_or_raise("postgres")

NORMALISE_MEMO_SIZE = 8192

# Session settings that change the bytes of a result (ParameterStatus names and SET
# names are case-insensitive in Postgres; we key on the lower-case name).
RESULT_SETTINGS: tuple[str, ...] = (
    "search_path", "timezone", "datestyle", "intervalstyle", "extra_float_digits",
    "bytea_output", "standard_conforming_strings", "client_encoding",
    "lc_monetary", "lc_numeric", "lc_time", "row_security",
)

_READ_START = frozenset({"select", "with", "values", "table", "("})
_WRITE_WORDS = frozenset({
    "insert", "update", "delete", "merge", "truncate", "into", "create", "drop", "alter",
    "copy", "grant", "revoke", "lock", "call", "do", "notify", "listen", "vacuum", "analyze",
})
_LOCK_WORDS = frozenset({"share", "update", "no", "key"})

# Volatile, time-dependent or dependent on state outside the key.
VOLATILE_FUNCTIONS = frozenset({
    "random", "setseed", "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp",
    "timeofday", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
    "age", "nextval", "currval", "setval", "lastval", "set_config", "current_setting",
    "inet_client_addr", "inet_server_addr", "inet_client_port", "inet_server_port",
    "dblink", "lo_import", "lo_export", "query_to_xml", "table_to_xml", "to_regclass",
    "to_regtype", "to_regproc", "version", "random_normal",
})
VOLATILE_PREFIXES = ("pg_", "txid_", "lo_", "dblink", "uuid_generate")
# Paren-less SQL-standard functions that read the clock.
CLOCK_WORDS = frozenset({"current_timestamp", "current_time", "localtime", "localtimestamp", "current_date"})
# Depend on the role: fine per role (the role is in the key), never shared across roles.
ROLE_WORDS = frozenset({"current_user", "session_user", "user", "current_role", "has_table_privilege",
                        "has_column_privilege", "has_schema_privilege", "has_database_privilege",
                        "has_function_privilege", "pg_has_role", "row_security_active"})
# Depend on search_path/database (both in the key): fine.
SESSION_WORDS = frozenset({"current_schema", "current_schemas", "current_database", "current_catalog"})

# Builtins known to be immutable or stable (stable ones read settings that are in the key).
SAFE_FUNCTIONS = frozenset("""
count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp string_agg array_agg
bool_and bool_or every bit_and bit_or bit_xor json_agg jsonb_agg json_object_agg jsonb_object_agg
percentile_cont percentile_disc mode corr covar_pop covar_samp regr_avgx regr_avgy regr_count
regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy any_value range_agg xmlagg
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
abs ceil ceiling floor round trunc sqrt cbrt power pow exp ln log log10 mod sign div greatest least
width_bucket pi degrees radians sin cos tan cot asin acos atan atan2 sinh cosh tanh gcd lcm factorial
scale min_scale trim_scale erf erfc
lower upper initcap length char_length character_length octet_length bit_length concat concat_ws
substr substring left right lpad rpad ltrim rtrim btrim trim replace reverse repeat split_part strpos
position starts_with md5 sha224 sha256 sha384 sha512 encode decode format to_char to_number to_date
to_timestamp regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table
regexp_like regexp_count regexp_instr regexp_substr translate ascii chr quote_ident quote_literal
quote_nullable string_to_array string_to_table array_to_string overlay unistr normalize casefold
date_trunc date_part extract make_date make_time make_timestamp make_timestamptz make_interval
justify_days justify_hours justify_interval date_bin isfinite timezone
json_build_object jsonb_build_object json_build_array jsonb_build_array json_extract_path
json_extract_path_text jsonb_extract_path jsonb_extract_path_text jsonb_array_length
json_array_length jsonb_typeof json_typeof to_json to_jsonb row_to_json array_to_json
jsonb_array_elements json_array_elements jsonb_array_elements_text json_array_elements_text
jsonb_each json_each jsonb_each_text json_each_text jsonb_object_keys json_object_keys jsonb_pretty
jsonb_set jsonb_insert jsonb_strip_nulls json_strip_nulls jsonb_path_query jsonb_path_exists
jsonb_path_query_first jsonb_path_query_array jsonb_path_match json_object jsonb_object
array_length cardinality unnest array_position array_positions array_remove array_replace
array_append array_prepend array_cat array_upper array_lower array_dims array_ndims
generate_series generate_subscripts
coalesce nullif num_nonnulls num_nulls
int2 int4 int8 float4 float8 numeric text varchar date timestamp timestamptz interval bool
boolean bigint integer smallint real time timetz money bytea jsonb json uuid
host hostmask masklen netmask network broadcast family abbrev set_masklen inet_same_family
lower_inc upper_inc lower_inf upper_inf isempty range_merge
""".split())

_OPERATOR_CHARS = frozenset("+-*/<>=~!@#%^&|`?")
_CLOCK_FUNCS = frozenset({"now", "transaction_timestamp", "statement_timestamp", "clock_timestamp"})
_TRUNC_UNITS = ("microseconds", "milliseconds", "second", "minute", "hour", "day", "week",
                "month", "quarter", "year", "decade", "century", "millennium")


@dataclass(frozen=True, slots=True)
class Statement:
    """What the cache needs to know about one statement text (memoised by text)."""

    canonical: str                 # canonical token text ("" when the text did not tokenise)
    fingerprint: str               # 16 hex digits of blake2b(canonical)
    error: str | None = None       # why it could not be tokenised
    read_like: bool = False        # a single statement that starts like a read
    refusal: tuple[str, str] | None = None   # (reason, detail) for the first problem found
    time_buckets: tuple[str, ...] = ()       # units of date_trunc(unit, now()) / 'day' for current_date
    role_dependent: bool = False   # mentions current_user & co: never shared across roles


def _fingerprint(canonical: str) -> str:
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def _word(tok) -> str:
    return tok.text.lower()


def _quoted(span: str) -> bool:
    return "'" in span or '"' in span or "$" in span


@functools.lru_cache(maxsize=NORMALISE_MEMO_SIZE)
def analyse(sql: str) -> Statement:
    """Tokenise ``sql`` once: canonical text, fingerprint and cacheability facts."""
    try:
        tokens = _DIALECT.tokenize(sql)
    except Exception as e:  # sqlglot TokenError and friends
        return Statement("", "", error=f"{type(e).__name__}: {e}"[:200], refusal=("parse_failed", str(e)[:200]))
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens = tokens[:-1]
    parts: list[str] = []
    words: list[str] = []
    prev_end = -2
    prev_op = False
    for tok in tokens:
        span = sql[tok.start:tok.end + 1]
        if _quoted(span):
            text = span
            words.append("")
        else:
            text = " ".join(tok.text.lower().split())
            words.append(text)
        op = bool(text) and all(c in _OPERATOR_CHARS for c in text)
        glued = tok.start == prev_end + 1 and ((op and prev_op) or parts[-1:] == ["$"])
        if parts and not glued:
            parts.append(" ")
        parts.append(text)
        prev_end, prev_op = tok.end, op
    canonical = "".join(parts)
    fp = _fingerprint(canonical)
    if not tokens:
        return Statement(canonical, fp, refusal=("not_a_read", "empty statement"))
    if any(t.token_type == TokenType.SEMICOLON for t in tokens):
        return Statement(canonical, fp, refusal=("multiple_statements", "more than one statement"))
    if words[0] not in _READ_START:
        return Statement(canonical, fp, refusal=("not_a_read", f"starts with {words[0] or 'a literal'}"))
    return _classify(canonical, fp, tokens, words)


def _classify(canonical: str, fp: str, tokens, words: list[str]) -> Statement:
    refusal: tuple[str, str] | None = None
    buckets: list[str] = []
    role_dep = False
    n = len(tokens)
    i = 0
    while i < n:
        w = words[i]
        nxt = words[i + 1] if i + 1 < n else None
        call = nxt == "("
        if w in _WRITE_WORDS:
            return Statement(canonical, fp, read_like=True, refusal=("write_statement", f"contains {w.upper()}"))
        if w == "for" and nxt in _LOCK_WORDS:
            return Statement(canonical, fp, read_like=True, refusal=("locking_clause", f"FOR {nxt.upper()}"))
        if w in ROLE_WORDS:
            role_dep = True
        elif w == "date_trunc" and call:
            unit, end = _time_bucket(tokens, words, i)
            if unit is not None:
                buckets.append(unit)
                i = end + 1
                continue
        elif w == "current_date":
            buckets.append("day")
        elif w in CLOCK_WORDS or (call and w in VOLATILE_FUNCTIONS) or (call and w.startswith(VOLATILE_PREFIXES)):
            refusal = refusal or ("volatile_function", f"{w}() is volatile or time-dependent")
        elif call and tokens[i].token_type == TokenType.VAR and w not in SAFE_FUNCTIONS \
                and w not in SESSION_WORDS and not _is_alias_columns(words, i):
            refusal = refusal or ("unknown_function", f"{w}() is not a known immutable/stable builtin")
        i += 1
    return Statement(canonical, fp, read_like=True, refusal=refusal, time_buckets=tuple(buckets),
                     role_dependent=role_dep)


def _time_bucket(tokens, words: list[str], i: int) -> tuple[str | None, int]:
    """``date_trunc ( 'unit' , <clock> [( )] )`` starting at i -> (unit, index of its ')')."""
    w = words
    n = len(tokens)
    if i + 5 >= n or tokens[i + 2].token_type != TokenType.STRING or w[i + 3] != ",":
        return None, i
    unit = tokens[i + 2].text.lower()
    unit = {"microsecond": "microseconds", "millisecond": "milliseconds", "seconds": "second",
            "minutes": "minute", "hours": "hour", "days": "day", "weeks": "week", "months": "month",
            "years": "year"}.get(unit, unit)
    if unit not in _TRUNC_UNITS:
        return None, i
    j = i + 4
    if w[j] in _CLOCK_FUNCS and j + 2 < n and w[j + 1] == "(" and w[j + 2] == ")":
        j += 3
    elif w[j] in ("current_timestamp", "localtimestamp"):
        j += 1
    else:
        return None, i
    if j < n and w[j] == ")":
        return unit, j
    return None, i


def _is_alias_columns(words: list[str], i: int) -> bool:
    """``AS x(a, b)`` (alias column list) or ``WITH x(a, b) AS (`` (CTE column list)."""
    if i > 0 and words[i - 1] == "as":
        return True
    depth, j = 0, i + 1
    while j < len(words):
        if words[j] == "(":
            depth += 1
        elif words[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1 < len(words) and words[j + 1] == "as"
        j += 1
    return False


def normalise(sql: str) -> str:
    """The canonical text of ``sql`` (memoised by exact text). Raises ValueError if it does not tokenise."""
    st = analyse(sql)
    if st.error:
        raise ValueError(st.error)
    return st.canonical


def next_boundary(unit: str, now: float, timezone: str | None) -> float | None:
    """Epoch seconds of the next ``date_trunc(unit, ...)`` boundary after ``now`` in ``timezone``.

    None when the zone is unknown to zoneinfo (then the caller must not cache)."""
    from zoneinfo import ZoneInfo
    try:
        tz = ZoneInfo(timezone or "UTC")
    except Exception:
        return None
    t = datetime.fromtimestamp(now, tz)
    if unit in ("microseconds", "milliseconds", "second"):
        return float(int(now) + 1) if unit == "second" else now  # effectively uncacheable
    if unit == "minute":
        return (int(now) // 60 + 1) * 60.0
    if unit == "hour":  # zones with non-hour offsets exist: compute locally
        start = t.replace(minute=0, second=0, microsecond=0)
        return (start + timedelta(hours=1)).timestamp()
    start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        nxt = start + timedelta(days=1)
    elif unit == "week":
        nxt = start + timedelta(days=7 - start.weekday())
    else:
        months = {"month": 1, "quarter": 3, "year": 12, "decade": 120, "century": 1200, "millennium": 12000}[unit]
        m0 = (start.year * 12 + start.month - 1)
        m1 = (m0 // months + 1) * months
        nxt = start.replace(year=m1 // 12, month=m1 % 12 + 1, day=1)
    # wall-clock arithmetic across a DST change: re-localise the naive boundary
    nxt = nxt.replace(tzinfo=None).replace(tzinfo=tz)
    return nxt.timestamp()


@dataclass(frozen=True)
class Allowlist:
    """Statements the operator declares cacheable despite volatility: fingerprints
    (as shown by ``SHOW pgaccel.cache``) or regexes searched in the canonical text.
    An allowlisted statement must still be a read without locking clauses."""

    fingerprints: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern, ...] = ()

    @classmethod
    def from_config(cls, items: Iterable[str]) -> "Allowlist":
        fps, pats = set(), []
        for item in items:
            if re.fullmatch(r"[0-9a-f]{16}", item):
                fps.add(item)
            else:
                pats.append(re.compile(item, re.I | re.S))
        return cls(frozenset(fps), tuple(pats))

    def allows(self, st: Statement) -> bool:
        return st.fingerprint in self.fingerprints or any(p.search(st.canonical) for p in self.patterns)


NO_ALLOWLIST = Allowlist()


@dataclass(frozen=True, slots=True)
class Cacheability:
    ok: bool
    reason: str              # stable snake_case: cacheable, allowlisted, volatile_function, ...
    detail: str = ""
    expires_at: float | None = None   # a time bucket ends here (epoch seconds)


def is_cacheable(sql: str | Statement, *, allowlist: Allowlist = NO_ALLOWLIST,
                 timezone: str | None = None, now: float | None = None) -> Cacheability:
    """May the result of ``sql`` be stored and served again? (pure; ~1 µs on a memo hit)."""
    st = analyse(sql) if isinstance(sql, str) else sql
    if st.refusal is not None:
        reason, detail = st.refusal
        if reason in ("volatile_function", "unknown_function") and allowlist.allows(st):
            return Cacheability(True, "allowlisted", detail)
        return Cacheability(False, reason, detail)
    if st.time_buckets:
        import time as _time
        t = _time.time() if now is None else now
        ends = [next_boundary(u, t, timezone) for u in st.time_buckets]
        if any(e is None or e <= t + 0.001 for e in ends):
            if allowlist.allows(st):
                return Cacheability(True, "allowlisted", "time bucket")
            return Cacheability(False, "volatile_function", f"time bucket in unknown zone {timezone!r} or too fine")
        return Cacheability(True, "cacheable", "time bucket", expires_at=min(ends))
    return Cacheability(True, "cacheable")


# ---------------------------------------------------------------------------
# The key
# ---------------------------------------------------------------------------

def _per_param(formats: Sequence[int], n: int) -> tuple[int, ...]:
    """Bind semantics: no codes = all text; one code = applies to all; else one each."""
    if not formats:
        return (0,) * n
    if len(formats) == 1:
        return (int(formats[0]),) * n
    return tuple(int(f) for f in formats)


def _result_formats(formats: Sequence[int]) -> tuple[int, ...]:
    """Collapse equivalent spellings: () and (0,) and (0, 0, 0) are all 'text everywhere'."""
    if not formats:
        return (0,)
    if all(f == formats[0] for f in formats):
        return (int(formats[0]),)
    return tuple(int(f) for f in formats)


SHARED_ROLE = "*"

_U32 = struct.Struct("<I")


def _lp(b: bytes) -> bytes:
    return _U32.pack(len(b)) + b


@dataclass(frozen=True, slots=True)
class KeyScope:
    """The session part of a key: role, database and the settings that change
    results. Build it once per session and again whenever a ParameterStatus / SET
    changes one of RESULT_SETTINGS (``KeyScope.for_session``); then ``scope.key(...)``
    per statement costs a few µs."""

    role: str
    database: str
    settings: tuple[tuple[str, str], ...]
    share_across_roles: bool = False
    encoded: bytes = field(default=b"", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.encoded:
            parts = [_lp(self.database.encode()), _U32.pack(len(self.settings))]
            for name, value in self.settings:
                parts += (_lp(name.encode()), _lp(value.encode()))
            object.__setattr__(self, "encoded", b"".join(parts))

    @classmethod
    def for_session(cls, role: str, database: str, settings: Mapping[str, str] | None = None,
                    share_across_roles: bool = False) -> "KeyScope":
        kept = sorted((n.lower(), str(v)) for n, v in (settings or {}).items() if n.lower() in RESULT_SETTINGS)
        return cls(role, database, tuple(kept), share_across_roles)

    def key(self, sql: str | Statement, params: Sequence[bytes | None] = (), param_formats: Sequence[int] = (),
            param_types: Sequence[int] = (), result_formats: Sequence[int] = ()) -> "CacheKey":
        st = analyse(sql) if isinstance(sql, str) else sql
        if st.error:
            raise ValueError(st.error)
        n = len(params)
        return CacheKey(
            fingerprint=st.fingerprint,
            params=tuple(params) if all(p is None or type(p) is bytes for p in params)
            else tuple(None if p is None else bytes(p) for p in params),
            param_formats=_per_param(param_formats, n) if param_formats or n else (),
            param_types=tuple(param_types),
            result_formats=_result_formats(result_formats),
            role=SHARED_ROLE if (self.share_across_roles and not st.role_dependent) else self.role,
            database=self.database,
            settings=self.settings,
            scope_encoded=self.encoded,
        )


@dataclass(frozen=True, slots=True, eq=False)
class CacheKey:
    """Everything a result depends on except the versions of the tables it read
    (those live in the entry and are compared at lookup: see generations.py).

    Build with :meth:`KeyScope.key` (per session scope) or :meth:`CacheKey.build`;
    ``digest`` (16 bytes) is the storage key and the identity (equality and hash use it)."""

    fingerprint: str                          # blake2b of the canonical statement text
    params: tuple[bytes | None, ...]          # bound parameter values as sent (None = NULL)
    param_formats: tuple[int, ...]            # one per parameter (0 text, 1 binary)
    param_types: tuple[int, ...]              # parameter type OIDs from Parse (0 = unspecified)
    result_formats: tuple[int, ...]           # collapsed (see _result_formats)
    role: str                                 # current_user, or SHARED_ROLE when shared
    database: str
    settings: tuple[tuple[str, str], ...]     # RESULT_SETTINGS present in the session, sorted
    digest: bytes = field(default=b"", compare=False)
    scope_encoded: bytes = field(default=b"", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", self._compute_digest())

    def _compute_digest(self) -> bytes:
        scope = self.scope_encoded or KeyScope(self.role, self.database, self.settings).encoded
        parts = [_lp(self.fingerprint.encode()), _lp(self.role.encode()), scope, _U32.pack(len(self.params))]
        for p in self.params:
            parts.append(b"\xff\xff\xff\xff" if p is None else _lp(p))
        for seq in (self.param_formats, self.param_types, self.result_formats):
            parts.append(_lp(struct.pack(f"<{len(seq)}q", *seq)))
        return hashlib.blake2b(b"".join(parts), digest_size=16, person=b"pgaccel-key-v1").digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    @property
    def hex(self) -> str:
        return self.digest.hex()

    @property
    def scope(self) -> KeyScope:
        return KeyScope(self.role, self.database, self.settings)

    @classmethod
    def build(cls, sql: str | Statement, *, role: str, database: str,
              settings: Mapping[str, str] | None = None,
              params: Sequence[bytes | None] = (), param_formats: Sequence[int] = (),
              param_types: Sequence[int] = (), result_formats: Sequence[int] = (),
              share_across_roles: bool = False) -> "CacheKey":
        """``settings``: the session's parameter values (any case of name; only
        RESULT_SETTINGS are kept). ``share_across_roles``: drop the role from the key
        unless the statement depends on the role; the caller must then check the
        role may read every table of a hit (``entry.tables``) before serving it."""
        return KeyScope.for_session(role, database, settings, share_across_roles).key(
            sql, params, param_formats, param_types, result_formats)
