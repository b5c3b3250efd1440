"""Pass-through overhead: pgbench -S straight to Postgres, through PgBouncer, through pgaccel.

One run starts a throwaway Postgres, loads pgbench data, starts PgBouncer
(session pooling, SCRAM) and ``pgaccel serve`` (auth pass-through) on free
loopback ports, runs ``pgbench -S -n -T <seconds> -M <mode> -c <n> -j min(n,2)``
against each target for every mode and client count (targets interleaved so
machine noise hits them alike), prints a markdown table, and stops everything.

    .venv/bin/python bench/passthrough.py [--seconds 10] [--clients 1,8]
        [--modes simple,extended,prepared] [--only direct,pgbouncer,pgaccel]

A target that fails to start or to run is reported as FAILED with its error;
the other rows are still measured. Compare ratios from one run, not absolute
numbers across machines (see /work/shared/MEASUREMENTS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (BenchResult, Stack, markdown_table, pgbench_init, pgbench_run,  # noqa: E402
                     print_header)

TARGETS = ("direct", "pgbouncer", "pgaccel")
MODES = ("simple", "extended", "prepared")


def _csv(choices=None, conv=str):
    def parse(text: str):
        items = [conv(x.strip()) for x in text.split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError("empty list")
        bad = [x for x in items if choices and x not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad} not in {list(choices)}")
        return items
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=10, help="pgbench -T per run (default 10)")
    p.add_argument("--clients", type=_csv(conv=int), default=[1, 8],
                   help="comma-separated client counts (default 1,8)")
    p.add_argument("--modes", type=_csv(MODES), default=list(MODES),
                   help="comma-separated pgbench -M modes (default simple,extended,prepared)")
    p.add_argument("--only", type=_csv(TARGETS), default=list(TARGETS),
                   help="comma-separated targets to measure (default direct,pgbouncer,pgaccel)")
    p.add_argument("--scale", type=int, default=10, help="pgbench -i -s (default 10)")
    args = p.parse_args(argv)
    if any(n < 1 for n in args.clients):
        p.error("--clients must be positive")
    return args


def _fmt_tps(r: BenchResult | None) -> str:
    if r is None:
        return "–"
    return f"{r.tps:,.0f}" if r.ok else "FAILED"


def _fmt_lat(r: BenchResult | None) -> str:
    if r is None:
        return "–"
    return f"{r.latency_ms:.3f}" if r.ok and r.latency_ms is not None else "FAILED"


def _ratio(a: BenchResult | None, b: BenchResult | None) -> str:
    if a is None or b is None or not (a.ok and b.ok) or not b.tps:
        return "–"
    return f"{a.tps / b.tps:.2f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    print_header("pgaccel pass-through benchmark")
    started = time.monotonic()
    ports: dict[str, int] = {}
    start_errors: dict[str, str] = {}
    results: dict[tuple[str, int, str], BenchResult] = {}
    errors: list[str] = []
    interrupted = False
    with Stack() as stack:
        try:
            pg = stack.start_postgres()
            print(f"postgres: 127.0.0.1:{pg.port}", flush=True)
            took = pgbench_init(pg.port, args.scale)
            print(f"pgbench -i -s {args.scale}: {took:.1f} s", flush=True)
            starters = {
                "direct": lambda: pg.port,
                "pgbouncer": lambda: stack.start_pgbouncer(pg, pool_size=max(args.clients) + 2),
                "pgaccel": lambda: stack.start_pgaccel(pg),
            }
            for target in args.only:
                try:
                    ports[target] = starters[target]()
                    print(f"{target}: 127.0.0.1:{ports[target]}", flush=True)
                except Exception as e:  # report the row as failed, measure the rest
                    start_errors[target] = f"{target} did not start: {e}"
                    print(f"{target}: FAILED to start: {e}", flush=True)
            print(flush=True)

            for mode in args.modes:
                for n in args.clients:
                    for target in args.only:
                        key = (mode, n, target)
                        if target in start_errors:
                            results[key] = BenchResult(error=start_errors[target])
                            continue
                        pgargs = ["-S", "-n", "-M", mode, "-c", str(n), "-j", str(min(n, 2))]
                        r = pgbench_run(ports[target], pgargs, args.seconds)
                        results[key] = r
                        status = (f"{r.tps:,.0f} tps, {r.latency_ms:.3f} ms" if r.ok
                                  else f"FAILED: {r.error}")
                        print(f"  {mode:<8} c={n:<3} {target:<9} {status}", flush=True)
                        if not r.ok:
                            errors.append(f"{mode} c={n} {target}: {r.error}")
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: stopping everything", file=sys.stderr, flush=True)
        finally:
            stack.close()

    print()
    header = ["mode", "clients", "direct TPS", "pgbouncer TPS", "pgaccel TPS", "pgaccel/pgbouncer",
              "pgaccel/direct", "direct ms", "pgbouncer ms", "pgaccel ms"]
    rows = []
    for mode in args.modes:
        for n in args.clients:
            if not any((mode, n, t) in results for t in TARGETS):
                continue
            d, b, a = (results.get((mode, n, t)) for t in TARGETS)
            rows.append([mode, str(n), _fmt_tps(d), _fmt_tps(b), _fmt_tps(a), _ratio(a, b),
                         _ratio(a, d), _fmt_lat(d), _fmt_lat(b), _fmt_lat(a)])
    print(markdown_table(header, rows))
    print(f"\npgbench -S -n -T {args.seconds} -M <mode> -c <clients> -j min(clients,2), "
          f"scale {args.scale}; latency = pgbench average, ms; total {time.monotonic() - started:.0f} s")
    for e in list(start_errors.values()) + [e for e in errors
                                            if not any(s in e for s in start_errors.values())]:
        print(f"\nFAILED {e}")
    if interrupted:
        return 130
    return 1 if (start_errors or errors) else 0


if __name__ == "__main__":
    sys.exit(main())
