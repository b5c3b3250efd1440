"""ResultCache: states, invalidation by generation, staleness, TTL, size, corruption, restart."""

import pickle
import time
from pathlib import Path

import pytest

from cache.generations import Generations, TableState
from cache.key import CacheKey
from cache.store import ResultCache

SALES = ("public", "sales")
USERS = ("public", "users")
PAYLOAD = b"T\x00\x00\x00\x1a...frames...C\x00\x00\x00\x0dSELECT 1\x00"


def k(sql="select region, sum(amount) from sales group by 1", **kw):
    return CacheKey.build(sql, role=kw.pop("role", "alice"), database="app",
                          settings={"TimeZone": "UTC"}, **kw)


@pytest.fixture
def cache(tmp_path):
    c = ResultCache(tmp_path / "cache", max_bytes=50 << 20, max_entry_bytes=1 << 20,
                    memory_bytes=4 << 20, ttl=3600)
    c.generations.observe([], time.time())      # the change feed watches every table
    yield c
    c.close()


def store(c, key, tables=(SALES,), payload=PAYLOAD, sql="select region, sum(amount) from sales group by 1", **kw):
    ticket = c.begin(tables)
    assert c.put(key, payload, ticket, rows=3, sql=sql, **kw)
    return ticket


def verify_now(c, tables=None):
    c.generations.observe([], time.time(), tables)


def test_stored_result_is_a_fresh_hit_with_the_same_bytes(cache):
    store(cache, k())
    verify_now(cache)
    entry, state = cache.get(k(), max_staleness=5)
    assert state == "fresh" and entry.payload == PAYLOAD and entry.rows == 3
    assert entry.tables == {SALES: 0}


def test_unknown_key_is_a_miss(cache):
    assert cache.get(k(), max_staleness=5) == (None, "miss")


def test_variant_spelling_hits_and_other_role_misses(cache):
    store(cache, k())
    verify_now(cache)
    assert cache.get(k("SELECT region, SUM(amount)\nFROM sales -- x\nGROUP BY 1"), max_staleness=5)[1] == "fresh"
    assert cache.get(k(role="bob"), max_staleness=5)[1] == "miss"


def test_bumping_a_table_makes_dependent_entries_not_fresh_and_leaves_others(cache):
    on_sales = k("select count(*) from sales")
    on_users = k("select count(*) from users")
    on_both = k("select count(*) from sales join users using (id)")
    store(cache, on_sales, (SALES,))
    store(cache, on_users, (USERS,))
    store(cache, on_both, (SALES, USERS))
    cache.generations.observe([SALES], time.time())
    assert cache.get(on_sales, max_staleness=60)[1] == "stale"
    assert cache.get(on_both, max_staleness=60)[1] == "stale"
    assert cache.get(on_users, max_staleness=60)[1] == "fresh"


def test_a_write_through_the_proxy_invalidates(cache):
    store(cache, k())
    cache.generations.bump([SALES])          # CommandComplete of an UPDATE on sales
    verify_now(cache)
    assert cache.get(k(), max_staleness=60)[1] == "stale"


def test_a_change_during_the_query_leaves_the_entry_out_of_date(cache):
    ticket = cache.begin([SALES])            # generations taken before the query runs
    cache.generations.bump([SALES])          # a change lands while it runs
    cache.put(k(), PAYLOAD, ticket, rows=1, sql="q")
    verify_now(cache)
    assert cache.get(k(), max_staleness=60)[1] == "stale"


def test_stale_entry_is_served_only_within_max_staleness(cache):
    store(cache, k())
    cache.generations.bump([SALES])
    t0 = cache.peek(k()).valid_as_of
    assert cache.lookup(k(), max_staleness=5, now=t0 + 4.9).state == "stale"
    r = cache.lookup(k(), max_staleness=5, now=t0 + 5.1)
    assert r.state == "miss" and r.reason == "too_stale"
    assert cache.get(k(), max_staleness=0, now=t0 + 0.01)[1] == "miss"
    # the entry is kept for a session that allows more staleness
    assert cache.lookup(k(), max_staleness=60, now=t0 + 5.1).state == "stale"
    assert cache.lookup(k(), max_staleness=-1, now=t0 + 3000).state == "stale"   # TTL 3600 still bounds it


def test_fresh_entry_ages_with_the_change_feed_and_is_not_served_when_the_feed_stalls(cache):
    store(cache, k())
    verified = time.time()
    cache.generations.observe([], verified)
    assert cache.lookup(k(), max_staleness=5, now=verified + 3).state == "fresh"
    r = cache.lookup(k(), max_staleness=5, now=verified + 30)   # feed silent for 30 s
    assert r.state == "miss" and r.reason == "too_stale"


def test_table_not_watched_by_the_feed_is_never_fresh(cache):
    cache.generations.unverify()
    cache.generations.observe([], time.time(), tables=[USERS])   # only users is watched
    store(cache, k())
    r = cache.lookup(k(), max_staleness=5)
    assert r.state == "stale"


