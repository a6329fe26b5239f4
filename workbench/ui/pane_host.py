"""What the review screens do with their answer panes: mount them, zoom, move, save code.

A saved session and a re-run show answers in ``AnswerPane``s as the compare
screen does; the panes' keys post requests that ``PaneHost`` answers. (The
compare screen has its own copy of these handlers; it could use this one.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import App
from textual.containers import HorizontalScroll
from textual.screen import Screen

from workbench.events import Cancelled, Event, Failed, Finished, ModelRun
from workbench.ui.screens.save_code import SaveCodeModal, suggested_name
from workbench.ui.widgets.answer_pane import AnswerPane

if TYPE_CHECKING:
    from workbench.ui.screens.compare import CompareScreen

#: The stylesheet of the review screens (the app reads it at start; screens may name it).
REVIEW_CSS = Path(__file__).resolve().parent / "review.tcss"

INTERRUPTED = {
    "title": "Interrupted",
    "message": "workbench stopped before this run ended; the text is what was saved.",
}


def compare_screen(app: App) -> CompareScreen | None:
    """The app's compare screen (under the review screens), if it is there."""
    from workbench.ui.screens.compare import CompareScreen

    return next((s for s in app.screen_stack if isinstance(s, CompareScreen)), None)


def final_event(run: ModelRun) -> Event:
    """The event that ends a saved run in a pane (a run saved mid-stream ends interrupted)."""
    if run.state == "done":
        return Finished(run.model, run)
    if run.state == "cancelled":
        return Cancelled(run.model, run)
    if run.state == "failed" and run.error:
        return Failed(run.model, run, run.error)
    return Failed(run.model, run, INTERRUPTED)


class PaneHost(Screen):
    """A screen with a ``#panes`` row of answer panes (give it the class ``pane-host``)."""

    DEFAULT_CLASSES = "pane-host"

    def __init__(self) -> None:
        super().__init__()
        self.panes: dict[str, AnswerPane] = {}
        #: The pane that has (or last had) the focus.
        self.current: AnswerPane | None = None
        self.zoomed: AnswerPane | None = None

    async def reset_panes(self, names: list[str]) -> None:
        """Fresh, empty panes for ``names``, in order."""
        self.set_zoom(None)
        container = self.query_one("#panes", HorizontalScroll)
        await container.remove_children()
        mask = getattr(self.app, "test_mode", False)
        self.panes = {name: AnswerPane(name, mask=mask) for name in names}
        container.set_class(len(names) > 4, "-many")
        await container.mount_all(self.panes.values())
        self.current = next(iter(self.panes.values()), None)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, AnswerPane):
            self.current = event.widget

    def on_answer_pane_zoom_requested(self, event: AnswerPane.ZoomRequested) -> None:
        self.set_zoom(None if self.zoomed is event.pane else event.pane)

    def set_zoom(self, pane: AnswerPane | None) -> None:
        if self.zoomed is not None:
            self.zoomed.remove_class("-zoom")
        self.zoomed = pane
        self.set_class(pane is not None, "-zoomed")
        if pane is not None:
            pane.add_class("-zoom")
            pane.focus()

    def on_answer_pane_move_requested(self, event: AnswerPane.MoveRequested) -> None:
        panes = list(self.panes.values())
        target = panes[(panes.index(event.pane) + event.step) % len(panes)]
        if self.zoomed is not None:
            self.set_zoom(target)
        target.focus()
        target.scroll_visible(animate=False)

    def on_answer_pane_cancel_requested(self, event: AnswerPane.CancelRequested) -> None:
        self.notify(f"{event.pane.model} is not running.", timeout=2)

    def on_answer_pane_save_requested(self, event: AnswerPane.SaveRequested) -> None:
        code = event.block.code
        save_dir: Path = getattr(self.app, "save_dir", Path.cwd())

        def write(path: Path | None) -> None:
            if path is None:
                return
            try:
                path.write_text(code if code.endswith("\n") else code + "\n", encoding="utf-8")
            except OSError as exc:
                self.notify(f"Could not write {path}: {exc}", severity="error")
                return
            self.notify(f"Saved the code block to {path}.")

        suggestion = suggested_name(event.pane.model, event.block.language)
        self.app.push_screen(SaveCodeModal(suggestion, save_dir), write)
