"""Pure diff and code extraction: what the diff screen and the CLI show.

Two answers are compared line by line (with a word-level diff inside changed
lines) or word by word. Lines are turned into small ints and matched by patience
diff with Myers' algorithm for the gaps, as git does, rather than with
``difflib.SequenceMatcher``: with ``autojunk=False`` that one goes quadratic (or
worse) on repeated lines such as blank lines and ``}``, while unique lines cut a
long answer into small gaps, so thousands of lines with scattered changes diff in
milliseconds.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

_NEWLINE = re.compile(r"\r\n|\r|\n")
# CommonMark: up to 3 spaces of indent, then 3+ backticks or 3+ tildes.
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
# Words, runs of whitespace, and single punctuation marks: good units for code.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
# Myers' work grows with the square of the edits: past this many, give up on a gap.
_MAX_EDITS = 500
# Gaps this short (both sides together) skip the search for unique lines.
_TINY = 40
# A changed line pair whose words match less than this is shown whole, not as confetti.
_PAIR_MIN_RATIO = 0.4
# Inside a replace hunk, similar lines are paired by a small O(n·m) alignment; a hunk
# bigger than this (lines × lines) is paired by position instead.
_ALIGN_LIMIT = 10_000
_WORDS = re.compile(r"\w+|[^\w\s]")


def split_lines(text: str) -> list[str]:
    """Split on \\n, \\r\\n or \\r only (not on form feeds or U+2028 as ``splitlines`` does)."""
    if not text:
        return []
    lines = _NEWLINE.split(text)
    if lines[-1] == "":
        lines.pop()  # a final newline ends the last line, it does not start one
    return lines


# --- code blocks -----------------------------------------------------------------------


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block. Its lines are ``markdown`` lines ``start_line:end_line``
    (0-based, end exclusive, fences excluded), minus the fence's own indentation."""

    language: str | None
    code: str
    start_line: int
    end_line: int


def extract_code_blocks(markdown: str) -> list[CodeBlock]:
    """Return the fenced code blocks of ``markdown`` in order, following CommonMark.

    Fences are ``` or ~~~ (3 or more), indented by at most 3 spaces. A block closes
    only at a fence of the same character that is at least as long and carries no
    info string, so a ```` block may contain ``` lines. An unclosed block runs to the
    end of the text. The language is the first word of the info string, or None.
    """
    lines = split_lines(markdown)
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        # A backtick fence's info string may not contain a backtick (that is inline code).
        if not m or (m.group(2)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        start = end = i + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = [_dedent(line, indent) for line in lines[start:end]]
        language = info.split()[0] if info else None
        blocks.append(CodeBlock(language, "\n".join(body), start, end))
        i = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    m = _FENCE.match(line)
    return bool(
        m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip()
    )


def _dedent(line: str, indent: int) -> str:
    # CommonMark removes up to the opening fence's indentation from each content line.
    n = len(line) - len(line.lstrip(" "))
    return line[min(n, indent) :]


def code_of(text: str, mode: str) -> str:
    """The code in an answer: all of it for ``"completion"``; for ``"chat"`` the fenced
    blocks joined by a blank line, or ``""`` when there are none."""
    if mode == "completion":
        return text
    if mode == "chat":
        return "\n\n".join(block.code for block in extract_code_blocks(text))
    raise ValueError(f"unknown mode {mode!r} (expected 'chat' or 'completion')")


# --- matching ----------------------------------------------------------------------------


def _intern(*seqs: list[str]) -> list[list[int]]:
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


def _opcodes(a: list[int], b: list[int]) -> list[tuple[str, int, int, int, int]]:
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


# --- word diff ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A run of text that is ``"equal"``, ``"delete"`` (only in a) or ``"insert"`` (only in b)."""

    kind: str
    text: str


def _word_segments(a: str, b: str):
    """Word diff as (merged, left, right, matched characters on both sides)."""
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    merged: list[Segment] = []
    left: list[Segment] = []
    right: list[Segment] = []
    same = 0
    for op, i1, i2, j1, j2 in _opcodes(*_intern(ta, tb)):
        if op == "equal":
            seg = Segment("equal", "".join(ta[i1:i2]))
            merged.append(seg)
            left.append(seg)
            right.append(seg if i2 - i1 == j2 - j1 else Segment("equal", "".join(tb[j1:j2])))
            same += len(seg.text) + len(right[-1].text)
            continue
        if i2 > i1:
            left.append(Segment("delete", "".join(ta[i1:i2])))
            merged.append(left[-1])
        if j2 > j1:
            right.append(Segment("insert", "".join(tb[j1:j2])))
            merged.append(right[-1])
    return merged, tuple(left), tuple(right), same


def diff_words(a: str, b: str) -> list[Segment]:
    """Word diff of two whole texts: segments in reading order, deletions before insertions.

    Words are runs of letters/digits/underscore, runs of whitespace, and single
    punctuation marks, so ``f(x)`` → ``f(y)`` changes only ``x``.
    """
    return _word_segments(a, b)[0]


def _pair_segments(a: str, b: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...], int]:
    """Left segments, right segments and matched characters (both sides) of a changed line."""
    _, left, right, same = _word_segments(a, b)
    if a and b and same / (len(a) + len(b)) < _PAIR_MIN_RATIO:
        return (Segment("delete", a),), (Segment("insert", b),), 0
    return left, right, same


