"""``workbench run --check … --fail-under … --junit …`` on the real SmolLM2."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from test_cli import make_env, workbench

pytestmark = pytest.mark.slow

PROMPT = "Write a Python function add(a, b) that returns a + b."


def test_checks_rates_exit_status_and_junit(model_cache, tmp_path):
    env = make_env(model_cache, tmp_path)
    result = workbench(
        "run", PROMPT, "-m", "smollm2", "--max-tokens", "40", "--temperature", "0", "--json",
        "--check", "regex:def +add", "--check", "max-tokens:1", "--check", "python:len(output) > 0",
        "--fail-under", "0.9", "--junit", "run.xml", "--sessions", "s",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    data = json.loads(result.stdout)
    (run,) = data["runs"]
    assert run["error"] is None
    # max-tokens:1 cannot pass for a 40-token answer: the rate is under 90 %, exit status 1.
    assert result.returncode == 1
    assert "under --fail-under 90.0%" in result.stderr
    saved = json.loads(next((tmp_path / "s").glob("2*.json")).read_text())
    checks = saved["runs"][0]["info"]["checks"]
    assert [c["name"] for c in checks] == [
        "regex:def +add",
        "max-tokens:1",
        "python:len(output) > 0",
    ]
    assert checks[1]["passed"] is False and "(max 1)" in checks[1]["message"]
    assert checks[2]["passed"] is True
    assert data["pass_rate"]["smollm2"] == pytest.approx(sum(c["passed"] for c in checks) / 3)
    root = ET.parse(tmp_path / "run.xml").getroot()
    cases = root.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [f"sample 1: {c['name']}" for c in checks]
    assert int(root.get("failures")) == sum(not c["passed"] for c in checks)


def test_a_bad_check_is_bad_usage_before_anything_runs(model_cache, tmp_path):
    env = make_env(model_cache, tmp_path)
    result = workbench(
        "run", PROMPT, "-m", "smollm2", "--check", "regex:([", "--sessions", "s",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "bad regular expression" in result.stderr
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").glob("2*.json"))
