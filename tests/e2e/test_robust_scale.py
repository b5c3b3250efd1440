"""Many idle clients: 500 connections through one pgaccel process are held, all of
them then answer a query, and pgaccel's memory stays bounded."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from bench.memory import PgaccelProcess
from proxy.localpg import SUPERPASS, SUPERUSER

pytestmark = pytest.mark.slow

N_CLIENTS = 500
RSS_BOUND_MB = 300


def test_500_idle_clients_are_held_then_all_query_with_bounded_rss(origin):
    with PgaccelProcess({"server": {"log_level": "warning"}, "auth": {"method": "passthrough"},
                         "origin": {"dsn": origin.url()}}) as px:
        rss_before = px.rss_kb() / 1024

        async def scenario():
            sem = asyncio.Semaphore(25)

            async def connect():
                async with sem:
                    return await asyncpg.connect(host="127.0.0.1", port=px.port, user=SUPERUSER,
                                                 password=SUPERPASS, database="postgres", ssl=False,
                                                 timeout=30, server_settings={"application_name": "idle500"})

            t0 = time.monotonic()
            conns = await asyncio.gather(*(connect() for _ in range(N_CLIENTS)))
            t_connect = time.monotonic() - t0
            try:
                await asyncio.sleep(0.5)                     # held idle
                rss_idle = px.rss_kb() / 1024
                t0 = time.monotonic()
                results = await asyncio.gather(*(c.fetchval("SELECT $1::int + 1", i)
                                                 for i, c in enumerate(conns)))
                t_query = time.monotonic() - t0
                assert results == [i + 1 for i in range(N_CLIENTS)]
                rss_after = px.rss_kb() / 1024
                held = int(origin.psql("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE application_name = 'idle500'").strip())
                return t_connect, t_query, rss_idle, rss_after, held
            finally:
                await asyncio.gather(*(c.close(timeout=10) for c in conns), return_exceptions=True)

        t_connect, t_query, rss_idle, rss_after, held = asyncio.run(scenario())
        print(f"\n{N_CLIENTS} clients: connected in {t_connect:.1f}s, all queried in {t_query:.2f}s; "
              f"pgaccel RSS {rss_before:.0f} MB before, {rss_idle:.0f} MB with {N_CLIENTS} idle, "
              f"{rss_after:.0f} MB after the queries "
              f"({(rss_idle - rss_before) * 1024 / N_CLIENTS:.0f} KB per idle client)")
        assert held == N_CLIENTS              # one origin connection per client session
        assert rss_idle < RSS_BOUND_MB
        assert rss_after < RSS_BOUND_MB
        # every client's origin connection is released when it leaves
        deadline = time.monotonic() + 10
        while int(origin.psql("SELECT count(*) FROM pg_stat_activity "
                              "WHERE application_name = 'idle500'").strip()):
            assert time.monotonic() < deadline, "origin connections left behind"
            time.sleep(0.1)
