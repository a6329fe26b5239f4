"""The suite report's intervals and ks: Wilson for one sample per task, a bootstrap
over tasks for several."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.checks.codecheck import Tests
from workbench.checks.suite import Suite, Task
from workbench.checks.suite_report import SuiteReport, bootstrap, wilson


def test_wilson_matches_the_textbook_values():
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(0, 0) == (0.0, 1.0)


def test_bootstrap_is_reproducible_and_holds_the_mean():
    values = [1.0] * 30 + [0.0] * 70
    low, high = bootstrap(values)
    assert (low, high) == bootstrap(values)
    assert low < 0.3 < high and high - low < 0.25
    assert bootstrap([1.0, 1.0]) == (1.0, 1.0)


def _report(samples: int, passes: dict[str, list[int]]) -> SuiteReport:
    tasks = tuple(Task(f"t{i}", "p", Tests("pass")) for i in range(len(passes["m"])))
    report = SuiteReport(Suite("s", Path("s.toml"), tasks), ["m"], samples)
    for task, c in zip(tasks, passes["m"], strict=True):
        for i in range(samples):
            report.add("m", task.id, f"code{i}", {"status": "passed" if i < c else "failed",
                                                   "passed": i < c, "message": ""})  # fmt: skip
    return report


def test_one_sample_uses_wilson_several_the_bootstrap():
    one = _report(1, {"m": [1, 0, 1, 1]})
    assert one.pass_at("m", 1) == 0.75 and one.interval("m", 1) == wilson(3, 4)
    assert one.ks == [1] and one.interval_method == "Wilson"
    many = _report(20, {"m": [20, 10, 0, 5]})
    assert many.ks == [1, 10, 20]
    assert many.pass_at("m", 1) == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    low, high = many.interval("m", 1)
    assert low <= many.pass_at("m", 1) <= high
    assert many.interval_method.startswith("bootstrap")
