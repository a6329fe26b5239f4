"""``workbench suite``: suite files, samples with their own seeds, checks stored in the
sessions, pass@k per model; fast with seed-scripted models, then with the real ones."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sandbox_helpers import needs_linux

from workbench.checks.sandbox import STATUSES
from workbench.checks.suite import load_suite
from workbench.checks.suite_run import SuiteRun, SuiteSettings
from workbench.cli import main as cli
from workbench.cli.suite import HANDLERS, add_parsers
from workbench.core.runner import Runner
from workbench.errors import UsageError
from workbench.models.backends import base
from workbench.models.backends.scripted import ScriptedBackend
from workbench.models.config import Config, ModelSpec
from workbench.models.request import Chunk, Request, Sampling
from workbench.store.sessions import SessionStore

pytestmark = needs_linux

SUITE = '''
name = "tiny"
max_tokens = 64

[[task]]
id = "add"
prompt = "Write a Python function add(a, b) that returns a + b."
tests = """
assert add(1, 2) == 3
def test_negative():
    assert add(-1, -1) == -2
"""

[[task]]
id = "square"
prompt = "def square(x):\\n"
mode = "completion"
tests = "assert square(3) == 9"
'''

GOOD_ADD = "```python\ndef add(a, b):\n    return a + b\n```"
# The same function once more, only spaced and commented differently.
GOOD_ADD_2 = "Here:\n```python\ndef add(a,b):  # sum\n    return a+b\n```"
BAD_ADD = "```python\ndef add(a, b):\n    return a - b\n```"


class Seeded(ScriptedBackend):
    """Answers by the request: chat prompts get ``chat[seed % len]``, completion
    prompts ``completion[seed % len]``."""

    def __init__(self, spec: ModelSpec, chat: list[str], completion: list[str]) -> None:
        super().__init__(spec)
        self.chat, self.completion = chat, completion

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        texts = self.chat if request.mode == "chat" else self.completion
        self.text = texts[(request.sampling.seed or 0) % len(texts)]
        async for chunk in super().stream(request):
            yield chunk


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> list[ModelSpec]:
    """Two models: "good" always right; "mixed" right on odd seeds only."""
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    scripts = {
        "good": ([GOOD_ADD, GOOD_ADD_2], ["    return x * x\n"]),
        "mixed": ([BAD_ADD, GOOD_ADD], ["    return x + x\n", "    return x ** 2\n"]),
    }
    base.register_backend("seeded", lambda spec: Seeded(spec, *scripts[spec.name]))
    return [ModelSpec(name=name, backend="seeded", origin="test") for name in scripts]


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SUITE, encoding="utf-8")
    return path


def parse(*argv: str) -> argparse.Namespace:
    """The suite command's arguments, as the CLI will parse them once it is wired."""
    parser = argparse.ArgumentParser(prog="workbench")
    add_parsers(parser.add_subparsers(dest="command"), cli._common)
    return parser.parse_args(argv)


# --- suite files ------------------------------------------------------------------------


def test_toml_suite_loads(suite_file):
    suite = load_suite(suite_file)
    assert suite.name == "tiny"
    assert [t.id for t in suite.tasks] == ["add", "square"]
    assert [t.mode for t in suite.tasks] == ["chat", "completion"]
    assert suite.tasks[0].max_tokens == 64
    assert suite.tasks[1].tests.prompt == "def square(x):\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[task]]\nid = "a"\nprompt = "p"\ntest = "assert 1"\n', "Did you mean 'tests'?"),
        ('[[task]]\nid = "a"\nprompt = "p"\n', "needs 'tests'"),
        ('[[task]]\nid = "a"\nprompt = "p"\ntests = "assert ("\n', "do not parse"),
        ('[[task]]\nid = "a"\nprompt = "p"\ntests = "pass"\nmode = "fim"\n', "mode must be"),
        ('[[task]]\nid = 1\nprompt = "p"\ntests = "pass"\n', "'id' must be str"),
        (
            '[[task]]\nid = "a"\nprompt = "p"\ntests = "pass"\n' * 2,
            "task id 'a' appears twice",
        ),
        ("", "no tasks"),
        ("[[task]\n", "not valid TOML"),
    ],
)
def test_bad_toml_suites_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_suite(path)
    assert message in caught.value.message
    assert str(path) in caught.value.message


def test_humaneval_jsonl_loads(tmp_path):
    task = {
        "task_id": "HumanEval/x",
        "prompt": "def one():\n",
        "canonical_solution": "    return 1\n",
        "test": "def check(candidate):\n    assert candidate() == 1\n",
        "entry_point": "one",
    }
    path = tmp_path / "he.jsonl"
    path.write_text(json.dumps(task) + "\n\n", encoding="utf-8")
    suite = load_suite(path)
    assert suite.name == "he"
    (loaded,) = suite.tasks
    assert loaded.mode == "completion" and loaded.humaneval
    assert loaded.tests.entry_point == "one"
    chat = loaded.request("chat", Sampling())
    assert "in a markdown code block:\n```\ndef one():\n```" in chat.last_user_text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad.jsonl:1: 'prompt' must be a string"):
        load_suite(bad)


