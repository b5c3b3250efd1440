"""Freshness benchmark: how far behind the origin the mirror is under a write load.

    .venv/bin/python bench/freshness.py [--seconds 20] [--rate 2500] [--writers 4]
                                        [--interval 0.25] [--dsn DSN]

Starts a throwaway Postgres (wal_level=logical) unless ``--dsn`` names one, creates
four tables (10,000 rows each), mirrors them into a DuckDB file and starts the
freshness tracker (logical slot, changes applied every ``--interval`` seconds).
``--writers`` threads then commit small transactions of mixed INSERT / UPDATE /
DELETE over the four tables at ``--rate`` changed rows per second in total. Every
transaction also sets its writer's row in a ``heartbeat`` table to a sequence
number; a reader thread polls the mirror (a DuckDB cursor, as a pgaccel session
does) every 5 ms and, when it sees a writer's sequence move from a to b, records
for each commit a < s <= b its *replication lag*: the time the reader first saw it
minus the time its COMMIT returned on the origin. It also samples the tracker's
own ``lag_seconds`` (what pgaccel's staleness check uses).

Prints: changed rows/s achieved, replication lag p50/p99/max, the tracker's lag
p50/p99/max, apply throughput (changes applied per second of polling: capacity,
and per second of wall time), polls, retained WAL, and whether the mirror equals
the origin (sorted rows per table) once the load stops. Target: p99 lag < 1 s at
>= 2,000 changed rows/s.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import psycopg  # noqa: E402

from mirror.engine import MirrorEngine  # noqa: E402
from proxy.localpg import LocalPostgres  # noqa: E402

ROWS = 10_000
SCHEMA = """
CREATE TABLE orders (id bigint PRIMARY KEY, customer int, amount numeric(12,2), status text,
                     updated_at timestamptz DEFAULT now());
