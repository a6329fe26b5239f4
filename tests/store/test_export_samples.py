"""Samples for the reference harnesses: human-eval's {"task_id", "completion"} and
EvalPlus's {"task_id", "solution"}, one model at a time, the latest answer per task."""

from __future__ import annotations

import argparse
import json

import pytest

from workbench.cli import main as cli
from workbench.cli.review import HANDLERS, add_parsers
from workbench.core.record import ModelRun
from workbench.errors import UsageError
from workbench.models.config import Config
from workbench.store.export import samples_jsonl, suite_samples
from workbench.store.sessions import Session

PROMPT = 'def one():\n    """One."""\n'


def answer(model: str, task: str, completion: str, passed: bool, sample: int = 1) -> ModelRun:
    return ModelRun(
        model=model,
        state="done",
        text=completion,
        info={
            "check": {"status": "passed" if passed else "failed", "passed": passed},
            "suite": {
                "name": "he",
                "task": task,
                "sample": sample,
                "mode": "completion",
                "completion": completion,
                "solution": PROMPT + completion,
            },
        },
    )


def session(sid: str, *runs: ModelRun) -> Session:
    return Session(id=sid, created="2026-12-06T10:00:00+00:00", mode="completion", prompt=PROMPT,
                   runs=list(runs), tags=["suite:he"])  # fmt: skip


def test_samples_carry_exactly_the_checked_code_latest_answer_first_place():
    sessions = [
        session("a", answer("m1", "T/0", "    return 2\n", False), answer("m2", "T/0", "x", False)),
        session("b", answer("m1", "T/1", "    return 1\n", True)),
        session("c", answer("m1", "T/0", "    return 1\n", True)),  # a --fresh re-run
        session("d", ModelRun(model="m1", state="done", text="plain run")),  # not a suite
    ]
    samples = suite_samples(sessions, "m1")
    assert [(s["task_id"], s["completion"], s["passed"]) for s in samples] == [
        ("T/0", "    return 1\n", True),
        ("T/1", "    return 1\n", True),
    ]
    lines = [json.loads(line) for line in samples_jsonl(samples, "humaneval-samples").splitlines()]
    assert lines[0] == {"task_id": "T/0", "completion": "    return 1\n", "model": "m1"}
    plus = [json.loads(line) for line in samples_jsonl(samples, "evalplus-samples").splitlines()]
    assert plus[0]["solution"] == PROMPT + "    return 1\n"


def _export(store, tmp_path, *argv):
    parser = argparse.ArgumentParser(prog="workbench")
    add_parsers(parser.add_subparsers(dest="command"), cli._common)
    args = parser.parse_args(["export", *argv])
    return HANDLERS["export"](args, Config(models=()), store)


def test_the_command_wants_one_model(tmp_sessions, tmp_path, capsys):
    tmp_sessions.save(
        session("20261206-100000-aaaaaa", answer("m1", "T/0", "    return 1\n", True),
                answer("m2", "T/0", "    return 0\n", False))
    )  # fmt: skip
    with pytest.raises(UsageError, match="choose one with --model"):
        _export(tmp_sessions, tmp_path, "--format", "humaneval-samples")
    out = tmp_path / "m2.jsonl"
    assert _export(tmp_sessions, tmp_path, "--format", "evalplus-samples", "-m", "m2", "-o",
                   str(out)) == 0  # fmt: skip
    assert json.loads(out.read_text()) == {
        "task_id": "T/0",
        "solution": PROMPT + "    return 0\n",
        "model": "m2",
    }
    said = " ".join(capsys.readouterr().err.split())  # Rich wraps a long path
    assert f"Wrote 1 sample to {out}." in said  # not "2 sessions"
    with pytest.raises(UsageError, match="No checked HumanEval answers of m3"):
        _export(tmp_sessions, tmp_path, "--format", "humaneval-samples", "-m", "m3")
