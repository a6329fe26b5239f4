"""Several answers per model to one prompt, and what their checks add up to.

``workbench suite``, ``workbench run --samples N`` and the app's samples setting
follow the same rules, which live here:

- sample ``i`` (1…N) uses seed ``first + i - 1``, where ``first`` is the seed asked
  for, else 1; with N > 1 the temperature is 0.8 unless one was asked for (N
  answers at a low temperature would be one answer N times);
- one session per sample, holding every model, tagged ``sample:<i>`` and (outside
  suites, which have their own tags) ``group:<id of sample 1's session>``, so the
  samples of one prompt belong together;
- the models of a sample run as the schedule says; the next sample starts when
  they have all ended, so the samples of one model run one after another (a local
  model answers one request at a time anyway);
- a model whose sample was cancelled gets no more samples; ``SampleRun.stop()``
  stops them all;
- with tests, every answer that was not cancelled is checked (a model that failed
  has no answer: its check is an error, so it counts as not passed); the tally
  gives passed c/n, pass@1 and pass@N (the unbiased estimator), and how many
  distinct answers there were, with or without tests.

Pass rates over every stored check (the leaderboard's column) are here too.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.checks.assertions import Assertion, evaluate, split_checks
from workbench.checks.codecheck import (
    CheckResult,
    Tests,
    check_answer,
    distinct_answers,
    pass_at_k,
    solution_code,
    tests_problem,
)
from workbench.core import format as fmt
from workbench.core.record import ModelRun
from workbench.core.runner import Listener, Runner
from workbench.errors import UsageError
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.comparison import open_session, run_comparison
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session, SessionStore

#: The temperature of several samples when none was asked for.
SAMPLED_TEMPERATURE = 0.8
#: The most samples the app and ``workbench run`` take (a pane shows each of them).
MAX_SAMPLES = 20
#: The per-answer limit of a check started from the app or ``workbench run`` (seconds).
CHECK_TIMEOUT = 10.0
#: The tag that groups the sessions of one samples run: ``group:<first session id>``.
GROUP_TAG = "group:"


def samples_problem(samples: int, maximum: int | None = MAX_SAMPLES) -> str | None:
    """Why ``samples`` is not a number of samples (``None`` when it is)."""
    if maximum is not None and not 1 <= samples <= maximum:
        return f"samples must be between 1 and {maximum}, not {samples}."
    if samples < 1:
        return f"samples must be at least 1, not {samples}."
    return None


def sample_sampling(asked: Sampling, samples: int, index: int) -> Sampling:
    """The settings of sample ``index`` (0-based) of ``samples``, from the ones asked for.

    One sample is left as asked. With several, the seed is the asked one (else 1)
    plus ``index`` and the temperature is 0.8 unless asked.
    """
    if samples <= 1:
        return asked
    temperature = asked.temperature if asked.temperature is not None else SAMPLED_TEMPERATURE
    first = asked.seed if asked.seed is not None else 1
    return replace(asked, temperature=temperature, seed=first + index)


def sample_tags(index: int, group: str | None) -> list[str]:
    """The tags of sample ``index`` (0-based): ``sample:<i>`` and the group's, if any."""
    return [f"sample:{index + 1}"] + ([f"{GROUP_TAG}{group}"] if group else [])


# --- checking answers ----------------------------------------------------------------------


def read_text(path: Path, what: str) -> str:
    """A UTF-8 file the user named; a UsageError that names it when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text.") from None


def read_tests(path: Path) -> str:
    """The tests of ``run --tests FILE`` (asserts, test functions, HumanEval ``check``):
    Python that parses, or a UsageError naming the file."""
    text = read_text(path, "tests")
    if not text.strip():
        raise UsageError(f"{path}: no tests in it.")
    problem = tests_problem(text)
    if problem:
        raise UsageError(f"{path}: the tests do not parse ({problem}).")
    try:
        split_checks(text)  # its "# check:" lines, told now rather than after the run
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}") from None
    return text


def _defines_uncalled_check(tree: ast.Module) -> bool:
    """HumanEval's ``def check(candidate)`` with no ``check(...)`` call of its own."""
    defines = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body)
    calls = any(
        isinstance(n, ast.Expr)
        and isinstance(n.value, ast.Call)
        and isinstance(n.value.func, ast.Name)
        and n.value.func.id == "check"
        for n in tree.body
    )
    return defines and not calls