CREATE TABLE users (id int PRIMARY KEY, name text, visits int, last_seen timestamptz);
CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload jsonb, at timestamptz DEFAULT now());
CREATE TABLE items (sku text, warehouse int, qty int, PRIMARY KEY (sku, warehouse));
CREATE TABLE heartbeat (w int PRIMARY KEY, seq bigint);
INSERT INTO orders SELECT g, g % 1000, g * 1.25, 'new', now() FROM generate_series(0, {n} - 1) g;
INSERT INTO users SELECT g, 'user ' || g, 0, now() FROM generate_series(0, {n} - 1) g;
INSERT INTO events SELECT g, 'seed', '{{"n": 1}}', now() FROM generate_series(0, {n} - 1) g;
INSERT INTO items SELECT 'sku-' || (g / 10), g % 10, g FROM generate_series(0, {n} - 1) g;
"""
TABLES = ["orders", "users", "events", "items", "heartbeat"]


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def writer_main(dsn: str, w: int, nwriters: int, tx_per_s: float, seconds: float, out) -> None:
    """A writer process (the load must not share the tracker's GIL): runs ``seconds``, then
    sends back (commit time per sequence number, changed rows, error)."""
    wr = Writer(dsn, w, nwriters, tx_per_s, seconds)
    wr.run()
    out.send((wr.commits, wr.rows, None if wr.error is None else repr(wr.error)))
    out.close()


class Writer:
    """Commits transactions of ~10 changed rows over the four tables at a fixed rate."""

    def __init__(self, dsn: str, w: int, nwriters: int, tx_per_s: float, seconds: float) -> None:
        self.dsn, self.w, self.nw, self.tx_per_s, self.seconds = dsn, w, nwriters, tx_per_s, seconds
        self.commits: dict[int, float] = {}  # seq -> time its COMMIT returned
        self.rows = 0
        self.error: Exception | None = None

    def run(self) -> None:
        rnd = random.Random(self.w)
        w, nw = self.w, self.nw
        mine = [i for i in range(w, ROWS, nw)]          # orders / events / users rows this writer owns
        events = list(mine)
        next_id = 10_000_000 * (w + 1)
        seq = 0
        try:
            with psycopg.connect(self.dsn, autocommit=True) as c:
                c.execute("INSERT INTO heartbeat VALUES (%s, 0) ON CONFLICT (w) DO UPDATE SET seq = 0", (w,))
                t_next = time.monotonic()
                end = t_next + self.seconds
                while time.monotonic() < end:
                    seq += 1
                    n = 0
                    with c.transaction():
                        new = [next_id + i for i in range(3)]
                        next_id += 3
                        cur = c.execute("INSERT INTO orders (id, customer, amount, status) SELECT x, x %% 1000,"
                                        " (x %% 10000) / 100.0, 'new' FROM unnest(%s::bigint[]) x", (new,))
                        n += cur.rowcount
                        mine.extend(new)
                        cur = c.execute("UPDATE orders SET status = 'paid', amount = amount + 1, updated_at = now()"
                                        " WHERE id = ANY(%s)", ([rnd.choice(mine) for _ in range(3)],))
                        n += cur.rowcount
                        victim = mine.pop(rnd.randrange(len(mine)))
                        n += c.execute("DELETE FROM orders WHERE id = %s", (victim,)).rowcount
                        n += c.execute("UPDATE users SET visits = visits + 1, last_seen = now() WHERE id = %s",
                                       (rnd.randrange(w, ROWS, nw),)).rowcount
                        eid = next_id
                        next_id += 1
                        events.append(eid)
                        n += c.execute("INSERT INTO events (id, kind, payload) VALUES (%s, 'click', %s)",
                                       (eid, '{"w": %d, "seq": %d}' % (w, seq))).rowcount
                        if len(events) > 2000:
                            n += c.execute("DELETE FROM events WHERE id = %s", (events.pop(0),)).rowcount
                        n += c.execute("UPDATE items SET qty = qty - 1 WHERE sku = %s AND warehouse = %s",
                                       (f"sku-{rnd.randrange(ROWS // 10)}", w % 10)).rowcount
                        c.execute("UPDATE heartbeat SET seq = %s WHERE w = %s", (seq, w))
                        n += 1
                    self.commits[seq] = time.time()
                    self.rows += n
                    t_next += 1.0 / self.tx_per_s
                    delay = t_next - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except Exception as e:  # noqa: BLE001 - reported at the end
            self.error = e


def table_digest(pg, duck, name: str) -> tuple[int, str, str]:
    """(rows, md5 of the origin's sorted rows, md5 of the mirror's) - one canonical text per row."""
    cols = {"orders": ("id, customer, amount, status, (extract(epoch from updated_at)*1e6)::bigint",
                       "id, customer, amount, status, epoch_us(updated_at)"),
            "users": ("id, name, visits, (extract(epoch from last_seen)*1e6)::bigint",
                      "id, name, visits, epoch_us(last_seen)"),
            "events": ("id, kind, payload::text, (extract(epoch from \"at\")*1e6)::bigint",
                       "id, kind, payload, epoch_us(\"at\")"),
            "items": ("sku, warehouse, qty", "sku, warehouse, qty"),
            "heartbeat": ("w, seq", "w, seq")}[name]
    a = sorted(repr(tuple(r)) for r in pg.execute(f"SELECT {cols[0]} FROM {name}").fetchall())
    b = sorted(repr(tuple(r)) for r in duck.execute(f"SELECT {cols[1]} FROM public.{name}").fetchall())
    return len(a), hashlib.md5("\n".join(a).encode()).hexdigest(), hashlib.md5("\n".join(b).encode()).hexdigest()


def run(dsn: str, seconds: float, rate: float, nwriters: int, interval: float) -> bool:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES))
        c.execute(SCHEMA.format(n=ROWS))
    tmp = tempfile.mkdtemp(prefix="pgaccel-freshness-")
    slot = "bench_" + uuid.uuid4().hex[:8]
    engine = MirrorEngine(os.path.join(tmp, "mirror.duckdb"))
    ok = False
    try:
        tracker = engine.track_freshness(dsn, slot=slot, interval=interval, start=False)
        t = time.monotonic()
        engine.sync_blocking(dsn, [f"public.{n}" for n in TABLES])
        print(f"snapshot of {len(TABLES)} tables in {time.monotonic() - t:.2f}s; slot {slot}, poll interval {interval}s")
        tracker.start()
        reader_stop = threading.Event()
        tx_per_s = rate / 10 / nwriters  # ~10 changed rows per transaction
        seen_at: dict[int, list[tuple[int, float]]] = {w: [] for w in range(nwriters)}  # (seq, first seen)
        tracker_lags: list[float] = []

        def reader():
            cur = engine.cursor()
            last_sample = 0.0
            while not reader_stop.is_set():
                now = time.time()
                for w, s in cur.execute("SELECT w, seq FROM public.heartbeat").fetchall():
                    if w in seen_at and (not seen_at[w] or s > seen_at[w][-1][0]):
                        seen_at[w].append((s, now))
                if now - last_sample > 0.05:
                    last_sample = now
                    tracker_lags.append(tracker.lag_seconds("public", "orders"))
                time.sleep(0.005)
            cur.close()

        ctx = multiprocessing.get_context("spawn")
        pipes, procs = [], []
        for w in range(nwriters):
            rx, tx = ctx.Pipe(duplex=False)
            p = ctx.Process(target=writer_main, args=(dsn, w, nwriters, tx_per_s, seconds, tx), daemon=True)
            pipes.append(rx)
            procs.append(p)
        rd = threading.Thread(target=reader, daemon=True)
        polls0, changes0, poll_s0 = tracker.polls, tracker.applied_changes, tracker.poll_seconds
        rd.start()
        for p in procs:
            p.start()
        t0 = time.monotonic()
        max_wal = 0
        while any(p.is_alive() for p in procs) and not all(rx.poll() for rx in pipes):
            time.sleep(0.2)
            max_wal = max(max_wal, tracker.retained_wal or 0)
        results = [rx.recv() for rx in pipes]
        for p in procs:
            p.join()
        load_s = time.monotonic() - t0
        stopped_at = time.time()
        # catch up: the tracker verifies a point after the last commit
        while (tracker.freshness("public", "orders")[0] or 0) < stopped_at + 0.01 and time.monotonic() - t0 < seconds + 30:
            time.sleep(0.02)
        time.sleep(0.1)
        reader_stop.set()
        rd.join()
        wall = time.monotonic() - t0
        lags: list[float] = []
        for w, (commits, _, _) in enumerate(results):
            seen = seen_at[w]
            i = 0
            for q in sorted(commits):
                while i < len(seen) and seen[i][0] < q:
                    i += 1
                if i < len(seen):
                    lags.append(max(0.0, seen[i][1] - commits[q]))

        class _W:  # the per-writer results, as the summary below reads them
            def __init__(self, r):
                self.commits, self.rows, self.error = r
        writers = [_W(r) for r in results]
        errors = [wr.error for wr in writers if wr.error]
        rows = sum(wr.rows for wr in writers)
        commits = sum(len(wr.commits) for wr in writers)
        changes = tracker.applied_changes - changes0
        poll_s = tracker.poll_seconds - poll_s0
        tlags = [x for x in tracker_lags if x != float("inf")]
        print(f"load: {commits} transactions, {rows} changed rows in {load_s:.1f}s = {rows / load_s:,.0f} rows/s"
              f" ({nwriters} writers){'; ERRORS: ' + str(errors) if errors else ''}")
        print(f"replication lag (commit on origin -> visible in mirror), {len(lags)} commits:"
              f" p50 {pct(lags, 50) * 1000:.0f} ms, p99 {pct(lags, 99) * 1000:.0f} ms, max {max(lags or [0]) * 1000:.0f} ms")
        print(f"tracker lag_seconds (what max_staleness is checked against), {len(tracker_lags)} samples:"
              f" p50 {pct(tlags, 50) * 1000:.0f} ms, p99 {pct(tlags, 99) * 1000:.0f} ms,"
              f" max {max(tlags or [0]) * 1000:.0f} ms, dirty samples {len(tracker_lags) - len(tlags)}")
        print(f"apply: {changes} changes in {tracker.polls - polls0} polls; {changes / max(poll_s, 1e-9):,.0f} changes/s"
              f" while polling ({poll_s:.1f}s busy), {changes / wall:,.0f} changes/s over {wall:.1f}s;"
              f" max retained WAL {max_wal / 1e6:.1f} MB; dirty tables {sorted(tracker.dirty_tables()) or 'none'}")
        tracker.stop()
        engine.freshness = None
        duck = engine.cursor()
        equal = True
        with psycopg.connect(dsn, autocommit=True) as pg:
            for name in TABLES:
                n, a, b = table_digest(pg, duck, name)
                equal &= a == b
                print(f"  {name:10s} {n:7d} rows  origin {a[:12]}  mirror {b[:12]}  {'equal' if a == b else 'DIFFERENT'}")
        duck.close()
        p99 = pct(lags, 99)
        ok = equal and not errors and p99 < 1.0 and rows / load_s >= 2000
        print(f"mirror equals origin: {'yes' if equal else 'NO'}; target p99 < 1 s at >= 2,000 rows/s:"
              f" {'met' if ok else 'NOT met'}")
    finally:
        try:
            from mirror.freshness import drop_slot
            drop_slot(dsn, slot)
        except Exception as e:  # noqa: BLE001
            print(f"could not drop slot {slot}: {e}")
        engine.close()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=float, default=2500, help="changed rows per second, all writers together")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.25, help="tracker poll interval (seconds)")
    ap.add_argument("--dsn", help="origin (wal_level=logical); default: a throwaway cluster")
    a = ap.parse_args()
    if a.dsn:
        return 0 if run(a.dsn, a.seconds, a.rate, a.writers, a.interval) else 1
    with LocalPostgres() as pg:
        print(f"throwaway Postgres on port {pg.port}")
        return 0 if run(pg.dsn(), a.seconds, a.rate, a.writers, a.interval) else 1


if __name__ == "__main__":
    sys.exit(main())
