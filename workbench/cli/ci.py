"""What the commands that check answers share for CI: ``--check``, ``--fail-under``,
``--junit``, and a model's pass rate over every result its answers keep."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape

from workbench.checks.assertions import Assertion, parse_check, stored_results
from workbench.cli.junit import Case
from workbench.core import format as fmt
from workbench.core.record import ModelRun
from workbench.errors import UsageError


def add_ci_options(p: argparse.ArgumentParser, *, checks: bool = False) -> None:
    """``--fail-under`` and ``--junit`` (and ``--check`` where asked), for grid, suite, run."""
    if checks:
        p.add_argument(
            "--check",
            action="append",
            dest="checks",
            default=[],
            metavar="KIND[:VALUE]",
            help="check every answer: contains, not-contains, regex, json, python, "
            "max-tokens, max-seconds (repeat for more)",
        )
    p.add_argument(
        "--fail-under",
        type=float,
        metavar="RATE",
        help="exit 1 when a model's pass rate is under RATE (0–1, or a percentage)",
    )
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML: a test case per check")


def parsed_checks(texts: Sequence[str]) -> list[Assertion]:
    return [parse_check(text) for text in texts]


def fail_under(value: float | None) -> float | None:
    """``--fail-under`` as a share: 0.8 and 80 both mean 80 %."""
    if value is None:
        return None
    share = value / 100 if value > 1 else value
    if not 0 <= share <= 1:
        raise UsageError(f"--fail-under takes a share (0–1) or a percentage, not {value:g}.")
    return share


def pass_rates(runs: Iterable[ModelRun]) -> dict[str, float | None]:
    """Per model: the share of the results its runs keep (tests and checks) that passed."""
    counts: dict[str, list[int]] = {}
    for run in runs:
        passed_total = counts.setdefault(run.model, [0, 0])
        for item in stored_results(run):
            passed_total[0] += bool(item["passed"])
            passed_total[1] += 1
    return {model: (p / t if t else None) for model, (p, t) in counts.items()}


def under(rates: dict[str, float | None], threshold: float | None, err: Console) -> bool:
    """Whether a model's pass rate is under ``--fail-under`` (each one is said)."""
    if threshold is None:
        return False
    low = False
    for model, rate in rates.items():
        if rate is not None and rate < threshold:
            err.print(
                f"{escape(model)}: pass rate {fmt.percent(rate, 1)} is under "
                f"--fail-under {fmt.percent(threshold, 1)}.",
                highlight=False,
            )
            low = True
    return low


def run_cases(run: ModelRun, suite: str, classname: str, prefix: str = "") -> list[Case]:
    """A run's test cases: one per result it keeps ("answered" when it keeps none), an
    error when it has no answer."""
    total = run.total_s or 0.0
    if run.state != "done":
        message = run.error["message"] if run.error else run.state
        return [Case(suite, classname, f"{prefix}answer", "error", message, total)]
    results = stored_results(run) or [{"name": "answered", "passed": True, "message": ""}]
    return [
        Case(
            suite,
            classname,
            f"{prefix}{item['name']}",
            "passed" if item["passed"] else "failed",
            item.get("message", ""),
            total,
        )
        for item in results
    ]
