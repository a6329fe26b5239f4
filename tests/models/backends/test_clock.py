"""The gap timer: one timer per stream, the gap counted only while a payload is awaited."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from workbench.errors import StreamTimeout
from workbench.models.backends.clock import GapTimer, StreamClock, Timeouts


async def paced_items(count: int, pause: float = 0.0):
    for index in range(count):
        if pause:
            await asyncio.sleep(pause)
        yield index


async def drain(iterator) -> list:
    return [item async for item in iterator]


def clock(gap: float = 120.0, deadline: float = 900.0) -> StreamClock:
    return StreamClock(Timeouts(gap=gap, deadline=deadline), "http://h")


async def test_one_timer_serves_a_whole_stream(monkeypatch):
    loop = asyncio.get_running_loop()
    timers = []
    call_at = loop.call_at

    def counting_call_at(when, callback, *args, **kwargs):
        timers.append(when)
        return call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counting_call_at)
    assert await drain(clock().paced(paced_items(2000))) == list(range(2000))
    assert len(timers) == 1


async def test_the_timer_is_stopped_when_the_stream_ends():
    timer = GapTimer(clock())
    items = paced_items(3)
    timer.start()
    assert await timer.read(items) == 0
    assert timer._handle is not None and not timer._handle.cancelled()
    handle = timer._handle
    timer.close()
    assert handle.cancelled() and timer._handle is None


async def test_time_the_consumer_takes_does_not_count():
    slow_consumer = []
    async for item in clock(gap=0.1).paced(paced_items(4)):
        await asyncio.sleep(0.25)  # longer than the gap, between payloads
        slow_consumer.append(item)
    assert slow_consumer == [0, 1, 2, 3]


async def test_a_late_payload_is_a_gap_timeout_naming_the_gap():
    started = time.monotonic()
    with pytest.raises(StreamTimeout, match=r"sent nothing for 0\.2 s \(gap_timeout\)"):
        await drain(clock(gap=0.2).paced(paced_items(3, pause=0.6)))
    assert 0.15 < time.monotonic() - started < 0.5


async def test_steady_payloads_within_the_gap_never_time_out():
    assert await drain(clock(gap=0.3).paced(paced_items(8, pause=0.05))) == list(range(8))


async def test_reads_without_a_payload_do_not_restart_the_gap():
    # StreamingClient starts the gap again only after a read that decoded a payload.
    timer = GapTimer(clock(gap=0.3))
    keep_alives = paced_items(1000, pause=0.02)
    started = time.monotonic()
    timer.start()
    with pytest.raises(StreamTimeout, match=r"sent nothing for 0\.3 s"):
        while True:
            await timer.read(keep_alives)
    timer.close()
    assert 0.25 < time.monotonic() - started < 0.8


async def test_the_deadline_ends_a_steady_stream_with_its_own_message():
    started = time.monotonic()
    with pytest.raises(StreamTimeout, match=r"deadline of 0\.3 s"):
        await drain(clock(gap=5, deadline=0.3).paced(paced_items(1000, pause=0.02)))
    assert time.monotonic() - started < 1


async def test_a_deadline_already_passed_fails_before_reading():
    now = [100.0]
    late = StreamClock(Timeouts(deadline=5), "http://h", now=lambda: now[0])
    now[0] = 106.0
    timer = GapTimer(late)
    with pytest.raises(StreamTimeout, match="deadline"):
        timer.start()


async def test_a_cancel_from_outside_stays_a_cancel():
    consumer = asyncio.ensure_future(drain(clock(gap=0.2).paced(paced_items(3, pause=10))))
    await asyncio.sleep(0.05)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert consumer.cancelled()


@pytest.mark.parametrize("outside_first", [True, False])
async def test_a_cancel_from_outside_in_the_same_turn_as_the_timeout_wins(
    monkeypatch, outside_first
):
    consumer: asyncio.Task | None = None
    check = GapTimer._check

    def check_and_cancel(timer: GapTimer) -> None:
        if outside_first:
            consumer.cancel()
        check(timer)
        if not outside_first:
            consumer.cancel()

    monkeypatch.setattr(GapTimer, "_check", check_and_cancel)
    consumer = asyncio.ensure_future(drain(clock(gap=0.1).paced(paced_items(3, pause=10))))
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert consumer.cancelled()


async def test_after_a_timeout_the_task_is_not_left_cancelling():
    with pytest.raises(StreamTimeout):
        await drain(clock(gap=0.05).paced(paced_items(2, pause=1)))
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0.01)  # and the task can still wait


async def test_a_cancel_the_stream_swallowed_is_taken_back():
    async def swallowing():
        # As some libraries do on the way to closing a connection.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        yield "late"

    timer = GapTimer(clock(gap=0.05))
    timer.start()
    assert await timer.read(swallowing()) == "late"
    timer.close()
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0.01)
