"""Where a screen's answer panes live: side by side, stacked, or a page at a time.

``workbench.ui.pane_layout`` decides from this area's size, the number of panes
and the app's ``pane_layout`` (``[ui] layout``, the layout key); this widget
applies it on every resize. Panes off the current page are hidden, not moved,
so they keep streaming, their text and their scroll position; a one-line marker
(``panes 1–2 of 4``) says a page is shown. Nothing scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static

from workbench.ui.keys import key_label
from workbench.ui.pane_layout import Arrangement, arrange
from workbench.ui.widgets.answer_pane import AnswerPane

OFF_PAGE = "-off-page"


class PaneArea(Container):
    """The answer panes of a screen (``#panes``), arranged to fit its size."""

    DEFAULT_CSS = """
    PaneArea {
        layout: horizontal;
        overflow: hidden hidden;
        height: 1fr;
    }
    PaneArea.-rows {
        layout: vertical;
    }
    PaneArea > AnswerPane.-off-page {
        display: none;
    }
    PaneArea > #page-marker {
        dock: top;
        display: none;
        height: 1;
        padding: 0 1;
        background: $primary 20%;
        color: $text;
    }
    PaneArea > #page-marker.-shown {
        display: block;
    }
    """

    def __init__(self, *children: Widget, **kwargs) -> None:
        super().__init__(*children, **kwargs)
        self.arrangement = Arrangement("columns", 1, 0)
        #: The page on screen (0-based).
        self.page = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="page-marker")

    @property
    def marker(self) -> Static:
        return self.query_one("#page-marker", Static)

    @property
    def panes(self) -> list[AnswerPane]:
        return list(self.query_children(AnswerPane))

    async def show(self, panes: Iterable[AnswerPane], hint: Widget | None = None) -> None:
        """Replace what the area shows by ``panes`` (or ``hint`` when there are none)."""
        await self.remove_children([w for w in self.children if w.id != "page-marker"])
        panes = list(panes)
        self.page = 0
        if panes:
            await self.mount_all(panes)
        elif hint is not None:
            await self.mount(hint)
        self.rearrange()

    def on_resize(self, event: events.Resize) -> None:
        self.rearrange()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # A pane on another page (← / → from the last pane of a page) brings its page.
        pane = next(
            (w for w in event.widget.ancestors_with_self if isinstance(w, AnswerPane)), None
        )
        if pane is not None and pane.has_class(OFF_PAGE):
            self.show_pane(pane)

    def show_pane(self, pane: AnswerPane) -> None:
        """Go to the page that holds ``pane``."""
        panes = self.panes
        if pane in panes:
            self.page = self.arrangement.page_of(panes.index(pane))
            self._apply(panes)

    def rearrange(self) -> None:
        """Arrange the panes for the area's size now (and the app's layout setting)."""
        panes = self.panes
        width, height = self.size
        if width <= 0 or height <= 0:
            return  # not laid out yet: the first resize comes
        layout = getattr(self.app, "pane_layout", "auto")
        old = self.arrangement
        new = arrange(len(panes), width, height, layout)
        # Keep what was shown: the focused pane's page, else the first pane of the old page.
        focused = self.screen.focused if self.is_attached else None
        if focused in panes:
            keep = panes.index(focused)
        else:
            keep = old.shown(self.page).start if old.count else 0
        self.arrangement = new
        self.page = new.page_of(min(keep, max(len(panes) - 1, 0)))
        self._apply(panes)

    def _apply(self, panes: list[AnswerPane]) -> None:
        arrangement = self.arrangement
        self.set_class(arrangement.direction == "rows", "-rows")
        shown = arrangement.shown(self.page)
        changed = []
        for index, pane in enumerate(panes):
            off = index not in shown
            if pane.has_class(OFF_PAGE) != off:
                # Only the pane's own display depends on the class: restyle it alone,
                # not its code blocks (see AnswerPane._set_state_class).
                pane.set_class(off, OFF_PAGE, update=False)
                changed.append(pane)
        if changed and self.is_attached:
            self.app.stylesheet.update_nodes(changed, animate=False)
            self.refresh(layout=True)
        marker = self.marker
        marker.set_class(arrangement.paged, "-shown")
        if arrangement.paged:
            marker.update(self._marker_text())

    def _marker_text(self) -> str:
        keys = getattr(self.app, "keys", {})
        back = key_label(keys.get("previous_pane", "left"))
        ahead = key_label(keys.get("next_pane", "right"))
        to_panes = key_label(keys.get("focus_panes", "f5"))
        return (
            f"◀ {self.arrangement.marker(self.page)} ▶  {back}/{ahead} on a pane · {to_panes} panes"
        )