def test_entry_older_than_the_sessions_own_write_is_a_miss(cache):
    store(cache, k())
    cache.generations.bump([SALES])
    wrote_at = time.time() + 0.001
    r = cache.lookup(k(), max_staleness=60, not_before=wrote_at)
    assert r.state == "miss" and r.reason == "older_than_own_write"


def test_query_reading_no_table_is_always_fresh(cache):
    key = k("select 1 + 1")
    store(cache, key, tables=())
    assert cache.get(key, max_staleness=0)[1] == "fresh"


def test_custom_current_generations_fn(cache):
    store(cache, k())
    now = time.time()
    assert cache.get(k(), lambda ts: {t: TableState(0, now) for t in ts}, 5)[1] == "fresh"
    assert cache.get(k(), lambda ts: {t: TableState(7, now) for t in ts}, 5)[1] == "stale"


def test_ttl_expires_an_entry_even_when_fresh(cache):
    store(cache, k(), ttl=10)
    verify_now(cache)
    e = cache.peek(k())
    assert cache.lookup(k(), max_staleness=-1, now=e.created_at + 9).state == "fresh"
    r = cache.lookup(k(), max_staleness=-1, now=e.created_at + 10.5)
    assert r.state == "miss" and r.reason == "expired"
    assert cache.peek(k()) is None


def test_time_bucket_expiry_bounds_the_entry(cache):
    store(cache, k(), expires_at=time.time() + 1)
    e = cache.peek(k())
    assert e.expires_at <= e.created_at + 1
    assert cache.lookup(k(), max_staleness=-1, now=e.expires_at).reason == "expired"


def test_result_above_max_entry_bytes_is_not_stored(cache):
    t = cache.begin([SALES])
    assert not cache.put(k(), b"x" * ((1 << 20) + 1), t, rows=1, sql="q")
    assert cache.get(k(), max_staleness=5)[1] == "miss"
    assert cache.stats()["too_large"] == 1


def test_eviction_keeps_the_disk_under_max_bytes(tmp_path):
    c = ResultCache(tmp_path / "c", max_bytes=2 << 20, max_entry_bytes=1 << 20, memory_bytes=1 << 20, ttl=None)
    blob = b"r" * (200 << 10)
    keys = [k(f"select * from sales where id = {i}") for i in range(40)]
    for key in keys:
        c.put(key, blob, c.begin([SALES]), rows=1, sql="q")
    st = c.stats()
    assert st["bytes"] <= 2 << 20 + (256 << 10)
    assert st["entries"] < 40
    c._front.clear(); c._front_bytes = 0          # look at the disk only
    assert c.peek(keys[0]) is None                 # the oldest went first
    assert c.peek(keys[-1]) is not None
    c.close()


def test_memory_front_is_bounded(tmp_path):
    c = ResultCache(tmp_path / "c", max_bytes=50 << 20, memory_bytes=1 << 20, ttl=None)
    for i in range(20):
        c.put(k(f"select {i} from sales"), b"m" * (100 << 10), c.begin([SALES]), rows=1, sql="q")
    assert c.stats()["memory_bytes"] <= 1 << 20
    assert c.stats()["entries"] == 20
    c.close()


