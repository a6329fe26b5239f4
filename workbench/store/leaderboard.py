"""Votes, scores and the leaderboard, recomputed from the raw votes every time.

The leaderboard is a Bradley-Terry fit (maximum a posteriori on log-strengths, by
Newton's method), not an online Elo: it does not depend on the order of the votes.
Votes are first counted into cells (pair of models × outcome); the fit works on
those counts only, so 100,000 votes cost no more than 100.

Rating intervals are Bayesian: the normal (Laplace) approximation of the posterior
at its mode, under the same prior that keeps the fit finite (``prior`` virtual tied
games per model). A percentile bootstrap cannot do this with few votes: one vote
resamples to itself every time, and its interval had zero width (1131–1131). The
posterior's interval is as wide as the prior when there are no votes and narrows
as 1/sqrt(votes); with hundreds of votes it matches the bootstrap's. Models with
fewer than ``PROVISIONAL_BATTLES`` battles are listed as provisional, after the
settled ones. Mean scores keep a percentile bootstrap over their five values.

numpy is imported lazily (it costs ~0.1 s at start-up, and only the leaderboard
needs it); it comes with llama-cpp-python.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

OUTCOMES = ("a", "b", "tie", "bad")  # Chatbot Arena's four
BAD_MODES = ("tie", "skip")
BASE_RATING = 1000.0
_ELO = 400.0 / math.log(10.0)  # rating points per unit of natural log-strength
#: A model with fewer battles than this is shown as provisional, not ranked.
PROVISIONAL_BATTLES = 5
_Z95 = 1.959963984540054  # the normal distribution's 97.5th percentile


@dataclass(frozen=True)
class Vote:
    """One pairwise vote: ``"a"`` or ``"b"`` won, ``"tie"``, or ``"bad"`` (both bad).

    ``timestamp`` is in seconds since the epoch (``time.time()``).
    """

    model_a: str
    model_b: str
    outcome: str
    session_id: str = ""
    timestamp: float = 0.0
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"vote outcome {self.outcome!r} is not one of {OUTCOMES}")
        if self.model_a == self.model_b:
            raise ValueError(f"a vote needs two different models, got {self.model_a!r} twice")
        object.__setattr__(self, "tags", tuple(self.tags))


@dataclass(frozen=True)
class Score:
    """A score from 1 to 5 given to one model's output, with tags and a note."""

    model: str
    score: int
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""
    session_id: str = ""
    timestamp: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.score, bool) or self.score not in (1, 2, 3, 4, 5):
            raise ValueError(f"a score is a whole number from 1 to 5, got {self.score!r}")
        object.__setattr__(self, "tags", tuple(self.tags))


T = TypeVar("T", Vote, Score)


def select(
    items: Iterable[T], *, tag: str | None = None, since: float | datetime | None = None
) -> list[T]:
    """The votes (or scores) carrying ``tag`` and made at or after ``since``."""
    if isinstance(since, datetime):
        since = since.timestamp()
    return [
        item
        for item in items
        if (tag is None or tag in item.tags) and (since is None or item.timestamp >= since)
    ]


# --- counting ------------------------------------------------------------------------------

# A cell is (i, j, result) with models i < j by name; result 0: i won, 1: j won, 2: tie,
# 3: both bad (fitted as a tie, or dropped before counting when bad="skip").
_RESULT = {"a": 0, "b": 1, "tie": 2, "bad": 3}


def _count(
    votes: Iterable[Vote], bad: str
) -> tuple[list[str], list[tuple[int, int, int]], list[int]]:
    """Models (sorted), the distinct cells (sorted) and how many votes fall in each."""
    if bad not in BAD_MODES:
        raise ValueError(f"bad must be one of {BAD_MODES}, got {bad!r}")
    raw = Counter(
        (v.model_a, v.model_b, v.outcome) for v in votes if bad == "tie" or v.outcome != "bad"
    )
    models = sorted({m for a, b, _ in raw for m in (a, b)})
    index = {m: k for k, m in enumerate(models)}
    cells: Counter[tuple[int, int, int]] = Counter()
    for (a, b, outcome), n in raw.items():
        result = _RESULT[outcome]
        if index[a] > index[b]:  # canonical order: swap the pair and who won
            a, b = b, a
            result = {0: 1, 1: 0}.get(result, result)
        cells[index[a], index[b], result] += n
    keys = sorted(cells)
    return models, keys, [cells[key] for key in keys]


