"""The list of saved sessions: one line each, drawn only when on screen.

Ten thousand sessions are ten thousand summaries in a list; a line becomes
text only when it scrolls into view, so filtering swaps the list and redraws
one screenful.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.store.sessions import SessionSummary

WHEN_WIDTH = 16
RATED = "★"
#: Below this width the year leaves the "when" column; below the next, the models column
#: goes (the prompt is what tells sessions apart). Widths of the list less its scrollbar:
#: a 100-column terminal keeps the year.
YEAR_FROM = 98
MODELS_FROM = 62


def when(created: str) -> str:
    """``created`` in local time, to the minute (as saved when it cannot be read)."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created[:WHEN_WIDTH]
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment:%Y-%m-%d %H:%M}"


def _fit(text: str, width: int) -> str:
    """``text`` on one line, exactly ``width`` cells: cut with … or padded."""
    text = " ".join(text.split())  # no tabs or newlines in a one-line cell
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…"
    return set_cell_size(text, width)


class SessionList(ScrollView, can_focus=False):
    """Session summaries, newest first, with a cursor; enter or a double click opens one.

    The first line is the column titles; it stays put while the rows scroll under it.
    It takes no focus: the filter keeps it, and its screen moves the cursor.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "session-list--cursor",
        "session-list--header",
        "session-list--muted",
        "session-list--rated",
    }

    DEFAULT_CSS = """
    SessionList {
        background: $background;
        scrollbar-gutter: stable;
    }
    SessionList > .session-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    SessionList > .session-list--header {
        background: $surface;
        color: $text-muted;
        text-style: bold;
    }
    SessionList > .session-list--muted {
        color: $text-muted;
    }
    SessionList > .session-list--rated {
        color: $accent;
    }
    """

    #: The index of the selected row.
    cursor: reactive[int] = reactive(0, always_update=True)

    class Chosen(Message):
        """The user asked to open ``summary``."""

        def __init__(self, summary: SessionSummary) -> None:
            super().__init__()
            self.summary = summary

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[SessionSummary] = []
        self._cache: LRUCache[tuple[int, bool, int], Strip] = LRUCache(256)

    @property
    def selected(self) -> SessionSummary | None:
        return self.rows[self.cursor] if self.rows else None

    def set_rows(
        self, rows: list[SessionSummary], keep: str | None = None, *, near: bool = False
    ) -> None:
        """Show ``rows``; the cursor stays on the session ``keep`` when it is still there,
        else goes to the top (or stays ``near`` where it was: the row after a deleted one)."""
        fallback = min(self.cursor, max(len(rows) - 1, 0)) if near else 0
        self.rows = rows
        self._cache.clear()
        self.virtual_size = Size(self._width(), len(rows) + 1)
        index = next((i for i, row in enumerate(rows) if row.id == keep), fallback)
        if index == 0:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor = index

    def move(self, step: int) -> None:
        """Move the cursor ``step`` rows (a page is the height of the list)."""
        if self.rows:
            self.cursor = max(0, min(self.cursor + step, len(self.rows) - 1))

    def watch_cursor(self, cursor: int) -> None:
        rows = max(self.size.height - 1, 1)  # below the titles
        if cursor < self.scroll_y:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif cursor >= self.scroll_y + rows:
            self.scroll_to(y=cursor - rows + 1, animate=False, immediate=True)
        self.refresh()

    def _width(self) -> int:
        """The cells a row may take: the width less the vertical scrollbar's gutter (kept
        ``stable``, so the columns stay put when the list grows long enough to scroll)."""
        return self.scrollable_content_region.width

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self._width(), len(self.rows) + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = round(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self.rows):
            self.cursor = index
            if event.chain >= 2:
                self.post_message(self.Chosen(self.rows[index]))

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self._width()
        if y == 0:
            header = self.get_component_rich_style("session-list--header")
            return Strip([Segment(header_line(width), header)]).crop_extend(0, width, header)
        index = round(self.scroll_y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        key = (index, index == self.cursor, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._row(self.rows[index], index == self.cursor, width)
        return strip

    def _row(self, row: SessionSummary, current: bool, width: int) -> Strip:
        base = self.rich_style
        muted = self.get_component_rich_style("session-list--muted")
        rated = self.get_component_rich_style("session-list--rated")
        when_width, models_width, prompt_width = _widths(width)
        segments = [
            Segment(f" {when(row.created)[-when_width:]:<{when_width}} ", muted),
            Segment(RATED if row.rated else " ", rated),
            Segment(" ", base),
            Segment(_fit(row.first_line, prompt_width) + " ", base),
        ]
        if models_width:
            segments.append(Segment(_fit(", ".join(row.models), models_width), muted))
        if current:  # over every part's own colours
            cursor: Style = self.get_component_rich_style("session-list--cursor")
            segments = [Segment(s.text, (s.style or base) + cursor) for s in segments]
            base = base + cursor
        return Strip(segments).crop_extend(0, width, base)


def _widths(width: int) -> tuple[int, int, int]:
    """Cells for the time, the models and the prompt in a list ``width`` wide
    (a narrow list drops the year, then the models: 0 cells)."""
    when_width = WHEN_WIDTH if width >= YEAR_FROM else WHEN_WIDTH - 5
    models = min(36, max(12, width // 4)) if width >= MODELS_FROM else 0
    return when_width, models, max(width - when_width - models - 5, 8)


def header_line(width: int) -> str:
    """The column titles, lined up with the rows."""
    when_width, models, prompt_width = _widths(width)
    return (
        f" {'when':<{when_width}} {RATED} {'prompt':<{prompt_width}} {'models' if models else ''}"
    )
