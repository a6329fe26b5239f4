"""Speed of the leaderboard (Bradley-Terry + posterior intervals) and of the line diff.

Baselines are measured in the same run, alternating rounds, and compared as ratios
of medians (see _common.py):
- leaderboard: one plain pass over the votes (a Counter of their outcomes), the
  floor any implementation pays; the goal is the brief's ≤ 2 s for 100,000 votes
  among 10 models (it once meant 1,000 bootstrap rounds; the rating intervals
  are posterior ones now, and the bootstrap only serves mean scores);
- diff: ``difflib.SequenceMatcher(autojunk=False)`` on the same lines, and our own
  time at 500 lines, to show that the growth is near-linear.

Run: ``python bench/leaderboard_speed.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import difflib
import random
import time
from collections import Counter

from _common import median, report

from workbench.store.diff import diff_lines
from workbench.store.leaderboard import Vote, leaderboard


def clock(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def simulated_votes(n_models: int, n_votes: int, seed: int = 0) -> list[Vote]:
    rng = random.Random(seed)
    models = [f"model-{i:02d}" for i in range(n_models)]
    truth = {m: 30.0 * i for i, m in enumerate(models)}
    votes = []
    for _ in range(n_votes):
        a, b = rng.sample(models, 2)
        p_a = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
        r = rng.random()
        outcome = "tie" if r < 0.1 else "bad" if r < 0.15 else "a" if rng.random() < p_a else "b"
        votes.append(Vote(a, b, outcome))
    return votes


def code_pair(n: int, rng: random.Random) -> tuple[str, str]:
    """n lines of code-like text (a quarter of them repeated: blank, ``}``, …) and a
    copy with one line in 50 edited, deleted or inserted."""
    common = ["", "}", "    return x", "else:", "    pass"]
    a = [
        rng.choice(common) if rng.random() < 0.25 else f"    v{rng.randrange(n)} = f({i})"
        for i in range(n)
    ]
    b = list(a)
    for k in range(n // 50):
        i = rng.randrange(len(b))
        if k % 3 == 0:
            b[i] += f"  # edit {k}"
        elif k % 3 == 1:
            del b[i]
        else:
            b.insert(i, f"inserted {k}")
    return "\n".join(a), "\n".join(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []

    for n_models, n_votes in ((10, 100_000), (10, 1_000), (30, 100_000)):
        votes = simulated_votes(n_models, n_votes)
        base, ours = [], []
        for _ in range(args.rounds):
            base.append(clock(lambda v=votes: Counter(x.outcome for x in v)))
            ours.append(clock(lambda v=votes: leaderboard(v, bootstrap=1000)))
        rows.append(
            {
                "measure": f"leaderboard, {n_votes:,} votes, {n_models} models (s)",
                "baseline": f"{median(base):.3f} (one pass over the votes)",
                "workbench": f"{median(ours):.3f}",
                "ratio": f"{median(ours) / median(base):.1f}",
                "goal": "<= 2 s",
                "met": median(ours) <= 2.0,
            }
        )

    rng = random.Random(1)
    first = None
    for n in (500, 2000, 5000):
        text_a, text_b = code_pair(n, rng)
        lines_a, lines_b = text_a.split("\n"), text_b.split("\n")
        base, ours = [], []
        for _ in range(args.rounds):
            base.append(
                clock(
                    lambda x=lines_a, y=lines_b: difflib.SequenceMatcher(
                        None, x, y, autojunk=False
                    ).get_opcodes()
                )
            )
            ours.append(clock(lambda x=text_a, y=text_b: diff_lines(x, y).side_by_side()))
        first = first or median(ours)
        rows.append(
            {
                "measure": f"line diff + side-by-side rows, {n:,} lines (ms)",
                "baseline": f"{median(base) * 1000:.1f} (SequenceMatcher, autojunk=False)",
                "workbench": f"{median(ours) * 1000:.1f} (×{median(ours) / first:.1f} vs 500)",
                "ratio": f"{median(ours) / median(base):.2f}",
                "goal": "< 1 s; growth ≈ linear",
                "met": median(ours) < 1.0 and median(ours) / first < 2 * n / 500,
            }
        )
    report("leaderboard-speed", rows)


if __name__ == "__main__":
    main()
