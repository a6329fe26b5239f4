"""Speed statistics: mean ± std and median with n, contended runs never pooled with runs alone."""

from __future__ import annotations

import statistics

import pytest

from workbench.core.record import ModelRun
from workbench.core.stats import ALONE, CONTENDED, Spread, contention, speed_stats


def run(tokens: int, first: float, last: float, state: str = "done") -> ModelRun:
    return ModelRun(
        model="m",
        state=state,
        output_tokens=tokens,
        prompt_tokens=20,
        first_token_s=first,
        last_token_s=last,
        total_s=last,
    )


def test_spread_of_values():
    spread = Spread.of([10.0, 12.0, 17.0])
    assert spread.n == 3
    assert spread.mean == pytest.approx(13.0)
    assert spread.std == pytest.approx(statistics.stdev([10, 12, 17]))
    assert spread.median == 12.0
    assert spread.text() == "13.0 ± 3.6 (median 12.0, n=3)"
    assert Spread.of([5.0]).text() == "5.0 (n=1)"
    assert Spread.of([]) is None


def test_contention_is_parallel_with_company():
    assert contention("parallel", 2) == CONTENDED
    assert contention("parallel", 1) == ALONE
    assert contention("sequential", 4) == ALONE


def test_contended_runs_are_never_pooled_with_runs_alone():
    # 11 tokens over 0.1 s after the first: 100 tok/s alone; 50 tok/s contended.
    alone = [run(11, 0.1, 0.2), run(11, 0.1, 0.2)]
    contended = [run(11, 0.1, 0.3)]
    groups = speed_stats([(r, ALONE) for r in alone] + [(r, CONTENDED) for r in contended])
    assert [g.contention for g in groups] == [ALONE, CONTENDED]
    assert groups[0].runs == 2 and groups[0].gen_tokens_per_s.mean == pytest.approx(100.0)
    assert groups[1].runs == 1 and groups[1].gen_tokens_per_s.mean == pytest.approx(50.0)


def test_unfinished_runs_are_left_out():
    groups = speed_stats([(run(11, 0.1, 0.2), ALONE), (run(3, 0.1, 5.0, "failed"), ALONE)])
    assert groups[0].runs == 1
    assert groups[0].gen_tokens_per_s.n == 1