def build_tests(text: str, answer: str, mode: str, prompt: str = "") -> Tests:
    """The ``Tests`` of one answer from tests as typed: HumanEval's ``check(candidate)``
    is called with the last function the answer defines (its entry point); other tests
    run as typed. In completion mode the answer continues ``prompt``, so the prompt is
    part of the program (in chat mode it is not passed: a sentence starting "from …"
    is no import)."""
    plain = Tests(code=text, prompt=prompt if mode == "completion" else "")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return plain  # the sandbox reports the error
    if not _defines_uncalled_check(tree):
        return plain
    try:
        solution = ast.parse(solution_code(answer, mode, plain))
    except SyntaxError:
        return plain
    names = [n.name for n in solution.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return replace(plain, entry_point=names[-1]) if names else plain


def answer_code(text: str, mode: str, prompt: str = "") -> str:
    """What ``distinct_answers`` compares of an unchecked answer: its code, else its text."""
    code = solution_code(text, mode, Tests("", prompt=prompt if mode == "completion" else ""))
    return code if code.strip() else text


@dataclass(frozen=True)
class Checker:
    """The tests a prompt carries, and how each answer is run against them."""

    #: Tests as typed (the app's tests box, ``--tests FILE``) or a suite task's ``Tests``.
    tests: str | Tests
    mode: str
    #: The prompt (in completion mode the answer continues it).
    prompt: str = ""
    timeout: float = CHECK_TIMEOUT
    #: Checks besides the tests (``# check:`` lines); the answer must pass them all too.
    checks: tuple[Assertion, ...] = ()

    @classmethod
    def from_text(cls, text: str, mode: str, prompt: str = "") -> Checker | None:
        """From the tests box or a ``--tests`` file: Python tests and ``# check:`` lines
        (None when it holds neither)."""
        tests, checks = split_checks(text)
        if not tests and not checks:
            return None
        return cls(tests, mode, prompt, checks=tuple(checks))

    def check(self, run: ModelRun) -> CheckResult:
        """The check of one model's answer (a model that gave none fails it); with checks,
        their results also go to ``run.info["checks"]``, and the answer passes when its
        tests and every check pass."""
        if run.state != "done":
            why = run.error["message"] if run.error else run.state
            return CheckResult("error", f"No answer to check: {why}", "")
        result = None
        tests = self.tests
        if isinstance(tests, Tests) or tests.strip():
            if isinstance(tests, str):
                tests = build_tests(tests, run.text, self.mode, self.prompt)
            result = check_answer(run.text, self.mode, tests, timeout=self.timeout)
        if not self.checks:
            assert result is not None
            return result
        outcomes = [evaluate(check, run) for check in self.checks]
        run.info["checks"] = [outcome.to_dict() for outcome in outcomes]
        count = f"{len(outcomes)} check{'s' * (len(outcomes) != 1)}"
        what = f"tests and {count}" if result is not None else count
        code = result.code if result is not None else ""
        sandbox = result.sandbox if result is not None else None
        if result is not None and not result.passed:
            return replace(result, what=what)
        failed = next((o for o in outcomes if not o.passed), None)
        if failed is not None:
            message = f"{failed.name}: {failed.message}"
            return CheckResult("failed", message, code, sandbox, what=what)
        return CheckResult("passed", "passed", code, sandbox, what=what)


async def check_runs(
    runs: Sequence[ModelRun],
    checker: Checker,
    on_result: Callable[[ModelRun, CheckResult], None] | None = None,
) -> dict[str, CheckResult]:
    """Check every run that was not cancelled, each in a thread (the sandbox blocks);
    keep each result in its run's ``info["check"]``. A check that cannot run is an
    error result, never an exception."""
    results: dict[str, CheckResult] = {}

    async def one(run: ModelRun) -> None:
        try:
            result = await asyncio.to_thread(checker.check, run)
        except Exception as exc:
            result = CheckResult("error", f"The check could not run: {exc}", "")
        run.info["check"] = result.to_dict()
        results[run.model] = result
        if on_result is not None:
            on_result(run, result)

    await asyncio.gather(*(one(run) for run in runs if run.state != "cancelled"))
    return results


# --- counting ------------------------------------------------------------------------------


@dataclass
class Tally:
    """One model's samples of one prompt: a check per checked answer, a code per answer."""

    checks: list[dict[str, Any]] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def add(self, code: str, check: dict[str, Any] | None = None) -> None:
        self.codes.append(code)
        if check is not None:
            self.checks.append(check)

    @property
    def n(self) -> int:
        """Answers checked."""
        return len(self.checks)

    @property
    def c(self) -> int:
        """Answers that passed."""
        return sum(1 for check in self.checks if check["passed"])

    @property
    def answers(self) -> int:
        return len(self.codes)

    @property
    def distinct(self) -> int:
        return len(distinct_answers(self.codes))

    def pass_at(self, k: int) -> float | None:
        return pass_at_k(self.n, self.c, k) if self.n >= k else None

    def summary(self, ks: Sequence[int]) -> dict[str, Any]:
        """answers, distinct; with checks: passed, checked and pass@k for each of ``ks``."""
        data: dict[str, Any] = {"answers": self.answers, "distinct": self.distinct}
        if self.checks:
            data.update(
                passed=self.c,
                checked=self.n,
                pass_at={str(k): self.pass_at(k) for k in ks},
            )
        return data


@dataclass
class SamplesReport:
    """What a samples run gave: a tally per model and its sessions."""

    models: list[str]
    samples: int
    tallies: dict[str, Tally] = field(default_factory=dict)
    recorders: list[SessionRecorder] = field(default_factory=list)
    #: The id of sample 1's session (the group tag), when there is a group.
    group: str | None = None
    #: Samples that started (fewer than ``samples`` when stopped).
    done: int = 0
    checked: bool = False

    @property
    def ks(self) -> list[int]:
        return sorted({1, self.samples})

    def tally(self, model: str) -> Tally:
        return self.tallies.setdefault(model, Tally())

    def summary(self, model: str) -> dict[str, Any]:
        return {"model": model, **self.tally(model).summary(self.ks)}

    def count(self, runs: Sequence[ModelRun], results: dict[str, CheckResult]) -> None:
        """Add one sample's answers (and their checks, from ``check_runs``)."""
        for run in runs:
            result = results.get(run.model)
            if result is not None:
                self.tally(run.model).add(result.code, run.info["check"])
            else:
                mode = "completion" if run.prompt else "chat"
                self.tally(run.model).add(answer_code(run.text, mode, run.prompt))

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "samples_run": self.done,
            "ks": self.ks,
            "group": self.group,
            "models": [self.summary(model) for model in self.models],
            "sessions": [str(recorder.path) for recorder in self.recorders],
        }


