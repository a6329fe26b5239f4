"""How answer panes share the terminal: side by side, stacked, or a page at a time.

Pure arithmetic on widths and heights (no Textual), so every decision is tested
without a terminal. The rules:

- Panes share the width equally; a pane is never narrower than ``MIN_PANE_WIDTH``.
- ``columns``: side by side; when N panes do not fit, pages of as many as fit.
- ``rows``: stacked, each the same height; when they do not fit at
  ``MIN_PANE_HEIGHT``, pages of as many as fit.
- ``auto``: columns when they fit, else rows when they fit, else pages of columns.
- The compare screen's sidebar folds by itself when keeping it would leave fewer
  than two panes of the minimum width (``sidebar_fits``).

Nothing ever scrolls sideways: what does not fit goes to another page, with a marker.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.models.config import LAYOUTS

#: The narrowest pane worth reading: its figures fit on one line, prose wraps sanely.
MIN_PANE_WIDTH = 40
#: The lowest stacked pane: border, figures line and four lines of answer.
MIN_PANE_HEIGHT = 8
#: The sidebar's width (compare.tcss ``#sidebar``).
SIDEBAR_WIDTH = 36


@dataclass(frozen=True)
class Arrangement:
    """Where ``count`` panes go: ``direction`` and how many show at once (``per_page``)."""

    direction: str  # "columns" or "rows"
    per_page: int
    count: int

    @property
    def paged(self) -> bool:
        return self.per_page < self.count

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    def page_of(self, index: int) -> int:
        """The page that shows pane ``index`` (0-based)."""
        return index // self.per_page

    def shown(self, page: int) -> range:
        """The panes (indices) on ``page``."""
        first = page * self.per_page
        return range(first, min(first + self.per_page, self.count))

    def marker(self, page: int) -> str:
        """What the page marker says: ``pane 2 of 3`` or ``panes 3–4 of 4``."""
        shown = self.shown(page)
        if len(shown) == 1:
            return f"pane {shown.start + 1} of {self.count}"
        return f"panes {shown.start + 1}–{shown.stop} of {self.count}"

    def describe(self) -> str:
        """The arrangement in words, for a notification."""
        if not self.paged:
            return "side by side" if self.direction == "columns" else "stacked"
        where = "side by side" if self.direction == "columns" else "stacked"
        return f"{self.per_page} {where} per page, {self.pages} pages"


def _fit(space: int, least: int) -> int:
    """How many panes of at least ``least`` cells fit in ``space`` (at least one)."""
    return max(1, space // least)


def arrange(count: int, width: int, height: int, layout: str = "auto") -> Arrangement:
    """Arrange ``count`` panes in an area ``width`` × ``height`` cells, per ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    count = max(count, 0)
    across = _fit(width, MIN_PANE_WIDTH)
    down = _fit(height, MIN_PANE_HEIGHT)
    if layout == "rows":
        return Arrangement("rows", min(count, down) or 1, count)
    if layout == "columns" or count <= across:
        return Arrangement("columns", min(count, across) or 1, count)
    if count <= down:
        return Arrangement("rows", count, count)
    return Arrangement("columns", across, count)


def sidebar_fits(width: int, count: int) -> bool:
    """Whether a sidebar leaves room for two panes (or the one there is) of the minimum
    width. With no panes yet it always fits: the picker is what a new user needs."""
    wanted = min(count, 2)
    return wanted == 0 or width - SIDEBAR_WIDTH >= wanted * MIN_PANE_WIDTH


def next_layout(layout: str) -> str:
    """The layout after ``layout`` in the cycle auto → columns → rows → auto
    (``[ui] layout``'s values, in their order)."""
    return LAYOUTS[(LAYOUTS.index(layout) + 1) % len(LAYOUTS)]