@pytest.mark.parametrize("garbage", [
    b"not an entry at all",
    "a string",
    lambda blob: blob[: len(blob) // 2],                       # truncated value
    lambda blob: pickle.dumps({"payload": blob})[:-7],          # truncated pickle
    lambda blob: blob[:5] + b"\xff" * 12 + blob[17:],            # absurd lengths
])
def test_corrupt_entry_is_a_miss_and_is_removed(cache, garbage):
    store(cache, k())
    raw = cache._disk.get(k().digest)
    bad = garbage(raw) if callable(garbage) else garbage
    cache._front.clear(); cache._front_bytes = 0
    cache._disk.set(k().digest, bad)
    r = cache.lookup(k(), max_staleness=5)
    assert r.state == "miss" and r.entry is None
    assert k().digest not in cache._disk
    assert cache.stats()["corrupt"] == 1
    store(cache, k())                               # and it can be stored again
    assert cache.get(k(), max_staleness=5)[1] in ("fresh", "stale")


@pytest.mark.parametrize("damage", ["garbage", "deleted"])
def test_unreadable_large_value_file_is_a_miss(cache, damage):
    store(cache, k(), payload=b"L" * (100 << 10))   # above diskcache's inline size: a file
    cache._front.clear(); cache._front_bytes = 0
    files = list(Path(cache._disk.directory).rglob("*.val"))
    assert files
    for f in files:
        f.write_bytes(b"\x00garbage") if damage == "garbage" else f.unlink()
    assert cache.get(k(), max_staleness=5) == (None, "miss")


def test_results_survive_a_restart(tmp_path):
    c = ResultCache(tmp_path / "c")
    c.generations.observe([], time.time())
    store(c, k())
    c.close()
    c2 = ResultCache(tmp_path / "c")
    c2.generations.observe([], time.time())
    entry, state = c2.get(k(), max_staleness=60)
    assert entry is not None and entry.payload == PAYLOAD and entry.sql.startswith("select")
    assert entry.key == k()
    c2.close()


def test_after_a_restart_without_a_durable_feed_an_entry_is_never_fresh(tmp_path):
    c = ResultCache(tmp_path / "c")
    store(c, k())
    t0 = c.peek(k()).valid_as_of
    c.close()
    c2 = ResultCache(tmp_path / "c")
    assert c2.generations.epoch == 2
    c2.generations.observe([], time.time())        # the feed says nothing changed... since we started
    assert c2.lookup(k(), max_staleness=60, now=t0 + 1).state == "stale"
    assert c2.lookup(k(), max_staleness=5, now=t0 + 6).state == "miss"
    c2.close()


def test_after_a_restart_with_the_same_change_feed_entries_become_fresh_once_it_reports(tmp_path):
    c = ResultCache(tmp_path / "c", feed_id="pgaccel_mirror@0/1A2B3C")
    store(c, k())
    c.generations.bump([USERS])
    c.close()
    c2 = ResultCache(tmp_path / "c", feed_id="pgaccel_mirror@0/1A2B3C")
    assert c2.generations.epoch == 1 and c2.generations.generation(USERS) == 1
    assert c2.get(k(), max_staleness=3600)[1] == "stale"       # not verified since the restart
    c2.generations.observe([], time.time())                      # first poll: sales unchanged
    assert c2.get(k(), max_staleness=5)[1] == "fresh"
    c2.generations.observe([SALES], time.time())                 # or it had changed while we were down
    assert c2.get(k(), max_staleness=3600)[1] == "stale"
    c2.close()


def test_a_new_change_feed_starts_a_new_epoch(tmp_path):
    c = ResultCache(tmp_path / "c", feed_id="slot@0/1")
    store(c, k())
    c.close()
    c2 = ResultCache(tmp_path / "c", feed_id="slot@0/2")          # slot recreated: a gap
    c2.generations.observe([], time.time())
    assert c2.generations.epoch == 2
    assert c2.get(k(), max_staleness=3600)[1] == "stale"
    c2.close()


def test_generations_persist_and_new_epoch_drops_verification(tmp_path):
    g = Generations(tmp_path / "g", feed_id="f")
    g.bump([SALES, SALES, USERS])
    assert g.snapshot([SALES, USERS]) == {SALES: 2, USERS: 1}
    g.observe([], 100.0)
    g.new_epoch("f2")
    assert g.current([SALES])[SALES] == TableState(2, None)
    g.close()
    g2 = Generations(tmp_path / "g", feed_id="f2")
    assert g2.generation(SALES) == 2 and g2.epoch == g.epoch
    g2.close()


def test_clear_and_stats(cache):
    store(cache, k())
    store(cache, k("select 1 from users"), (USERS,), sql="select 1 from users")
    verify_now(cache)
    for _ in range(3):
        cache.get(k(), max_staleness=5)
    cache.get(k("select 1 from users"), max_staleness=5)
    cache.get(k("select 2 from users"), max_staleness=5)
    st = cache.stats()
    assert st["entries"] == 2 and st["hits"] == 4 and st["misses"] == 1
    assert st["hit_rate"] == pytest.approx(0.8)
    assert st["top"][0]["hits"] == 3 and st["top"][0]["sql"].startswith("select region")
    cache.clear()
    assert cache.stats()["entries"] == 0
    assert cache.get(k(), max_staleness=5)[1] == "miss"


def test_payload_bytes_round_trip_exactly_through_disk(tmp_path):
    payload = bytes(range(256)) * 300          # binary-format DataRows: every byte value
    c = ResultCache(tmp_path / "c", memory_bytes=0)
    c.put(k(), payload, c.begin([SALES]), rows=1, sql="q")
    c.close()
    c2 = ResultCache(tmp_path / "c")
    assert c2.peek(k()).payload == payload
    c2.close()


def test_bump_all_makes_every_entry_not_fresh(cache):
    on_sales, on_users = k("select 1 from sales"), k("select 1 from users")
    store(cache, on_sales, (SALES,))
    store(cache, on_users, (USERS,))
    cache.generations.bump_all()       # e.g. DDL through pgaccel on an unknown table
    verify_now(cache)
    assert cache.get(on_sales, max_staleness=60)[1] == "stale"
    assert cache.get(on_users, max_staleness=60)[1] == "stale"
    store(cache, on_sales, (SALES,))
    assert cache.get(on_sales, max_staleness=60)[1] == "fresh"
