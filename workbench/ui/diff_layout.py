"""What the diff screen draws, as plain data: the pairs to diff and the unified rows.

No Textual here. The side-by-side rows come from ``Diff.side_by_side()``; this
module adds the unified view (``Diff.unified()`` with the word segments of
changed line pairs put back) and which answers a chooser offers to compare.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

from workbench.store.diff import Diff, Segment, code_of

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class DiffPair:
    """Two texts to diff and what to call them (``old`` → ``new`` in the view)."""

    a_name: str
    a_text: str
    b_name: str
    b_text: str

    def texts(self, mode: str, code_only: bool) -> tuple[str, str]:
        """The texts to diff: whole answers, or just their code (``code_of`` per mode)."""
        if not code_only:
            return self.a_text, self.b_text
        return code_of(self.a_text, mode), code_of(self.b_text, mode)


def pair_choices(texts: dict[str, str]) -> list[tuple[str, list[DiffPair]]]:
    """What a chooser offers for three answers or more: every pair, then each answer
    as the reference that all the others are diffed against (one after the other)."""
    names = list(texts)
    choices: list[tuple[str, list[DiffPair]]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            choices.append((f"{a}  ⟷  {b}", [DiffPair(a, texts[a], b, texts[b])]))
    for ref in names:
        others = [DiffPair(ref, texts[ref], b, texts[b]) for b in names if b != ref]
        choices.append((f"each against {ref} (reference)", others))
    return choices


@dataclass(frozen=True)
class UnifiedLine:
    """One line of the unified view.

    ``kind`` is ``"header"`` (an ``@@`` line), ``"equal"``, ``"delete"`` or
    ``"insert"``; numbers are 0-based and None where a side has no line.
    ``segments`` are the word diff of a changed line pair (empty otherwise).
    """

    kind: str
    text: str
    a_no: int | None = None
    b_no: int | None = None
    segments: tuple[Segment, ...] = ()


def unified_lines(diff: Diff, context: int = 3) -> tuple[list[UnifiedLine], list[int]]:
    """The unified view of ``diff`` and the index of the first line of each changed hunk.

    The lines are ``diff.unified(context)`` without its ``---``/``+++`` names,
    numbered, with the word segments of each changed line pair.
    """
    left = {p.a_index: p.left for h in diff.hunks for p in h.pairs}
    right = {p.b_index: p.right for h in diff.hunks for p in h.pairs}
    lines: list[UnifiedLine] = []
    marks: list[int] = []
    a = b = 0
    previous = "header"
    for raw in diff.unified(context)[2:]:
        head = _HEADER.match(raw)
        if head:
            a, b = _start(head.group(1), head.group(2)), _start(head.group(3), head.group(4))
            lines.append(UnifiedLine("header", raw))
            previous = "header"
            continue
        sign, text = raw[:1], raw[1:]
        if sign == " ":
            lines.append(UnifiedLine("equal", text, a, b))
            a, b = a + 1, b + 1
            previous = "equal"
            continue
        if previous in ("header", "equal"):
            marks.append(len(lines))
        if sign == "-":
            lines.append(UnifiedLine("delete", text, a_no=a, segments=left.get(a, ())))
            a += 1
            previous = "delete"
        else:
            lines.append(UnifiedLine("insert", text, b_no=b, segments=right.get(b, ())))
            b += 1
            previous = "insert"
    return lines, marks


def _start(first: str, count: str | None) -> int:
    # difflib's ranges: "12" is line 12 (1-based); "12,0" is the empty range after line 12.
    return int(first) if count == "0" else int(first) - 1


def next_mark(marks: Sequence[int], row: int, *, backward: bool = False) -> int | None:
    """The next (or previous) mark after (or before) ``row``, as ``Diff.next_hunk``."""
    if backward:
        p = bisect_left(marks, row) - 1
        return marks[p] if p >= 0 else None
    p = bisect_left(marks, row + 1)
    return marks[p] if p < len(marks) else None


def wraps_most(lines: Sequence[str], width: int) -> bool:
    """Whether most of the non-blank ``lines`` are wider than ``width`` cells (tabs as four)."""
    shown = [line.replace("\t", "    ") for line in lines if line.strip()]
    wide = sum(1 for line in shown if cell_len(line) > width)
    return wide * 2 > len(shown)
