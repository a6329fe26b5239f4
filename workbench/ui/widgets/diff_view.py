"""A line diff drawn one screen line at a time, side by side or unified.

Only the rows on screen are built (Textual's line API), so a diff of thousands
of lines opens and scrolls at once: the whole layout is one list of where each
row starts, since long lines wrap. The colours are the theme's diff variables.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment as RichSegment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.store.diff import Diff, Row, Segment
from workbench.ui.diff_layout import UnifiedLine, next_mark, unified_lines, wraps_most

# Tabs and control characters would break the cell arithmetic: show them as spaces and �.
_CLEAN = {i: "\ufffd" for i in (*range(32), 127)} | {9: "    "}
#: Lines of context kept above a hunk when jumping to it.
_ABOVE = 2


def _clean(text: str) -> str:
    return text.translate(_CLEAN)


def _height(text: str | None, width: int) -> int:
    if not text:
        return 1
    return max(1, -(-cell_len(_clean(text)) // width))


class DiffView(ScrollView, can_focus=True):
    """The rows of a ``Diff``; ``show`` swaps the diff or the view, ``goto_hunk`` moves."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--added",
        "diff-view--added-word",
        "diff-view--removed",
        "diff-view--removed-word",
        "diff-view--header",
        "diff-view--gutter",
    }

    DEFAULT_CSS = """
    DiffView {
        background: $background;
        color: $text;
        scrollbar-gutter: stable;
    }
    DiffView > .diff-view--added {
        background: $diff-added-background;
        color: $diff-added-foreground;
    }
    DiffView > .diff-view--added-word {
        background: $diff-added-foreground;
        color: $diff-added-background;
        text-style: bold;
    }
    DiffView > .diff-view--removed {
        background: $diff-removed-background;
        color: $diff-removed-foreground;
    }
    DiffView > .diff-view--removed-word {
        background: $diff-removed-foreground;
        color: $diff-removed-background;
        text-style: bold;
    }
    DiffView > .diff-view--header {
        background: $diff-changed-background;
        color: $diff-changed-foreground;
    }
    DiffView > .diff-view--gutter {
        color: $text-muted;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.diff: Diff | None = None
        self.unified = False
        self.message = ""
        #: Side-by-side ``Row``s or ``UnifiedLine``s.
        self.items: list[Row] | list[UnifiedLine] = []
        #: The item where each changed hunk starts.
        self.marks: list[int] = []
        #: Which hunk ``goto_hunk`` went to last (an index into ``marks``).
        self.current: int | None = None
        self._current_items = range(0)
        self._tops: list[int] = [0]
        self._layout_width = 0
        self._number_width = 3
        self._cache: LRUCache[int, list[Strip]] = LRUCache(512)

    # -- content -------------------------------------------------------------------------

    def show(self, diff: Diff | None, *, unified: bool, message: str = "") -> None:
        """Draw ``diff`` side by side or unified; ``message`` stands in for an empty one."""
        self.diff, self.unified, self.message = diff, unified, message
        self.current, self._current_items = None, range(0)
        if diff is None:
            self.items, self.marks = [], []
        elif unified:
            self.items, self.marks = unified_lines(diff)
        else:
            self.items, self.marks = diff.side_by_side(), diff.hunk_rows
        lines = max(len(diff.a_lines), len(diff.b_lines)) if diff else 0
        self._number_width = max(3, len(str(lines)))
        self._relayout(force=True)
        self.scroll_to(0, 0, animate=False, immediate=True)

    def goto_hunk(self, *, backward: bool = False) -> int | None:
        """Scroll to the next (or previous) changed hunk; its index in ``marks``, or None."""
        if not self.marks:
            return None
        if self.current is not None and self.marks[self.current] in self._visible_items():
            anchor = self.marks[self.current]  # from the hunk last gone to
        else:  # from the top of the view: a hunk that starts there counts as next
            top = self._item_at(round(self.scroll_y))
            anchor = top + 1 if backward else top - 1
        target = next_mark(self.marks, anchor, backward=backward)
        if target is None:
            return None
        self.current = self.marks.index(target)
        end = target
        while end < len(self.items) and self.items[end].kind not in ("equal", "header"):
            end += 1
        self._current_items = range(target, end)
        self._cache.clear()
        self.scroll_to(y=max(0, self._tops[target] - _ABOVE), animate=False, immediate=True)
        self.refresh()
        return self.current

    def _visible_items(self) -> range:
        first = self._item_at(round(self.scroll_y))
        last = self._item_at(round(self.scroll_y) + self.size.height - 1)
        return range(first, last + 1)

    def _item_at(self, line: int) -> int:
        return max(0, min(bisect_right(self._tops, line) - 1, len(self.items) - 1))

    # -- layout --------------------------------------------------------------------------

    def _gutter(self) -> int:
        # marker of the current hunk, number(s), space, sign, space
        n = self._number_width
        return 2 * n + 5 if self.unified else n + 4

    def _text_width(self, width: int) -> int:
        if self.unified:
            return max(10, width - self._gutter())
        return max(10, (width - 1 - 2 * self._gutter()) // 2)

    def side_by_side_wraps(self, diff: Diff, width: int) -> bool:
        """Whether side by side, ``width`` cells wide, would wrap most lines of ``diff``."""
        width -= self.styles.scrollbar_size_vertical  # the stable scrollbar gutter
        lines = max(len(diff.a_lines), len(diff.b_lines))
        numbers = max(3, len(str(lines)))
        text_width = max(10, (width - 1 - 2 * (numbers + 4)) // 2)  # as _text_width
        return wraps_most([*diff.a_lines, *diff.b_lines], text_width)

    def _width(self) -> int:
        """The cells a row may take: the widget's width less its vertical scrollbar's
        gutter (kept ``stable``, so a diff that starts to scroll keeps its wrapping)."""
        return self.scrollable_content_region.width

    def _relayout(self, *, force: bool = False) -> None:
        width = self._width()
        if width <= 0:  # not laid out yet: on_resize comes
            self._layout_width, self._tops = 0, [0] * (len(self.items) + 1)
            return
        if width == self._layout_width and not force:
            return
        self._layout_width = width
        self._cache.clear()
        text_width = self._text_width(width)
        tops = [0]
        total = 0
        if self.unified:
            for line in self.items:
                total += _height(line.text, text_width)  # type: ignore[union-attr]
                tops.append(total)
        else:
            for row in self.items:
                total += max(
                    _height(row.left, text_width),  # type: ignore[union-attr]
                    _height(row.right, text_width),  # type: ignore[union-attr]
                )
                tops.append(total)
        self._tops = tops
        self.virtual_size = Size(width, max(total, 1 if self.message else 0))
        self.refresh()

    def on_resize(self) -> None:
        self._relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        line = round(self.scroll_y) + y
        width = self._width()
        base = self.rich_style
        if not self.items:
            if line == 0 and self.message:
                gutter = self.get_component_rich_style("diff-view--gutter")
                return Strip([RichSegment(f"  {self.message}", gutter)]).extend_cell_length(
                    width, base
                )
            return Strip.blank(width, base)
        if line >= self._tops[-1]:
            return Strip.blank(width, base)
        index = bisect_right(self._tops, line) - 1
        strips = self._cache.get(index)
        if strips is None:
            strips = self._build(index)
            self._cache[index] = strips
        strip = strips[min(line - self._tops[index], len(strips) - 1)]
        return strip.crop_extend(0, width, base)

    def _styles(self) -> dict[str, Style]:
        get = self.get_component_rich_style
        return {
            "base": self.rich_style,
            "added": get("diff-view--added"),
            "added-word": get("diff-view--added-word"),
            "removed": get("diff-view--removed"),
            "removed-word": get("diff-view--removed-word"),
            "header": get("diff-view--header"),
            "gutter": get("diff-view--gutter"),
        }

    def _build(self, index: int) -> list[Strip]:
        """The screen lines of item ``index`` (more than one when it wraps)."""
        styles = self._styles()
        width = self._layout_width or self._width()
        text_width = self._text_width(width)
        height = self._tops[index + 1] - self._tops[index]
        current = index in self._current_items
        if self.unified:
            item: UnifiedLine = self.items[index]  # type: ignore[assignment]
            return self._unified(item, styles, text_width, height, current)
        row: Row = self.items[index]  # type: ignore[assignment]
        left = self._side(row.left, row.left_no, row.left_segments, row.kind, "removed")
        right = self._side(row.right, row.right_no, row.right_segments, row.kind, "added")
        lines = []
        lefts = self._wrap(left, styles, text_width, height, current)
        rights = self._wrap(right, styles, text_width, height, current)
        bar = RichSegment("│", styles["gutter"])
        for a, b in zip(lefts, rights, strict=True):
            lines.append(Strip.join([a, Strip([bar]), b]))
        return lines

    def _side(
        self,
        text: str | None,
        number: int | None,
        segments: tuple[Segment, ...],
        kind: str,
        colour: str,
    ) -> tuple[str, int | None, str, list[tuple[str, str]]] | None:
        """(sign, number, line style, [(text, style name)]) of one side, None if absent."""
        if text is None:
            return None
        if kind == "equal":
            return " ", number, "base", [(text, "base")]
        sign = "-" if colour == "removed" else "+"
        if not segments:
            return sign, number, colour, [(text, colour)]
        pieces = [(s.text, colour if s.kind == "equal" else f"{colour}-word") for s in segments]
        return sign, number, colour, pieces

    def _wrap(
        self,
        side: tuple[str, int | None, str, list[tuple[str, str]]] | None,
        styles: dict[str, Style],
        text_width: int,
        height: int,
        current: bool,
    ) -> list[Strip]:
        """One side's lines: gutter then text, wrapped at ``text_width``, ``height`` of them."""
        full = self._gutter() + text_width
        if side is None:
            return [Strip.blank(full, styles["base"])] * height
        sign, number, line_style, pieces = side
        n = self._number_width
        shown = f"{number + 1:>{n}} " if number is not None else " " * (n + 1)
        gutter = [
            RichSegment("▌" if current else " ", styles["header"] if current else styles["base"]),
            RichSegment(shown, styles["gutter"]),
            RichSegment(f"{sign} ", styles[line_style] if sign != " " else styles["base"]),
        ]
        text = Strip([RichSegment(_clean(t), styles[s]) for t, s in pieces if t])
        return self._lines(gutter, text, styles[line_style], text_width, height, styles)

    def _lines(
        self,
        gutter: list[RichSegment],
        text: Strip,
        fill: Style,
        text_width: int,
        height: int,
        styles: dict[str, Style],
    ) -> list[Strip]:
        length = text.cell_length
        cuts = [*range(text_width, length, text_width), length]
        parts = text.divide(cuts) if length else [Strip([])]
        blank = Strip.blank(sum(s.cell_length for s in gutter), styles["base"])
        lines = []
        for i in range(height):
            head = Strip(gutter) if i == 0 else blank
            body = parts[i] if i < len(parts) else Strip([])
            lines.append(Strip.join([head, body.extend_cell_length(text_width, fill)]))
        return lines

    def _unified(
        self,
        item: UnifiedLine,
        styles: dict[str, Style],
        text_width: int,
        height: int,
        current: bool,
    ) -> list[Strip]:
        if item.kind == "header":
            width = self._gutter() + text_width
            strip = Strip([RichSegment(_clean(item.text), styles["header"])])
            return [strip.crop_extend(0, width, styles["header"])] * height
        colour = {"delete": "removed", "insert": "added"}.get(item.kind, "base")
        sign = {"delete": "-", "insert": "+"}.get(item.kind, " ")
        n = self._number_width
        a = f"{item.a_no + 1:>{n}}" if item.a_no is not None else " " * n
        b = f"{item.b_no + 1:>{n}}" if item.b_no is not None else " " * n
        gutter = [
            RichSegment("▌" if current else " ", styles["header"] if current else styles["base"]),
            RichSegment(f"{a} {b} ", styles["gutter"]),
            RichSegment(f"{sign} ", styles[colour]),
        ]
        if item.segments:
            pieces = [
                (s.text, colour if s.kind == "equal" else f"{colour}-word") for s in item.segments
            ]
        else:
            pieces = [(item.text, colour)]
        text = Strip([RichSegment(_clean(t), styles[s]) for t, s in pieces if t])
        return self._lines(gutter, text, styles[colour], text_width, height, styles)
