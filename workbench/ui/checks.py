"""Tests typed in the settings panel: what to run each answer against, and what a pane shows.

The running is ``workbench.codecheck.check_answer`` (in the sandbox); this module
only turns the typed text into ``Tests``, a stored check into one coloured line,
and the checks of every session into a pass rate per model (the leaderboard).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import datetime
from typing import Any

from textual.content import Content

from workbench.codecheck import Tests, solution_code
from workbench.sessions import SessionStore

#: The per-answer limit of a check started from the compare screen (seconds).
CHECK_TIMEOUT = 10.0


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
    """The ``Tests`` of one answer: HumanEval's ``check(candidate)`` is called with the
    last function the answer defines (its entry point); other tests run as typed. In
    completion mode the answer continues ``prompt``, so the prompt is part of the program
    (in chat mode it is not passed: a sentence starting "from …" is no import)."""
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


def check_line(check: dict[str, Any] | None) -> Content:
    """One line for a pane: ``✔ tests passed``, ``✘ failed: <assertion>``, an error, a timeout."""
    if check is None:
        return Content.from_markup("[$text-muted]running the tests…[/]")
    status, message = check.get("status", "error"), check.get("message", "")
    if status == "passed":
        return Content.from_markup("[b $success]✔ tests passed[/]")
    if status == "failed":
        return Content.from_markup("[b $error]✘ failed:[/] $message", message=message)
    if status in ("timeout", "killed"):
        return Content.from_markup(
            "[b $warning]$status:[/] $message", status=status, message=message
        )
    return Content.from_markup("[b $error]error:[/] $message", message=message)


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
