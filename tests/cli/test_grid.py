"""``workbench grid`` end to end on the real bundled models: the table, JSON, reports, JUnit,
``--fail-under``, and resume after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_cli import make_env, workbench

pytestmark = pytest.mark.slow

# 2 prompts × 2 models × 2 temperatures × 2 repeats = 16 answers, kept short.
GRID = """\
name = "tiny"
models = ["smollm2", "gemma3"]
repeat = 2

[settings]
temperature = [0, 0.8]
max_tokens = [24]

[[prompts]]
name = "add"
prompt = "Write a Python function add(a, b) that returns a + b."
tests = "assert add(2, 3) == 5"
checks = [{ type = "max-tokens", value = 24 }, { type = "regex", value = "add" }]

[[prompts]]
name = "count"
prompt = "Count from 1 to 5."
mode = "completion"
checks = [{ type = "not-contains", value = "zebra" }, { type = "python", value = "len(output)" }]
"""


@pytest.fixture(scope="module")
def ran(model_cache, tmp_path_factory):
    """One whole grid run (shared by the tests of its outputs)."""
    home = tmp_path_factory.mktemp("home")
    (home / "grid.toml").write_text(GRID)
    env = make_env(model_cache, home)
    result = workbench(
        "grid", "grid.toml", "--json", "--sessions", "s", "--junit", "junit.xml",
        "--report", "report.csv", cwd=home, env=env, timeout=900,
    )  # fmt: skip
    return home, env, result


def test_every_cell_runs_and_is_checked(ran):
    home, _, result = ran
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sessions_run"] == 2 * 2 * 2  # prompts × settings × repeats, both models each
    assert len(report["cells"]) == 2 * 2 * 2  # prompts × models × settings
    for cell in report["cells"]:
        assert len(cell["runs"]) == 2
        expected = 3 if cell["prompt"] == "add" else 2  # the tests count as one check
        for run in cell["runs"]:
            assert run["state"] == "done", run
            assert [c["name"] for c in run["checks"]][-2:] == (
                ["max-tokens:24", "regex:add"]
                if cell["prompt"] == "add"
                else ["not-contains:zebra", "python:len(output)"]
            )
            assert len(run["checks"]) == expected
        assert cell["checks"] == expected * 2
        (speed,) = cell["speed"]  # parallel, two models: contended, never pooled with alone
        assert speed["contention"] == "contended" and speed["gen_tokens_per_s"]["n"] == 2
    assert set(report["pass_rate"]) == {"smollm2", "gemma3"}
    sessions = list(session_files(home / "s"))
    assert len(sessions) == 8
    tags = [set(json.loads(p.read_text())["tags"]) for p in sessions]
    assert all("grid:tiny" in t and any(x.startswith("cell:") for x in t) for t in tags)


def test_the_junit_file_has_a_case_per_cell_repeat_and_check(ran):
    home, _, result = ran
    root = ET.parse(home / "junit.xml").getroot()
    cases = root.findall("testsuite/testcase")
    # add: 3 checks, count: 2 checks; × 2 models × 2 settings × 2 repeats
    assert len(cases) == (3 + 2) * 2 * 2 * 2
    failures = len(root.findall("testsuite/testcase/failure"))
    assert int(root.get("failures")) == failures
    report = json.loads(result.stdout)
    passed = sum(c["passed"] for c in report["cells"])
    assert failures == len(cases) - passed


def test_the_csv_report_has_a_row_per_cell(ran):
    home, _, _ = ran
    lines = (home / "report.csv").read_text().splitlines()
    assert lines[0] == "prompt,model,settings,runs,checks,gen tok/s"
    assert len(lines) == 1 + 8


def test_a_second_run_reruns_nothing_and_fail_under_sets_the_exit_status(ran):
    home, env, _ = ran
    before = {p: p.stat().st_mtime_ns for p in session_files(home / "s")}
    again = workbench(
        "grid", "grid.toml", "--json", "--sessions", "s", "--fail-under", "150",
        cwd=home, env=env,
    )  # fmt: skip
    assert again.returncode == 2  # 150 % is no share: bad usage
    again = workbench(
        "grid", "grid.toml", "--json", "--sessions", "s", "--fail-under", "100",
        cwd=home, env=env,
    )  # fmt: skip
    report = json.loads(again.stdout)
    assert report["sessions_run"] == 0 and report["runs_reused"] == 16
    assert {p: p.stat().st_mtime_ns for p in session_files(home / "s")} == before
    perfect = all(rate == 1.0 for rate in report["pass_rate"].values())
    assert again.returncode == (0 if perfect else 1)
    assert ("under --fail-under" in again.stderr) is not perfect


def test_resume_after_a_kill_reruns_nothing_done(model_cache, tmp_path):
    (tmp_path / "grid.toml").write_text(GRID)
    env = make_env(model_cache, tmp_path)
    sessions = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "grid", "grid.toml", "--sessions", "s"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and len(finished(sessions)) < 2:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = finished(sessions)
    assert len(done) >= 2, "the grid did not get far enough to be killed mid-way"
    stamps = {p: p.stat().st_mtime_ns for p in done}
    result = workbench("grid", "grid.toml", "--json", "--sessions", "s", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runs_reused"] >= 2 * len(done)
    assert report["sessions_run"] + len(done) <= 8  # nothing done ran again
    for path, stamp in stamps.items():
        assert path.stat().st_mtime_ns == stamp, f"{path.name} was written again"
    assert all(len(cell["runs"]) == 2 for cell in report["cells"])


def finished(folder: Path) -> list[Path]:
    """The session files whose every run has finished and been checked."""
    out = []
    for path in session_files(folder):
        try:
            runs = json.loads(path.read_text())["runs"]
        except (OSError, ValueError, KeyError):
            continue  # being written
        if runs and all(
            run["state"] in ("done", "failed") and "checks" in run["info"] for run in runs
        ):
            out.append(path)
    return out


def session_files(folder: Path) -> list[Path]:
    """The session files of ``folder`` (not its index)."""
    return [p for p in folder.glob("*.json") if not p.name.startswith(".")]
