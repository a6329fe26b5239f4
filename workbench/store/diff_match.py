"""The line matcher: patience diff with Myers' algorithm for the gaps, on small ints.

Lines (or words) are turned into small ints and matched as git does, rather than
with ``difflib.SequenceMatcher``: with ``autojunk=False`` that one goes quadratic
(or worse) on repeated lines such as blank lines and ``}``, while unique lines
cut a long answer into small gaps, so thousands of lines with scattered changes
diff in milliseconds. The result is SequenceMatcher-style opcodes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

# Myers' work grows with the square of the edits: past this many, give up on a gap.
_MAX_EDITS = 500
# Gaps this short (both sides together) skip the search for unique lines.
_TINY = 40


def interned(*seqs: list[str]) -> list[list[int]]:
    """``seqs`` with each distinct string turned into a small int, the same across all."""
    ids: dict[str, int] = {}
    return [[ids.setdefault(s, len(ids)) for s in seq] for seq in seqs]


def _matching_blocks(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Matching blocks ``(i, j, size)`` in order, like SequenceMatcher's, without sentinel.

    Patience diff, as git does it: trim the common head and tail, match the lines that
    are unique in both sides of the region (longest increasing run of them), recurse
    into the gaps, and give a gap without such lines to Myers' algorithm.
    """
    found: list[tuple[int, int, int]] = []
    todo = [(0, len(a), 0, len(b))]
    while todo:
        alo, ahi, blo, bhi = todo.pop()
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            found.append((alo, blo, 1))
            alo, blo = alo + 1, blo + 1
        while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
            ahi, bhi = ahi - 1, bhi - 1
            found.append((ahi, bhi, 1))
        if alo == ahi or blo == bhi:
            continue
        if (ahi - alo) + (bhi - blo) <= _TINY:  # Myers is cheap and minimal here
            found.extend((i, j, 1) for i, j in _myers(a, b, alo, ahi, blo, bhi))
            continue
        anchors, common = _anchors(a, b, alo, ahi, blo, bhi)
        if not anchors:
            # Every line not matched is an edit: skip Myers when it would surely give up.
            if (ahi - alo) + (bhi - blo) - 2 * common <= _MAX_EDITS:
                found.extend((i, j, 1) for i, j in _myers(a, b, alo, ahi, blo, bhi))
            continue
        for i, j in anchors:
            found.append((i, j, 1))
            todo.append((alo, i, blo, j))
            alo, blo = i + 1, j + 1
        todo.append((alo, ahi, blo, bhi))
    merged: list[tuple[int, int, int]] = []
    for i, j, n in sorted(found):  # join runs of single-line matches into blocks
        pi, pj, pn = merged[-1] if merged else (-1, -1, 0)
        if pi + pn == i and pj + pn == j:
            merged[-1] = (pi, pj, pn + n)
        else:
            merged.append((i, j, n))
    return merged


def _myers(a: list[int], b: list[int], alo: int, ahi: int, blo: int, bhi: int):
    """Matched pairs of a shortest edit script (Myers 1986), in O((N+M)·D) time.

    Past ``_MAX_EDITS`` edits it gives up and matches nothing (the gap becomes one
    replace): only long runs of repeated lines with no unique line among them get there.
    """
    n, m = ahi - alo, bhi - blo
    v: dict[int, int] = {1: 0}  # furthest x reached on each diagonal k = x - y
    trace = []
    for d in range(min(n + m, _MAX_EDITS) + 1):
        trace.append(v)
        nv: dict[int, int] = {}
        for k in range(-d, d + 1, 2):
            x = v[k + 1] if k == -d or (k != d and v[k - 1] < v[k + 1]) else v[k - 1] + 1
            y = x - k
            while x < n and y < m and a[alo + x] == b[blo + y]:
                x, y = x + 1, y + 1
            nv[k] = x
            if x >= n and y >= m:
                return _backtrack(trace, n, m, alo, blo)
        v = nv
    return []


def _backtrack(trace: list[dict[int, int]], x: int, y: int, alo: int, blo: int):
    pairs = []
    for d in range(len(trace) - 1, -1, -1):
        v, k = trace[d], x - y
        down = k == -d or (k != d and v[k - 1] < v[k + 1])
        px = v[k + 1] if down else v[k - 1]
        py = px - (k + 1 if down else k - 1)
        while x > max(px, 0) and y > max(py, 0):  # the snake: diagonal matches
            x, y = x - 1, y - 1
            pairs.append((alo + x, blo + y))
        x, y = px, py
    return pairs


def _anchors(a: list[int], b: list[int], alo: int, ahi: int, blo: int, bhi: int):
    """Pairs (i, j) of lines unique on both sides, longest in-order run of them; and
    how many lines could match at most (an upper bound of the common subsequence)."""
    ca, cb = Counter(a[alo:ahi]), Counter(b[blo:bhi])
    where = {b[j]: j for j in range(blo, bhi) if cb[b[j]] == 1}
    pairs = [(i, where[a[i]]) for i in range(alo, ahi) if ca[a[i]] == 1 and a[i] in where]
    # Longest increasing subsequence of b positions (patience sorting), O(k log k).
    tails: list[int] = []
    tail_at: list[int] = []
    back: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        p = bisect_left(tails, j)
        back[k] = tail_at[p - 1] if p else -1
        if p == len(tails):
            tails.append(j)
            tail_at.append(k)
        else:
            tails[p], tail_at[p] = j, k
    out = []
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    return out[::-1], sum((ca & cb).values())


def opcodes(a: list[int], b: list[int]) -> list[tuple[str, int, int, int, int]]:
    """How to turn ``a`` into ``b``: ``(op, i1, i2, j1, j2)`` tuples as
    ``SequenceMatcher.get_opcodes()`` gives them (``equal``, ``replace``, ``delete``,
    ``insert``), from the patience/Myers matching blocks."""
    ops, i, j = [], 0, 0
    for bi, bj, n in [*_matching_blocks(a, b), (len(a), len(b), 0)]:
        if i < bi and j < bj:
            ops.append(("replace", i, bi, j, bj))
        elif i < bi:
            ops.append(("delete", i, bi, j, j))
        elif j < bj:
            ops.append(("insert", i, i, j, bj))
        if n:
            ops.append(("equal", bi, bi + n, bj, bj + n))
        i, j = bi + n, bj + n
    return ops
