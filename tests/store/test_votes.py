"""Ratings stored with their sessions: two windows rating at once lose no vote."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

from workbench.core.record import ModelRun
from workbench.store.sessions import Session, SessionStore
from workbench.store.votes import add_score, add_vote, collect

VOTES_EACH = 15


def _session(store: SessionStore) -> Session:
    session = Session(
        id="20261126-120000-abcdef",
        created="2026-11-26T12:00:00+00:00",
        mode="chat",
        prompt="Write add()",
        runs=[ModelRun("alpha", state="done", text="a"), ModelRun("beta", state="done", text="b")],
    )
    store.save(session)
    return session


def _vote_many(root: str, session_id: str, outcome: str) -> None:
    """One "window": votes in a loop, each through ``add_vote`` (load, change, save)."""
    store = SessionStore(Path(root))
    for _ in range(VOTES_EACH):
        add_vote(store, session_id, "alpha", "beta", outcome)


def test_two_threads_voting_on_one_session_lose_no_vote(tmp_sessions: SessionStore):
    session = _session(tmp_sessions)
    threads = [
        threading.Thread(target=_vote_many, args=(str(tmp_sessions.root), session.id, outcome))
        for outcome in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    votes = tmp_sessions.load(session.id).ratings["votes"]
    assert len(votes) == 2 * VOTES_EACH
    assert sorted(v["outcome"] for v in votes) == ["a"] * VOTES_EACH + ["b"] * VOTES_EACH
    assert len({v["id"] for v in votes}) == len(votes)


def test_two_processes_voting_on_one_session_lose_no_vote(tmp_sessions: SessionStore):
    session = _session(tmp_sessions)
    context = multiprocessing.get_context("spawn")  # two separate programs, as two windows
    processes = [
        context.Process(target=_vote_many, args=(str(tmp_sessions.root), session.id, outcome))
        for outcome in ("tie", "bad")
    ]
    for process in processes:
        process.start()
    add_score(tmp_sessions, session.id, "alpha", 4, tags=("py",), note="fine")
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    saved = tmp_sessions.load(session.id).ratings
    assert Counter(v["outcome"] for v in saved["votes"]) == {"tie": VOTES_EACH, "bad": VOTES_EACH}
    assert [(s["model"], s["score"], s["tags"], s["note"]) for s in saved["scores"]] == [
        ("alpha", 4, ["py"], "fine")
    ]
    votes, scores, errors = collect(tmp_sessions)
    # The file keeps every vote; the leaderboard counts the latest on the pair.
    assert [v.outcome for v in votes] == [saved["votes"][-1]["outcome"]]
    assert len(scores) == 1 and errors == []


def test_a_rating_given_again_replaces_the_earlier_one(tmp_sessions: SessionStore):
    session = _session(tmp_sessions)
    add_score(tmp_sessions, session.id, "alpha", 2)
    add_vote(tmp_sessions, session.id, "alpha", "beta", "a")
    add_score(tmp_sessions, session.id, "alpha", 5, note="second look")
    add_vote(tmp_sessions, session.id, "beta", "alpha", "tie")  # the same pair, either order
    saved = tmp_sessions.load(session.id).ratings
    assert len(saved["scores"]) == 2 and len(saved["votes"]) == 2  # history kept
    votes, scores, _ = collect(tmp_sessions)
    assert [(s.model, s.score, s.note) for s in scores] == [("alpha", 5, "second look")]
    assert [(v.model_a, v.model_b, v.outcome) for v in votes] == [("beta", "alpha", "tie")]
