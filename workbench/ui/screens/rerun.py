"""A re-run: a saved session's prompt and settings run again as a new, linked session.

The answers stream live as on the compare screen; when they end, a table shows
per model how the text and the figures moved (then → now), and a key opens
the diff of the old and the new answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from workbench.core import format as fmt
from workbench.core.events import Event, Loading, Started
from workbench.errors import SessionError
from workbench.models.config import ModelSpec
from workbench.models.request import Request
from workbench.store.comparison import compare_runs, open_session, rerun_requests
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session
from workbench.ui import figures
from workbench.ui.diff_layout import DiffPair
from workbench.ui.keys import bindings
from workbench.ui.pane_host import PaneHost
from workbench.ui.rater import Rater
from workbench.ui.screens.diff import DiffScreen
from workbench.ui.screens.error import ErrorModal
from workbench.ui.widgets.pane_area import PaneArea

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp

#: How often streamed text is written into the panes (Hz), as on the compare screen.
FLUSH_RATE = 20


class RerunScreen(Rater, PaneHost):
    """Runs ``original`` again on ``specs``; then old versus new, per model.

    The new answers can be rated as on the compare screen (``Rater``).
    """

    SCOPE: ClassVar[str] = "rerun"
    BINDINGS = bindings("rerun")
    RUNS_MODELS: ClassVar[bool] = True

    def __init__(self, original: Session, specs: list[ModelSpec]) -> None:
        super().__init__()
        self.original = original
        self.specs = specs
        self.recorder: SessionRecorder | None = None
        #: Per model in both sessions: ``comparison.compare_runs``, once the run has ended.
        self.changes: list[dict[str, Any]] | None = None

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session | None:
        """The new session (saved from the start of the run)."""
        return self.recorder.session if self.recorder else None

    @property
    def rating_session_id(self) -> str | None:
        return self.session.id if self.session is not None else None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⚖")
        names = ", ".join(spec.name for spec in self.specs)
        yield Static(
            Content(f"re-run of {self.original.id} · {self.original.schedule} · {names}"),
            id="rerun-info",
        )
        yield PaneArea(id="panes")
        table: DataTable = DataTable(id="rerun-summary", cursor_type="none")
        table.border_title = "then → now"
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = "re-run"
        names = [spec.name for spec in self.specs]
        requests = rerun_requests(self.original, names)
        schedule = self.original.schedule
        try:
            recorder = open_session(
                self.wb.store, self.specs, requests, schedule=schedule, rerun_of=self.original.id
            )
        except SessionError as exc:
            self.dismiss()
            self.app.push_screen(ErrorModal(exc.title, exc.message))
            return
        self.recorder = recorder
        await self.reset_panes(names)
        for name in names:
            await self.panes[name].begin_turn(recorder.session.run(name), None, schedule)
        if not self.wb.test_mode:
            self.sub_title = f"re-run → session {recorder.session.id}"
        self.set_interval(1 / FLUSH_RATE, self.tick_panes)
        self.running = True
        self.run_worker(self._run(requests, recorder), group="rerun", exit_on_error=False)
        if self.current is not None:
            self.current.focus()

    async def _run(self, requests: dict[str, Request], recorder: SessionRecorder) -> None:
        try:
            await self.stream(self.specs, requests, recorder, self.original.schedule)
        finally:
            self.running = False
        self.changes = compare_runs(self.original, recorder.session)
        self._summary()

    def apply_event(self, event: Event) -> None:
        super().apply_event(event)
        # The compare screen's picker shows which models are loaded: keep it true.
        compare = self.wb.compare
        if compare is None or event.model not in compare.picker.specs:
            return
        if isinstance(event, Loading):
            compare.picker.set_state(event.model, "loading", event.progress)
        elif isinstance(event, Started):
            compare.picker.set_state(event.model, "ready")

    def _summary(self) -> None:
        """The table of what changed, per model in both sessions."""
        mask = self.wb.test_mode
        table = self.query_one("#rerun-summary", DataTable)
        table.clear(columns=True)
        table.add_columns("model", "text similarity", "TTFT", "gen tok/s", "output tokens")
        for change in self.changes or []:
            ttft, rate = change["ttft_s"], change["gen_tokens_per_s"]
            tokens = change["output_tokens"]
            table.add_row(
                change["model"],
                f"{change['similarity']:.0%}",
                f"{figures.seconds(ttft[0], mask)} → {figures.seconds(ttft[1], mask)}",
                f"{figures.rate(rate[0], mask)} → {figures.rate(rate[1], mask)}",
                f"{fmt.count(tokens[0])} → {fmt.count(tokens[1])}",
            )
        compared = {change["model"] for change in self.changes or []}
        for spec in self.specs:
            if spec.name not in compared:
                table.add_row(spec.name, "new model: no answer then", "", "", "")
        table.add_class("-shown")

    # -- actions (keys in workbench.ui.keys, scope "rerun") ------------------------------

    def action_diff(self) -> None:
        """Old versus new answer of each model in both, starting with the focused one."""
        new = self.session
        if self.running or new is None:
            self.notify("The re-run is still going; the diff comes when it ends.", timeout=3)
            return
        old = {run.model: run.text for run in self.original.runs}
        pairs = [
            DiffPair(f"{run.model} then", old[run.model], f"{run.model} now", run.text)
            for run in new.runs
            if run.model in old
        ]
        if not pairs:
            self.notify("No model of the re-run answered the first time.", severity="warning")
            return
        focused = self.current.model if self.current is not None else ""
        start = next((i for i, p in enumerate(pairs) if p.a_name == f"{focused} then"), 0)
        title = f"old vs new · {self.original.id}"
        self.app.push_screen(DiffScreen(pairs, self.original.mode, start=start, title=title))

    async def action_close(self) -> None:
        if self.running:
            await self.wb.runner.cancel()
            self.notify("Cancelling the re-run; what streamed so far is saved.", timeout=3)
            return
        self.dismiss()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "rerun":
            self.running = False
            error = event.worker.error
            self.app.push_screen(
                ErrorModal(
                    "The re-run stopped",
                    f"{type(error).__name__}: {error}",
                    "The new session file keeps what was shown.",
                )
            )
