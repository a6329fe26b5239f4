"""Suite results: models × tasks of a saved suite (HumanEval), run or resumed from here.

The view of ``workbench.checks.suite_saved`` (what the sessions hold) and
``workbench.checks.suite_run`` (running and resuming). Each cell says whether the
model's answer to the task passed (✓) or not (✗, with the status); the header
gives each model's protocol and pass@1 with its Wilson 95 % interval. **enter**
opens the task's session in the saved-session view: the models' answers side by
side, each with its check line, and the diff key there compares them. **r** runs
the suite on its models, resuming from the saved answers (the settings are the
command line's defaults: greedy pass@1, protocol auto), with a progress bar, ETA
and live pass counts; **x** stops it (the answers in flight are asked again by the
next run).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from workbench.checks.humaneval import BUILTIN
from workbench.checks.suite_run import SuiteHooks, SuiteRun, SuiteSettings
from workbench.checks.suite_saved import SavedSuite, saved_suites
from workbench.core import format as fmt
from workbench.errors import WorkbenchError
from workbench.ui.keys import bindings

if TYPE_CHECKING:
    from workbench.checks.suite_report import SuiteReport
    from workbench.ui.app import WorkbenchApp

_MARKS = {"passed": "✓", "failed": "✗", "error": "✗ error", "timeout": "✗ timeout"}


def cell_text(answers: list) -> str:
    """A cell: ✓ or ✗ (and the status when it is not a plain failure); c/n with samples."""
    if not answers:
        return "·"
    if len(answers) > 1:
        return f"{sum(a.passed for a in answers)}/{len(answers)}"
    return _MARKS.get(answers[0].check.get("status", ""), "✗ " + answers[0].check.get("status"))


class SuiteResultsScreen(Screen[None]):
    """Models × tasks of one saved suite; opens a task's answers side by side."""

    SCOPE: ClassVar[str] = "suite"
    BINDINGS = bindings("suite")
    AUTO_FOCUS = "#suite-grid"

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name_wanted = name
        self.suites: dict[str, SavedSuite] = {}
        self.suite: SavedSuite | None = None
        self.suite_run: SuiteRun | None = None
        self._started = 0.0

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="✓")
        yield Static("Reading the saved suites…", id="suite-summary")
        yield ProgressBar(id="suite-bar", show_eta=True)
        yield Static("", id="suite-progress")
        grid = DataTable(id="suite-grid", cursor_type="cell", zebra_stripes=True)
        grid.border_title = "tasks × models · enter: the answers side by side"
        yield grid
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "suite results"
        self.query_one("#suite-bar", ProgressBar).display = False
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.suite_run is not None
        if action == "run_suite":
            return self.suite_run is None
        return True

    # -- reading ---------------------------------------------------------------------------

    def reload(self) -> None:
        self.run_worker(self._read, thread=True, exclusive=True, group="read")

    def _read(self) -> None:
        try:
            suites = saved_suites(self.wb.store)
        except WorkbenchError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self._loaded, suites)

    def _loaded(self, suites: dict[str, SavedSuite]) -> None:
        self.suites = suites
        name = self.name_wanted if self.name_wanted in suites else None
        if name is None and suites:
            name = next(reversed(suites))  # the one saved last
        self.suite = suites.get(name) if name else None
        self._draw()

    def _draw(self) -> None:
        grid = self.query_one("#suite-grid", DataTable)
        where = grid.cursor_coordinate
        grid.clear(columns=True)
        suite = self.suite
        summary = self.query_one("#suite-summary", Static)
        if suite is None:
            summary.update(
                "No suite saved yet. Press r to run HumanEval on the configured models "
                "(or run `workbench suite humaneval` in a terminal)."
            )
            return
        grid.add_column("task", key="task")
        for model in suite.models:
            grid.add_column(model, key=model)
        for task in suite.tasks:
            grid.add_row(task, *(cell_text(suite.cell(m, task)) for m in suite.models), key=task)
        if grid.row_count:  # the cursor stays where it was as the grid fills
            row = min(where.row, grid.row_count - 1)
            grid.move_cursor(row=row, column=min(where.column, len(grid.columns) - 1))
        summary.update(self._summary(suite))

    def _summary(self, suite: SavedSuite) -> Content:
        parts = []
        for model in suite.models:
            passed, total = suite.pass_at_1(model)
            low, high = suite.interval(model) or (0.0, 1.0)
            rate = fmt.percent(passed / total, 1) if total else "–"
            parts.append(
                f"{model} ({suite.protocols.get(model) or '?'}): pass@1 {rate} "
                f"[{fmt.percent(low, 1)}–{fmt.percent(high, 1)}] {passed}/{total}"
            )
        others = [name for name in self.suites if name != suite.name]
        more = f"  · s: next suite ({len(others)} more)" if others else ""
        return Content.from_markup(
            "[b]$name[/b] · $tasks tasks · Wilson 95 %$more\n$models",
            name=suite.name,
            tasks=str(len(suite.tasks)),
            more=more,
            models="\n".join(parts),
        )

    # -- actions ---------------------------------------------------------------------------

    def action_next_suite(self) -> None:
        """Show the next saved suite."""
        names = list(self.suites)
        if self.suite is None or len(names) < 2:
            return
        self.name_wanted = names[(names.index(self.suite.name) + 1) % len(names)]
        self.suite = self.suites[self.name_wanted]
        self._draw()

    async def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        # The grid takes enter itself (select the cell): that opens the task too.
        event.stop()
        await self.action_open_task()

    async def action_open_task(self) -> None:
        """Open the session of the task under the cursor: the answers side by side."""
        from workbench.ui.screens.session_view import SessionView

        suite = self.suite
        grid = self.query_one("#suite-grid", DataTable)
        if suite is None or not grid.row_count:
            return
        task = suite.tasks[grid.cursor_row]
        paths = suite.sessions_of(task)
        if not paths:
            self.notify(f"No saved answer to {task} yet.", timeout=3)
            return
        try:
            session = self.wb.store.load(paths[0])
        except WorkbenchError as exc:
            self.notify(exc.message, title="Cannot open the session", severity="error")
            return
        if len(paths) > 1:
            self.notify(f"{task}'s answers are in {len(paths)} sessions; this one has the most.")
        await self.app.push_screen(SessionView(session, Path(paths[0])))

    def action_run_suite(self) -> None:
        """Run the suite (resuming from the saved answers) on its models."""
        from workbench.checks.suite import load_suite

        source = self.suite.source if self.suite and self.suite.source else BUILTIN
        config = self.wb.config
        names = self.suite.models if self.suite else [spec.name for spec in config.models]
        try:
            suite = load_suite(source)
            specs = [config.model(name) for name in names]
        except WorkbenchError as exc:
            self.notify(exc.message, title="Cannot run the suite", severity="error")
            return
        settings = SuiteSettings(defaults=config.sampling, schedule=config.schedule)
        self.suite_run = SuiteRun(
            suite, specs, self.wb.runner, self.wb.store, settings, _Live(self)
        )
        self.name_wanted = suite.name
        self.refresh_bindings()
        self.run_worker(self._run(), exclusive=True, group="run")

    async def _run(self) -> None:
        assert self.suite_run is not None
        try:
            report = await self.suite_run.run()
            said = "stopped" if report.stopped else "done"
            self.notify(f"Suite {said}: {report.ran} answers run, {report.reused} saved before.")
        except WorkbenchError as exc:
            self.notify(exc.message, title="The suite stopped", severity="error")
        finally:
            self.suite_run = None
            self.refresh_bindings()
            self.reload()

    def action_stop(self) -> None:
        """Stop the suite now (a later run resumes; the answers in flight are asked again)."""
        if self.suite_run is not None:
            self.suite_run.stop()
            self.notify("Stopped: r resumes from the saved answers.", timeout=3)

    def action_close(self) -> None:
        if self.suite_run is not None:
            self.suite_run.stop()
        self.dismiss()

    # -- progress --------------------------------------------------------------------------

    def started(self, total: int, reused: int) -> None:
        bar = self.query_one("#suite-bar", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=reused)  # saved answers are not speed
        self._started = time.monotonic()

    def answered(self, report: SuiteReport, saved: bool) -> None:
        if not saved:
            self.query_one("#suite-bar", ProgressBar).advance(1)
        counts = []
        for model in report.models:
            cells = [report.cell(model, task.id) for task in report.suite.tasks]
            counts.append(f"{model} {sum(c.c for c in cells)}/{sum(c.n for c in cells)}")
        self.query_one("#suite-progress", Static).update(
            f"{report.ran} run, {report.reused} saved · passed: " + "  ".join(counts)
        )


class _Live(SuiteHooks):
    """The run's news to the screen (the run is on the app's loop: direct calls)."""

    def __init__(self, screen: SuiteResultsScreen) -> None:
        self.screen = screen

    def started(self, report: SuiteReport, total: int, reused: int) -> None:
        self.screen.started(total, reused)

    def answered(self, report: SuiteReport, model: str, task, check, saved=False) -> None:
        self.screen.answered(report, saved)

    def session(self, report: SuiteReport, task, index: int, path: str) -> None:
        self.screen.reload()  # the grid follows the saved sessions
