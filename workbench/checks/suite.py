"""``workbench suite FILE``: prompts with tests, run on several models, scored by pass@k.

A suite file is TOML of our own or HumanEval-format JSONL (one task per line with
``task_id``, ``prompt``, ``test``, ``entry_point``; other fields are ignored). The
TOML format::

    name = "basics"          # optional; default: the file's name without suffix
    mode = "chat"            # optional default for every task: "chat" or "completion"
    system = "Answer in Python."   # optional default system prompt (chat mode)
    max_tokens = 256         # optional default

    [[task]]
    id = "add"               # unique in the file
    prompt = "Write a Python function add(a, b) that returns their sum."
    tests = '''
    assert add(1, 2) == 3
    def test_negative():
        assert add(-1, -1) == -2
    '''
    # optional per task: mode, system, max_tokens, entry_point (tests define check())

Every task runs on every chosen model ``--samples N`` times, one session per task
and sample (all models in it), tagged ``suite:<name>``, ``task:<id>`` and
``sample:<i>``; each run's check result is stored in its ``info["check"]``. The
samples follow the rules of ``workbench.checks.samples`` (shared with ``workbench run
--samples`` and the app): sample ``i`` uses seed ``--seed`` + i, and with several
samples the temperature is 0.8 unless ``--temperature`` says otherwise (one sample
uses the configured default).
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from workbench.checks.codecheck import CheckResult, Tests, tests_problem
from workbench.checks.samples import (
    Checker,
    SampleHooks,
    SampleRun,
    Tally,
    read_text,
    sample_sampling,
)
from workbench.core import format as fmt
from workbench.core.record import ModelRun
from workbench.core.runner import Runner
from workbench.errors import UsageError
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.sessions import SessionRecorder, SessionStore

MODES = ("chat", "completion")
HUMANEVAL_CHAT = (
    "Complete the following Python function. Reply with the whole function in one "
    "```python code block.\n\n```python\n{prompt}```"
)
_TOP_KEYS = {"name": str, "mode": str, "system": str, "max_tokens": int, "task": list}
_TASK_KEYS = {
    "id": str,
    "prompt": str,
    "tests": str,
    "mode": str,
    "system": str,
    "max_tokens": int,
    "entry_point": str,
}


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    tests: Tests
    mode: str = "chat"
    system: str | None = None
    max_tokens: int | None = None
    #: A HumanEval task: its prompt is code, wrapped in an instruction in chat mode.
    humaneval: bool = False

    def request(self, mode: str, sampling: Sampling) -> Request:
        if mode == "completion":
            return Request.completion(self.prompt, sampling=sampling)
        text = HUMANEVAL_CHAT.format(prompt=self.prompt) if self.humaneval else self.prompt
        return Request.chat(text, system=self.system, sampling=sampling)


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    tasks: tuple[Task, ...]


def load_suite(path: Path) -> Suite:
    """Read a suite file (``.toml`` or ``.jsonl``); any problem is a UsageError naming it."""
    text = read_text(path, "suite")
    if path.suffix == ".jsonl":
        suite = Suite(path.stem, path, _humaneval_tasks(text, path))
    elif path.suffix == ".toml":
        suite = _toml_suite(text, path)
    else:
        raise UsageError(f"{path}: a suite is a .toml file or HumanEval-format .jsonl.")
    if not suite.tasks:
        raise UsageError(f"{path}: no tasks.")
    seen: set[str] = set()
    for task in suite.tasks:
        if task.id in seen:
            raise UsageError(f"{path}: task id {task.id!r} appears twice.")
        seen.add(task.id)
    return suite


def _humaneval_tasks(text: str, path: Path) -> tuple[Task, ...]:
    tasks = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON ({exc.msg}).") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}:{number}: expected an object.")
        for key in ("task_id", "prompt", "test", "entry_point"):
            if not isinstance(data.get(key), str):
                raise UsageError(f"{path}:{number}: {key!r} must be a string.")
        problem = tests_problem(data["test"])
        if problem:
            raise UsageError(f"{path}:{number}: its test does not parse ({problem}).")
        tasks.append(
            Task(
                id=data["task_id"],
                prompt=data["prompt"],
                tests=Tests.humaneval(data),
                mode="completion",
                humaneval=True,
            )
        )
    return tuple(tasks)


def _toml_suite(text: str, path: Path) -> Suite:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc}).") from None
    _check_keys(data, _TOP_KEYS, f"{path}")
    defaults = {k: data[k] for k in ("mode", "system", "max_tokens") if k in data}
    tasks = []
    for number, entry in enumerate(data.get("task", []), 1):
        where = f"{path}: task {number}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: expected a table ([[task]]).")
        _check_keys(entry, _TASK_KEYS, where)
        for required in ("id", "prompt", "tests"):
            if required not in entry:
                raise UsageError(f"{where}: needs {required!r}.")
        where = f"{path}: task {entry['id']!r}"
        values = {**defaults, **entry}
        mode = values.get("mode", "chat")
        if mode not in MODES:
            raise UsageError(f"{where}: mode must be 'chat' or 'completion', not {mode!r}.")
        problem = tests_problem(entry["tests"])
        if problem:
            raise UsageError(f"{where}: its tests do not parse ({problem}).")
        entry_point = entry.get("entry_point")
        tests = Tests(entry["tests"], entry_point=entry_point, prompt=entry["prompt"])
        tasks.append(
            Task(
                id=entry["id"],
                prompt=entry["prompt"],
                tests=tests,
                mode=mode,
                system=values.get("system"),
                max_tokens=values.get("max_tokens"),
            )
        )
    return Suite(str(data.get("name") or path.stem), path, tuple(tasks))


def _check_keys(table: dict[str, Any], allowed: dict[str, type], where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            hint = difflib.get_close_matches(key, list(allowed), n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise UsageError(f"{where}: unknown key {key!r}.{extra}")
        kind = allowed[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UsageError(f"{where}: {key!r} must be {kind.__name__}, not {value!r}.")


# --- running -----------------------------------------------------------------------------


@dataclass
class SuiteReport:
    suite: Suite
    models: list[str]
    samples: int
    cells: dict[tuple[str, str], Tally] = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)
    isolation: set[str] = field(default_factory=set)
    #: Runs whose model failed or was cancelled (no answer to check).
    failed_runs: int = 0

    @property
    def ks(self) -> list[int]:
        return sorted({1, self.samples})

    def cell(self, model: str, task: str) -> Tally:
        return self.cells.setdefault((model, task), Tally())

    def pass_at(self, model: str, k: int) -> float | None:
        """The mean over tasks of the model's per-task pass@k."""
        values = [self.cell(model, t.id).pass_at(k) for t in self.suite.tasks]
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    def summary(self, model: str) -> dict[str, Any]:
        """pass@k, passes, runs and mean distinct answers per task of one model."""
        cells = [self.cell(model, task.id) for task in self.suite.tasks]
        return {
            "model": model,
            "pass_at": {str(k): self.pass_at(model, k) for k in self.ks},
            "passed": sum(cell.c for cell in cells),
            "runs": sum(cell.n for cell in cells),
            "mean_distinct": _mean([cell.distinct for cell in cells if cell.n]),
        }

    def to_dict(self) -> dict[str, Any]:
        models = []
        for model in self.models:
            cells = [(task, self.cell(model, task.id)) for task in self.suite.tasks]
            models.append(
                {
                    **self.summary(model),
                    "tasks": [
                        {
                            "id": task.id,
                            "n": cell.n,
                            "c": cell.c,
                            "distinct": cell.distinct,
                            "pass_at": {str(k): cell.pass_at(k) for k in self.ks},
                            "checks": [
                                {"status": c["status"], "message": c["message"]}
                                for c in cell.checks
                            ],
                        }
                        for task, cell in cells
                    ],
                }
            )
        return {
            "suite": self.suite.name,
            "file": str(self.suite.path),
            "samples": self.samples,
            "ks": self.ks,
            "isolation": sorted(self.isolation),
            "failed_runs": self.failed_runs,
            "models": models,
            "sessions": self.sessions,
        }


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


