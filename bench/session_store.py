"""Session store: 10,000 sessions listed and filtered, one opened, a big leaderboard.

Goals (issue 7): list and filter 10,000 sessions ≤ 1 s; open one ≤ 50 ms;
leaderboard of 100,000 votes ≤ 2 s. Every row has a baseline measured in the
same run, so the ratio shows what the store adds:

- listing (first time and warm): reading the same files with plain ``json.loads``
  and keeping the fields a list shows (a store without an index);
- filtering: a plain substring test over the same summaries' prompt and id;
- opening one: ``json.loads`` of its file;
- the leaderboard: one pass over the votes counting them (``collections.Counter``),
  the least any method must do.

    python bench/session_store.py [--sessions 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import median, report

from workbench.core.record import ModelRun
from workbench.store.sessions import Session, SessionStore, filter_summaries

WORDS = [
    "sort",
    "parse",
    "tree",
    "graph",
    "list",
    "binary",
    "search",
    "prime",
    "fib",
    "regex",
    "json",
    "csv",
    "http",
    "cache",
]


def make_session(index: int, rng: random.Random) -> Session:
    prompt = f"Write a Python function that does {' '.join(rng.sample(WORDS, 3))} #{index}"
    runs = []
    for model in rng.sample(["smollm2", "gemma3", "deepseek", "codestral", "qwen"], 2):
        chunks = [(0.05 + i * 0.01, "tok ") for i in range(200)]
        runs.append(
            ModelRun(
                model=model,
                state="done",
                text="tok " * 200,
                chunks=chunks,
                first_token_s=0.05,
                last_token_s=2.04,
                total_s=2.1,
                prompt_tokens=30,
                output_tokens=200,
            )
        )
    session = Session(
        id=f"20261101-{index:06d}",
        created=f"2026-11-01T00:{index // 600:02d}:{index % 60:02d}",
        mode="chat",
        prompt=prompt,
        runs=runs,
        tags=[rng.choice(["work", "fun", "suite"])],
    )
    return session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        store = SessionStore(Path(folder))
        for index in range(args.sessions):
            store.path_for(f"20261101-{index:06d}").write_text(
                json.dumps({"schema_version": 1, **_plain(make_session(index, rng))})
            )
        plain = [_plain_list(Path(folder))]  # also warms the page cache for both
        start = time.perf_counter()
        summaries, errors = store.list()  # no index yet: every file is read once
        cold = time.perf_counter() - start
        assert len(summaries) == args.sessions and not errors
        warm, filtered, bare, plain_filtered = [], [], [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            summaries, _ = store.list()
            hits = filter_summaries(summaries, "binary prime model:qwen")
            warm.append(time.perf_counter() - start)
            plain.append(_plain_list(Path(folder)))
            start = time.perf_counter()
            filter_summaries(summaries, "graph tag:work")
            filtered.append(time.perf_counter() - start)
            start = time.perf_counter()
            _plain_filter(summaries, ["graph"], "work")
            plain_filtered.append(time.perf_counter() - start)
        opened = []
        for summary in summaries[:50]:
            start = time.perf_counter()
            store.load(summary.id)
            opened.append(time.perf_counter() - start)
            start = time.perf_counter()
            json.loads(Path(summary.path).read_bytes())
            bare.append(time.perf_counter() - start)
    votes_time, count_time = _leaderboard_time(rng)
    naive = median(plain)
    report(
        "session_store",
        [
            {
                "measure": f"list {args.sessions:,} sessions, first time (builds the index)",
                "baseline": f"{naive:.2f} s json.loads of every file",
                "workbench": f"{cold:.2f} s",
                "ratio": f"{cold / naive:.2f}",
                "goal": "(once)",
                "met": "",
            },
            {
                "measure": f"list + filter {args.sessions:,} sessions ({len(hits)} hits)",
                "baseline": f"{naive:.3f} s json.loads of every file",
                "workbench": f"{median(warm):.3f} s",
                "ratio": f"{median(warm) / naive:.3f}",
                "goal": "<= 1 s",
                "met": median(warm) <= 1.0,
            },
            {
                "measure": "filter alone (each key press)",
                "baseline": f"{median(plain_filtered) * 1000:.1f} ms plain substring test",
                "workbench": f"{median(filtered) * 1000:.1f} ms",
                "ratio": f"{median(filtered) / median(plain_filtered):.2f}",
                "goal": "",
                "met": "",
            },
            {
                "measure": "open one session",
                "baseline": f"{median(bare) * 1000:.2f} ms json",
                "workbench": f"{median(opened) * 1000:.2f} ms",
                "ratio": f"{median(opened) / median(bare):.2f}",
                "goal": "<= 50 ms",
                "met": median(opened) <= 0.05,
            },
            {
                "measure": "leaderboard: 100,000 votes, 10 models, posterior intervals",
                "baseline": f"{count_time:.2f} s one pass counting the votes",
                "workbench": f"{votes_time:.2f} s",
                "ratio": f"{votes_time / count_time:.2f}",
                "goal": "<= 2 s",
                "met": votes_time <= 2.0,
            },
        ],
    )


def _plain(session: Session) -> dict:
    data = session.to_dict()
    data.pop("schema_version")
    return data


def _plain_list(folder: Path) -> float:
    """Seconds to read every session file with json.loads and keep what a list shows."""
    start = time.perf_counter()
    rows = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            with open(entry.path, "rb") as handle:
                data = json.loads(handle.read())
            models = [run["model"] for run in data["runs"]]
            rows.append((data["id"], data["created"], data["prompt"], models, data["tags"]))
    return time.perf_counter() - start


def _plain_filter(summaries, words: list[str], tag: str) -> list:
    """The same filter as ``filter_summaries(summaries, "graph tag:work")``, plainly."""
    return [
        s
        for s in summaries
        if tag in s.tags and all(w in f"{s.first_line} {s.id}".lower() for w in words)
    ]


def _leaderboard_time(rng: random.Random) -> tuple[float, float]:
    """(seconds of the leaderboard, seconds of one pass counting the same votes)."""
    from workbench.store.leaderboard import Vote, leaderboard

    models = [f"m{i}" for i in range(10)]
    votes = []
    for _ in range(100_000):
        a, b = rng.sample(models, 2)
        votes.append(Vote(a, b, rng.choice(["a", "b", "tie", "bad"])))
    start = time.perf_counter()
    leaderboard(votes, bootstrap=1000)
    fitted = time.perf_counter() - start
    start = time.perf_counter()
    Counter((v.model_a, v.model_b, v.outcome) for v in votes)
    return fitted, time.perf_counter() - start


if __name__ == "__main__":
    main()