def summary_text(summary: dict[str, Any], samples: int) -> str:
    """One line: ``passed 2/3 · pass@1 67% · pass@3 100% · 2 distinct of 3``."""
    parts = []
    if "checked" in summary:
        parts.append(f"passed {summary['passed']}/{summary['checked']}")
        for k, value in summary["pass_at"].items():
            parts.append(f"pass@{k} {fmt.percent(value)}")
    answers = summary["answers"]
    if answers:
        parts.append(f"{summary['distinct']} distinct of {answers} answer{'s' * (answers != 1)}")
    if answers < samples:
        parts.append(f"stopped: {answers} of {samples} answered")
    return " · ".join(parts)


# --- running -------------------------------------------------------------------------------


class SampleHooks:
    """What a samples run tells its caller; every method does nothing unless overridden."""

    async def opened(self, index: int, recorder: SessionRecorder) -> None:
        """Sample ``index``'s session exists and its models are about to run."""

    def checking(self, index: int, runs: Sequence[ModelRun]) -> None:
        """The answers of sample ``index`` are about to be checked."""

    def checked(self, index: int, run: ModelRun, result: CheckResult) -> None:
        """One answer of sample ``index`` was checked."""

    def finished(self, index: int, recorder: SessionRecorder) -> None:
        """Sample ``index`` ended, was checked and saved."""


