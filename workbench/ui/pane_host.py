"""What every screen with answer panes does with them: mount, zoom, move, cancel, save
code; and, for the screens that run models (compare, battle), the send path they share.

The compare screen, a battle, a saved session and a re-run show answers in
``AnswerPane``s; the panes' keys post requests that ``PaneHost`` answers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

from workbench.core.events import Cancelled, Event, Failed, Finished, Notice
from workbench.core.record import ModelRun
from workbench.errors import SessionError
from workbench.models.config import ModelSpec
from workbench.models.request import Request
from workbench.store.comparison import open_session, run_comparison
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session
from workbench.ui.screens.details import DetailsModal
from workbench.ui.screens.error import ErrorModal
from workbench.ui.screens.save_code import SaveCodeModal, suggested_name
from workbench.ui.widgets.answer_pane import AnswerPane
from workbench.ui.widgets.pane_area import PaneArea
from workbench.ui.widgets.prompt_editor import PromptEditor

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp

#: The stylesheet of the review screens (the app reads it at start; screens may name it).
REVIEW_CSS = Path(__file__).resolve().parent / "review.tcss"

#: Frames a second at most (Textual's default is 60): see ``PaneHost._update_timer``.
FRAME_RATE = 120

INTERRUPTED = {
    "title": "Interrupted",
    "message": "workbench stopped before this run ended; the text is what was saved.",
}


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
    #: Whether the panes stream from the app's runner, so that ``x`` cancels a pane's model.
    RUNS_MODELS: ClassVar[bool] = False
    _frame_timer: Timer | None = None

    def __init__(self) -> None:
        super().__init__()
        self.panes: dict[str, AnswerPane] = {}
        #: The pane that has (or last had) the focus.
        self.current: AnswerPane | None = None
        self.zoomed: AnswerPane | None = None
        #: Whether models are answering (a second send waits).
        self.running = False

    @property
    def _update_timer(self) -> Timer:
        """The timer that draws the screen's next frame (replaces ``Screen``'s).

        Textual's runs at 60 frames a second on a fixed grid and, after a frame
        that took longer than a slot, waits for the slot after the next one: with
        four panes streaming, a frame takes 10-40 ms, so a key press waited up to
        two slots more before the frame that shows it. This one has slots twice as
        close, so that wait halves; frames are still drawn only when something changed.
        """
        if self._frame_timer is None:
            self._frame_timer = self.set_interval(
                1 / FRAME_RATE, self._on_timer_update, name="screen_update", pause=True
            )
        return self._frame_timer

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    async def reset_panes(self, names: list[str]) -> None:
        """Fresh, empty panes for ``names``, in order (``arrange_panes`` may reorder)."""
        self.set_zoom(None)
        mask = getattr(self.app, "test_mode", False)
        self.panes = self.arrange_panes({name: AnswerPane(name, mask=mask) for name in names})
        hint = None if self.panes else self.empty_hint()
        await self.pane_area.show(self.panes.values(), hint)
        self.current = next(iter(self.panes.values()), None)

    @property
    def pane_area(self) -> PaneArea:
        """The ``#panes`` area (side by side, stacked or paged: ``workbench.ui.pane_layout``)."""
        return self.query_one("#panes", PaneArea)

    def arrange_panes(self, panes: dict[str, AnswerPane]) -> dict[str, AnswerPane]:
        """The new panes in the order to show them (the compare screen shuffles when blind)."""
        return panes

    def empty_hint(self) -> Widget | None:
        """What the row shows with no panes."""
        return None

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
        self.pane_area.show_pane(target)  # its page, when the panes are paged
        target.focus()

    def on_answer_pane_details_requested(self, event: AnswerPane.DetailsRequested) -> None:
        pane = event.pane
        self.app.push_screen(DetailsModal(pane.shown_name, pane.state, pane.full_figures()))

    async def on_answer_pane_cancel_requested(self, event: AnswerPane.CancelRequested) -> None:
        if not self.RUNS_MODELS or not event.pane.active:
            self.notify(f"{event.pane.shown_name} is not running.", timeout=2)
            return
        await self.cancel_model(event.pane.model)

    async def cancel_model(self, model: str) -> None:
        """Stop ``model``'s run (the pane's ``x``)."""
        await self.wb.runner.cancel(model)

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

        suggestion = suggested_name(event.pane.shown_name, event.block.language)
        self.app.push_screen(SaveCodeModal(suggestion, save_dir), write)

    # -- the send path of the screens that run models -------------------------------------

    def prompt_to_send(self, prompt: PromptEditor, *, busy: str, empty: str) -> str | None:
        """The prompt's text when a send may go ahead; else a warning and ``None``."""
        if self.running:
            self.notify(busy, severity="warning")
            return None
        text = prompt.text
        if not text.strip():
            self.notify(empty, severity="warning")
            return None
        return text

    def open_recorder(
        self,
        specs: Sequence[ModelSpec],
        requests: dict[str, Request],
        schedule: str,
        parent: Session | None = None,
    ) -> SessionRecorder | None:
        """The new session, saved at once; ``None`` (and the error shown) when it cannot be."""
        try:
            return open_session(self.wb.store, specs, requests, schedule=schedule, parent=parent)
        except SessionError as exc:
            self.app.push_screen(ErrorModal(exc.title, exc.message))
            return None

    async def stream(
        self,
        specs: Sequence[ModelSpec],
        requests: dict[str, Request],
        recorder: SessionRecorder,
        schedule: str,
    ) -> None:
        """Run the models into their panes (``apply_event``), saving the session."""
        await run_comparison(
            self.wb.runner,
            self.wb.store,
            specs,
            requests,
            schedule=schedule,
            listener=self.apply_event,
            recorder=recorder,
        )
        self.report_save_error(recorder)

    def report_save_error(self, recorder: SessionRecorder) -> None:
        if recorder.save_error:
            self.notify(recorder.save_error, title="Session not saved", severity="error")

    def apply_event(self, event: Event) -> None:
        """The runner's listener: called on the event loop, so it only changes state."""
        pane = self.panes.get(event.model)
        if pane is not None:
            pane.apply(event)
        elif isinstance(event, Notice):  # e.g. models that run in memory groups
            self.notify(event.text, title="Memory", timeout=10)

    async def tick_panes(self) -> None:
        """Draw what the panes gathered since the last tick (``set_interval`` target)."""
        now = time.monotonic()
        for pane in list(self.panes.values()):
            await pane.tick(now)
