"""Votes, scores and the Bradley-Terry leaderboard (workbench.store.leaderboard)."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime

import pytest

from workbench.store.leaderboard import (
    Score,
    Vote,
    bradley_terry,
    leaderboard,
    rating_of,
    select,
)


def simulate(truth: dict[str, float], n: int, seed: int, tie_rate: float = 0.0) -> list[Vote]:
    """Votes drawn from a Bradley-Terry model with the given Elo-scale ratings."""
    rng = random.Random(seed)
    models = sorted(truth)
    votes = []
    for _ in range(n):
        a, b = rng.sample(models, 2)
        p_a = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
        outcome = "tie" if rng.random() < tie_rate else "a" if rng.random() < p_a else "b"
        votes.append(Vote(a, b, outcome, timestamp=float(len(votes))))
    return votes


def centred(ratings: dict[str, float]) -> dict[str, float]:
    mean = sum(ratings.values()) / len(ratings)
    return {m: r - mean + 1000 for m, r in ratings.items()}


TRUTH = centred({"alpha": 1200, "beta": 1100, "gamma": 1000, "delta": 900, "eps": 750})


def ratings_of(lb) -> dict[str, float]:
    return {s.model: s.rating for s in lb.standings}


def test_recovers_order_and_gaps_of_known_strengths():
    votes = simulate(TRUTH, 20_000, seed=1)
    lb = leaderboard(votes, bootstrap=0)
    assert [s.model for s in lb.standings] == sorted(TRUTH, key=TRUTH.get, reverse=True)
    for model, r in ratings_of(lb).items():
        assert r == pytest.approx(TRUTH[model], abs=25)
    battles = {s.model: s.battles for s in lb.standings}
    weighted = sum(battles[m] * r for m, r in ratings_of(lb).items()) / sum(battles.values())
    assert weighted == pytest.approx(1000)
    strengths = bradley_terry(votes)
    for model, s in strengths.items():
        assert rating_of(s) == pytest.approx(ratings_of(lb)[model])


def mm_reference(wins: dict[tuple[str, str], float], prior: float) -> dict[str, float]:
    """Hunter's (2004) MM iteration, with the same virtual tied games against a fixed
    reference of strength 1: a slow, independent check of the Newton fit."""
    models = sorted({m for pair in wins for m in pair})
    p = dict.fromkeys(models, 1.0)
    for _ in range(5000):
        new = {}
        for i in models:
            w = sum(wins.get((i, j), 0.0) for j in models) + prior / 2
            denom = prior / (p[i] + 1)
            for j in models:
                n = wins.get((i, j), 0.0) + wins.get((j, i), 0.0)
                if n:
                    denom += n / (p[i] + p[j])
            new[i] = w / denom
        p = new
    return p


def test_newton_fit_agrees_with_mm_algorithm():
    votes = simulate(TRUTH, 300, seed=5, tie_rate=0.2)
    wins: dict[tuple[str, str], float] = {}
    for v in votes:
        share = {"a": 1.0, "b": 0.0, "tie": 0.5}[v.outcome]
        wins[v.model_a, v.model_b] = wins.get((v.model_a, v.model_b), 0) + share
        wins[v.model_b, v.model_a] = wins.get((v.model_b, v.model_a), 0) + 1 - share
    expected = mm_reference(wins, prior=1.0)
    got = bradley_terry(votes)
    # Strengths are only defined up to a common factor: compare ratios.
    for model, s in got.items():
        assert s / got["gamma"] == pytest.approx(expected[model] / expected["gamma"], rel=1e-6)


def test_a_tie_counts_half_a_win_to_each_side():
    split = [Vote("x", "y", "a"), Vote("x", "y", "b")]
    ties = [Vote("x", "y", "tie"), Vote("y", "x", "tie")]
    assert bradley_terry(split) == pytest.approx(bradley_terry(ties))
    assert bradley_terry(ties) == pytest.approx({"x": 1.0, "y": 1.0})
    assert bradley_terry([*ties, Vote("x", "y", "a")])["x"] > 1.0


def test_both_bad_counts_as_tie_or_is_skipped():
    votes = [Vote("x", "y", "a"), Vote("x", "y", "bad"), Vote("y", "z", "bad")]
    as_tie = leaderboard(votes, bootstrap=0)
    skipped = leaderboard(votes, bootstrap=0, bad="skip")
    assert bradley_terry(votes) == pytest.approx(
        bradley_terry([Vote("x", "y", "a"), Vote("x", "y", "tie"), Vote("y", "z", "tie")])
    )
    x = as_tie.standings[0]
    assert (x.model, x.battles, x.wins, x.ties, x.bad) == ("x", 2, 1, 0, 1)
    assert {s.model for s in skipped.standings} == {"x", "y"}
    assert skipped.votes == 1 and as_tie.votes == 3
    assert bradley_terry(votes, bad="skip") == pytest.approx(bradley_terry(votes[:1]))
    with pytest.raises(ValueError):
        bradley_terry(votes, bad="ignore")


def test_unbeaten_model_is_finite_and_first():
    votes = [Vote("champ", "b", "a")] * 3 + [Vote("c", "champ", "b")] * 2
    votes += [Vote("b", "c", "a"), Vote("b", "c", "b"), Vote("b", "c", "tie")]
    lb = leaderboard(votes, bootstrap=200)
    first = lb.standings[0]
    assert first.model == "champ"
    assert math.isfinite(first.rating) and math.isfinite(first.rating_high)
    assert first.rating - lb.standings[1].rating < 1000  # large but bounded
    assert (first.wins, first.losses) == (5, 0)


def test_model_with_a_single_vote():
    votes = simulate({"a": 1100, "b": 1000, "c": 900}, 3000, seed=2)
    votes.append(Vote("newcomer", "a", "b"))
    lb = leaderboard(votes, bootstrap=300)
    newcomer = next(s for s in lb.standings if s.model == "newcomer")
    others = [s for s in lb.standings if s.model != "newcomer"]
    assert newcomer.battles == 1 and newcomer.losses == 1
    assert math.isfinite(newcomer.rating) and newcomer.rating < min(s.rating for s in others)
    width = newcomer.rating_high - newcomer.rating_low
    assert all(width > 3 * (s.rating_high - s.rating_low) for s in others)


def test_groups_that_never_met_still_get_ratings():
    votes = [Vote("a", "b", "a")] * 4 + [Vote("c", "d", "a")] * 4
    strengths = bradley_terry(votes)
    assert strengths["a"] == pytest.approx(strengths["c"])
    assert strengths["a"] > 1 > strengths["b"]


def test_result_does_not_depend_on_vote_order():
    votes = simulate(TRUTH, 2000, seed=3, tie_rate=0.1)
    votes += [Vote("alpha", "beta", "bad"), Vote("gamma", "eps", "bad")]
    scores = [Score(m, 1 + i % 5) for i, m in enumerate(sorted(TRUTH) * 7)]
    before = leaderboard(votes, scores, bootstrap=200, seed=11)
    rng = random.Random(4)
    rng.shuffle(votes)
    rng.shuffle(scores)
    # The order of the names inside a vote does not matter either.
    flipped = {"a": "b", "b": "a", "tie": "tie", "bad": "bad"}
    votes = [Vote(v.model_b, v.model_a, flipped[v.outcome]) for v in votes]
    assert leaderboard(votes, scores, bootstrap=200, seed=11) == before


def test_seed_makes_it_reproducible():
    votes = simulate(TRUTH, 500, seed=6)
    scores = [Score(m, 1 + i % 4) for i, m in enumerate(sorted(TRUTH) * 6)]
    once = leaderboard(votes, scores, bootstrap=100, seed=1)
    assert once == leaderboard(votes, scores, bootstrap=100, seed=1)
    # The seed drives the mean scores' bootstrap; the ratings' intervals need no draws.
    other = leaderboard(votes, scores, bootstrap=100, seed=2)
    assert other != once
    assert [(s.rating_low, s.rating_high) for s in other.standings] == [
        (s.rating_low, s.rating_high) for s in once.standings
    ]


def test_intervals_contain_the_truth_most_of_the_time():
    truth = centred({"a": 1100, "b": 1000, "c": 950, "d": 850})
    hits = total = 0
    for seed in range(20):
        lb = leaderboard(simulate(truth, 800, seed=100 + seed), bootstrap=200, seed=seed)
        for s in lb.standings:
            hits += s.rating_low <= truth[s.model] <= s.rating_high
            total += 1
    assert hits / total >= 0.8  # nominal 95%; leave room for bootstrap noise


def test_one_vote_gives_a_wide_interval_not_a_point():
    # A bootstrap resamples one vote to itself: its interval was 1131-1131.
    lb = leaderboard([Vote("x", "y", "a")])
    x, y = lb.standings
    assert (x.model, round(x.rating)) == ("x", 1131)
    for s in (x, y):
        assert s.rating_low < s.rating < s.rating_high
        assert s.rating_high - s.rating_low > 400  # one vote says little
    # And the interval covers the other model's rating: one vote settles nothing.
    assert x.rating_low < y.rating < x.rating_high


def test_intervals_widen_as_votes_get_fewer():
    widths = []
    for n in (1, 2, 4, 8, 16, 64, 256):
        votes = [Vote("x", "y", "a")] * n + [Vote("x", "y", "b")] * (n // 2)
        x = leaderboard(votes).standings[0]
        widths.append(x.rating_high - x.rating_low)
    assert all(a > b for a, b in itertools.pairwise(widths)), widths
    assert widths[-1] < widths[0] / 5


def test_intervals_with_a_handful_of_votes_contain_the_truth():
    """Coverage where a bootstrap fails: 3 to 12 votes among three models."""
    truth = {"a": 1150, "b": 1000, "c": 850}
    hits = total = 0
    for n in (3, 6, 12):
        for seed in range(60):
            lb = leaderboard(simulate(truth, n, seed=seed), bootstrap=0)
            battles = {s.model: s.battles for s in lb.standings}
            # The truth on the leaderboard's own scale: battle-weighted mean 1000.
            centre = sum(truth[m] * b for m, b in battles.items()) / sum(battles.values())
            for s in lb.standings:
                hits += s.rating_low <= truth[s.model] - centre + 1000 <= s.rating_high
                total += 1
    assert hits / total >= 0.9  # nominal 95%


def test_models_with_few_battles_are_provisional_and_not_ranked():
    votes = simulate({"a": 1100, "b": 1000, "c": 900}, 300, seed=12)
    votes += [Vote("newcomer", "a", "a")] * 2  # two wins over the best: not settled
    lb = leaderboard(votes)
    order = [s.model for s in lb.standings]
    newcomer = lb.standings[-1]
    assert order == ["a", "b", "c", "newcomer"]
    assert newcomer.provisional and newcomer.battles == 2
    assert newcomer.rating > lb.standings[0].rating  # rated, but listed after the settled
    assert lb.ranks() == [1, 2, 3, None]
    assert not any(s.provisional for s in lb.standings[:3])
    settled = leaderboard(votes + [Vote("newcomer", "b", "a")] * 3)
    assert not settled.standings[0].provisional
    assert settled.standings[0].model == "newcomer" and settled.ranks()[0] == 1


def test_intervals_shrink_with_more_votes():
    def mean_width(n):
        lb = leaderboard(simulate(TRUTH, n, seed=8), bootstrap=300)
        return sum(s.rating_high - s.rating_low for s in lb.standings) / len(lb.standings)

    small, large = mean_width(1000), mean_width(4000)
    assert large < 0.7 * small  # ~1/2 expected from 1/sqrt(n)


def test_win_rate_and_battle_count_matrices():
    votes = [Vote("x", "y", "a")] * 3 + [Vote("y", "x", "a"), Vote("x", "y", "tie")]
    votes += [Vote("x", "z", "bad")]
    lb = leaderboard(votes, bootstrap=0)
    assert lb.battle_count_matrix == {
        "x": {"x": 0, "y": 5, "z": 1},
        "y": {"x": 5, "y": 0, "z": 0},
        "z": {"x": 1, "y": 0, "z": 0},
    }
    assert lb.win_rate_matrix["x"]["y"] == pytest.approx(3.5 / 5)
    assert lb.win_rate_matrix["y"]["x"] == pytest.approx(1.5 / 5)
    assert lb.win_rate_matrix["x"]["z"] == 0.5
    assert lb.win_rate_matrix["y"]["z"] is None and lb.win_rate_matrix["x"]["x"] is None


def test_anchor_model_sits_at_1000():
    votes = simulate(TRUTH, 1000, seed=9)
    lb = leaderboard(votes, bootstrap=50, anchor="gamma")
    gamma = next(s for s in lb.standings if s.model == "gamma")
    assert gamma.rating == pytest.approx(1000) and gamma.rating_low == pytest.approx(1000)
    with pytest.raises(ValueError):
        leaderboard(votes, anchor="nobody")


def test_mean_scores_with_bootstrap_interval():
    scores = [Score("a", s) for s in (4, 5, 5, 3, 4, 5)] + [Score("b", 2), Score("c", 3)]
    lb = leaderboard([Vote("a", "b", "a")], scores, bootstrap=500)
    by = {s.model: s for s in lb.standings}
    assert by["a"].scores == 6 and by["a"].mean_score == pytest.approx(26 / 6)
    assert 3 <= by["a"].score_low < by["a"].mean_score < by["a"].score_high <= 5
    assert by["b"].score_low is None  # one score: no interval
    # A model with scores but no votes is listed, unrated, after the rated ones.
    assert by["c"].rating is None and lb.standings[-1].model == "c"


def test_filters_by_tag_and_time():
    votes = [
        Vote("x", "y", "a", tags=("python",), timestamp=100.0),
        Vote("x", "y", "b", tags=["rust"], timestamp=200.0),
        Vote("y", "z", "a", tags=("python", "hard"), timestamp=300.0),
    ]
    assert select(votes, tag="python") == [votes[0], votes[2]]
    assert select(votes, since=200.0) == votes[1:]
    assert select(votes, since=datetime.fromtimestamp(250, UTC)) == [votes[2]]
    lb = leaderboard(votes, bootstrap=0, tag="python", since=150)
    assert lb.votes == 1 and {s.model for s in lb.standings} == {"y", "z"}


def test_empty_input():
    assert bradley_terry([]) == {}
    lb = leaderboard([], [])
    assert lb.standings == [] and lb.win_rate_matrix == {} and lb.votes == 0


def test_invalid_votes_and_scores_are_refused():
    with pytest.raises(ValueError):
        Vote("x", "y", "draw")
    with pytest.raises(ValueError):
        Vote("x", "x", "a")
    for bad in (0, 6, 2.5, True):
        with pytest.raises(ValueError):
            Score("x", bad)
    with pytest.raises(ValueError):
        bradley_terry([Vote("x", "y", "a")], prior=0)
