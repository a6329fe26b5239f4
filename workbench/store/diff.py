"""Pure diff and code extraction: what the diff screen and the CLI show.

Two answers are compared line by line (with a word-level diff inside changed
lines) or word by word, and shown side by side or as a unified diff. Which
lines match is ``workbench.store.diff_match``'s job (patience + Myers, as git does).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from workbench.store.diff_match import interned, opcodes

_NEWLINE = re.compile(r"\r\n|\r|\n")
# CommonMark: up to 3 spaces of indent, then 3+ backticks or 3+ tildes.
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
# Words, runs of whitespace, and single punctuation marks: good units for code.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
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
    for op, i1, i2, j1, j2 in opcodes(*interned(ta, tb)):
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
    ia, ib = interned(*keys)
    hunks: list[Hunk] = []
    matched = 0
    for op, i1, i2, j1, j2 in opcodes(ia, ib):
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
