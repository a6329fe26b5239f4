"""pass@k against known values and a brute-force count; distinct answers."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import pytest

from workbench.checks.codecheck import distinct_answers, normalize_code, pass_at_k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (10, 3, 10, 1.0),  # k = n: some sample passed
        (10, 0, 1, 0.0),
        (10, 0, 10, 0.0),
        (10, 10, 1, 1.0),
        (10, 10, 5, 1.0),
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    ],
)
def test_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def brute_force(n: int, c: int, k: int) -> Fraction:
    """The share of all k-subsets of n samples (the first c correct) with a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(1 for subset in subsets if any(i < c for i in subset))
    return Fraction(hits, len(subsets))


def test_matches_a_brute_force_count():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(brute_force(n, c, k)), abs=1e-12)


def test_stable_where_the_binomials_are_huge():
    n, c, k = 2000, 37, 150
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_nonsense_is_refused(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_distinct_answers_ignore_comments_and_spacing():
    same = [
        "def f(x):\n    return x+1\n",
        "def f(x):  # add one\n\n\n  return x + 1",
        "# a helper\ndef f( x ):\n\treturn x  +  1\n",
    ]
    other = "def f(x):\n    return x + 2\n"
    counts = distinct_answers([*same, other])
    assert len(counts) == 2
    assert sorted(counts.values()) == [1, 3]


def test_indentation_is_structure_not_spacing():
    inside = "if a:\n    x()\n    y()\n"
    after = "if a:\n    x()\ny()\n"
    assert normalize_code(inside) != normalize_code(after)


def test_code_that_does_not_tokenize_is_still_compared():
    broken = ['print("unclosed', 'print("unclosed   # note', "x = (1,"]
    assert len(distinct_answers(broken)) == 2
