"""The AIMD limit on requests in flight, driven directly on an event loop."""

from __future__ import annotations

import asyncio

import pytest

from promptgit.limiter import AdaptiveLimit, Outcome


def test_a_burst_of_429s_from_one_window_halves_the_limit_once() -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveLimit(32)
        tickets = [await limit.acquire() for _ in range(32)]
        seen = []
        for ticket in tickets[:24]:  # the provider took 8 and refused 24, all sent before any decrease
            limit.release(ticket, Outcome.LIMITED)
            seen.append(limit.limit)
        fresh = await limit.acquire()  # sent after the decrease: its 429 halves again
        limit.release(fresh, Outcome.LIMITED)
        return [seen[0], seen[-1], limit.limit]

    assert asyncio.run(scenario()) == [16, 16, 8]


@pytest.mark.parametrize(("start", "successes", "expected"), [(4, 4, 5), (4, 3, 4), (4, 4 + 5, 6), (1, 1, 2)])
def test_the_limit_grows_by_one_per_window_of_successes(start: int, successes: int, expected: int) -> None:
    async def scenario() -> int:
        limit = AdaptiveLimit(64)
        limit.limit = start
        for _ in range(successes):
            limit.release(await limit.acquire(), Outcome.OK)
        return limit.limit

    assert asyncio.run(scenario()) == expected


def test_it_never_grows_past_its_ceiling_nor_falls_below_one() -> None:
    async def scenario() -> tuple[int, int]:
        limit = AdaptiveLimit(2)
        for _ in range(50):
            limit.release(await limit.acquire(), Outcome.OK)
        high = limit.limit
        for _ in range(10):
            limit.release(await limit.acquire(), Outcome.LIMITED)
        return high, limit.limit

    assert asyncio.run(scenario()) == (2, 1)


def test_waiters_are_served_in_order_and_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def scenario() -> tuple[list[int], int]:
        limit = AdaptiveLimit(1)
        order: list[int] = []
        first = await limit.acquire()

        async def wait(i: int) -> None:
            ticket = await limit.acquire()
            order.append(i)
            await asyncio.sleep(0)
            limit.release(ticket, Outcome.OTHER)

        tasks = [asyncio.ensure_future(wait(i)) for i in range(4)]
        await asyncio.sleep(0)
        tasks[1].cancel()
        limit.release(first, Outcome.OTHER)
        await asyncio.gather(*tasks, return_exceptions=True)
        return order, limit.in_flight

    assert asyncio.run(scenario()) == ([0, 2, 3], 0)


def test_other_failures_leave_the_limit_alone() -> None:
    async def scenario() -> int:
        limit = AdaptiveLimit(8)
        for _ in range(20):
            limit.release(await limit.acquire(), Outcome.OTHER)
        return limit.limit

    assert asyncio.run(scenario()) == 8