async def run_suite(
    suite: Suite,
    specs: list[ModelSpec],
    runner: Runner,
    store: SessionStore,
    *,
    samples: int = 1,
    sampling: Sampling | None = None,
    defaults: Sampling | None = None,
    seed: int = 1,
    schedule: str = "parallel",
    timeout: float = 10.0,
    mode: str | None = None,
    progress: Console | None = None,
) -> SuiteReport:
    """Run every task ``samples`` times on ``specs``, check each answer, save sessions.

    ``sampling`` holds the settings asked for this run; a task's ``max_tokens`` and
    then ``defaults`` (the config's) fill its gaps. The samples follow
    ``workbench.checks.samples``: sample ``i`` gets seed ``seed + i``; with several samples
    the temperature is 0.8 unless ``sampling`` sets one.
    """
    asked = replace(sampling or Sampling(), seed=seed)
    report = SuiteReport(suite, [spec.name for spec in specs], samples)
    for number, task in enumerate(suite.tasks, 1):
        task_mode = mode or task.mode

        def requests(index: int, task: Task = task, task_mode: str = task_mode) -> Request:
            settings = sample_sampling(asked, samples, index)
            settings = replace(settings, max_tokens=settings.max_tokens or task.max_tokens)
            return task.request(task_mode, settings.merged_over(defaults or Sampling()))

        run = SampleRun(
            runner,
            store,
            specs,
            requests,
            samples=samples,
            schedule=schedule,
            checker=Checker(task.tests, task_mode, timeout=timeout),
            tags=[f"suite:{suite.name}", f"task:{task.id}"],
            group=False,  # the suite's own tags group a task's samples
        )
        lines = _Progress(report, f"[{number}/{len(suite.tasks)}] {task.id}", progress)
        result = await run.run(hooks=lines)
        for model, tally in result.tallies.items():
            report.cells[(model, task.id)] = tally
        report.sessions += [str(recorder.path) for recorder in result.recorders]
    return report


class _Progress(SampleHooks):
    """A line per sample on the console; the sandbox isolation and failed runs noted."""

    def __init__(self, report: SuiteReport, head: str, console: Console | None) -> None:
        self.report, self.head, self.console = report, head, console
        self.results: dict[str, CheckResult] = {}

    def checked(self, index: int, run: ModelRun, result: CheckResult) -> None:
        self.results[run.model] = result
        if result.sandbox is not None:
            self.report.isolation.add(result.sandbox.isolation)
        if run.state != "done":
            self.report.failed_runs += 1

    def finished(self, index: int, recorder: SessionRecorder) -> None:
        line = [f"{self.head} sample {index + 1}/{self.report.samples}:"]
        for run in recorder.session.runs:
            result = self.results.pop(run.model, None)
            if result is None:
                line.append(f"{escape(run.model)} [magenta]{run.state}[/]")
            elif result.passed:
                line.append(f"{escape(run.model)} [green]passed[/]")
            else:
                why = escape(fmt.short(result.message))
                line.append(f"{escape(run.model)} [red]{result.status}[/] ({why})")
        if self.console is not None:
            self.console.print(" ".join(line), highlight=False)
