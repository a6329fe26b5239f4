"""The compare screen: model picker and settings, answer panes side by side, prompt editor.

With samples N > 1 (the settings panel) each chosen model answers the prompt N times
(``workbench.checks.samples``: one session per sample, models as the schedule says, a
model's samples one after another). Each pane shows every sample under a header
``sample i/N`` with its check line, then a summary: passed c/n, pass@1, pass@N and
the distinct answers. The last sample is the pane's latest answer: copy, rate and
diff act on it, and the next prompt continues each model's conversation from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from workbench.checks.codecheck import CheckResult, tests_problem
from workbench.checks.samples import Checker, SampleHooks, SampleRun, check_runs, sample_sampling
from workbench.core.events import Event, Failed, Loading, Started
from workbench.core.record import ModelRun
from workbench.errors import WorkbenchError
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session
from workbench.ui.checks import samples_line
from workbench.ui.conversation import Thread, first_requests, follow_up_requests
from workbench.ui.keys import bindings, key_label
from workbench.ui.rater import CompareRating
from workbench.ui.screens.battle import BattleScreen
from workbench.ui.screens.diff import open_diff
from workbench.ui.screens.error import ErrorModal
from workbench.ui.sidebar import FoldingSidebar
from workbench.ui.widgets.answer_pane import AnswerPane
from workbench.ui.widgets.model_picker import ModelPicker
from workbench.ui.widgets.pane_area import PaneArea
from workbench.ui.widgets.prompt_editor import PromptEditor
from workbench.ui.widgets.settings_panel import SettingsPanel

HINT = (
    "No answers yet.  {focus_models} choose models · {focus_prompt} write a prompt"
    " · {send} send · {help} all keys"
)
#: How often streamed text is written into the panes (Hz).
FLUSH_RATE = 20


class CompareScreen(CompareRating, FoldingSidebar):
    """Prompt N models at once and watch their answers stream side by side."""

    BINDINGS = bindings("compare")
    AUTO_FOCUS = "#prompt"
    RUNS_MODELS: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.thread: Thread | None = None
        #: The samples run going on (samples > 1), so that esc stops its later samples.
        self.sample_run: SampleRun | None = None
        self._loads: dict[str, asyncio.Task[None]] = {}

    def compose(self) -> ComposeResult:
        wb, state = self.wb, self.wb.ui_state
        yield Header(show_clock=False, icon="⚖")
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                picker = ModelPicker(wb.config.models, wb.initial_models(), id="models")
                picker.border_title = "Models"
                yield picker
                settings = SettingsPanel(
                    mode=state.mode or "chat",
                    schedule=state.schedule or wb.config.schedule,
                    values=state.sampling,
                    defaults=wb.default_sampling(),
                    system=state.system,
                    tests=state.tests,
                    cursor_blink=not wb.test_mode,
                    id="settings",
                )
                settings.border_title = "Settings"
                yield settings
            with Vertical(id="work"):
                yield PaneArea(self._hint(), id="panes")
                prompt = PromptEditor(state.history, id="prompt")
                prompt.cursor_blink = not wb.test_mode
                yield prompt
        yield Footer()

    def _key(self, action_id: str) -> str:
        return key_label(self.wb.keys[action_id])

    def _hint(self) -> Static:
        keys = {name: self._key(name) for name in ("focus_models", "focus_prompt", "send", "help")}
        return Static(Content(HINT.format(**keys)), id="hint")

    def on_mount(self) -> None:
        self.set_interval(1 / FLUSH_RATE, self.tick_panes)
        self._refresh_titles()
        if self.wb.discover:
            self.run_worker(self._discover, thread=True, group="discover", exit_on_error=False)

    def _discover(self) -> None:
        """GGUF files on this machine join the picker once found (a disk scan: a thread)."""
        from workbench.models.selection import discovered

        try:
            specs = list(discovered(self.wb.config).values())
        except Exception as exc:  # a scan problem is a notice, never a crash
            self.app.call_from_thread(self.notify, str(exc), title="Discovery", severity="warning")
            return
        if specs:
            self.app.call_from_thread(self.picker.add_models, specs)

    # -- parts -------------------------------------------------------------------------------

    @property
    def picker(self) -> ModelPicker:
        return self.query_one(ModelPicker)

    @property
    def settings(self) -> SettingsPanel:
        return self.query_one(SettingsPanel)

    @property
    def prompt(self) -> PromptEditor:
        return self.query_one(PromptEditor)

    def _refresh_titles(self) -> None:
        settings = self.settings
        turn = self.thread.turn + 1 if self.thread else 1
        kind = "follow-up" if self.thread else "new comparison"
        self.prompt.border_title = f"Prompt · {settings.mode} · turn {turn} ({kind})"
        self.prompt.border_subtitle = f"{settings.schedule} · {self._key('send')} send"
        if self.thread is None:
            self.sub_title = "new comparison"
        else:
            session = "" if self.wb.test_mode else f" · session {self.thread.session.id}"
            self.sub_title = f"turn {self.thread.turn}{session}"
        if self.blind:
            self.sub_title += " · blind"
        if self.sidebar_folded:
            self.sub_title += f" · sidebar folded ({self._key('sidebar')})"

    def sidebar_changed(self) -> None:
        self._refresh_titles()

    # -- sending -----------------------------------------------------------------------------

    async def action_send(self) -> None:
        """Send the prompt to the chosen models; a follow-up when the thread continues."""
        text = self.prompt_to_send(
            self.prompt,
            busy="Models are still answering: esc cancels them.",
            empty="Write a prompt first (f4).",
        )
        if text is None:
            return
        names = self.picker.chosen
        if not names:
            self.notify("Choose at least one model (f2, then space).", severity="warning")
            return
        try:
            typed = self.settings.sampling()
            samples = self.settings.samples()
        except ValueError as exc:
            self.notify(str(exc), title="Settings", severity="error")
            return
        tests = self.settings.tests if self.settings.tests.strip() else ""
        problem = tests_problem(tests) if tests else None
        if problem:
            self.notify(f"The tests do not parse: {problem}.", title="Tests", severity="error")
            return
        specs = [self.picker.specs[name] for name in names]
        mode, schedule = self.settings.mode, self.settings.schedule
        previous = self.thread.session if self.thread else None
        follow = self.thread is not None and self.thread.continues(names, mode)
        if self.thread is not None and not follow:
            self.notify("The models or the mode changed: this starts a new comparison.")
        parent = previous if follow else None
        try:
            checker = Checker.from_text(tests, mode, text) if tests else None
        except WorkbenchError as exc:  # a bad "# check:" line
            self.notify(exc.message, title="Tests", severity="error")
            return
        if samples > 1:
            await self._send_samples(specs, text, typed, samples, parent, checker)
            return
        requests = self._requests(specs, text, typed, parent)
        recorder = self.open_recorder(specs, requests, schedule, parent)
        if recorder is None:
            return
        self.running = True  # from here on, a second send waits for this one
        if not follow:
            await self.reset_panes(names)
        for name in names:
            run = recorder.session.run(name)
            await self.panes[name].begin_turn(run, text if follow else None, schedule)
        self.thread = Thread(tuple(names), mode, recorder.session)
        self._sent(text)
        self.run_worker(
            self._run(specs, requests, recorder, schedule, checker),
            group="run",
            exit_on_error=False,
        )

    def _requests(
        self, specs: list[ModelSpec], text: str, typed: Sampling, parent: Session | None
    ) -> dict[str, Request]:
        """Each model's request: the first turn, or a follow-up of ``parent``."""
        if parent is not None:
            return follow_up_requests(specs, text, parent, typed=typed)
        system = self.settings.system_prompt.strip() or None
        return first_requests(specs, text, mode=self.settings.mode, system=system, typed=typed)

    def _sent(self, text: str) -> None:
        self._remember(text)
        self.prompt.clear_prompt()
        self._refresh_titles()

    async def _run(
        self,
        specs: list[ModelSpec],
        requests: dict[str, Request],
        recorder: SessionRecorder,
        schedule: str,
        checker: Checker | None = None,
    ) -> None:
        """Run the comparison; then, with a ``checker`` (tests), check the answers."""
        try:
            await self._wait_for_loads(specs)
            await self.stream(specs, requests, recorder, schedule)
            if checker is not None:
                await self._check_answers(recorder, checker)
        finally:
            self.running = False

    async def _wait_for_loads(self, specs: Sequence[ModelSpec]) -> None:
        """A model being preloaded (ctrl+l) finishes loading before it is asked."""
        loads = [self._loads[s.name] for s in specs if s.name in self._loads]
        await asyncio.gather(*loads, return_exceptions=True)

    async def _check_answers(self, recorder: SessionRecorder, checker: Checker) -> None:
        """Run each answer against the tests (in threads: the sandbox blocks), show the
        result in its pane and keep it in the run's ``info["check"]``."""
        runs = [run for run in recorder.session.runs if run.state != "cancelled"]
        for run in runs:
            self._show_check(run, None)
        await check_runs(runs, checker, lambda run, _: self._show_check(run, run.info["check"]))
        if runs:
            await recorder.save_async()
            self.report_save_error(recorder)

    def _show_check(self, run: ModelRun, check: dict | None) -> None:
        pane = self.panes.get(run.model)
        if pane is not None:
            pane.show_check(check)

    # -- several samples ---------------------------------------------------------------------

    async def _send_samples(
        self,
        specs: list[ModelSpec],
        text: str,
        typed: Sampling,
        samples: int,
        parent: Session | None,
        checker: Checker | None,
    ) -> None:
        """Each model answers ``samples`` times (``workbench.checks.samples``' rules)."""
        schedule = self.settings.schedule
        names = [spec.name for spec in specs]
        self.sample_run = SampleRun(
            self.wb.runner,
            self.wb.store,
            specs,
            lambda index: self._requests(
                specs, text, sample_sampling(typed, samples, index), parent
            ),
            samples=samples,
            schedule=schedule,
            checker=checker,
            parent=parent,
        )
        self.running = True
        if parent is None:
            await self.reset_panes(names)
        self._sent(text)
        self.run_worker(
            self._run_samples(self.sample_run, _PaneSamples(self, text, parent is not None)),
            group="run",
            exit_on_error=False,
        )

    async def _run_samples(self, run: SampleRun, hooks: _PaneSamples) -> None:
        try:
            await self._wait_for_loads(run.specs)
            report = await run.run(listener=self.apply_event, hooks=hooks)
            for model, pane in self.panes.items():
                await pane.show_samples(samples_line(report.summary(model), run.samples))
            stopped = ""
            if report.done < run.samples or run.stopped:
                stopped = f"Stopped at sample {report.done} of {run.samples}. "
            self.notify(
                f"{stopped}Each sample is a session tagged sample:<i> and group:{report.group}. "
                "The next prompt continues from the last sample.",
                title=f"{run.samples} samples per model",
                timeout=6,
            )
        finally:
            self.running = False
            self.sample_run = None

    def apply_event(self, event: Event) -> None:
        """The runner's listener: the pane, and the picker's model states."""
        super().apply_event(event)
        if isinstance(event, Loading):
            self.picker.set_state(event.model, "loading", event.progress)
        elif isinstance(event, Started):
            self.picker.set_state(event.model, "ready")
        elif isinstance(event, Failed) and event.run.t_sent is None:
            # It never started: the model itself is at fault (missing file, server down).
            self.picker.set_state(event.model, "failed")
            title = f"{event.model}: {event.error.get('title', 'Error')}"
            self.notify(event.error.get("message", ""), title=title, severity="error")

    def arrange_panes(self, panes: dict[str, AnswerPane]) -> dict[str, AnswerPane]:
        return self.blind_panes(panes)  # shuffled and disguised in blind mode

    def empty_hint(self) -> Static:
        return self._hint()

    def _remember(self, text: str) -> None:
        state = self.wb.ui_state
        state.remember_prompt(text)
        state.models = self.picker.chosen
        state.mode, state.schedule = self.settings.mode, self.settings.schedule
        state.sampling = self.settings.typed_values()
        state.system = self.settings.system_prompt
        state.tests = self.settings.tests
        self.wb.save_state()

    # -- actions -----------------------------------------------------------------------------

    async def action_new_comparison(self) -> None:
        """Clear the answers and the conversation; the next send starts turn 1."""
        if self.running:
            self.notify("Models are still answering: esc cancels them first.", severity="warning")
            return
        self.thread = None
        await self.reset_panes([])
        self._refresh_titles()
        self.prompt.focus()

    async def action_cancel_all(self) -> None:
        if self.close_drawer():  # esc closes the sidebar's drawer first
            self.prompt.focus()
            return
        if not self.running:
            self.notify("Nothing is running.", timeout=2)
            return
        if self.sample_run is not None:
            self.sample_run.stop()  # and no more samples
        await self.wb.runner.cancel()

    def action_history(self, step: int) -> None:
        if not self.prompt.recall(step):
            self.notify("No more prompts in the history.", timeout=2)
        self.prompt.focus()

    def action_toggle_mode(self) -> None:
        settings = self.settings
        settings.mode = "completion" if settings.mode == "chat" else "chat"
        self._refresh_titles()

    def action_toggle_schedule(self) -> None:
        settings = self.settings
        settings.schedule = "sequential" if settings.schedule == "parallel" else "parallel"
        self.wb.ui_state.schedule = settings.schedule
        self.wb.save_state()
        self._refresh_titles()

    def action_toggle_cache(self) -> None:
        """Cold: each answer reuses nothing of an earlier prompt (the runner's ``cold``)."""
        settings = self.settings
        settings.cache = "cold" if settings.cache == "warm" else "warm"
        self.wb.runner.cold = settings.cache == "cold"

    def action_focus_area(self, area: str) -> None:
        if area == "models":
            self.open_drawer(self.picker)
        elif area == "settings":
            self.open_drawer(self.query_one("#sampling-temperature"))
        elif area == "tests":
            self.open_drawer(self.query_one("#tests"))
        elif area == "prompt":
            self.prompt.focus()
        elif self.current is not None:
            self.current.focus()
        else:
            self.notify("No answers yet.", timeout=2)

    def action_load_models(self) -> None:
        """Load the chosen models in the background, with progress in the picker."""
        names = [n for n in self.picker.chosen if n not in self._loads]
        if not names:
            self.notify("The chosen models are loaded or loading.", timeout=2)
            return
        for name in names:
            self._loads[name] = asyncio.create_task(self._preload(self.wb.config.model(name)))

    async def _preload(self, spec: ModelSpec) -> None:
        backend = self.wb.runner.pool.get(spec)
        self.picker.set_state(spec.name, "loading", 0.0)
        try:
            await backend.load(lambda p: self.picker.set_state(spec.name, "loading", p))
        except WorkbenchError as exc:
            self.picker.set_state(spec.name, "failed")
            self.notify(exc.message, title=f"{spec.name}: {exc.title}", severity="error")
            del self._loads[spec.name]  # a later send tries again and shows it in the pane
        else:
            self.picker.set_state(spec.name, "ready")

    def action_battle(self) -> None:
        """Blind battles between pairs drawn from the models chosen in the picker."""
        picker = self.picker
        names: Sequence[str] = picker.chosen
        if self.running:
            self.notify("Models are still answering: esc cancels them first.", severity="warning")
            return
        if len(names) < 2:
            self.notify(
                "Choose two models or more for battles (f2, then space).", severity="warning"
            )
            return
        self.app.push_screen(BattleScreen([picker.specs[name] for name in names]))

    def action_diff(self) -> None:
        """Diff two answers of the latest turn (with more, a chooser picks which)."""
        if self.thread is None or len(self.panes) < 2:
            self.notify("A diff needs the answers of two models: send a prompt to two.")
            return
        # pane_title: "Model A" while blind, so the diff does not give the names away.
        texts = {self.pane_title(name): pane.answer for name, pane in self.panes.items()}
        open_diff(self.app, texts, self.thread.mode, title=f"turn {self.thread.turn}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.running = False
            error = event.worker.error
            self.app.push_screen(
                ErrorModal(
                    "Something went wrong",
                    f"{type(error).__name__}: {error}",
                    "The run stopped. The session file keeps what was shown.",
                )
            )


class _PaneSamples(SampleHooks):
    """A samples run drawn in the compare screen's panes: a turn per sample, its check."""

    def __init__(self, screen: CompareScreen, text: str, follow: bool) -> None:
        self.screen, self.text, self.follow = screen, text, follow

    async def opened(self, index: int, recorder: SessionRecorder) -> None:
        screen, session = self.screen, recorder.session
        samples = screen.sample_run.samples if screen.sample_run else index + 1
        header = f"sample {index + 1}/{samples}"
        if self.follow and index == 0:
            header = f"{self.text}\n\n{header}"
        for run in session.runs:
            pane = screen.panes.get(run.model)
            if pane is not None:
                await pane.begin_turn(run, header, session.schedule)
        # The pane's latest answer is this sample's: rating, diff and the next prompt too.
        screen.thread = Thread(tuple(run.model for run in session.runs), session.mode, session)
        screen._refresh_titles()

    def checking(self, index: int, runs: Sequence[ModelRun]) -> None:
        for run in runs:
            self.screen._show_check(run, None)

    def checked(self, index: int, run: ModelRun, result: CheckResult) -> None:
        self.screen._show_check(run, run.info["check"])

    def finished(self, index: int, recorder: SessionRecorder) -> None:
        self.screen.report_save_error(recorder)
