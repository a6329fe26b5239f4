"""Suite results as the sessions keep them: models × tasks, for the app's results view.

A suite run saves one session per task and sample (``workbench.checks.suite_run``);
this reads them back, grouped by suite, without running anything: per model and
task the answers with their checks and sessions, per model the protocol and
pass@1 with its Wilson interval (over tasks with a first sample).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workbench.checks.suite_report import wilson
from workbench.errors import SessionError, UsageError
from workbench.store.sessions import SessionStore


@dataclass(frozen=True)
class SavedAnswer:
    """One model's checked answer to one task."""

    model: str
    task: str
    sample: int
    check: dict[str, Any]
    session: str
    mode: str = ""

    @property
    def passed(self) -> bool:
        return self.check.get("status") == "passed"


@dataclass
class SavedSuite:
    name: str
    #: The suite's source (``humaneval`` or a file), to run it again.
    source: str = ""
    models: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    answers: dict[tuple[str, str], list[SavedAnswer]] = field(default_factory=dict)
    protocols: dict[str, str] = field(default_factory=dict)

    def cell(self, model: str, task: str) -> list[SavedAnswer]:
        return self.answers.get((model, task), [])

    def pass_at_1(self, model: str) -> tuple[int, int]:
        """(passed, tasks) over the first sample of each task the model answered."""
        passed = total = 0
        for task in self.tasks:
            first = [a for a in self.cell(model, task) if a.sample == 1]
            if first:
                total += 1
                passed += first[-1].passed
        return passed, total

    def interval(self, model: str) -> tuple[float, float] | None:
        passed, total = self.pass_at_1(model)
        return wilson(passed, total) if total else None

    def sessions_of(self, task: str) -> list[str]:
        """The sessions that hold answers to ``task``, the one with most models first."""
        counts: dict[str, int] = {}
        for model in self.models:
            for answer in self.cell(model, task):
                counts[answer.session] = counts.get(answer.session, 0) + 1
        return sorted(counts, key=lambda path: -counts[path])


def _natural(text: str) -> list[Any]:
    """``HumanEval/10`` after ``HumanEval/9``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def saved_suites(store: SessionStore) -> dict[str, SavedSuite]:
    """Every suite in ``store`` by name, newest answers last in each cell."""
    summaries, _ = store.list()
    suites: dict[str, SavedSuite] = {}
    for summary in reversed(summaries):  # oldest first: a re-run's answer comes last
        names = [tag.removeprefix("suite:") for tag in summary.tags if tag.startswith("suite:")]
        if not names:
            continue
        try:
            session = store.load(summary.path)
        except (SessionError, UsageError):
            continue
        for run in session.runs:
            info = run.info.get("suite") if isinstance(run.info, dict) else None
            check = run.info.get("check") if isinstance(run.info, dict) else None
            if not isinstance(info, dict) or not isinstance(check, dict):
                continue
            suite = suites.setdefault(info.get("name", names[0]), SavedSuite(names[0]))
            suite.source = info.get("source", suite.source)
            task = str(info.get("task", ""))
            if run.model not in suite.models:
                suite.models.append(run.model)
            if task not in suite.tasks:
                suite.tasks.append(task)
            mode = str(info.get("mode", ""))
            suite.protocols[run.model] = mode
            answer = SavedAnswer(
                run.model, task, int(info.get("sample", 1)), check, str(summary.path), mode
            )
            suite.answers.setdefault((run.model, task), []).append(answer)
    for suite in suites.values():
        suite.tasks.sort(key=_natural)
    return suites
