"""Running a grid: every prompt × settings point × repeat on the models, checked, resumable.

Each (prompt, settings point, repeat) is one session with every model in it (so the
schedule applies as in ``workbench run``), tagged ``grid:<name>``, ``prompt:<name>``,
``cell:<key>``, ``settings:<label>`` and ``repeat:<i>``. Answers are checked when their session ends
(tests in the sandbox, then each check), the results kept in each run's ``info``.

Resume: before a session runs, the store is asked for the grid's sessions with the
same cell key and repeat; a model whose saved run finished (done or failed) and was
checked is not run again, so a killed or cancelled grid goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.checks.assertions import apply_checks, stored_results
from workbench.checks.grid_file import Combo, Grid, GridPrompt
from workbench.checks.samples import Checker, check_runs
from workbench.core.record import ModelRun
from workbench.core.runner import Listener, Runner
from workbench.core.stats import SpeedStats, contention, speed_stats
from workbench.errors import SessionError
from workbench.models.config import ModelSpec
from workbench.store.comparison import open_session, run_comparison
from workbench.store.sessions import Session, SessionStore

FINISHED = ("done", "failed")


@dataclass
class CellResult:
    """One model × settings point for one prompt: its runs and their checks."""

    prompt: str
    model: str
    combo: str
    #: (run, contention, session id) for every repeat that ran.
    runs: list[tuple[ModelRun, str, str]] = field(default_factory=list)

    def checks(self) -> list[dict[str, Any]]:
        """Every check result of every repeat, the tests' first."""
        out = []
        for run, _, _ in self.runs:
            out.extend(stored_results(run))
        return out

    @property
    def passed(self) -> int:
        return sum(item["passed"] for item in self.checks())

    @property
    def total(self) -> int:
        return len(self.checks())

    def speed(self) -> list[SpeedStats]:
        return speed_stats((run, kind) for run, kind, _ in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "model": self.model,
            "settings": self.combo,
            "passed": self.passed,
            "checks": self.total,
            "runs": [
                {
                    "session": session,
                    "state": run.state,
                    "contention": kind,
                    "checks": stored_results(run),
                    "error": run.error,
                }
                for run, kind, session in self.runs
            ],
            "speed": [stats.to_dict() for stats in self.speed()],
        }


@dataclass
class GridReport:
    grid: Grid
    models: list[str]
    cells: dict[tuple[str, str, str], CellResult] = field(default_factory=dict)
    #: Sessions this run made, and (model, session) pairs taken from earlier runs.
    ran: int = 0
    reused: int = 0

    def cell(self, prompt: str, model: str, combo: str) -> CellResult:
        key = (prompt, model, combo)
        if key not in self.cells:
            self.cells[key] = CellResult(prompt, model, combo)
        return self.cells[key]

    def columns(self) -> list[tuple[str, str]]:
        """(model, settings) pairs in grid order."""
        return [(m, c.label) for m in self.models for c in self.grid.combos]

    def pass_rate(self, model: str) -> float | None:
        """The share of ``model``'s checks that passed, over every cell and repeat."""
        cells = [c for c in self.cells.values() if c.model == model]
        total = sum(c.total for c in cells)
        return sum(c.passed for c in cells) / total if total else None

    def column_rate(self, model: str, combo: str) -> float | None:
        """The share of checks passed in one column (a model at one settings point)."""
        cells = [c for c in self.cells.values() if c.model == model and c.combo == combo]
        total = sum(c.total for c in cells)
        return sum(c.passed for c in cells) / total if total else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid": self.grid.name,
            "file": str(self.grid.path),
            "models": self.models,
            "settings": [c.label for c in self.grid.combos],
            "prompts": [p.name for p in self.grid.prompts],
            "repeat": self.grid.repeat,
            "pass_rate": {m: self.pass_rate(m) for m in self.models},
            "sessions_run": self.ran,
            "runs_reused": self.reused,
            "cells": [cell.to_dict() for cell in self.cells.values()],
        }


class GridHooks:
    """What a grid run tells its caller; every method does nothing unless overridden."""

    def planned(self, total: int, done: int) -> None:
        """``total`` model answers in all, ``done`` of them already saved."""

    def answered(self, cell: CellResult, run: ModelRun, checks: list[dict[str, Any]]) -> None:
        """One model's answer in ``cell`` ended and was checked."""


