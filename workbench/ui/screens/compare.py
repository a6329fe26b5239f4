"""The compare screen: model picker and settings, answer panes side by side, prompt editor."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from workbench.codecheck import check_answer, tests_problem
from workbench.compare import open_session, run_comparison
from workbench.config import ModelSpec
from workbench.errors import WorkbenchError
from workbench.events import Event, Failed, Loading, ModelRun, Started
from workbench.request import Request
from workbench.sessions import SessionRecorder
from workbench.ui.checks import CHECK_TIMEOUT, build_tests
from workbench.ui.conversation import Thread, first_requests, follow_up_requests
from workbench.ui.keys import bindings, key_label
from workbench.ui.rater import CompareRating
from workbench.ui.screens.error import ErrorModal
from workbench.ui.screens.save_code import SaveCodeModal, suggested_name
from workbench.ui.widgets.answer_pane import AnswerPane
from workbench.ui.widgets.model_picker import ModelPicker
from workbench.ui.widgets.prompt_editor import PromptEditor
from workbench.ui.widgets.settings_panel import SettingsPanel

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp

HINT = (
    "No answers yet.  {focus_models} choose models · {focus_prompt} write a prompt"
    " · {send} send · {help} all keys"
)
#: How often streamed text is written into the panes (Hz).
FLUSH_RATE = 20


class CompareScreen(CompareRating, Screen[None]):
    """Prompt N models at once and watch their answers stream side by side."""

    BINDINGS = bindings("compare")
    AUTO_FOCUS = "#prompt"

    def __init__(self) -> None:
        super().__init__()
        self.thread: Thread | None = None
        self.panes: dict[str, AnswerPane] = {}
        self.running = False
        self.zoomed: AnswerPane | None = None
        self.current: AnswerPane | None = None
        self._loads: dict[str, asyncio.Task[None]] = {}

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

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
                yield HorizontalScroll(self._hint(), id="panes")
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
        self.set_interval(1 / FLUSH_RATE, self._tick)
        self._refresh_titles()
        if self.wb.discover:
            self.run_worker(self._discover, thread=True, group="discover", exit_on_error=False)

    def _discover(self) -> None:
        """GGUF files on this machine join the picker once found (a disk scan: a thread)."""
        from workbench.selection import discovered

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

    # -- sending -----------------------------------------------------------------------------

    async def action_send(self) -> None:
        """Send the prompt to the chosen models; a follow-up when the thread continues."""
        if self.running:
            self.notify("Models are still answering: esc cancels them.", severity="warning")
            return
        text = self.prompt.text
        if not text.strip():
            self.notify("Write a prompt first (f4).", severity="warning")
            return
        names = self.picker.chosen
        if not names:
            self.notify("Choose at least one model (f2, then space).", severity="warning")
            return
        try:
            typed = self.settings.sampling()
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
        defaults = self.wb.default_sampling()
        if follow and previous is not None:
            requests = follow_up_requests(specs, text, previous, typed=typed, defaults=defaults)
        else:
            system = self.settings.system_prompt.strip() or None
            requests = first_requests(
                specs, text, mode=mode, system=system, typed=typed, defaults=defaults
            )
        self.running = True  # from here on, a second send waits for this one
        try:
            recorder = open_session(
                self.wb.store,
                specs,
                requests,
                schedule=schedule,
                parent=previous if follow else None,
            )
        except OSError as exc:
            self.running = False
            self.app.push_screen(ErrorModal("Cannot save the session", str(exc)))
            return
        if not follow:
            await self._reset_panes(names)
        for name in names:
            run = recorder.session.run(name)
            await self.panes[name].begin_turn(run, text if follow else None, schedule)
        self.thread = Thread(tuple(names), mode, recorder.session)
        self._remember(text)
        self.prompt.clear_prompt()
        self._refresh_titles()
        self.run_worker(
            self._run(specs, requests, recorder, schedule, (tests, text, mode)),
            group="run",
            exit_on_error=False,
        )

    async def _run(
        self,
        specs: list[ModelSpec],
        requests: dict[str, Request],
        recorder: SessionRecorder,
        schedule: str,
        checks: tuple[str, str, str] | None = None,
    ) -> None:
        """Run the comparison; then, when ``checks`` (tests, prompt, mode) has tests,
        check the answers."""
        try:
            # A model being preloaded (ctrl+l) finishes loading before it is asked.
            loads = [self._loads[s.name] for s in specs if s.name in self._loads]
            await asyncio.gather(*loads, return_exceptions=True)
            await run_comparison(
                self.wb.runner,
                self.wb.store,
                specs,
                requests,
                schedule=schedule,
                listener=self._on_event,
                recorder=recorder,
            )
            if checks is not None and checks[0]:
                await self._check_answers(recorder, *checks)
        finally:
            self.running = False
        if recorder.save_error:
            self.notify(recorder.save_error, title="Session not saved", severity="error")

    async def _check_answers(
        self, recorder: SessionRecorder, tests: str, prompt: str, mode: str
    ) -> None:
        """Run each finished answer against the tests (in threads: the sandbox blocks),
        show the result in its pane and keep it in the run's ``info["check"]``."""
        runs = [run for run in recorder.session.runs if run.state == "done"]
        panes = {run.model: self.panes.get(run.model) for run in runs}
        for pane in panes.values():
            if pane is not None:
                pane.show_check(None)

        def check(run: ModelRun) -> dict:
            suite = build_tests(tests, run.text, mode, prompt)
            return check_answer(run.text, mode, suite, timeout=CHECK_TIMEOUT).to_dict()

        async def one(run: ModelRun) -> None:
            try:
                result = await asyncio.to_thread(check, run)
            except Exception as exc:  # a check that cannot run is shown, never a crash
                result = {"status": "error", "passed": False, "message": str(exc)}
            run.info["check"] = result
            pane = panes[run.model]
            if pane is not None:
                pane.show_check(result)

        await asyncio.gather(*(one(run) for run in runs))
        if runs:
            recorder.save()

    def _on_event(self, event: Event) -> None:
        """The runner's listener: called on the event loop, so it only changes state."""
        pane = self.panes.get(event.model)
        if pane is not None:
            pane.apply(event)
        if isinstance(event, Loading):
            self.picker.set_state(event.model, "loading", event.progress)
        elif isinstance(event, Started):
            self.picker.set_state(event.model, "ready")
        elif isinstance(event, Failed) and event.run.t_sent is None:
            # It never started: the model itself is at fault (missing file, server down).
            self.picker.set_state(event.model, "failed")
            title = f"{event.model}: {event.error.get('title', 'Error')}"
            self.notify(event.error.get("message", ""), title=title, severity="error")

    async def _tick(self) -> None:
        now = time.monotonic()
        for pane in list(self.panes.values()):
            await pane.tick(now)

    async def _reset_panes(self, names: list[str]) -> None:
        self._set_zoom(None)
        container = self.query_one("#panes", HorizontalScroll)
        await container.remove_children()
        self.panes = {name: AnswerPane(name, mask=self.wb.test_mode) for name in names}
        self.panes = self.blind_panes(self.panes)  # shuffled and disguised in blind mode
        container.set_class(len(names) > 4, "-many")
        if names:
            await container.mount_all(self.panes.values())
        else:
            await container.mount(self._hint())
        self.current = next(iter(self.panes.values()), None)

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
        await self._reset_panes([])
        self._refresh_titles()
        self.prompt.focus()

    async def action_cancel_all(self) -> None:
        if not self.running:
            self.notify("Nothing is running.", timeout=2)
            return
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

    def action_focus_area(self, area: str) -> None:
        if area == "models":
            self.picker.focus()
        elif area == "settings":
            self.query_one("#sampling-temperature").focus()
        elif area == "tests":
            self.query_one("#tests").focus()
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

    def action_diff(self) -> None:
        """Diff two answers of the latest turn (with more, a chooser picks which)."""
        from workbench.ui.screens.diff import open_diff

        if self.thread is None or len(self.panes) < 2:
            self.notify("A diff needs the answers of two models: send a prompt to two.")
            return
        # pane_title: "Model A" while blind, so the diff does not give the names away.
        texts = {self.pane_title(name): pane.answer for name, pane in self.panes.items()}
        open_diff(self.app, texts, self.thread.mode, title=f"turn {self.thread.turn}")

    # -- pane requests -----------------------------------------------------------------------

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, AnswerPane):
            self.current = event.widget

    @on(AnswerPane.CancelRequested)
    async def _cancel_pane(self, event: AnswerPane.CancelRequested) -> None:
        if not event.pane.active:
            self.notify(f"{event.pane.shown_name} is not running.", timeout=2)
            return
        await self.wb.runner.cancel(event.pane.model)

    @on(AnswerPane.ZoomRequested)
    def _zoom_pane(self, event: AnswerPane.ZoomRequested) -> None:
        self._set_zoom(None if self.zoomed is event.pane else event.pane)

    def _set_zoom(self, pane: AnswerPane | None) -> None:
        if self.zoomed is not None:
            self.zoomed.remove_class("-zoom")
        self.zoomed = pane
        self.set_class(pane is not None, "-zoomed")
        if pane is not None:
            pane.add_class("-zoom")
            pane.focus()

    @on(AnswerPane.MoveRequested)
    def _move(self, event: AnswerPane.MoveRequested) -> None:
        panes = list(self.panes.values())
        index = (panes.index(event.pane) + event.step) % len(panes)
        target = panes[index]
        if self.zoomed is not None:
            self._set_zoom(target)
        target.focus()
        target.scroll_visible(animate=False)

    @on(AnswerPane.SaveRequested)
    def _save(self, event: AnswerPane.SaveRequested) -> None:
        code = event.block.code
        suggestion = suggested_name(event.pane.shown_name, event.block.language)

        def write(path: Path | None) -> None:
            if path is None:
                return
            try:
                path.write_text(code if code.endswith("\n") else code + "\n", encoding="utf-8")
            except OSError as exc:
                self.notify(f"Could not write {path}: {exc}", severity="error")
                return
            self.notify(f"Saved the code block to {path}.")

        self.app.push_screen(SaveCodeModal(suggestion, self.wb.save_dir), write)

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