# --- running ----------------------------------------------------------------------------


def test_samples_are_checked_saved_and_counted(seeded, suite_file, tmp_sessions):
    suite = load_suite(suite_file)

    async def go():
        runner = Runner()
        try:
            settings = SuiteSettings(samples=2, seed=1)
            return await SuiteRun(suite, seeded, runner, tmp_sessions, settings).run()
        finally:
            await runner.pool.close()

    report = asyncio.run(go())
    # 2 tasks × 2 samples, one session each holding both models.
    assert len(report.sessions) == 4
    sessions = [tmp_sessions.load(path) for path in report.sessions]
    seeds = []
    for session in sessions:
        assert session.tags[0] == "suite:tiny"
        assert session.sampling["temperature"] == 0.8  # several samples: sampled
        seeds.append(session.sampling["seed"])
        for run in session.runs:
            assert run.info["check"]["status"] in STATUSES
    assert seeds == [1, 2, 1, 2]
    tags = {tuple(s.tags[1:]) for s in sessions}
    assert ("task:add", "sample:2") in tags and ("task:square", "sample:1") in tags
    good, mixed = report.summary("good"), report.summary("mixed")
    assert good["pass_at"] == {"1": 1.0, "2": 1.0} and good["passed"] == 4
    # mixed: add passes on seed 1 only (1 of 2), square on seed 1 only (x**2 is seed 1).
    assert mixed["passed"] == 2 and mixed["pass_at"] == {"1": 0.5, "2": 1.0}
    assert report.cell("good", "add").distinct == 1  # two spellings, one answer
    assert report.cell("mixed", "add").distinct == 2
    failed = report.cell("mixed", "add").checks[1]  # seed 2: the wrong add
    assert failed["status"] == "failed"
    assert failed["message"] == "tests.py:1: assert add(1, 2) == 3"


def test_command_prints_json(seeded, suite_file, tmp_sessions, capsys):
    args = parse("suite", str(suite_file), "-m", "good", "-m", "mixed", "--json", "--seed", "2")
    config = Config(models=tuple(seeded))
    assert HANDLERS[args.command](args, config, tmp_sessions) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["suite"] == "tiny" and data["samples"] == 1 and data["ks"] == [1]
    by_model = {m["model"]: m for m in data["models"]}
    assert by_model["good"]["pass_at"] == {"1": 1.0}
    # seed 2 is even: mixed gets the wrong add and x + x (right for square(3)? no: 6 ≠ 9).
    assert by_model["mixed"]["pass_at"] == {"1": 0.0}
    assert len(data["sessions"]) == 2
    assert data["isolation"] in (["namespaces"], ["basic"])


def test_command_prints_tables(seeded, suite_file, tmp_sessions, capsys):
    args = parse("suite", str(suite_file), "--samples", "2")
    config = Config(models=tuple(seeded))
    assert HANDLERS["suite"](args, config, tmp_sessions) == 0
    out = capsys.readouterr().out
    assert "pass@1" in out and "pass@2" in out
    assert "4/4" in out and "2/4" in out
    assert "suite:tiny" in out


# --- the real bundled models ------------------------------------------------------------


@pytest.mark.slow
def test_real_models_end_to_end(bundled, suite_file, tmp_path, capsys):
    """Two tiny tasks, two samples each, on smollm2 and gemma3. Tiny models may fail
    every task: the structure and that every answer was checked are what is asserted."""
    store = SessionStore(tmp_path / "sessions")
    args = parse(
        "suite", str(suite_file), "-m", "smollm2", "-m", "gemma3",
        "--samples", "2", "--max-tokens", "48", "--timeout", "5", "--json",
    )  # fmt: skip
    status = HANDLERS["suite"](args, bundled, store)
    data = json.loads(capsys.readouterr().out)
    assert status == 0, data
    assert [m["model"] for m in data["models"]] == ["smollm2", "gemma3"]
    for model in data["models"]:
        assert set(model["pass_at"]) == {"1", "2"}
        assert all(0.0 <= v <= 1.0 for v in model["pass_at"].values())
        assert model["runs"] == 4
        for task in model["tasks"]:
            assert task["n"] == 2 and 1 <= task["distinct"] <= 2
            assert all(check["status"] in STATUSES for check in task["checks"])
    summaries, errors = store.list()
    assert not errors and len(summaries) == 4
    for summary in summaries:
        assert "suite:tiny" in summary.tags
        session = store.load(summary.path)
        assert session.sampling["max_tokens"] == 48
        for run in session.runs:
            assert run.state == "done"
            check = run.info["check"]
            assert check["status"] in STATUSES
            # An answer with code ran in the sandbox; one without is an error unrun.
            assert "isolation" in check or check["message"].startswith("No Python code")
