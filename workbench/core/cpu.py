"""How many of this process's cores are free for llama.cpp, given what else runs.

ggml's threads spin at every barrier, so a model given two threads on a
machine where another process keeps one core busy runs several times slower
than the same model given one thread. The runner therefore counts the cores
other processes kept busy since its last look and leaves those out.

The figure comes from ``/proc/stat`` (busy time of the CPUs this process may
use) minus the CPU time of this process and its children (the model workers),
over the time between two samples. Where ``/proc`` is missing, every core is
taken as free.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

#: A shorter window says too little: /proc/stat counts in 10 ms ticks.
MIN_WINDOW = 0.2
PROC = Path("/proc")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CpuSample:
    at: float  #: monotonic seconds
    busy: float  #: CPU seconds spent busy by the CPUs this process may use
    ours: float  #: CPU seconds spent by this process and its children


def sample(proc: Path = PROC) -> CpuSample | None:
    """Now's counters, or None where the system does not offer them."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        cpus = {f"cpu{n}" for n in os.sched_getaffinity(0)}
        busy = 0
        for line in (proc / "stat").read_text().splitlines():
            name, _, rest = line.partition(" ")
            if name in cpus:
                # user nice system idle iowait irq softirq steal: all but idle and iowait
                fields = [int(value) for value in rest.split()[:8]]
                busy += sum(fields) - fields[3] - fields[4]
    except (OSError, ValueError, AttributeError, IndexError):
        return None
    own = os.times()
    ours = own.user + own.system + _children_seconds(proc, os.getpid(), tick)
    return CpuSample(time.monotonic(), busy / tick, ours)


def _children_seconds(proc: Path, parent: int, tick: int) -> float:
    """CPU seconds of the live direct children of ``parent`` (the model workers)."""
    total = 0
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            stat = (proc / entry.name / "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 12 and int(fields[1]) == parent:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def busy_elsewhere(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """Cores kept busy by other processes between two samples (None: cannot tell)."""
    if before is None or after is None or after.at - before.at < MIN_WINDOW:
        return None
    others = (after.busy - before.busy) - (after.ours - before.ours)
    return max(0.0, others / (after.at - before.at))


def free_cores(cores: int, busy: float | None) -> int:
    """The cores left when ``busy`` cores are taken (at least one)."""
    if busy is None:
        return cores
    return max(1, min(cores, round(cores - busy)))


class CoreWatch:
    """The runner's view of the free cores: a sample at each run's end, compared
    with one when the next run's models are ready to start."""

    def __init__(self, cores: int) -> None:
        self.cores = cores
        self.busy: float | None = None  #: the last estimate of others' load, in cores
        self._mark = sample()

    def free(self) -> int:
        now = sample()
        busy = busy_elsewhere(self._mark, now)
        if busy is not None:  # too short a window keeps the last estimate
            self.busy = busy
            self._mark = now
        return free_cores(self.cores, self.busy)

    def rest(self) -> None:
        """The run ended: from now until the next run, our own load is nil."""
        self._mark = sample()