def _pair_lines(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Which lines of a replace hunk share a row: similar lines (by their words, ignoring
    whitespace) are aligned in order, and the lines between them pair up by position."""
    n, m = len(a), len(b)
    anchors: list[tuple[int, int]] = []
    if (n > 1 or m > 1) and n * m <= _ALIGN_LIMIT:
        wa = [Counter(_WORDS.findall(s)) for s in a]
        wb = [Counter(_WORDS.findall(s)) for s in b]
        la, lb = [w.total() for w in wa], [w.total() for w in wb]
        # score[i][j]: best total likeness pairing a[:i] with b[:j] (an LCS with weights).
        score = [[0.0] * (m + 1) for _ in range(n + 1)]
        for i in range(n):
            for j in range(m):
                best = max(score[i][j + 1], score[i + 1][j])
                like = 2 * (wa[i] & wb[j]).total() / ((la[i] + lb[j]) or 1)
                if like >= _PAIR_MIN_RATIO:
                    best = max(best, score[i][j] + like)
                score[i + 1][j + 1] = best
        i, j = n, m
        while i and j:
            if score[i][j] == score[i - 1][j]:
                i -= 1
            elif score[i][j] == score[i][j - 1]:
                j -= 1
            else:
                i, j = i - 1, j - 1
                anchors.append((i, j))
        anchors.reverse()
    pairs: list[tuple[int, int]] = []
    i = j = 0
    for ai, aj in [*anchors, (n, m)]:
        pairs.extend(zip(range(i, ai), range(j, aj), strict=False))
        if ai < n:
            pairs.append((ai, aj))
        i, j = ai + 1, aj + 1
    return pairs


# --- line diff ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinePair:
    """Two lines paired inside a replace hunk, with their word-level diff."""

    a_index: int
    b_index: int
    left: tuple[Segment, ...]
    right: tuple[Segment, ...]


@dataclass(frozen=True)
class Hunk:
    """Lines ``a[a_start:a_end]`` become ``b[b_start:b_end]`` (0-based, end exclusive).

    ``op`` is ``"equal"``, ``"replace"``, ``"insert"`` or ``"delete"``. A replace hunk
    pairs its lines for side-by-side rows: similar lines together, the others by
    position; lines left over are plain deletions or insertions.
    """

    op: str
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    pairs: tuple[LinePair, ...] = ()


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side view. A missing side is None (and its number too).

    ``kind`` is ``"equal"``, ``"replace"`` (a changed pair, with word segments),
    ``"delete"`` (left only) or ``"insert"`` (right only). Numbers are 0-based.
    """

    kind: str
    left: str | None
    right: str | None
    left_no: int | None
    right_no: int | None
    left_segments: tuple[Segment, ...] = ()
    right_segments: tuple[Segment, ...] = ()


@dataclass
class Diff:
    """The line diff of two texts; build it with :func:`diff_lines`.

    ``similarity`` is over characters: 2 × matched characters / all characters of both
    texts, where a line counts its length plus one for its newline; equal lines match
    whole and a changed line pair matches its equal words. Two empty texts have 1.0.
    """

    a_lines: list[str]
    b_lines: list[str]
    hunks: list[Hunk]
    similarity: float

    @property
    def changed(self) -> bool:
        return any(h.op != "equal" for h in self.hunks)

    def side_by_side(self) -> list[Row]:
        """Rows for a two-column view (computed once, then cached)."""
        return self._rows_and_marks[0]

    @property
    def hunk_rows(self) -> list[int]:
        """Index in :meth:`side_by_side` of the first row of each changed hunk."""
        return self._rows_and_marks[1]

    def next_hunk(self, row: int, *, backward: bool = False) -> int | None:
        """The row of the next (or previous) changed hunk from ``row``, or None."""
        marks = self.hunk_rows
        if backward:
            p = bisect_left(marks, row) - 1
            return marks[p] if p >= 0 else None
        p = bisect_left(marks, row + 1)
        return marks[p] if p < len(marks) else None

    @cached_property
    def _rows_and_marks(self) -> tuple[list[Row], list[int]]:
        a, b = self.a_lines, self.b_lines
        rows: list[Row] = []
        marks: list[int] = []
        for h in self.hunks:
            if h.op == "equal":
                d = h.b_start - h.a_start
                rows.extend(
                    Row("equal", a[i], b[i + d], i, i + d) for i in range(h.a_start, h.a_end)
                )
                continue
            marks.append(len(rows))
            i, j = h.a_start, h.b_start
            for p in (*h.pairs, LinePair(h.a_end, h.b_end, (), ())):
                rows.extend(Row("delete", a[x], None, x, None) for x in range(i, p.a_index))
                rows.extend(Row("insert", None, b[y], None, y) for y in range(j, p.b_index))
                if p.a_index < h.a_end:
                    x, y = p.a_index, p.b_index
                    rows.append(Row("replace", a[x], b[y], x, y, p.left, p.right))
                i, j = p.a_index + 1, p.b_index + 1
        return rows, marks

    def unified(self, context: int = 3, *, a_name: str = "a", b_name: str = "b") -> list[str]:
        """Unified-diff lines (no line ends), as ``difflib.unified_diff(lineterm="")``
        prints them; ``[]`` when nothing changed."""
        if not self.changed:
            return []
        out = [f"--- {a_name}", f"+++ {b_name}"]
        for group in _groups(self.hunks, context):
            first, last = group[0], group[-1]
            a_range = _range(first.a_start, last.a_end)
            b_range = _range(first.b_start, last.b_end)
            out.append(f"@@ -{a_range} +{b_range} @@")
            for h in group:
                if h.op == "equal":
                    out.extend(" " + line for line in self.a_lines[h.a_start : h.a_end])
                    continue
                out.extend("-" + line for line in self.a_lines[h.a_start : h.a_end])
                out.extend("+" + line for line in self.b_lines[h.b_start : h.b_end])
        return out


def _range(start: int, stop: int) -> str:
    # difflib's convention: an empty range names the line before it.
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _len(h: Hunk) -> int:
    return h.a_end - h.a_start


def _part(h: Hunk, lo: int, hi: int) -> Hunk:
    """Lines lo:hi of an equal hunk (both sides have the same length)."""
    return Hunk("equal", h.a_start + lo, h.a_start + hi, h.b_start + lo, h.b_start + hi)


def _groups(hunks: list[Hunk], n: int) -> list[list[Hunk]]:
    """Changed hunks with ``n`` lines of context, split where equal runs exceed 2n."""
    hs = list(hunks)
    if hs[0].op == "equal":
        hs[0] = _part(hs[0], max(0, _len(hs[0]) - n), _len(hs[0]))
    if hs[-1].op == "equal":
        hs[-1] = _part(hs[-1], 0, min(n, _len(hs[-1])))
    groups: list[list[Hunk]] = []
    group: list[Hunk] = []
    for h in hs:
        if h.op == "equal" and h.a_end - h.a_start > 2 * n:
            group.append(_part(h, 0, n))
            groups.append(group)
            h = _part(h, _len(h) - n, _len(h))
            group = []
        group.append(h)
    if group and not (len(group) == 1 and group[0].op == "equal"):
        groups.append(group)
    return groups


def _chars(lines: list[str]) -> int:
    return sum(map(len, lines)) + len(lines)  # each line plus its newline


def _normalize(line: str) -> str:
    # Like `git diff -w`: whitespace anywhere in the line is ignored.
    return "".join(line.split())


def diff_lines(a: str, b: str, *, ignore_whitespace: bool = False) -> Diff:
    """Line diff of ``a`` and ``b``, with a word diff inside each changed line pair.

    With ``ignore_whitespace`` lines are compared with all whitespace removed (like
    ``git diff -w``) but shown as written; equal hunks show ``a``'s text on the left
    and ``b``'s on the right.
    """
    a_lines, b_lines = split_lines(a), split_lines(b)
    keys = (a_lines, b_lines)
    if ignore_whitespace:
        keys = ([_normalize(s) for s in a_lines], [_normalize(s) for s in b_lines])
    ia, ib = _intern(*keys)
    hunks: list[Hunk] = []
    matched = 0
    for op, i1, i2, j1, j2 in _opcodes(ia, ib):
        pairs: list[LinePair] = []
        if op == "equal":
            matched += _chars(a_lines[i1:i2]) + _chars(b_lines[j1:j2])
        elif op == "replace":
            for i, j in _pair_lines(a_lines[i1:i2], b_lines[j1:j2]):
                left, right, same = _pair_segments(a_lines[i1 + i], b_lines[j1 + j])
                pairs.append(LinePair(i1 + i, j1 + j, left, right))
                matched += same
        hunks.append(Hunk(op, i1, i2, j1, j2, tuple(pairs)))
    total = _chars(a_lines) + _chars(b_lines)
    similarity = matched / total if total else 1.0
    return Diff(a_lines, b_lines, hunks, similarity)