def _wins(np: Any, k: int, keys: Sequence[tuple[int, int, int]], batch: Any) -> Any:
    """Turn rows of cell counts (R, cells) into win matrices (R, k, k), ties half."""
    cols = np.asarray(keys, dtype=np.intp).reshape(-1, 3)
    i, j, result = cols[:, 0], cols[:, 1], cols[:, 2]
    share = np.array([1.0, 0.0, 0.5, 0.5])[result]  # i's part of each cell's votes
    wins = np.zeros((k * k, len(batch)))
    # add.at, not fancy-index +=, because several cells (outcomes) share a pair.
    np.add.at(wins, i * k + j, (batch * share).T)
    np.add.at(wins, j * k + i, (batch * (1 - share)).T)
    return wins.T.reshape(-1, k, k)


# --- fitting -------------------------------------------------------------------------------


def _hessian(np: Any, games: Any, theta: Any, prior: float) -> Any:
    """The Hessian (R, k, k) of the log posterior at ``theta`` (R, k): negative definite."""
    diag = np.arange(theta.shape[1])
    # tanh form of the logistic function: no overflow for far-apart strengths.
    p = 0.5 + 0.5 * np.tanh((theta[:, :, None] - theta[:, None, :]) / 2)
    q = 0.5 + 0.5 * np.tanh(theta / 2)
    hess = games * p * (1 - p)
    hess[:, diag, diag] = -hess.sum(axis=2) - prior * q * (1 - q)
    return hess


def _fit(np: Any, wins: Any, prior: float) -> Any:
    """Log-strengths (R, k) maximising the Bradley-Terry likelihood of each (R, k, k) batch.

    ``wins[r, i, j]`` is how often i beat j (a tie counts half). Each model also plays
    ``prior`` virtual games, all ties, against a fixed reference of log-strength 0, which
    keeps the objective strictly concave: Newton's method is well defined, an unbeaten
    model gets a finite strength, and models in separate groups stay comparable.
    """
    r, k, _ = wins.shape
    games = wins + wins.transpose(0, 2, 1)
    target = wins.sum(axis=2) + prior / 2
    theta = np.zeros((r, k))
    for _ in range(100):
        p = 0.5 + 0.5 * np.tanh((theta[:, :, None] - theta[:, None, :]) / 2)
        q = 0.5 + 0.5 * np.tanh(theta / 2)
        grad = target - (games * p).sum(axis=2) - prior * q
        hess = _hessian(np, games, theta, prior)
        step = -np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        # Far from the optimum a full Newton step can overshoot the flat sigmoid tails.
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, 2.0 / np.maximum(biggest, 1e-300))
        theta += step
        if biggest.max() < 1e-9:
            break
    return theta


def _weights(np: Any, k: int, keys, counts) -> Any:
    """Each model's share of the battles (k,): the weights of the rating scale's centre.

    Weighting by battles keeps a model with one vote, whose rating is uncertain,
    from dragging the scale, and so the intervals, of all the others with it.
    """
    battles = np.zeros(k)
    for (i, j, _), n in zip(keys, counts, strict=True):
        battles[i] += n
        battles[j] += n
    return battles / battles.sum()


def _rating_sd(np: Any, wins: Any, theta: Any, prior: float, reference: Any) -> Any:
    """Posterior standard deviations (k,) of each log-strength minus the reference.

    The Laplace approximation: the posterior near its mode is normal with the inverse
    of the negative Hessian as covariance. ``reference`` (k,) weighs the models the
    scale is centred on (battle shares, or 1 for the anchor); a rating is the contrast
    e_m - reference, whose variance is c' Σ c.
    """
    games = wins + wins.transpose(0, 2, 1)
    covariance = np.linalg.inv(-_hessian(np, games, theta[None, :], prior)[0])
    contrast = np.eye(len(theta)) - reference[None, :]
    variance = np.einsum("mi,ij,mj->m", contrast, covariance, contrast)
    return np.sqrt(np.maximum(variance, 0.0))


