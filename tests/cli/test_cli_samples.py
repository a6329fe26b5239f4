"""``workbench run --samples N --tests FILE`` and the leaderboard's pass rates, from the
command line as a user runs them (``python -m workbench`` in a subprocess)."""

from __future__ import annotations

import json

import pytest
from test_cli import make_env, workbench

from workbench.models.config import ModelSpec
from workbench.models.request import Request
from workbench.store.comparison import open_session
from workbench.store.sessions import SessionStore

ADD = "Write a Python function add(a, b) that returns a + b."
TESTS = "assert add(2, 3) == 5\n\ndef test_negative():\n    assert add(-1, -1) == -2\n"
STATUSES = {"passed", "failed", "error", "timeout", "killed"}


@pytest.fixture
def env(model_cache, tmp_path) -> dict[str, str]:
    return make_env(model_cache, tmp_path)


def checked_session(store: SessionStore, results: dict[str, str | None]) -> str:
    """A finished session whose runs carry the given check statuses (None: unchecked)."""
    specs = [ModelSpec(name=name, backend="scripted") for name in results]
    recorder = open_session(store, specs, Request.chat("add"), schedule="parallel")
    for run in recorder.session.runs:
        run.state, run.text = "done", "answer"
        status = results[run.model]
        if status is not None:
            run.info["check"] = {"status": status, "passed": status == "passed", "message": ""}
    recorder.save(complete=True)
    return recorder.session.id


def test_leaderboard_shows_pass_rates_beside_the_votes(env, tmp_path):
    store = SessionStore(tmp_path / "sessions")
    checked_session(store, {"alpha": "passed", "beta": "failed"})
    checked_session(store, {"alpha": "failed", "beta": None})
    voted = checked_session(store, {"alpha": "passed", "gamma": "passed"})
    sessions = ["--sessions", str(store.root)]
    result = workbench("vote", voted, "alpha", "gamma", "a", *sessions,
                       cwd=tmp_path, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr

    result = workbench("leaderboard", *sessions, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[2].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "pass rate" in result.stdout
    assert "2/3 (67%)" in rows["alpha"] and "1/1 (100%)" in rows["gamma"]
    assert "0/1 (0%)" in rows["beta"]  # checked, never voted on: listed all the same
    assert "answers that passed their tests" in result.stdout

    result = workbench("leaderboard", "--json", *sessions, cwd=tmp_path, env=env)
    rates = json.loads(result.stdout)["pass_rates"]
    assert rates["alpha"] == {"passed": 2, "checked": 3, "rate": pytest.approx(2 / 3)}
    assert rates["beta"]["checked"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "0"], "--samples must be between 1 and 20, not 0."),
        (["--samples", "21"], "--samples must be between 1 and 20, not 21."),
        (["--tests", "missing.py"], "missing.py: cannot read the tests"),
        (["--tests", "broken.py"], "broken.py: the tests do not parse (line 1:"),
    ],
)
def test_bad_samples_or_tests_are_bad_usage(env, tmp_path, args, message):
    (tmp_path / "broken.py").write_text("assert add(\n")
    result = workbench("run", ADD, "-m", "smollm2", *args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())


@pytest.mark.slow
def test_run_samples_with_tests_on_smollm2(env, tmp_path):
    """Two samples of the real SmolLM2, each answer checked in the sandbox. A tiny model
    may fail the tests: what is asserted is that both were checked and counted."""
    (tmp_path / "tests.py").write_text(TESTS)
    sessions = tmp_path / "sessions"
    result = workbench(
        "run", ADD, "-m", "smollm2", "--samples", "2", "--tests", "tests.py",
        "--max-tokens", "64", "--json", "--sessions", str(sessions), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["samples"] == 2 and data["samples_run"] == 2 and data["ks"] == [1, 2]
    [model] = data["models"]
    assert model["model"] == "smollm2" and model["checked"] == 2 and model["answers"] == 2
    assert 0 <= model["passed"] <= 2 and 1 <= model["distinct"] <= 2
    assert set(model["pass_at"]) == {"1", "2"}
    assert model["pass_at"]["1"] == pytest.approx(model["passed"] / 2)
    store = SessionStore(sessions)
    loaded = [store.load(s["session"]) for s in data["sessions"]]
    assert [s.sampling["seed"] for s in loaded] == [1, 2]
    assert {s.sampling["temperature"] for s in loaded} == {0.8}
    assert [s.tags[0] for s in loaded] == ["sample:1", "sample:2"]
    assert loaded[0].tags[1] == loaded[1].tags[1] == f"group:{data['group']}"
    for session in loaded:
        [run] = session.runs
        assert run.state == "done" and run.text.strip()
        assert run.info["check"]["status"] in STATUSES
    # Speed as statistics over the samples: one model alone, so nothing is contended.
    [speed] = data["speed"]["smollm2"]
    assert speed["contention"] == "alone" and speed["runs"] == 2
    assert speed["gen_tokens_per_s"]["n"] == 2
    assert speed["gen_tokens_per_s"]["mean"] > 0 and speed["gen_tokens_per_s"]["std"] >= 0
    # Each sample's line on stderr (stdout holds the JSON alone).
    assert "sample 1/2: smollm2" in result.stderr and "sample 2/2: smollm2" in result.stderr

    # The same as tables: each sample, then the summary per model.
    result = workbench(
        "run", ADD, "-m", "smollm2", "--samples", "2", "--tests", "tests.py",
        "--max-tokens", "64", "--sessions", str(sessions), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sample 1/2 · seed 1" in out and "sample 2/2 · seed 2" in out
    assert "pass@1" in out and "pass@2" in out and "distinct answers" in out
    assert "gen tok/s (mean ± std, median, n)" in out and "n=2) alone" in out
    assert "tests: " in out  # each answer's check under it

    # The leaderboard now has a pass rate for smollm2 (4 checked answers).
    result = workbench("leaderboard", "--json", "--sessions", str(sessions),
                       cwd=tmp_path, env=env)  # fmt: skip
    assert json.loads(result.stdout)["pass_rates"]["smollm2"]["checked"] == 4
