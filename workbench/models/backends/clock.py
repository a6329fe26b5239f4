"""The clock of one streaming request: its timeouts, the gap timer and the deadline.

httpx's read timeout restarts at every byte, so a server that sends
keep-alives would never time out; the gap timer here counts only the wait for
a payload, and the deadline bounds the whole request whatever arrives.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import httpx

from workbench.errors import StreamTimeout

if TYPE_CHECKING:
    from workbench.models.config import ModelSpec

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """``connect`` to open a connection; ``gap``, the longest silence between two
    payloads (keep-alives do not count); ``deadline``, the whole request."""

    connect: float = 10.0
    gap: float = 120.0
    deadline: float = 900.0

    @classmethod
    def of(cls, spec: ModelSpec) -> Timeouts:
        return cls(spec.connect_timeout, spec.gap_timeout, spec.deadline)

    def for_httpx(self) -> httpx.Timeout:
        # Reads are bounded by StreamClock instead: httpx's read timeout restarts
        # at every byte, so a server sending keep-alives would never time out.
        return httpx.Timeout(connect=self.connect, read=None, write=self.gap, pool=self.connect)


class StreamClock:
    """The gap timeout and the deadline of one request, on ``time.monotonic``."""

    def __init__(
        self, timeouts: Timeouts, server: str, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.timeouts = timeouts
        self.server = server
        self._now = now
        self.started = now()

    def remaining(self) -> float:
        return self.started + self.timeouts.deadline - self._now()

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` within the gap timeout and what is left of the deadline."""
        remaining = self.remaining()
        limit = min(remaining, self.timeouts.gap)
        if limit <= 0:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise self.expired(deadline=True)
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                return await awaitable
        except TimeoutError:
            if not scope.expired():
                raise
            raise self.expired(deadline=limit >= remaining) from None

    async def paced(self, items: AsyncIterable[T]) -> AsyncIterator[T]:
        """``items``, each one awaited within the gap timeout and the deadline.

        The gap counts only while an item is awaited, not while the consumer
        handles the one before.
        """
        timer = GapTimer(self)
        iterator = aiter(items)
        try:
            while True:
                timer.start()
                try:
                    item = await timer.read(iterator)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            timer.close()
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()

    def expired(self, *, deadline: bool) -> StreamTimeout:
        """The error for a gap timeout, or for the deadline."""
        if deadline:
            return StreamTimeout(
                f"{self.server} did not finish within the deadline of "
                f"{self.timeouts.deadline:g} s; any text received is kept."
            )
        return StreamTimeout(
            f"{self.server} sent nothing for {self.timeouts.gap:g} s (gap_timeout); "
            "any text received is kept."
        )


class GapTimer:
    """The gap timeout and the deadline of a stream's reads, with one timer for them all.

    ``start()`` begins the wait for the next payload; ``read()`` awaits one read
    of the stream. The caller starts the wait again only once a read brought a
    payload and the consumer has taken it, so a keep-alive does not restart the
    gap, and the time the consumer takes does not count.

    ``asyncio.timeout()`` around every read would cost a ``Timeout`` object and a
    timer set and cancelled per token. Here one timer handle serves the stream:
    a payload only notes when the next one is due, and when the handle fires
    early (payloads came meanwhile) it looks again at the time now due. A late
    read is cancelled like ``asyncio.timeout`` does, and the cancel is turned
    into ``StreamTimeout`` unless the task was cancelled from outside as well.
    """

    __slots__ = ("_cancelling", "_clock", "_deadline_at", "_due", "_fired", "_gap")
    __slots__ += ("_handle", "_loop", "_owner", "_task")

    def __init__(self, clock: StreamClock) -> None:
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._gap = clock.timeouts.gap
        self._deadline_at = self._loop.time() + clock.remaining()
        self._due = self._deadline_at  # when the payload being awaited is late
        self._owner: asyncio.Task[object] | None = None
        self._task: asyncio.Task[object] | None = None  # the owner, only while a read waits
        self._cancelling = 0
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def start(self) -> None:
        """The wait for the next payload starts now; ``StreamTimeout`` if the deadline passed."""
        now = self._loop.time()
        due = now + self._gap
        if due > self._deadline_at:
            due = self._deadline_at
            if due <= now:
                raise self._clock.expired(deadline=True)
        self._due = due

    async def read(self, iterator: AsyncIterator[T]) -> T:
        """``anext(iterator)``, unless the payload awaited since ``start()`` comes too late.

        Raises ``StreamTimeout``, or ``StopAsyncIteration`` at the end of ``iterator``.
        """
        task = self._owner
        if task is None:  # a stream is read by one task, the first to read
            task = self._owner = asyncio.current_task()
            if task is None:
                raise RuntimeError("GapTimer.read() must run in an asyncio task")
        self._task = task
        self._cancelling = task.cancelling()
        if self._handle is None:
            self._handle = self._loop.call_at(self._due, self._check)
        try:
            return await anext(iterator)
        except asyncio.CancelledError:
            if self._fired:
                self._fired = False
                if task.uncancel() <= self._cancelling:  # not cancelled from outside too
                    raise self._clock.expired(deadline=self._due >= self._deadline_at) from None
            raise
        finally:
            self._task = None
            if self._fired:  # the iterator swallowed our cancel: take it back
                self._fired = False
                task.uncancel()

    def _check(self) -> None:
        task = self._task
        if task is None:
            # The consumer is busy, no read waits: the next read sets a new timer.
            self._handle = None
        elif self._loop.time() >= self._due:
            self._handle = None
            self._fired = True
            task.cancel()
        else:  # early (payloads came meanwhile): look again when the next one is due
            self._handle = self._loop.call_at(self._due, self._check)

    def close(self) -> None:
        """Stop the timer (the stream ended)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
