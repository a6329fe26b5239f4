"""Ratings stored with their sessions: scores, pairwise votes, and collecting them all.

Each rating is added under the session's lock (load, change, save), so two
workbench windows rating at the same time lose no vote. The leaderboard is
always recomputed from these raw records.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Hashable
from datetime import datetime

from workbench.errors import SessionError, UsageError
from workbench.models.machine import label_of
from workbench.store.leaderboard import OUTCOMES, Score, Vote
from workbench.store.sessions import Session, SessionStore


def add_score(
    store: SessionStore,
    ref: str,
    model: str,
    score: int,
    *,
    tags: tuple[str, ...] = (),
    note: str = "",
) -> Session:
    if not 1 <= score <= 5:
        raise UsageError(f"A score is 1 to 5, not {score}.")

    def change(session: Session) -> None:
        session.run(model)  # the model must be in the session
        session.ratings["scores"].append(
            {
                "id": secrets.token_hex(6),
                "model": model,
                "score": score,
                "tags": list(tags),
                "note": note,
                "at": time.time(),
            }
        )

    return store.update(ref, change)


def add_vote(
    store: SessionStore,
    ref: str,
    model_a: str,
    model_b: str,
    outcome: str,
    *,
    tags: tuple[str, ...] = (),
    blind: bool = False,
) -> Session:
    if outcome not in OUTCOMES:
        raise UsageError(f"A vote is one of {', '.join(OUTCOMES)}, not {outcome!r}.")
    if model_a == model_b:
        raise UsageError("A vote needs two different models.")

    def change(session: Session) -> None:
        session.run(model_a)
        session.run(model_b)
        session.ratings["votes"].append(
            {
                "id": secrets.token_hex(6),
                "a": model_a,
                "b": model_b,
                "outcome": outcome,
                "tags": list(tags),
                "blind": blind,
                "at": time.time(),
            }
        )

    return store.update(ref, change)


def collect(
    store: SessionStore,
    *,
    tag: str | None = None,
    since: datetime | None = None,
    machine: str | None = None,
) -> tuple[list[Vote], list[Score], list[SessionError]]:
    """Every vote and score in the store (with session tags), filtered by tag and date,
    and by ``machine`` (a piece of the sessions' machine label, any case).

    A rating given again replaces the earlier one: the latest score of a model in
    a session, and the latest vote on a pair in a session, are the ones that
    count (the file keeps them all, as history).
    """
    summaries, errors = store.list()
    votes: list[Vote] = []
    scores: list[Score] = []
    for summary in summaries:
        if not summary.rated:
            continue
        try:
            session = store.load(summary.path)
        except SessionError as exc:
            errors.append(exc)
            continue
        if machine and machine.lower() not in label_of(session.machine).lower():
            continue
        for item in _latest(session.ratings["votes"], lambda v: frozenset((v["a"], v["b"]))):
            item_tags = tuple(session.tags) + tuple(item.get("tags", ()))
            votes.append(
                Vote(
                    item["a"],
                    item["b"],
                    item["outcome"],
                    session.id,
                    item.get("at", 0.0),
                    item_tags,
                )
            )
        for item in _latest(session.ratings["scores"], lambda v: v["model"]):
            item_tags = tuple(session.tags) + tuple(item.get("tags", ()))
            scores.append(
                Score(
                    item["model"],
                    item["score"],
                    item_tags,
                    item.get("note", ""),
                    session.id,
                    item.get("at", 0.0),
                )
            )
    if tag is not None or since is not None:
        from workbench.store.leaderboard import select

        votes = select(votes, tag=tag, since=since)
        scores = select(scores, tag=tag, since=since)
    return votes, scores, errors


def _latest(items: list[dict], key: Callable[[dict], Hashable]) -> list[dict]:
    """The last of the items that share a key, in the order they were given."""
    last = {key(item): index for index, item in enumerate(items)}
    return [item for index, item in enumerate(items) if last[key(item)] == index]
