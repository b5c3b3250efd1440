"""Observability: counters, per-statement events, logging setup.

One ``StatementEvent`` per statement feeds both the log and the counters.
Parameter values are never logged. Counters are plain integers (cheap on the
hot path) exported to Prometheus on demand by a custom collector, and shown by
``SHOW pgaccel.stats``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

log = logging.getLogger("pgaccel.statement")


@dataclass
class StatementEvent:
    session: int
    route: str
    reason: str
    duration_ms: float
    sql: str
    rows: int = 0
    error: str | None = None


class Stats:
    """Process-wide counters. Mutated only from the event loop thread."""

    def __init__(self) -> None:
        self.started = time.time()
        self.counters: Counter[str] = Counter()
        self.routes: Counter[tuple[str, str]] = Counter()
        self.route_seconds: defaultdict[str, float] = defaultdict(float)
        self.errors: Counter[str] = Counter()
        self.clients_active = 0
        self.upstreams_active = 0
        self.upstreams_idle = 0
        self.log_statements = False
        # byte counters are plain attributes: they are bumped on every chunk relayed
        self.bytes_from_clients = 0
        self.bytes_to_origin = 0
        self.bytes_from_origin = 0

    def statement(self, ev: StatementEvent) -> None:
        self.routes[(ev.route, ev.reason)] += 1
        self.route_seconds[ev.route] += ev.duration_ms / 1000.0
        if ev.error:
            self.errors[ev.error] += 1
        if self.log_statements:
            log.info("statement", extra={"event": asdict(ev)})

    def origin_statement(self, session: int, reason: str, seconds: float, sql: str) -> None:
        """The hot-path twin of ``statement`` for relayed statements."""
        self.routes[("origin", reason)] += 1
        self.route_seconds["origin"] += seconds
        if self.log_statements:
            log.info("statement", extra={"event": {"session": session, "route": "origin", "reason": reason,
                                                   "duration_ms": round(seconds * 1000, 3),
                                                   "sql": sql[:200]}})

    def rows(self) -> list[tuple[str, str]]:
        out = [("uptime_seconds", f"{time.time() - self.started:.0f}"),
               ("clients_active", str(self.clients_active)),
               ("upstreams_active", str(self.upstreams_active)),
               ("upstreams_idle", str(self.upstreams_idle)),
               ("bytes_from_clients", str(self.bytes_from_clients)),
               ("bytes_to_origin", str(self.bytes_to_origin)),
               ("bytes_from_origin", str(self.bytes_from_origin))]
        out += sorted((k, str(v)) for k, v in self.counters.items())
        out += sorted((f"statements{{route={r},reason={why}}}", str(n))
                      for (r, why), n in self.routes.items())
        out += sorted((f"route_seconds{{route={r}}}", f"{s:.3f}") for r, s in self.route_seconds.items())
        out += sorted((f"errors{{sqlstate={k}}}", str(v)) for k, v in self.errors.items())
        return out


STATS = Stats()


class _PromCollector:
    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        g = GaugeMetricFamily("pgaccel_clients_active", "Client connections open")
        g.add_metric([], STATS.clients_active)
        yield g
        g = GaugeMetricFamily("pgaccel_upstreams", "Origin connections", labels=["state"])
        g.add_metric(["active"], STATS.upstreams_active)
        g.add_metric(["idle"], STATS.upstreams_idle)
        yield g
        c = CounterMetricFamily("pgaccel_statements", "Statements by route and reason",
                                labels=["route", "reason"])
        for (r, why), n in STATS.routes.items():
            c.add_metric([r, why], n)
        yield c
        c = CounterMetricFamily("pgaccel_route_seconds", "Time spent per route", labels=["route"])
        for r, s in STATS.route_seconds.items():
            c.add_metric([r], s)
        yield c
        c = CounterMetricFamily("pgaccel_errors", "Errors sent to clients by SQLSTATE", labels=["sqlstate"])
        for k, n in STATS.errors.items():
            c.add_metric([k], n)
        yield c
        for k in ("bytes_from_clients", "bytes_to_origin", "bytes_from_origin"):
            c = CounterMetricFamily(f"pgaccel_{k}", k.replace("_", " "))
            c.add_metric([], getattr(STATS, k))
            yield c
        for k, v in STATS.counters.items():
            c = CounterMetricFamily(f"pgaccel_{k}", k)
            c.add_metric([], v)
            yield c


def start_metrics_server(host: str, port: int) -> None:
    from prometheus_client import REGISTRY, start_http_server

    REGISTRY.register(_PromCollector())
    start_http_server(port, addr=host)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        d = {"ts": round(record.created, 3), "level": record.levelname.lower(),
             "logger": record.name, "msg": record.getMessage()}
        ev = getattr(record, "event", None)
        if ev:
            d.update(ev)
        if record.exc_info:
            d["exc"] = self.formatException(record.exc_info)
        return json.dumps(d, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        s = super().format(record)
        ev = getattr(record, "event", None)
        if ev:
            s += " " + " ".join(f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}"
                                for k, v in ev.items())
        return s


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(level.upper())
