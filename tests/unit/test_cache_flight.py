"""Single flight and background refresh."""

import asyncio
import logging
import time


from cache.flight import Refresher, SingleFlight


def run(coro):
    return asyncio.run(coro)


def test_concurrent_identical_misses_run_once():
    async def main():
        flight = SingleFlight()
        calls = 0

        async def compute():
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.02)
            return b"result"

        results = await asyncio.gather(*(flight.run("k", compute) for _ in range(50)))
        return calls, results, flight

    calls, results, flight = run(main())
    assert calls == 1
    assert results == [b"result"] * 50
    assert flight.started == 1 and flight.joined == 49 and len(flight) == 0


def test_different_keys_run_separately():
    async def main():
        flight = SingleFlight()
        seen = []

        async def compute(k):
            seen.append(k)
            await asyncio.sleep(0.01)
            return k

        return await asyncio.gather(*(flight.run(k, lambda k=k: compute(k)) for k in "abcab")), seen

    results, seen = run(main())
    assert results == list("abcab") and sorted(seen) == ["a", "b", "c"]


def test_exception_reaches_every_waiter_and_the_key_is_released():
    async def main():
        flight = SingleFlight()
        calls = 0

        async def boom():
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.01)
            raise RuntimeError("origin down")

        out = await asyncio.gather(*(flight.run("k", boom) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(e, RuntimeError) for e in out) and calls == 1
        assert "k" not in flight

        async def ok():
            nonlocal calls
            calls += 1
            return 1
        assert await flight.run("k", ok) == 1      # a later miss runs again
        return calls

    assert run(main()) == 2


def test_cancelled_waiter_does_not_cancel_the_computation_for_others():
    async def main():
        flight = SingleFlight()

        async def slow():
            await asyncio.sleep(0.05)
            return 7

        first = asyncio.ensure_future(flight.run("k", slow))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(flight.run("k", slow))
        await asyncio.sleep(0.01)
        first.cancel()
        return await second

    assert run(main()) == 7


def test_refresher_dedupes_and_bounds_concurrency():
    async def main():
        ref = Refresher(concurrency=2)
        running = peak = calls = 0

        async def refresh():
            nonlocal running, peak, calls
            calls += 1
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1

        accepted = [ref.schedule(k, refresh) for k in ["a", "a", "a", "b", "c", "d", "b"]]
        await ref.drain()
        return accepted, calls, peak, ref

    accepted, calls, peak, ref = run(main())
    assert accepted == [True, False, False, True, True, True, False]
    assert calls == 4 and peak == 2 and ref.pending() == 0


def test_refresher_joins_a_miss_already_in_flight():
    async def main():
        flight = SingleFlight()
        ref = Refresher(flight)
        calls = 0

        async def compute():
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.02)
            return b"r"

        miss = asyncio.ensure_future(flight.run("k", compute))
        await asyncio.sleep(0)
        assert not ref.schedule("k", compute)
        await miss
        assert ref.schedule("k", compute)           # after it finished, a refresh runs again
        await ref.drain()
        return calls

    assert run(main()) == 2


def test_refresher_logs_errors_instead_of_raising(caplog):
    async def main():
        ref = Refresher()

        async def boom():
            raise ValueError("bad")

        ref.schedule("k", boom)
        await ref.drain()
        return ref

    with caplog.at_level(logging.WARNING, logger="cache.flight"):
        ref = run(main())
    assert ref.failed == 1 and "bad" in caplog.text


def test_a_session_that_just_wrote_does_not_join_an_older_computation():
    async def main():
        flight = SingleFlight()
        calls = []

        async def compute(tag):
            calls.append(tag)
            await asyncio.sleep(0.02)
            return tag

        old = asyncio.ensure_future(flight.run("k", lambda: compute("before write")))
        await asyncio.sleep(0.005)
        wrote_at = time.time()
        mine = await flight.run("k", lambda: compute("after write"), not_before=wrote_at)
        return mine, await old, calls, len(flight)

    mine, old, calls, left = run(main())
    assert mine == "after write" and old == "before write" and len(calls) == 2 and left == 0
