"""The compare screen's sidebar (models, settings, system prompt, tests) on narrow terminals.

It folds away with the sidebar key and comes back with it. It also folds by
itself when keeping it would leave fewer than two answer panes of the minimum
width (``workbench.ui.pane_layout.sidebar_fits``), and says so. While folded,
the keys of its sections (f2, f3, f10) open it as a drawer over the panes; the
drawer closes when the focus leaves it (or with esc). The layout key cycles how
the panes share the screen (``[ui] layout``).
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget

from workbench.ui.keys import key_label
from workbench.ui.pane_host import PaneHost
from workbench.ui.pane_layout import next_layout, sidebar_fits


class FoldingSidebar(PaneHost):
    """The folding ``#sidebar`` of a pane screen (a base of ``CompareScreen``)."""

    #: The user's choice with the sidebar key; None: it folds by itself when narrow.
    sidebar_pinned: bool | None = None

    @property
    def sidebar_folded(self) -> bool:
        return self.has_class("-folded")

    @property
    def drawer_open(self) -> bool:
        return self.has_class("-drawer")

    def fit_sidebar(self) -> None:
        """Fold or unfold the sidebar for the screen's width and the panes there are."""
        width = self.size.width
        if width <= 0:
            return
        fits = sidebar_fits(width, len(self.panes))
        show = fits if self.sidebar_pinned is None else self.sidebar_pinned
        was_folded = self.sidebar_folded
        self.set_class(not show, "-folded")
        if show:
            self.close_drawer()
        if not show and not was_folded and self.sidebar_pinned is None:
            key = key_label(self.wb.keys["sidebar"])
            self.notify(
                f"The sidebar folded to leave the answers room: {key} brings it back; "
                "f2, f3 and f10 open it over the panes.",
                title="Narrow terminal",
                timeout=6,
            )
        if show == was_folded:
            self.sidebar_changed()

    def sidebar_changed(self) -> None:
        """Hook: the sidebar was folded or unfolded (the compare screen's titles say so)."""

    def on_resize(self, event: events.Resize) -> None:
        self.fit_sidebar()

    async def reset_panes(self, names: list[str]) -> None:
        await super().reset_panes(names)
        self.fit_sidebar()

    def open_drawer(self, target: Widget) -> None:
        """Focus ``target`` in the sidebar, over the panes when the sidebar is hidden."""
        if self.sidebar_folded or self.zoomed is not None:
            self.add_class("-drawer")
            self.call_after_refresh(target.focus)
        else:
            target.focus()

    def close_drawer(self) -> bool:
        """Close the drawer; whether it was open."""
        if not self.drawer_open:
            return False
        self.remove_class("-drawer")
        return True

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self.drawer_open and not self._in_sidebar(event.widget):
            self.close_drawer()

    def _in_sidebar(self, widget: Widget) -> bool:
        return any(node.id == "sidebar" for node in widget.ancestors_with_self)

    # -- actions (keys in workbench.ui.keys, scope "compare") --------------------------------

    def action_toggle_sidebar(self) -> None:
        """Fold the sidebar, or bring it back (an open drawer just closes)."""
        if self.close_drawer():
            self._leave_sidebar()
            return
        self.sidebar_pinned = self.sidebar_folded
        self.fit_sidebar()
        if self.sidebar_folded:
            self._leave_sidebar()

    def _leave_sidebar(self) -> None:
        focused = self.focused
        if focused is None or self._in_sidebar(focused):
            self.query_one("#prompt").focus()

    def action_cycle_layout(self) -> None:
        """Panes: auto → side by side → stacked → auto (each pages what does not fit)."""
        layout = next_layout(getattr(self.app, "pane_layout", "auto"))
        self.app.pane_layout = layout  # type: ignore[attr-defined]
        area = self.pane_area
        area.rearrange()
        now = area.arrangement.describe() if self.panes else "no panes yet"
        self.notify(f"Layout {layout}: {now}.", title="Panes", timeout=3)
