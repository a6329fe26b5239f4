"""``workbench leaderboard`` as a user runs it: posterior intervals that do not collapse on
one vote, and models with few battles listed as provisional, not ranked."""

from __future__ import annotations

import json

import pytest
from test_cli import make_env, workbench

from workbench.models.config import ModelSpec
from workbench.models.request import Request
from workbench.store.comparison import open_session
from workbench.store.sessions import SessionStore
from workbench.store.votes import add_vote


@pytest.fixture
def env(model_cache, tmp_path) -> dict[str, str]:
    return make_env(model_cache, tmp_path)


def voted(store: SessionStore, plan: list[tuple[str, str, str]]) -> None:
    """One finished session per vote, the vote given as ``workbench vote`` would."""
    for a, b, outcome in plan:
        specs = [ModelSpec(name=name, backend="scripted") for name in (a, b)]
        recorder = open_session(store, specs, Request.chat("hi"), schedule="parallel")
        for run in recorder.session.runs:
            run.state, run.text = "done", "answer"
        recorder.save(complete=True)
        add_vote(store, recorder.session.id, a, b, outcome)


def test_one_vote_is_a_wide_provisional_interval(env, tmp_path):
    store = SessionStore(tmp_path / "sessions")
    voted(store, [("alpha", "beta", "a")])
    sessions = ["--sessions", str(store.root)]
    result = workbench("leaderboard", "--json", *sessions, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    alpha = board["standings"][0]
    assert (alpha["model"], round(alpha["rating"])) == ("alpha", 1131)
    assert alpha["high"] - alpha["low"] > 400  # was 1131-1131 with the bootstrap
    assert [(s["rank"], s["provisional"]) for s in board["standings"]] == [
        (None, True),
        (None, True),
    ]

    result = workbench("leaderboard", *sessions, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = [line.split("│") for line in result.stdout.splitlines() if "alpha" in line]
    rank, model, _, interval, battles = (cell.strip() for cell in rows[0][1:6])
    assert (rank, model, battles) == ("–", "alpha", "1 provisional")
    low, high = (int(x) for x in interval.split("–"))
    assert high - low > 400
    assert "Provisional: fewer than 5 battles" in " ".join(result.stdout.split())


def test_settled_models_are_ranked_above_provisional_ones(env, tmp_path):
    store = SessionStore(tmp_path / "sessions")
    plan = [("alpha", "beta", "a")] * 4 + [("alpha", "beta", "b")] * 2
    plan += [("newbie", "alpha", "a")]  # beat the best once: rated high, not ranked
    voted(store, plan)
    result = workbench(
        "leaderboard", "--json", "--sessions", str(store.root), cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    standings = json.loads(result.stdout)["standings"]
    assert [(s["model"], s["rank"]) for s in standings] == [
        ("alpha", 1),
        ("beta", 2),
        ("newbie", None),
    ]
    assert standings[2]["rating"] > standings[0]["rating"]
