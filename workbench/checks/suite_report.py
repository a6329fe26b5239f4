"""What a suite run adds up to: pass@k per model with a 95 % interval, and per task.

The intervals are over tasks, since the tasks are the sample that varies:

- **one answer per task** (greedy pass@1): pass@1 is c passed of n tasks, a
  binomial proportion, and the interval is **Wilson**'s score interval (it stays
  inside [0, 1] and is sensible at 0 and n, unlike the normal approximation);
- **several answers per task**: pass@k is the mean over tasks of the unbiased
  per-task estimate, and the interval is a **bootstrap** over tasks (2,000
  resamples of the tasks with replacement, percentiles 2.5 and 97.5, a fixed seed
  so a report reads the same twice).

EvalPlus tasks report **base** (the original tests' inputs) and **plus** (base and
EvalPlus's extra inputs) separately; ``pass_at`` is plus for them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.checks.codecheck import pass_at_k
from workbench.checks.samples import Tally
from workbench.checks.suite import Suite

#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054
BOOTSTRAP_ROUNDS = 2000


def wilson(c: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for c successes out of n."""
    if n == 0:
        return (0.0, 1.0)
    p = c / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap(values: Sequence[float], rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0):
    """A percentile bootstrap 95 % interval of the mean of ``values``."""
    if not values:
        return (0.0, 1.0)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(rounds))
    return (means[int(0.025 * (rounds - 1))], means[int(0.975 * (rounds - 1))])


@dataclass
class SuiteReport:
    """Every model's tally per task, the protocols used and the sessions."""

    suite: Suite
    models: list[str]
    samples: int
    cells: dict[tuple[str, str], Tally] = field(default_factory=dict)
    #: EvalPlus: model, task → how many answers passed the base inputs.
    base: dict[tuple[str, str], int] = field(default_factory=dict)
    #: model → (protocol, why) for HumanEval tasks.
    protocols: dict[str, tuple[str, str]] = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)
    isolation: set[str] = field(default_factory=set)
    #: Runs whose model failed (no answer to check).
    failed_runs: int = 0
    #: Answers taken from sessions saved by an earlier run (resumed).
    reused: int = 0
    #: Answers generated and checked in this run.
    ran: int = 0
    #: Seconds spent generating and checking (this run's answers only).
    generation_s: float = 0.0
    check_s: float = 0.0
    stopped: bool = False

    @property
    def ks(self) -> list[int]:
        """The k of the report: 1, 10 and 100 where there are that many samples, and N."""
        return sorted({k for k in (1, 10, 100) if k <= self.samples} | {self.samples})

    def cell(self, model: str, task: str) -> Tally:
        return self.cells.setdefault((model, task), Tally())

    def add(self, model: str, task: str, code: str, check: dict[str, Any]) -> None:
        self.cell(model, task).add(code, check)
        if check.get("base_passed"):
            self.base[(model, task)] = self.base.get((model, task), 0) + 1

    def _per_task(self, model: str, k: int, base: bool = False) -> list[float]:
        values = []
        for task in self.suite.tasks:
            cell = self.cell(model, task.id)
            if cell.n < k:
                continue
            c = self.base.get((model, task.id), 0) if base else cell.c
            values.append(pass_at_k(cell.n, c, k))
        return values

    def pass_at(self, model: str, k: int, base: bool = False) -> float | None:
        """The mean over tasks of the model's per-task pass@k (None before any)."""
        values = self._per_task(model, k, base)
        return sum(values) / len(values) if values else None

    def interval(self, model: str, k: int, base: bool = False) -> tuple[float, float] | None:
        """The 95 % interval of ``pass_at`` (Wilson for one answer per task, else a
        bootstrap over tasks)."""
        values = self._per_task(model, k, base)
        if not values:
            return None
        if self.samples == 1:
            return wilson(round(sum(values)), len(values))
        return bootstrap(values)

    @property
    def interval_method(self) -> str:
        return "Wilson" if self.samples == 1 else f"bootstrap over tasks ({BOOTSTRAP_ROUNDS})"

    def summary(self, model: str) -> dict[str, Any]:
        """pass@k with intervals, passes, runs and mean distinct answers of one model."""
        cells = [self.cell(model, task.id) for task in self.suite.tasks]
        data: dict[str, Any] = {
            "model": model,
            "pass_at": {str(k): self.pass_at(model, k) for k in self.ks},
            "interval": {str(k): self.interval(model, k) for k in self.ks},
            "passed": sum(cell.c for cell in cells),
            "runs": sum(cell.n for cell in cells),
            "tasks_done": sum(1 for cell in cells if cell.n),
            "mean_distinct": _mean([cell.distinct for cell in cells if cell.n]),
        }
        if model in self.protocols:
            data["protocol"], data["protocol_reason"] = self.protocols[model]
        if self.suite.evalplus:
            data["base_pass_at"] = {str(k): self.pass_at(model, k, True) for k in self.ks}
            data["base_interval"] = {str(k): self.interval(model, k, True) for k in self.ks}
        return data

    def to_dict(self) -> dict[str, Any]:
        models = []
        for model in self.models:
            tasks = []
            for task in self.suite.tasks:
                cell = self.cell(model, task.id)
                entry = {
                    "id": task.id,
                    "n": cell.n,
                    "c": cell.c,
                    "distinct": cell.distinct,
                    "pass_at": {str(k): cell.pass_at(k) for k in self.ks},
                    "checks": [
                        {"status": c["status"], "message": c["message"]} for c in cell.checks
                    ],
                }
                if task.evalplus is not None:
                    entry["base_c"] = self.base.get((model, task.id), 0)
                tasks.append(entry)
            models.append({**self.summary(model), "tasks": tasks})
        return {
            "suite": self.suite.name,
            "file": str(self.suite.path),
            "samples": self.samples,
            "ks": self.ks,
            "interval": self.interval_method,
            "isolation": sorted(self.isolation),
            "failed_runs": self.failed_runs,
            "reused": self.reused,
            "ran": self.ran,
            "generation_s": round(self.generation_s, 3),
            "check_s": round(self.check_s, 3),
            "stopped": self.stopped,
            "models": models,
            "sessions": self.sessions,
        }


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None
