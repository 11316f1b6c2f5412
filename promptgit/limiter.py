"""An adaptive limit on requests in flight: additive increase, multiplicative decrease (AIMD).

TCP's congestion control applied to a rate-limited provider (Jacobson, "Congestion Avoidance and
Control", 1988; RFC 5681): the limit halves when a request is rate limited (HTTP 429) and grows by
one after as many successes as the limit allows in flight (one "window"). A 429 lowers the limit
only if its request was sent after the last decrease, so one burst of 429s from a full window halves
it once, not once per request. Pure asyncio; one instance is shared by a run's workers on one loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import Enum


class Outcome(Enum):
    """What became of a request, as far as the limit is concerned."""

    OK = "ok"  # answered: the provider had room
    LIMITED = "limited"  # rate limited (429): too many in flight or too fast
    OTHER = "other"  # any other failure says nothing about the provider's limit


class AdaptiveLimit:
    """At most `limit` requests in flight, `limit` adapting between 1 and `ceiling` (AIMD)."""

    def __init__(self, ceiling: int) -> None:
        """Start at `ceiling` (the configured concurrency): the limit never grows beyond it."""
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self.lowest = self.ceiling  # the smallest limit reached, for reports and tests
        self._epoch = 0  # decreases so far
        self._successes = 0  # since the limit last changed
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a free slot (first come, first served) and take it; returns a ticket for release()."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return self._epoch
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the slot is handed over (counted) by _wake before the waiter resumes
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot, then cancelled: give it back
                self.in_flight -= 1
                self._wake()
            raise
        return self._epoch

    def release(self, ticket: int, outcome: Outcome) -> None:
        """Give back the slot taken with `ticket`, adapting the limit to how the request went."""
        self.in_flight -= 1
        if outcome is Outcome.LIMITED and ticket == self._epoch:
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)
            self._epoch += 1
            self._successes = 0
        elif outcome is Outcome.OK and self.limit < self.ceiling:
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0
        self._wake()

    def _wake(self) -> None:
        """Hand free slots to the longest waiting, skipping waiters that were cancelled."""
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
