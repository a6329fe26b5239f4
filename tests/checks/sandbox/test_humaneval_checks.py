"""HumanEval's own answers through workbench's checks: every canonical solution passes
in the sandbox and every ``return None`` body fails; EvalPlus-format tasks are checked
base and plus, the EvalPlus way."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sandbox_helpers import needs_linux

from workbench.checks.codecheck import check_program
from workbench.checks.evalplus import base_passed
from workbench.checks.humaneval import answer_program, builtin_path, read_jsonl_text
from workbench.checks.suite import load_suite

pytestmark = needs_linux


def _raw_tasks() -> list[dict]:
    text = read_jsonl_text(builtin_path())
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _verdicts(body_of) -> dict[str, str]:
    """Every task's check of the completion ``body_of(task)``, four sandboxes at a time
    (each is a process that mostly waits on its start-up)."""
    suite = load_suite("humaneval")
    raw = {task["task_id"]: task for task in _raw_tasks()}

    def one(task):
        program = answer_program("completion", task.prompt, task.entry_point, body_of(raw[task.id]))
        result = check_program(program.solution, task.tests.program(), timeout=20)
        return task.id, f"{result.status}: {result.message}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, suite.tasks))


@pytest.mark.slow
def test_all_164_canonical_solutions_pass():
    verdicts = _verdicts(lambda task: task["canonical_solution"])
    assert len(verdicts) == 164
    failing = {task: v for task, v in verdicts.items() if not v.startswith("passed")}
    assert failing == {}


@pytest.mark.slow
def test_all_164_return_none_bodies_fail():
    verdicts = _verdicts(lambda task: "    return None\n")
    assert len(verdicts) == 164
    passing = [task for task, v in verdicts.items() if v.startswith("passed")]
    assert passing == []
    # They fail on the tests (an assertion or a None where a value was used), not on
    # the harness.
    assert all(v.split(":")[0] in ("failed", "error") for v in verdicts.values())


PLUS_TASK = {
    "task_id": "Plus/half",
    "prompt": 'def half(x):\n    """Half of x."""\n',
    "entry_point": "half",
    "canonical_solution": "    return x / 2\n",
    "base_input": [[2], [3], [0.5]],
    "plus_input": [[-7], [1e9 + 1]],
    "atol": 0,
}


@pytest.mark.parametrize(
    ("body", "base", "plus"),
    [
        ("    return x / 2\n", True, True),
        ("    return x * 0.5 + 1e-9\n", True, True),  # within EvalPlus's float tolerance
        ("    return x / 2 if x >= 0 else 0\n", True, False),  # wrong on a plus input only
        ("    return x // 2\n", False, False),
        ("    return [x][1]\n", False, False),  # an exception is a failure
    ],
)
def test_evalplus_tasks_check_base_and_plus_against_the_canonical_outputs(
    tmp_path, body, base, plus
):
    path = tmp_path / "plus.jsonl"
    path.write_text(json.dumps(PLUS_TASK) + "\n", encoding="utf-8")
    (task,) = load_suite(path).tasks
    program = answer_program("completion", task.prompt, task.entry_point, body)
    result = check_program(program.solution, task.tests.program(), timeout=10)
    assert result.passed is plus
    assert base_passed(result.status, result.sandbox.stdout) is base
    if not plus:
        assert ("input" in result.message and "expected" in result.message) or not base


def test_a_candidate_that_mutates_its_input_cannot_change_the_reference(tmp_path):
    task = {
        "task_id": "Plus/sort",
        "prompt": "def first(xs):\n",
        "entry_point": "first",
        "canonical_solution": "    return sorted(xs)[0]\n",
        "base_input": [[[3, 1, 2]]],
        "plus_input": [],
        "atol": 0,
    }
    path = tmp_path / "mut.jsonl"
    path.write_text(json.dumps(task) + "\n", encoding="utf-8")
    (loaded,) = load_suite(path).tasks
    body = "    xs.clear()\n    xs.append(99)\n    return 99\n"
    program = answer_program("completion", loaded.prompt, loaded.entry_point, body)
    result = check_program(program.solution, loaded.tests.program(), timeout=10)
    assert not result.passed and "expected 1" in result.message


def test_an_evalplus_suite_reports_base_and_plus_apart(tmp_path, tmp_sessions, monkeypatch):
    import asyncio

    from rich.console import Console

    from workbench.checks.suite_run import SuiteRun, SuiteSettings
    from workbench.cli.suite import print_report
    from workbench.core.runner import Runner
    from workbench.models.backends import base
    from workbench.models.backends.scripted import ScriptedBackend
    from workbench.models.config import ModelSpec

    bodies = {"exact": "    return x / 2\n", "nonneg": "    return x / 2 if x >= 0 else 0\n"}
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    base.register_backend("bodies", lambda spec: ScriptedBackend(spec, bodies[spec.name]))
    path = tmp_path / "plus.jsonl"
    path.write_text(json.dumps(PLUS_TASK) + "\n", encoding="utf-8")
    specs = [ModelSpec(name=name, backend="bodies", origin="test") for name in bodies]

    async def go():
        runner = Runner(cores=2)
        try:
            settings = SuiteSettings(protocol="completion")
            return await SuiteRun(load_suite(path), specs, runner, tmp_sessions, settings).run()
        finally:
            await runner.pool.close()

    report = asyncio.run(go())
    assert report.pass_at("exact", 1) == 1.0 and report.pass_at("exact", 1, base=True) == 1.0
    assert report.pass_at("nonneg", 1) == 0.0 and report.pass_at("nonneg", 1, base=True) == 1.0
    data = report.summary("nonneg")
    assert data["base_pass_at"] == {"1": 1.0} and data["pass_at"] == {"1": 0.0}
    console = Console(record=True, width=160)
    print_report(console, report)
    text = console.export_text()
    assert "base pass@1" in text and "plus input 0" in text