async def run_grid(
    grid: Grid,
    specs: Sequence[ModelSpec],
    runner: Runner,
    store: SessionStore,
    *,
    schedule: str,
    hooks: GridHooks | None = None,
    listener: Listener | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> GridReport:
    """Run what is not saved yet; the report covers the saved answers too."""
    hooks = hooks or GridHooks()
    report = GridReport(grid, [spec.name for spec in specs])
    saved = _saved_runs(store, grid)
    plan = []
    for prompt in grid.prompts:
        for combo in grid.combos:
            key = grid.cell_key(prompt, combo)
            for repeat in range(grid.repeat):
                done = saved.get((key, repeat), {})
                for spec in specs:
                    if spec.name in done:
                        run, kind, session = done[spec.name]
                        report.cell(prompt.name, spec.name, combo.label).runs.append(
                            (run, kind, session)
                        )
                        report.reused += 1
                todo = [spec for spec in specs if spec.name not in done]
                if todo:
                    plan.append((prompt, combo, repeat, todo))
    hooks.planned(len(specs) * len(grid.prompts) * len(grid.combos) * grid.repeat, report.reused)
    for prompt, combo, repeat, todo in plan:
        if should_stop():
            break
        await _run_one(
            grid, prompt, combo, repeat, todo, runner, store, schedule, report, hooks, listener
        )
    return report


async def _run_one(
    grid: Grid,
    prompt: GridPrompt,
    combo: Combo,
    repeat: int,
    specs: list[ModelSpec],
    runner: Runner,
    store: SessionStore,
    schedule: str,
    report: GridReport,
    hooks: GridHooks,
    listener: Listener | None,
) -> None:
    request = grid.request(prompt, combo, repeat)
    recorder = open_session(store, specs, request, schedule=schedule)
    session = recorder.session
    session.tags += [
        f"grid:{grid.name}",
        f"prompt:{prompt.name}",
        f"cell:{grid.cell_key(prompt, combo)}",
        f"settings:{combo.label}",
        f"repeat:{repeat + 1}",
        # Where the cell stands in the grid: the view's rows and columns keep the file's order.
        f"grid-at:{grid.prompts.index(prompt)}/{grid.combos.index(combo)}",
    ]
    await run_comparison(
        runner, store, specs, request, schedule=schedule, listener=listener, recorder=recorder
    )
    report.ran += 1
    runs = [run for run in session.runs if run.state != "cancelled"]
    if prompt.tests is not None and runs:
        checker = Checker(prompt.tests, prompt.mode, prompt=prompt.text, timeout=grid.timeout)
        await check_runs(runs, checker)
    await apply_checks(runs, prompt.checks)
    await recorder.save_async(complete=True)
    kind = contention(schedule, len(session.runs))
    for run in session.runs:
        if run.state in FINISHED:
            cell = report.cell(prompt.name, run.model, combo.label)
            cell.runs.append((run, kind, session.id))
            hooks.answered(cell, run, stored_results(run))


def _saved_runs(store: SessionStore, grid: Grid) -> dict[tuple[str, int], dict[str, Any]]:
    """Finished runs of this grid already in the store, by (cell key, repeat) and model."""
    summaries, _ = store.list()
    found: dict[tuple[str, int], dict[str, Any]] = {}
    mark = f"grid:{grid.name}"
    for summary in summaries:
        if mark not in summary.tags:
            continue
        tags = dict(tag.split(":", 1) for tag in summary.tags if ":" in tag)
        try:
            key, repeat = tags["cell"], int(tags["repeat"]) - 1
        except (KeyError, ValueError):
            continue
        if not any(state in FINISHED for state in summary.states):
            continue
        try:
            session: Session = store.load(summary.path)
        except SessionError:  # a damaged file is reported by list(); it just does not count
            continue
        kind = contention(session.schedule, len(session.runs))
        for run in session.runs:
            # A run saved before its checks were (a kill in between) runs again.
            if run.state in FINISHED and "checks" in run.info:
                found.setdefault((key, repeat), {}).setdefault(run.model, (run, kind, session.id))
    return found