class SampleRun:
    """One prompt, ``samples`` times, on ``specs``: run, check, count (rules above)."""

    def __init__(
        self,
        runner: Runner,
        store: SessionStore,
        specs: Sequence[ModelSpec],
        requests: Callable[[int], dict[str, Request] | Request],
        *,
        samples: int,
        schedule: str,
        checker: Checker | None = None,
        parent: Session | None = None,
        tags: Sequence[str] = (),
        group: bool = True,
    ) -> None:
        """``requests(i)`` builds sample ``i``'s requests (with ``sample_sampling``);
        ``parent`` makes every sample a follow-up of that session; ``tags`` go on every
        session before the sample tags; ``group=False`` leaves out the group tag."""
        self.runner, self.store = runner, store
        self.specs = list(specs)
        self.requests = requests
        self.samples, self.schedule = samples, schedule
        self.checker, self.parent = checker, parent
        self.tags, self.group = list(tags), group
        #: Models that get no more samples (one of theirs was cancelled).
        self.stopped: set[str] = set()
        self._stop_all = False

    def stop(self, model: str | None = None) -> None:
        """No more samples for ``model``, or for any model."""
        if model is None:
            self._stop_all = True
        else:
            self.stopped.add(model)

    async def run(
        self, *, listener: Listener | None = None, hooks: SampleHooks | None = None
    ) -> SamplesReport:
        hooks = hooks or SampleHooks()
        report = SamplesReport([spec.name for spec in self.specs], self.samples)
        report.checked = self.checker is not None
        for index in range(self.samples):
            specs = [spec for spec in self.specs if spec.name not in self.stopped]
            if self._stop_all or not specs:
                break
            recorder = await self._one(index, specs, report, listener, hooks)
            for run in recorder.session.runs:
                if run.state == "cancelled":
                    self.stopped.add(run.model)
        return report

    async def _one(
        self,
        index: int,
        specs: list[ModelSpec],
        report: SamplesReport,
        listener: Listener | None,
        hooks: SampleHooks,
    ) -> SessionRecorder:
        requests = self.requests(index)
        recorder = open_session(
            self.store, specs, requests, schedule=self.schedule, parent=self.parent
        )
        if self.group and report.group is None:
            report.group = recorder.session.id
        recorder.session.tags += self.tags + sample_tags(index, report.group)
        report.recorders.append(recorder)
        report.done += 1
        await hooks.opened(index, recorder)
        await run_comparison(
            self.runner,
            self.store,
            specs,
            requests,
            schedule=self.schedule,
            listener=listener,
            recorder=recorder,
        )
        runs = [run for run in recorder.session.runs if run.state != "cancelled"]
        results: dict[str, CheckResult] = {}
        if self.checker is not None and runs:
            hooks.checking(index, runs)
            results = await check_runs(
                runs, self.checker, lambda run, result: hooks.checked(index, run, result)
            )
        report.count(runs, results)
        await recorder.save_async(complete=True)
        hooks.finished(index, recorder)
        return recorder


# --- pass rates over the stored checks (the leaderboard) ----------------------------------


def pass_rates(
    store: SessionStore, *, tag: str | None = None, since: datetime | None = None
) -> dict[str, tuple[int, int]]:
    """Model → (checks passed, answers checked) over every session's ``run.info["check"]``."""
    from workbench.errors import SessionError, UsageError

    summaries, _ = store.list()
    rates: dict[str, tuple[int, int]] = {}
    for summary in summaries:
        if tag is not None and tag not in summary.tags:
            continue
        if since is not None and not _after(summary.created, since):
            continue
        try:
            session = store.load(summary.path)
        except (SessionError, UsageError):
            continue  # the leaderboard already counts unreadable files
        for run in session.runs:
            check = run.info.get("check") if isinstance(run.info, dict) else None
            if not isinstance(check, dict) or "status" not in check:
                continue
            passed, checked = rates.get(run.model, (0, 0))
            rates[run.model] = (passed + (check["status"] == "passed"), checked + 1)
    return rates


def _after(created: str, since: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=since.tzinfo)
    return moment >= since


def rate_text(rate: tuple[int, int] | None) -> str:
    """``3/5``, or ``–`` when no answer of the model was checked."""
    return f"{rate[0]}/{rate[1]}" if rate and rate[1] else "–"
