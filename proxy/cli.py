"""Command line: ``pgaccel serve | sync | demo | cache | slot | --version``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from . import __version__
from .config import ConfigError, load

log = logging.getLogger("pgaccel")


def _config(args):
    overrides = {}
    if getattr(args, "listen", None):
        overrides["server.listen"] = args.listen
    if getattr(args, "origin", None):
        overrides["origin.dsn"] = args.origin
    return load(args.config, overrides)


def cmd_serve(args) -> int:
    from .observe import setup_logging
    from .server import install_uvloop, serve_main

    cfg = _config(args)
    setup_logging(cfg.server.log_level, cfg.server.log_format)
    install_uvloop()
    asyncio.run(serve_main(cfg))
    return 0


def cmd_sync(args) -> int:
    from mirror.sync import run_sync
    from .observe import setup_logging

    cfg = _config(args)
    setup_logging(cfg.server.log_level, cfg.server.log_format)
    m = cfg.mirror
    try:
        report = run_sync(cfg.origin.dsn, m.path, m.tables, m.exclude,
                          progress=lambda *a: print(*a, flush=True),
                          slot=m.slot if m.mode == "logical" else None,
                          threads=m.threads, memory_limit=m.memory_limit)
    except Exception as e:   # the origin is down or refuses us: say so, no traceback
        from mirror.sources import redact

        print(f"pgaccel sync: the origin snapshot failed: {redact(str(e).strip())}", file=sys.stderr)
        failed = True
    else:
        for line in report.lines():
            print(line)
        failed = report.failed
    mirrored = {n: sc for n, sc in cfg.sources.items() if sc.mirror != "live"}
    if mirrored:   # sources with mirror = full/append: copy them now too
        from mirror.engine import MirrorEngine
        from mirror.sources import Federation

        with MirrorEngine(m.path, threads=m.threads, memory_limit=m.memory_limit) as engine:
            fed = Federation(engine, mirrored)
            try:
                fed.start(background=False, force_refresh=True)
                for name, kind, state, mode, tables, _lag, error in fed.rows():
                    print(f"source {name} ({kind}, {mode}): {state}, {tables} tables copied"
                          + (f" - {error}" if error else ""))
                    failed = failed or state != "up"
            finally:
                fed.stop()
    return 1 if failed else 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


def cmd_cache_clear(args) -> int:
    """Empty the result cache on disk (run while pgaccel is stopped, or use it on a
    live one: entries vanish, generations move to a new epoch)."""
    from cache import ResultCache

    cfg = _config(args)
    c = cfg.cache
    rc = ResultCache(c.path, max_bytes=c.max_bytes, max_entry_bytes=c.max_entry_bytes,
                     memory_bytes=c.memory_bytes, ttl=c.ttl or None)
    try:
        n = rc.clear()
        rc.generations.new_epoch()
    finally:
        rc.close()
    print(f"cleared {n} cached results from {c.path}")
    return 0


def cmd_slot(args) -> int:
    """``pgaccel slot show|drop``: the logical replication slot pgaccel keeps on the origin."""
    import os

    import psycopg

    from mirror.freshness import drop_slot, slot_status

    cfg = _config(args)
    dsn = cfg.origin.dsn
    pw = os.environ.get("PGACCEL_ORIGIN_PASSWORD")
    kw = {"password": pw} if pw and not psycopg.conninfo.conninfo_to_dict(dsn).get("password") else {}
    name = cfg.mirror.slot
    try:
        if args.slot_cmd == "drop":
            if drop_slot(dsn, name, **kw):
                print(f"dropped replication slot {name}; the mirror's tables are re-snapshotted on the next start")
            else:
                print(f"no replication slot {name} on the origin")
            return 0
        st = slot_status(dsn, name, **kw)
        if st is None:
            print(f"no replication slot {name} on the origin")
            return 1
        for k, v in st.items():
            print(f"{k}: {v}")
        return 0
    except psycopg.Error as e:
        print(f"pgaccel: {e}".strip(), file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pgaccel", description="PostgreSQL query-acceleration proxy")
    p.add_argument("--version", action="version", version=f"pgaccel {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve clients in front of the origin")
    s.add_argument("--config", help="TOML configuration file (see config.example.toml)")
    s.add_argument("--listen", help="HOST:PORT to listen on (overrides server.listen)")
    s.add_argument("--origin", help="origin DSN (overrides origin.dsn)")
    s.set_defaults(fn=cmd_serve)
    y = sub.add_parser("sync", help="snapshot the configured origin tables into the mirror now")
    y.add_argument("--config", required=True)
    y.add_argument("--origin", help="origin DSN (overrides origin.dsn)")
    y.set_defaults(fn=cmd_sync)
    d = sub.add_parser("demo", help="throwaway Postgres with TPC-H data, mirrored, served by pgaccel")
    d.add_argument("--port", type=int, default=6432, help="port pgaccel listens on (0: any free port)")
    d.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor of the sample data")
    d.add_argument("--once", action="store_true", help="print the comparison and exit (no serving)")
    d.set_defaults(fn=cmd_demo)
    k = sub.add_parser("cache", help="manage the result cache")
    ksub = k.add_subparsers(dest="cache_cmd", required=True)
    kc = ksub.add_parser("clear", help="remove every cached result ([cache] path of the config)")
    kc.add_argument("--config", required=True)
    kc.set_defaults(fn=cmd_cache_clear)
    r = sub.add_parser("slot", help="the logical replication slot pgaccel created on the origin ([mirror] slot)")
    rsub = r.add_subparsers(dest="slot_cmd", required=True)
    for name, help_ in (("show", "print the slot's state and the WAL it holds back"),
                        ("drop", "drop the slot (the origin stops keeping WAL for pgaccel)")):
        rc = rsub.add_parser(name, help=help_)
        rc.add_argument("--config", required=True)
        rc.add_argument("--origin", help="origin DSN (overrides origin.dsn)")
        rc.set_defaults(fn=cmd_slot)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"pgaccel: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
