"""Speed as statistics: a model's runs of the same prompt and settings, summed up.

llama-bench reports prompt processing and generation apart, as mean ± standard
deviation over repetitions; so does this. Runs that shared the machine with other
models (a parallel schedule with more than one model) are contended: their speed
is a different quantity from a run alone, so they are never pooled with runs alone,
and every summary says which it is.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workbench.core.metrics import figures
from workbench.core.record import ModelRun

#: How a run shared the machine: alone (sequential, or the only model) or contended.
ALONE, CONTENDED = "alone", "contended"


@dataclass(frozen=True)
class Spread:
    """Mean, standard deviation (n − 1) and median of ``n`` values."""

    n: int
    mean: float
    std: float
    median: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread | None:
        data = [float(v) for v in values]
        if not data:
            return None
        std = statistics.stdev(data) if len(data) > 1 else 0.0
        return cls(len(data), statistics.fmean(data), std, statistics.median(data))

    def text(self, digits: int = 1) -> str:
        """``81.2 ± 3.4 (median 80.9, n=4)``; one value alone has no spread to show."""
        if self.n == 1:
            return f"{self.mean:.{digits}f} (n=1)"
        return (
            f"{self.mean:.{digits}f} ± {self.std:.{digits}f} "
            f"(median {self.median:.{digits}f}, n={self.n})"
        )

    def short(self, digits: int = 0) -> str:
        """``81 ± 3`` (``81`` for one value): for a table cell."""
        if self.n == 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "median": self.median}


@dataclass(frozen=True)
class SpeedStats:
    """One group of comparable runs: generation and prompt tokens/s, TTFT, total time."""

    contention: str
    runs: int
    gen_tokens_per_s: Spread | None
    prompt_tokens_per_s: Spread | None
    ttft_s: Spread | None
    total_s: Spread | None

    def to_dict(self) -> dict[str, Any]:
        def d(spread: Spread | None) -> dict[str, Any] | None:
            return spread.to_dict() if spread else None

        return {
            "contention": self.contention,
            "runs": self.runs,
            "gen_tokens_per_s": d(self.gen_tokens_per_s),
            "prompt_tokens_per_s": d(self.prompt_tokens_per_s),
            "ttft_s": d(self.ttft_s),
            "total_s": d(self.total_s),
        }


def contention(schedule: str, models_in_session: int) -> str:
    """Whether a run had the machine to itself."""
    return CONTENDED if schedule == "parallel" and models_in_session > 1 else ALONE


def speed_stats(runs: Iterable[tuple[ModelRun, str]]) -> list[SpeedStats]:
    """``runs`` as (run, contention) pairs, finished ones only, grouped by contention:
    one ``SpeedStats`` per kind present (alone first)."""
    groups: dict[str, list[ModelRun]] = {}
    for run, kind in runs:
        if run.state == "done":
            groups.setdefault(kind, []).append(run)
    out = []
    for kind in (ALONE, CONTENDED):
        members = groups.get(kind)
        if not members:
            continue
        figs = [figures(run) for run in members]
        out.append(
            SpeedStats(
                contention=kind,
                runs=len(members),
                gen_tokens_per_s=Spread.of(
                    f.gen_tokens_per_s for f in figs if f.gen_tokens_per_s is not None
                ),
                prompt_tokens_per_s=Spread.of(
                    f.prompt_tokens_per_s for f in figs if f.prompt_tokens_per_s is not None
                ),
                ttft_s=Spread.of(f.ttft_s for f in figs if f.ttft_s is not None),
                total_s=Spread.of(f.total_s for f in figs if f.total_s is not None),
            )
        )
    return out