def bradley_terry(
    votes: Iterable[Vote], *, bad: str = "tie", prior: float = 1.0
) -> dict[str, float]:
    """Bradley-Terry strengths by maximum likelihood, scaled so that their geometric
    mean, weighted by each model's number of battles, is 1.

    A tie counts as half a win to each side. ``bad="tie"`` counts "both bad" votes as
    ties; ``bad="skip"`` ignores them. Regularisation: every model plays ``prior``
    (default 1) virtual tied games against a reference of strength 1, i.e. half a
    virtual win and half a virtual loss. That keeps an unbeaten model, or a model
    with one vote, finite, and ties together groups of models that never met; with
    hundreds of votes its effect is negligible. P(i beats j) = s_i / (s_i + s_j).
    """
    import numpy as np

    if prior <= 0:
        raise ValueError("prior must be positive: without it unbeaten models diverge")
    models, keys, counts = _count(votes, bad)
    if not models:
        return {}
    k = len(models)
    theta = _fit(np, _wins(np, k, keys, np.asarray([counts], float)), prior)[0]
    theta = theta - theta @ _weights(np, k, keys, counts)
    return {m: float(math.exp(t)) for m, t in zip(models, theta, strict=True)}


def rating_of(strength: float, *, base: float = BASE_RATING) -> float:
    """Elo-like points: 400 × log10(strength) + base; with :func:`bradley_terry`'s scaling
    the battle-weighted mean rating is ``base``. 400 points ≈ 10-to-1 odds."""
    return base + 400.0 * math.log10(strength)


# --- leaderboard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """One model's line on the leaderboard. Rating intervals are 95% posterior intervals,
    mean-score intervals 95% percentile-bootstrap ones; a figure that cannot be computed
    is None."""

    model: str
    rating: float | None
    rating_low: float | None
    rating_high: float | None
    battles: int
    wins: int
    losses: int
    ties: int
    bad: int
    scores: int
    mean_score: float | None
    score_low: float | None
    score_high: float | None

    @property
    def provisional(self) -> bool:
        """Rated from fewer than ``PROVISIONAL_BATTLES`` battles: listed, not ranked."""
        return self.rating is not None and self.battles < PROVISIONAL_BATTLES


@dataclass(frozen=True)
class Leaderboard:
    """Standings (settled ones best first, then provisional ones, then models with
    scores only), and for each ordered pair of voted models the share of battles the
    row model won (ties half; None when they never met) and their count."""

    standings: list[Standing]
    win_rate_matrix: dict[str, dict[str, float | None]]
    battle_count_matrix: dict[str, dict[str, int]]
    votes: int
    bootstrap: int
    bad: str

    def ranks(self) -> list[int | None]:
        """Each standing's rank (1, 2, …), or None for a provisional or unrated one."""
        ranks: list[int | None] = []
        for s in self.standings:
            settled = s.rating is not None and not s.provisional
            ranks.append(sum(r is not None for r in ranks) + 1 if settled else None)
        return ranks


