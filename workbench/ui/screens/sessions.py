"""The sessions browser: every saved session, newest first, filtered as you type.

The view of ``workbench.store.sessions`` (the store's index and filter do the work).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from workbench.errors import SessionError, UsageError
from workbench.store.sessions import SessionSummary, filter_summaries
from workbench.ui.keys import bindings
from workbench.ui.widgets.session_list import SessionList

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp

FILTER_HINT = "filter: words of the prompt, model:NAME, tag:NAME, rated:yes|no · enter opens"
#: Unreadable files named in the notification (the rest are counted).
NAMED_ERRORS = 3


class SessionsScreen(Screen[None]):
    """Lists the store's sessions (from its index); enter opens one read-only."""

    SCOPE: ClassVar[str] = "sessions"
    BINDINGS: ClassVar = [
        *bindings("sessions"),
        # The filter keeps the focus, so the list's moves live here.
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
    ]
    AUTO_FOCUS = "#session-filter"
    #: Seconds of quiet typing before the filter runs (one pass per pause, not per key).
    DEBOUNCE = 0.12

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[SessionSummary] = []
        self.errors: list[SessionError] = []
        #: Whether the first listing has arrived.
        self.loaded = False
        self._reported: set[str] = set()
        self._timer: Timer | None = None

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    @property
    def session_list(self) -> SessionList:
        return self.query_one(SessionList)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⚖")
        yield Input(placeholder=FILTER_HINT, id="session-filter")
        yield SessionList(id="session-list")
        yield Static("Reading the sessions…", id="session-count")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "sessions"
        self.query_one(Input).cursor_blink = not self.wb.test_mode
        self._load()

    def on_screen_resume(self) -> None:
        if self.loaded:  # back from a session: it may be gone, or a re-run added one
            self._load()

    # -- reading and filtering -----------------------------------------------------------

    def _load(self) -> None:
        self.run_worker(self._read, thread=True, exclusive=True, group="sessions")

    def _read(self) -> None:
        """List the store (a thread: ten thousand index entries take a moment)."""
        try:
            summaries, errors = self.wb.store.list()
        except OSError as exc:  # the folder itself cannot be read
            summaries, errors = [], [SessionError(f"{self.wb.store.root}: {exc.strerror}.")]
        if not get_current_worker().is_cancelled:  # the browser may be closed by now
            self.app.call_from_thread(self._listed, summaries, errors)

    def _listed(self, summaries: list[SessionSummary], errors: list[SessionError]) -> None:
        self.summaries, self.errors = summaries, errors
        self.loaded = True
        self._report(errors)
        self._filter(near=True)

    def _report(self, errors: list[SessionError]) -> None:
        """One notification for the files that could not be read (each file once)."""
        new = [e.message for e in errors if e.message not in self._reported]
        self._reported.update(new)
        if not new:
            return
        named = "\n".join(new[:NAMED_ERRORS])
        more = f"\n… and {len(new) - NAMED_ERRORS} more." if len(new) > NAMED_ERRORS else ""
        self.notify(
            f"{named}{more}",
            title=f"Skipped {len(new)} unreadable session file{'s' if len(new) > 1 else ''}",
            severity="warning",
            timeout=10,
        )

    @on(Input.Changed, "#session-filter")
    def _typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.DEBOUNCE, self._filter)

    def _filter(self, near: bool = False) -> None:
        self._timer = None
        text = self.query_one(Input).value
        shown = filter_summaries(self.summaries, text)
        keep = self.session_list.selected.id if self.session_list.selected else None
        self.session_list.set_rows(shown, keep=keep, near=near)
        total = len(self.summaries)
        if not total:
            line = f"No saved sessions yet in {self.wb.store.root}."
        elif not shown:
            line = f"No session matches {text.strip()!r} (of {total:,})."
        elif text.strip():
            line = f"{len(shown):,} of {total:,} sessions"
        else:
            line = f"{total:,} session{'s' if total > 1 else ''}"
        if self.errors:
            line += f" · {len(self.errors)} unreadable file{'s' if len(self.errors) > 1 else ''}"
        self.query_one("#session-count", Static).update(Content(line))

    @property
    def filtering(self) -> bool:
        """Whether typed text is still waiting for the filter to run."""
        return self._timer is not None

    # -- actions (keys in workbench.ui.keys, scope "sessions") ---------------------------

    def action_move(self, step: int) -> None:
        self.session_list.move(step)

    def action_page(self, step: int) -> None:
        self.session_list.move(step * max(self.session_list.size.height - 1, 1))

    @on(Input.Submitted, "#session-filter")
    def _submitted(self) -> None:
        self.action_open_session()

    def action_open_session(self) -> None:
        if self._timer is not None:  # enter right after typing: filter first
            self._timer.stop()
            self._filter()
        summary = self.session_list.selected
        if summary is None:
            self.notify("No session to open.", timeout=2)
            return
        self._open(summary)

    @on(SessionList.Chosen)
    def _chosen(self, event: SessionList.Chosen) -> None:
        self._open(event.summary)

    def _open(self, summary: SessionSummary) -> None:
        from workbench.ui.screens.session_view import SessionView

        try:
            session = self.wb.store.load(summary.path)
        except (SessionError, UsageError) as exc:
            self.notify(exc.message, title="Cannot open the session", severity="error")
            self._load()
            return
        self.app.push_screen(SessionView(session, Path(summary.path)))

    def action_close(self) -> None:
        self.dismiss()
