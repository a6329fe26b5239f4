"""Grids as the sessions keep them: prompts × models × settings, for the app's grid view.

A grid run saves one session per prompt, settings point and repeat (``workbench.checks
.grid``); this reads them back, grouped by grid, without running anything: per cell
the runs with their checks and speed, the sessions to open, and the mean score the
user gave its answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench.checks.grid import FINISHED, CellResult
from workbench.core.stats import contention
from workbench.errors import SessionError
from workbench.store.sessions import SessionStore


@dataclass
class SavedGrid:
    name: str
    prompts: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str, str], CellResult] = field(default_factory=dict)
    #: (prompt, settings) → the sessions' paths, by repeat.
    sessions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: (prompt, model, settings) → the scores given to the cell's answers.
    scores: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    #: Where each prompt and settings point stands in the grid file.
    order: dict[str, int] = field(default_factory=dict)

    def columns(self) -> list[tuple[str, str]]:
        return [(model, settings) for model in self.models for settings in self.settings]

    def varying(self, settings: str) -> str:
        """The part of a settings label that differs between the grid's columns."""
        keys = self._varying_keys()
        return " ".join(f"{k}={v}" for k, v in _pairs(settings) if k in keys)

    def constant(self) -> str:
        """The settings every column shares, e.g. ``max_tokens=64``."""
        keys = self._varying_keys()
        first = self.settings[0] if self.settings else ""
        return " ".join(f"{k}={v}" for k, v in _pairs(first) if k not in keys)

    def _varying_keys(self) -> set[str]:
        points = [dict(_pairs(label)) for label in self.settings]
        keys = {key for point in points for key in point}
        return {k for k in keys if len({point.get(k) for point in points}) > 1}

    def cell(self, prompt: str, model: str, settings: str) -> CellResult | None:
        return self.cells.get((prompt, model, settings))

    def mean_score(self, prompt: str, model: str, settings: str) -> float | None:
        scores = self.scores.get((prompt, model, settings))
        return sum(scores) / len(scores) if scores else None


def saved_grids(store: SessionStore) -> dict[str, SavedGrid]:
    """Every grid in the store, oldest first; damaged files are skipped (``list`` says)."""
    summaries, _ = store.list()
    grids: dict[str, SavedGrid] = {}
    for summary in reversed(summaries):  # oldest first: rows in the order they ran
        tags = dict(tag.split(":", 1) for tag in summary.tags if ":" in tag)
        if not {"grid", "prompt", "settings", "repeat"} <= set(tags):
            continue
        try:
            session = store.load(summary.path)
            repeat = int(tags["repeat"])
        except (SessionError, ValueError):
            continue
        grid = grids.setdefault(tags["grid"], SavedGrid(tags["grid"]))
        prompt, settings = tags["prompt"], tags["settings"]
        _add(grid.prompts, prompt)
        _add(grid.settings, settings)
        row, _, column = tags.get("grid-at", "").partition("/")
        if row.isdigit() and column.isdigit():
            grid.order.setdefault(f"prompt:{prompt}", int(row))
            grid.order.setdefault(f"settings:{settings}", int(column))
        paths = grid.sessions.setdefault((prompt, settings), [])
        paths.insert(min(repeat - 1, len(paths)), summary.path)
        kind = contention(session.schedule, len(session.runs))
        for run in session.runs:
            _add(grid.models, run.model)
            if run.state in FINISHED:
                key = (prompt, run.model, settings)
                cell = grid.cells.setdefault(key, CellResult(prompt, run.model, settings))
                cell.runs.append((run, kind, session.id))
        for score in session.ratings.get("scores", []):
            key = (prompt, score.get("model", ""), settings)
            if isinstance(score.get("score"), int):
                grid.scores.setdefault(key, []).append(score["score"])
    for grid in grids.values():  # the file's order where the sessions say it
        grid.prompts.sort(key=lambda p: grid.order.get(f"prompt:{p}", len(grid.order)))
        grid.settings.sort(key=lambda s: grid.order.get(f"settings:{s}", len(grid.order)))
    return grids


def _pairs(label: str) -> list[tuple[str, str]]:
    """``temperature=0 system="be brief"`` → its (key, value) pairs (values as written:
    numbers bare, strings JSON-quoted, see ``grid_file.Combo.label``)."""
    return re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"?…?|\S+)', label)


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
