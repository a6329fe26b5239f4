"""The replay clock of the TUI: beats of ``replay.timeline`` come due as it runs.

``replay.play`` sleeps until each beat at a speed fixed for the whole call; the
TUI changes speed and pauses in the middle of a replay and only draws ~20 times
a second anyway, so it asks this clock at each frame which beats are due.
Plain Python: the times are passed in, so tests need no real clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.store.replay import Beat

#: The speeds the keys choose; 0 means "instant" (everything at once).
SPEEDS = (1.0, 2.0, 10.0, 0.0)


def speed_label(speed: float) -> str:
    return "instant" if speed == 0 else f"×{speed:g}"


class ReplayClock:
    """Replay time that runs ``speed`` times faster than the wall clock, or stands still."""

    def __init__(self, beats: Iterable[Beat], now: float, *, speed: float = 1.0) -> None:
        self.beats = list(beats)
        self.speed = speed
        self.paused = False
        #: Seconds of replay time played so far.
        self.position = 0.0
        self._next = 0
        self._last = now
        #: The index of each model's last beat: when it is shown, that model is done.
        self.last_beat = {beat.model: i for i, beat in enumerate(self.beats)}

    @property
    def done(self) -> bool:
        return self._next >= len(self.beats)

    @property
    def duration(self) -> float:
        return self.beats[-1].offset if self.beats else 0.0

    def _advance(self, now: float) -> None:
        if not self.paused:
            self.position += (now - self._last) * self.speed
        self._last = now

    def due(self, now: float) -> list[tuple[int, Beat]]:
        """The beats (with their index) whose time has come since the last call."""
        self._advance(now)
        if self.paused:
            return []
        end = len(self.beats)
        if self.speed > 0:
            end = self._next
            while end < len(self.beats) and self.beats[end].offset <= self.position:
                end += 1
        out = [(i, self.beats[i]) for i in range(self._next, end)]
        self._next = end
        if self.done:
            self.position = max(self.position, self.duration)
        return out

    def set_speed(self, speed: float, now: float) -> None:
        """Change the speed from now on (the time played so far stays)."""
        self._advance(now)
        self.speed = speed

    def toggle_pause(self, now: float) -> bool:
        """Pause or resume; returns whether it is paused now."""
        self._advance(now)
        self.paused = not self.paused
        return self.paused
