"""Configuration: one TOML file loaded once into a frozen dataclass tree.

Every key is documented in ``config.example.toml`` (a test checks that). Loading
validates everything in one pass and reports every problem together. Secrets may
come from the environment: any string value ``"env:NAME"`` is replaced by the
value of environment variable NAME; ``PGACCEL_ORIGIN_PASSWORD`` sets the origin
password when the DSN has none.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ServerConfig:
    # host:port the proxy listens on
    listen: str = "127.0.0.1:6432"
    # most client connections at once; more get 53300
    max_client_connections: int = 2000
    # largest protocol message accepted from a client, bytes
    max_message_size: int = 64 * 1024 * 1024
    # seconds a shutdown waits for running statements before closing sessions
    shutdown_timeout: float = 10.0
    # log level: debug, info, warning, error
    log_level: str = "info"
    # log format: text or json
    log_format: str = "text"
    # host:port of the Prometheus metrics endpoint; empty disables it
    metrics_listen: str = ""


@dataclass(frozen=True)
class TLSConfig:
    # disable | allow | require: whether clients may / must use TLS
    mode: str = "disable"
    # PEM certificate and key files
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class AuthConfig:
    # scram-sha-256 | md5 | trust | passthrough (the origin checks the client's own password)
    method: str = "passthrough"
    # user -> plaintext password (or "env:VAR"); used to check clients and to log in upstream
    users: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OriginConfig:
    # libpq-style URL or key=value DSN of the origin Postgres (used for mirror sync and defaults)
    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # seconds to wait for an origin connection
    connect_timeout: float = 5.0
    # idle upstream connections kept per (user, database) for reuse
    pool_size: int = 20
    # seconds an idle upstream connection is kept
    idle_timeout: float = 300.0


@dataclass(frozen=True)
class PlannerConfig:
    # how many routing decisions are memoised (by statement text and session settings)
    memo_size: int = 20000


@dataclass(frozen=True)
class MirrorConfig:
    # mirror origin tables into DuckDB and answer reads from it
    enabled: bool = False
    # DuckDB database file of the mirror
    path: str = "pgaccel-data/mirror.duckdb"
    # tables to mirror: "schema.table" names or globs such as "public.*"
    tables: list = field(default_factory=lambda: ["public.*"])
    # tables to leave out, same syntax
    exclude: list = field(default_factory=list)
    # logical: snapshot, then apply the origin's changes from a logical replication slot;
    # watermark: per-table polling by an append key / updated_at column / full re-copy (mirror.watermark);
    # snapshot: copy only (answers are fresh for max_staleness after each sync)
    mode: str = "logical"
    # take a snapshot when serve starts if the mirror file has none
    sync_on_start: bool = True
    # DuckDB worker threads
    threads: int = 2
    # DuckDB memory limit, e.g. "4GB"
    memory_limit: str = "4GB"
    # most staleness allowed (seconds) for mirror answers; -1: no limit (session: SET pgaccel.max_staleness)
    max_staleness: float = 5.0
    # logical replication slot pgaccel creates on the origin (mode logical; `pgaccel slot drop` removes it)
    slot: str = "pgaccel_mirror"
    # seconds between two polls of the slot (each applies the changes committed since the last one)
    poll_interval: float = 0.25
    # WAL bytes the slot may hold back on the origin before pgaccel logs a warning (0: never warn)
    max_retained_wal: int = 1 << 30
    # mode watermark: per table "schema.table" -> {kind = "append" | "updated_at" | "full", ...}
    # (see config.example.toml and mirror/watermark.py)
    watermark: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CacheConfig:
    # keep results of mirror-routed reads and serve identical requests from memory/disk
    enabled: bool = False
    # directory of the result cache (diskcache) and its table generations
    path: str = "pgaccel-data/cache"
    # most bytes the cache keeps on disk (least recently used entries are evicted)
    max_bytes: int = 1 << 30
    # a result larger than this (encoded wire bytes) is not cached
    max_entry_bytes: int = 8 << 20
    # bytes of the hottest entries kept in memory in front of the disk
    memory_bytes: int = 64 << 20
    # seconds an entry lives at most, whatever else happens (0: no limit)
    ttl: float = 300.0
    # one entry serves every role that may read its tables (checked once per session and table)
    share_across_roles: bool = False
    # statements cacheable despite volatile/unknown functions: fingerprints or regexes
    allowlist: list = field(default_factory=list)


SOURCE_KINDS = ("postgres", "mysql", "sqlite", "parquet", "csv")
SOURCE_MIRROR_MODES = ("live", "full", "append", "updated_at")


@dataclass(frozen=True)
class SourceConfig:
    """One ``[sources.NAME]`` table: a database or files joinable with the origin's tables."""
    # postgres | mysql | sqlite | parquet | csv
    kind: str = ""
    # postgres/mysql: URL or key=value DSN (secrets: "env:NAME")
    dsn: str = ""
    # sqlite: the database file
    path: str = ""
    # parquet/csv: table name -> file, glob or list of files
    files: dict = field(default_factory=dict)
    # postgres/mysql/sqlite: "schema.table" names or globs to expose (default: every table)
    tables: list = field(default_factory=list)
    # tables to leave out, same syntax
    exclude: list = field(default_factory=list)
    # live: every query reads the source; full: copied into the mirror every `every`;
    # append: like full, then only rows whose `watermark` column grew are copied
    mirror: str = "live"
    # how often a mirrored source is refreshed
    every: float = 300.0
    # mirror = "append"/"updated_at": table -> column that only grows ("id", "updated_at")
    watermark: dict = field(default_factory=dict)
    # mirror = "updated_at": table -> key column (or list) identifying a row
    keys: dict = field(default_factory=dict)
    # seconds to wait when connecting to the source
    connect_timeout: float = 5.0
    # roles (as current_user on the origin) that may read this source; empty: every role
    roles: list = field(default_factory=list)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    origin: OriginConfig = field(default_factory=OriginConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    mirror: MirrorConfig = field(default_factory=MirrorConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    # name -> SourceConfig ([sources.NAME] tables)
    sources: dict = field(default_factory=dict)

    def replace(self, section: str, **kw) -> "Config":
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **kw)})


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_DUR = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.I)


