"""The Textual app: themes, keymap, command palette, and ``run_app`` for the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.theme import Theme

from workbench.core.runner import BackendPool, Runner
from workbench.errors import ConfigError, WorkbenchError
from workbench.models.config import Config, bundled_models, load_config
from workbench.models.request import Sampling
from workbench.paths import default_sessions_dir, state_file
from workbench.store.sessions import SessionStore
from workbench.ui.keys import ACTIONS, bindings, check_keymap, effective_keys, key_label
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.screens.error import ErrorModal
from workbench.ui.screens.help import HelpScreen
from workbench.ui.state import load_state, save_state
from workbench.ui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes


class WorkbenchApp(App[int]):
    """Compare LLMs side by side from the keyboard."""

    CSS_PATH = "compare.tcss"
    # The review screens' sheet is read at start: read on a screen's first push, it would
    # restyle every widget of the app then (a quarter second).
    CSS_PATH: ClassVar[list[str]] = [CSS_PATH, "review.tcss"]
    TITLE = "workbench"
    BINDINGS = bindings("app")

    def __init__(
        self,
        config: Config,
        *,
        sessions_dir: Path,
        state_path: Path | None,
        startup_errors: Sequence[WorkbenchError] = (),
        test_mode: bool = False,
        theme_dirs: list[Path] | None = None,
        save_dir: Path | None = None,
        discover: bool | None = None,
    ) -> None:
        """``test_mode`` masks measured times and stops cursors blinking (stable snapshots)."""
        super().__init__()
        self.config = config
        self.store = SessionStore(sessions_dir)
        self.state_path = state_path
        self.ui_state, state_problem = load_state(state_path)
        self.runner = Runner(
            BackendPool(), cores=config.threads, defaults=config.sampling, memory=config.memory
        )
        self.test_mode = test_mode
        #: Scan the disk for GGUF files to add to the picker (off in tests: not reproducible).
        self.discover = not test_mode if discover is None else discover
        self.save_dir = save_dir or Path.cwd()
        #: How answer panes share the screen ([ui] layout; the layout key cycles it).
        self.pane_layout = config.layout
        self._problems: list[tuple[str, str]] = []
        self._errors = list(startup_errors)
        if state_problem:
            self._problems.append(("UI state", state_problem))
        keymap, key_problems = check_keymap(config.keys)
        self._problems += [("Keys", problem) for problem in key_problems]
        self.keys = effective_keys(keymap)
        self._keymap_overrides = keymap
        themes, theme_errors = load_themes(theme_dirs)
        self._problems += [(error.title, error.message) for error in theme_errors]
        for theme in themes:
            self.register_theme(theme)
        self.theme = self._initial_theme()

    def _initial_theme(self) -> str:
        """The config's theme, else the one chosen last time, else workbench-dark."""
        known = self.available_themes
        for source, name in (("config", self.config.theme), ("state", self.ui_state.theme)):
            if name and name in known:
                return name
            if name and source == "config":
                self._problems.append(
                    ("Theme", f"No theme named {name!r}. Known: {', '.join(sorted(known))}.")
                )
        return DEFAULT_THEME if DEFAULT_THEME in known else "textual-dark"

    def _fatal_error(self) -> None:
        """Textual's crash report, but without local variables.

        Textual prints the locals of every frame; they can hold prompts,
        answers and paths, which have no place in a terminal scrollback.
        """
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Textual's built-in themes lack our variables; these keep the CSS valid with them.
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.set_keymap(self._keymap_overrides)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.push_screen(CompareScreen())
        for title, message in self._problems:
            self.notify(message, title=title, severity="warning", timeout=10)
        for error in self._errors:
            details = "workbench started with the bundled models; fix the file and restart."
            self.push_screen(ErrorModal(error.title, error.message, details))

    def _theme_changed(self, theme: Theme) -> None:
        if self.ui_state.theme != theme.name:
            self.ui_state.theme = theme.name
            self.save_state()

    # -- shared by the screens ---------------------------------------------------------------

    @property
    def compare(self) -> CompareScreen | None:
        """The compare screen (under the review screens), if it is there."""
        return next((s for s in self.screen_stack if isinstance(s, CompareScreen)), None)

    def initial_models(self) -> list[str]:
        """The models chosen last time that still exist, else the first two."""
        names = [spec.name for spec in self.config.models]
        if self.ui_state.models is not None:
            return list(self.ui_state.models)  # the picker keeps those it knows or finds
        return names[:2]

    def default_sampling(self) -> Sampling:
        """The config's defaults, for the settings' placeholders; the runner resolves
        what is left per model (its preset, its config: ``workbench.models.settings``)."""
        return self.config.sampling

    def save_state(self) -> None:
        problem = save_state(self.state_path, self.ui_state)
        if problem:
            self.notify(problem, title="UI state", severity="warning")

    # -- actions -----------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keys))

    def action_sessions(self) -> None:
        """Open the sessions browser (a second one only brings a notice)."""
        from workbench.ui.screens.sessions import SessionsScreen

        if any(isinstance(screen, SessionsScreen) for screen in self.screen_stack):
            self.notify("The sessions browser is open already (esc goes back to it).", timeout=3)
            return
        self.push_screen(SessionsScreen())

    def action_leaderboard(self) -> None:
        """Open the leaderboard, fitted from the votes now (issue 5)."""
        from workbench.ui.screens.leaderboard import LeaderboardScreen

        if not isinstance(self.screen, LeaderboardScreen):
            self.push_screen(LeaderboardScreen())

    def action_suite_results(self) -> None:
        """Open the suite results: models × tasks of the saved suites (issue 14)."""
        from workbench.ui.screens.suite_results import SuiteResultsScreen

        if not isinstance(self.screen, SuiteResultsScreen):
            self.push_screen(SuiteResultsScreen())

    def action_grids(self) -> None:
        """Open the grid results: prompts × models × settings of the saved grids (issue 18)."""
        from workbench.ui.screens.grid import GridScreen

        if not isinstance(self.screen, GridScreen):
            self.push_screen(GridScreen())

    def action_rating_queue(self) -> None:
        """Walk through the sessions not rated yet (issue 5)."""
        from workbench.ui.screens.queue import RatingQueueScreen

        if not isinstance(self.screen, RatingQueueScreen):
            self.push_screen(RatingQueueScreen())

    def action_screenshot(self) -> None:
        try:
            path = self.save_screenshot(path=str(self.save_dir))
        except OSError as exc:
            self.notify(f"Could not save the screenshot: {exc}", severity="error")
            return
        self.notify(f"Screenshot saved to {path}.")

    async def action_quit(self) -> None:
        """Stop the runs and the model workers, then leave."""
        await self.runner.cancel()
        await self.runner.pool.close()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the key table, with its key, in the command palette."""
        compare = screen if isinstance(screen, CompareScreen) else None
        for action in ACTIONS:
            help_text = f"key {key_label(self.keys[action.id])} · id {action.id}"
            if action.scope == "app":
                target = self
            elif compare is not None and action.scope == "compare":
                target = compare
            elif action.scope == getattr(screen, "SCOPE", None):
                target = screen  # a review screen (diff, sessions, session, re-run)
            elif compare is not None and compare.current is not None and action.scope == "pane":
                target = compare.current
            else:
                continue
            title = action.help
            if action.scope == "pane":
                title = f"{action.help} ({compare.pane_title(compare.current.model)})"
            yield SystemCommand(title, help_text, partial(target.run_action, action.action))


def run_app(config_path: str | Path | None, sessions_dir: str | Path | None) -> int:
    """Open the app (bare ``workbench``); a bad config opens it with the bundled models."""
    errors: list[WorkbenchError] = []
    try:
        config = load_config(Path(config_path) if config_path else None)
    except ConfigError as exc:
        errors.append(exc)
        config = Config(models=bundled_models())
    if sessions_dir is not None:
        sessions = Path(sessions_dir)
    else:
        sessions = config.sessions_dir or default_sessions_dir()
    app = WorkbenchApp(
        config, sessions_dir=sessions, state_path=state_file(), startup_errors=errors
    )
    app.run()
    return app.return_code or 0
