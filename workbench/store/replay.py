"""Replay a saved session as it streamed: the chunk timeline merged across models.

Pure scheduling (``timeline``) plus a headless player; the TUI drives the same
timeline with its own clock, pause and speed keys.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from workbench.store.sessions import Session


@dataclass(frozen=True)
class Beat:
    """One chunk to show again: ``offset`` seconds after the replay started."""

    offset: float
    model: str
    text: str


def timeline(session: Session) -> Iterator[Beat]:
    """Every model's chunks in the order they arrived, on one clock.

    Each run's offsets count from its own request; models that started later
    (sequential schedule) keep their place by the time each one loaded and
    waited, which is not saved, so runs of a sequential session are played
    back to back, and runs of a parallel one together.
    """
    runs = [run for run in session.runs if run.chunks]
    start = 0.0
    streams = []
    for run in runs:
        streams.append([(start + offset, run.model, text) for offset, text in run.chunks])
        if session.schedule == "sequential":
            start += (run.total_s or run.chunks[-1][0]) + 0.001
    for offset, model, text in heapq.merge(*streams):
        yield Beat(offset, model, text)


async def play(
    session: Session,
    show: Callable[[Beat], None],
    *,
    speed: float = 1.0,
    paused: Callable[[], bool] = lambda: False,
) -> None:
    """Call ``show`` for each beat at its recorded time divided by ``speed`` (0 = instant)."""
    clock = 0.0  # replay time, which stands still while paused
    last = time.monotonic()
    for beat in timeline(session):
        while speed > 0:
            now = time.monotonic()
            if not paused():
                clock += (now - last) * speed
            last = now
            wait = (beat.offset - clock) / speed
            if wait <= 0 and not paused():
                break
            await asyncio.sleep(min(max(wait, 0.0), 0.05))
        show(beat)