def leaderboard(
    votes: Iterable[Vote],
    scores: Iterable[Score] = (),
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    bad: str = "tie",
    prior: float = 1.0,
    anchor: str | None = None,
    tag: str | None = None,
    since: float | datetime | None = None,
) -> Leaderboard:
    """The leaderboard of ``votes`` and ``scores`` (filtered by ``tag``/``since`` first).

    Ratings are :func:`bradley_terry` on the Elo-like scale (battle-weighted mean 1000,
    or ``anchor`` at 1000), with 95% posterior intervals (see the module's docstring).
    Mean scores get a percentile bootstrap of ``bootstrap`` rounds (per model, no
    interval under two scores). A fixed ``seed`` makes the result reproducible, and it
    does not depend on the order of the votes. With ``bad="skip"`` both-bad votes are
    dropped before anything is counted.
    """
    import numpy as np

    if prior <= 0:
        raise ValueError("prior must be positive: without it unbeaten models diverge")
    votes, scores = select(votes, tag=tag, since=since), select(scores, tag=tag, since=since)
    rng = np.random.default_rng(seed)
    models, keys, counts = _count(votes, bad)
    k = len(models)
    if anchor is not None and anchor not in models:
        raise ValueError(f"anchor {anchor!r} has no votes")
    rating: dict[str, tuple[float, float, float]] = {}
    if models:
        wins = _wins(np, k, keys, np.asarray([counts], float))
        theta = _fit(np, wins, prior)[0]
        if anchor is None:
            reference = _weights(np, k, keys, counts)
        else:
            reference = np.eye(k)[models.index(anchor)]
        points = BASE_RATING + _ELO * (theta - theta @ reference)
        half = _Z95 * _ELO * _rating_sd(np, wins, theta, prior, reference)
        for c, m in enumerate(models):
            mid = float(points[c])
            rating[m] = (mid, mid - float(half[c]), mid + float(half[c]))

    tally, win_rate, battle_count = _tallies(models, keys, counts)

    by_model: dict[str, list[int]] = {}
    for s in scores:
        by_model.setdefault(s.model, []).append(s.score)
    score_stats = {m: _score_stats(np, rng, by_model[m], bootstrap) for m in sorted(by_model)}

    standings = []
    for m in sorted(set(models) | set(by_model)):
        t = tally.get(m, Counter())
        n_scores, mean, s_low, s_high = score_stats.get(m, (0, None, None, None))
        r, r_low, r_high = rating.get(m, (None, None, None))
        counted = {key: t[key] for key in ("battles", "wins", "losses", "ties", "bad")}
        standings.append(
            Standing(
                m,
                r,
                r_low,
                r_high,
                **counted,
                scores=n_scores,
                mean_score=mean,
                score_low=s_low,
                score_high=s_high,
            )
        )
    standings.sort(
        key=lambda s: (
            s.rating is None,
            s.provisional,
            -(s.rating or 0.0),
            s.mean_score is None,
            -(s.mean_score or 0.0),
            s.model,
        )
    )
    return Leaderboard(standings, win_rate, battle_count, sum(counts), bootstrap, bad)


def _tallies(models: list[str], keys, counts):
    """Per-model counts, the win-rate matrix and the battle-count matrix."""
    tally: dict[str, Counter[str]] = {m: Counter() for m in models}
    met: dict[str, Counter[str]] = {m: Counter() for m in models}
    won: dict[str, Counter[str]] = {m: Counter() for m in models}
    kinds = (("wins", "losses"), ("losses", "wins"), ("ties", "ties"), ("bad", "bad"))
    for (i, j, result), n in zip(keys, counts, strict=True):
        a, b = models[i], models[j]
        kind_a, kind_b = kinds[result]
        tally[a].update({kind_a: n, "battles": n})
        tally[b].update({kind_b: n, "battles": n})
        met[a][b] += n
        met[b][a] += n
        share = (1.0, 0.0, 0.5, 0.5)[result]
        won[a][b] += share * n
        won[b][a] += (1 - share) * n
    battle_count = {a: {b: met[a][b] for b in models} for a in models}
    win_rate = {
        a: {b: won[a][b] / met[a][b] if met[a][b] else None for b in models} for a in models
    }
    return tally, win_rate, battle_count


def _score_stats(np: Any, rng: Any, values: list[int], bootstrap: int):
    """(count, mean, low, high) of one model's scores; a bootstrap over the five values."""
    n = len(values)
    mean = sum(values) / n
    if n < 2 or bootstrap <= 0:
        return n, mean, None, None
    freq = np.bincount(values, minlength=6)[1:] / n
    means = rng.multinomial(n, freq, size=bootstrap) @ np.arange(1, 6) / n
    low, high = np.percentile(means, [2.5, 97.5]).tolist()
    return n, mean, low, high