def parse_size(v) -> int:
    if isinstance(v, bool):
        raise ValueError(f"not a size: {v!r}")
    if isinstance(v, int):
        return v
    m = _SIZE.match(str(v))
    if not m:
        raise ValueError(f"not a size: {v!r}")
    n = float(m.group(1))
    unit = (m.group(2) or "").lower().rstrip("b").rstrip("i")
    return int(n * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])


def parse_duration(v) -> float:
    if isinstance(v, bool):
        raise ValueError(f"not a duration: {v!r}")
    if isinstance(v, (int, float)):
        return float(v)
    m = _DUR.match(str(v))
    if not m:
        raise ValueError(f"not a duration: {v!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[
        m.group(2).lower() if m.group(2) else None]


_CHOICES = {
    ("server", "log_level"): {"debug", "info", "warning", "error"},
    ("server", "log_format"): {"text", "json"},
    ("tls", "mode"): {"disable", "allow", "require"},
    ("auth", "method"): {"scram-sha-256", "md5", "trust", "passthrough"},
    ("mirror", "mode"): {"snapshot", "logical", "watermark"},
}
_SIZES = {("server", "max_message_size"), ("cache", "max_bytes"), ("cache", "max_entry_bytes"),
          ("cache", "memory_bytes"), ("mirror", "max_retained_wal")}
_DURATIONS = {("server", "shutdown_timeout"), ("origin", "connect_timeout"),
              ("origin", "idle_timeout"), ("mirror", "max_staleness"), ("cache", "ttl"),
              ("mirror", "poll_interval"), ("sources", "every"), ("sources", "connect_timeout")}
_SOURCE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _resolve_env(v, where: str, problems: list[str]):
    if isinstance(v, str) and v.startswith("env:"):
        name = v[4:]
        if name not in os.environ:
            problems.append(f"{where}: environment variable {name} is not set")
            return ""
        return os.environ[name]
    if isinstance(v, dict):
        return {k: _resolve_env(x, f"{where}.{k}", problems) for k, x in v.items()}
    return v


def _coerce(section: str, key: str, tp, v, problems: list[str]):
    where = f"{section}.{key}"
    try:
        if (section, key) in _SIZES:
            return parse_size(v)
        if (section, key) in _DURATIONS:
            return parse_duration(v)
    except ValueError as e:
        problems.append(f"{where}: {e}")
        return None
    origin = typing.get_origin(tp) or tp
    ok = {
        bool: lambda x: isinstance(x, bool),
        int: lambda x: isinstance(x, int) and not isinstance(x, bool),
        float: lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
        str: lambda x: isinstance(x, str),
        list: lambda x: isinstance(x, list),
        dict: lambda x: isinstance(x, dict),
    }[origin](v)
    if not ok:
        problems.append(f"{where}: expected {origin.__name__}, got {type(v).__name__} {v!r}")
        return None
    choices = _CHOICES.get((section, key))
    if choices and v not in choices:
        problems.append(f"{where}: {v!r} is not one of {', '.join(sorted(choices))}")
        return None
    return float(v) if origin is float else v


def from_dict(data: dict) -> Config:
    problems: list[str] = []
    sections = {}
    hints = typing.get_type_hints(Config)
    for name, sub in data.items():
        if name == "sources":
            sections["sources"] = _sources(sub, problems)
            continue
        if name not in hints:
            problems.append(f"unknown section [{name}]")
            continue
        if not isinstance(sub, dict):
            problems.append(f"[{name}] must be a table")
            continue
        sections[name] = _table_values(name, name, sub, typing.get_type_hints(hints[name]), problems)
    # cross-field checks run on what did load, so every problem is reported at once
    cfg = Config()
    for name, kw in sections.items():
        if name == "sources":
            cfg = dataclasses.replace(cfg, sources=kw)
        else:
            cfg = cfg.replace(name, **kw)
    problems.extend(validate(cfg))
    if problems:
        raise ConfigError(problems)
    return cfg


def _table_values(section: str, where: str, sub: dict, fields: dict, problems: list[str]) -> dict:
    """The checked, coerced values of one TOML table (problems appended, bad keys left out)."""
    kw = {}
    for key, v in sub.items():
        if key not in fields:
            problems.append(f"unknown key {where}.{key}")
            continue
        v = _resolve_env(v, f"{where}.{key}", problems)
        cv = _coerce(section, key, fields[key], v, problems)
        if cv is not None:
            kw[key] = cv
    return kw


def _sources(data, problems: list[str]) -> dict:
    if not isinstance(data, dict):
        problems.append("[sources] must hold tables [sources.NAME]")
        return {}
    fields = typing.get_type_hints(SourceConfig)
    out = {}
    for name, sub in data.items():
        where = f"sources.{name}"
        if not isinstance(sub, dict):
            problems.append(f"[{where}] must be a table")
            continue
        if not _SOURCE_NAME.match(name):
            problems.append(f"[{where}]: a source name is a lower-case SQL identifier (letters, digits, _)")
            continue
        sc = SourceConfig(**_table_values("sources", where, sub, fields, problems))
        if sc.kind not in SOURCE_KINDS:
            problems.append(f"{where}.kind: {sc.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
        elif sc.kind in ("postgres", "mysql") and not sc.dsn:
            problems.append(f"{where}.dsn: required for kind {sc.kind}")
        elif sc.kind == "sqlite" and not sc.path:
            problems.append(f"{where}.path: required for kind sqlite")
        elif sc.kind in ("parquet", "csv") and not sc.files:
            problems.append(f"{where}.files: required for kind {sc.kind} (table name -> file or glob)")
        if sc.mirror not in SOURCE_MIRROR_MODES:
            problems.append(f"{where}.mirror: {sc.mirror!r} is not one of {', '.join(SOURCE_MIRROR_MODES)}")
        if sc.mirror in ("append", "updated_at") and not sc.watermark:
            problems.append(f"{where}.watermark: mirror = \"{sc.mirror}\" needs table -> column")
        if sc.mirror == "updated_at" and not sc.keys:
            problems.append(f"{where}.keys: mirror = \"updated_at\" needs table -> key column(s)")
        if sc.every <= 0:
            problems.append(f"{where}.every: must be positive")
        out[name] = sc
    return out


def validate(cfg: Config) -> list[str]:
    problems = []
    try:
        split_hostport(cfg.server.listen)
    except ValueError as e:
        problems.append(f"server.listen: {e}")
    if cfg.server.metrics_listen:
        try:
            split_hostport(cfg.server.metrics_listen)
        except ValueError as e:
            problems.append(f"server.metrics_listen: {e}")
    if cfg.tls.mode != "disable":
        for k in ("cert", "key"):
            p = getattr(cfg.tls, k)
            if not p:
                problems.append(f"tls.{k}: required when tls.mode is {cfg.tls.mode}")
            elif not os.path.exists(p):
                problems.append(f"tls.{k}: file {p} does not exist")
    if cfg.auth.method in ("scram-sha-256", "md5") and not cfg.auth.users:
        problems.append(f"auth.users: auth.method {cfg.auth.method} needs at least one user")
    for item in cfg.cache.allowlist:
        if not isinstance(item, str):
            problems.append(f"cache.allowlist: expected strings, got {item!r}")
        else:
            try:
                re.compile(item)
            except re.error as e:
                problems.append(f"cache.allowlist: {item!r} is not a regular expression: {e}")
    if cfg.cache.max_entry_bytes > cfg.cache.max_bytes:
        problems.append("cache.max_entry_bytes: larger than cache.max_bytes")
    for k, v in cfg.auth.users.items():
        if not isinstance(v, str):
            problems.append(f"auth.users.{k}: expected a password string")
    return problems


def load(path: str | None, overrides: dict | None = None) -> Config:
    data: dict = {}
    if path:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError([f"config file {path} not found"])
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{path}: {e}"])
    for dotted, v in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        data.setdefault(section, {})[key] = v
    return from_dict(data)


def split_hostport(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {s!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
