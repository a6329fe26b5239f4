"""The rating queue: the sessions not rated yet, one after another, one key per decision.

Each session's saved answers stand side by side. A vote (A, B, T, N) decides the
session; so does a score (1–5) for every answer. ``k`` skips. The queue is
:func:`workbench.store.blind.rating_queue` of the store (oldest first), or the sessions
it was given (``RatingQueueScreen([session_id])`` rates one session and returns).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Static

from workbench.core.events import Delta
from workbench.core.record import FINAL_STATES
from workbench.errors import SessionError, UsageError
from workbench.store.blind import rating_queue
from workbench.store.sessions import Session
from workbench.ui.keys import bindings, key_label
from workbench.ui.pane_host import REVIEW_CSS, PaneHost, final_event
from workbench.ui.rater import Rater
from workbench.ui.screens.rating import RATING_CSS, Rated
from workbench.ui.widgets.pane_area import PaneArea

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp


class RatingQueueScreen(Rater, PaneHost):
    """Walks through unrated sessions until none is left; dismisses with how many it rated.

    ``refs`` (session ids or paths) replaces the store's queue: a screen that shows
    one session rates it with ``RatingQueueScreen([session.id])``, which goes back
    by itself after the last decision.
    """

    SCOPE: ClassVar[str] = "queue"
    BINDINGS = bindings("queue")
    CSS_PATH: ClassVar[list[str | PurePath]] = [REVIEW_CSS, RATING_CSS]

    def __init__(self, refs: Sequence[str] | None = None, *, newest_first: bool = False) -> None:
        super().__init__()
        self.refs = list(refs) if refs is not None else None
        self.newest_first = newest_first
        #: The sessions to walk (ids or paths), and where we are.
        self.items: list[str] = []
        self.index = 0
        self.session: Session | None = None
        #: The models of the session on screen that have a score.
        self.scored: set[str] = set()
        self.rated = 0
        self.skipped = 0
        self.loaded = False

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    @property
    def done(self) -> bool:
        return self.loaded and self.index >= len(self.items)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="★")
        yield Static("Reading the sessions…", id="queue-status")
        with VerticalScroll(id="queue-prompt") as prompt:
            prompt.border_title = "Prompt"
            yield Static("", id="queue-prompt-text")
        yield PaneArea(id="panes")
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = "rating queue"
        if self.refs is None:
            summaries, _ = await asyncio.to_thread(self.wb.store.list)
            queue = rating_queue(summaries, newest_first=self.newest_first)
            self.items = [summary.path for summary in queue]
        else:
            self.items = list(self.refs)
        self.loaded = True
        await self._show()

    def _key(self, action_id: str) -> str:
        return key_label(self.wb.keys[action_id])

    async def _show(self) -> None:
        """Show the session at ``index``, passing over the ones that cannot be shown."""
        while self.index < len(self.items):
            try:
                session = await asyncio.to_thread(self.wb.store.load, self.items[self.index])
            except (SessionError, UsageError) as exc:
                self.notify(exc.message, title="Skipped", severity="warning")
                self.index += 1
                self.skipped += 1
                continue
            runs = [run for run in session.runs if run.state in FINAL_STATES]
            if runs and (self.refs is not None or not session.rated):
                break
            self.index += 1  # rated meanwhile (another window), or nothing finished
        else:
            await self._finish()
            return
        self.session, self.scored = session, set()
        await self.reset_panes([run.model for run in runs])
        for run in runs:
            pane = self.panes[run.model]
            await pane.begin_turn(run, None, session.schedule)
            pane.apply(Delta(run.model, run.text, 0.0))
            pane.apply(final_event(run))
        now = time.monotonic()
        for pane in self.panes.values():
            await pane.tick(now)
        self.query_one("#queue-prompt-text", Static).update(Content(session.prompt))
        self._status()
        if self.current is not None:
            self.current.focus()

    def _status(self) -> None:
        session = self.session
        if session is None:
            return
        decide = (
            f"1–5 score each answer · {self._key('vote_a')} {self._key('vote_b')} "
            f"{self._key('vote_tie')} {self._key('vote_bad')} vote · "
            f"{self._key('queue_skip')} skip"
        )
        if len(self.panes) < 2:
            decide = f"1–5 score the answer · {self._key('queue_skip')} skip"
        line = (
            f"session {self.index + 1} of {len(self.items)} · {session.created} · "
            f"{', '.join(self.panes)} · {decide}"
        )
        self.query_one("#queue-status", Static).update(Content(line))

    async def _finish(self) -> None:
        self.session = None
        await self.reset_panes([])
        self.query_one("#queue-prompt-text", Static).update("")
        if self.refs is not None:
            self.dismiss(self.rated)
            return
        line = (
            f"Nothing left to rate: {self.rated} rated, {self.skipped} skipped here. "
            f"{self._key('queue_close')} goes back."
        )
        self.query_one("#queue-status", Static).update(Content(line))

    async def _next(self) -> None:
        self.index += 1
        await self._show()

    # -- for the Rater ---------------------------------------------------------------------

    @property
    def rating_session_id(self) -> str | None:
        return self.session.id if self.session is not None else None

    def on_rated(self, rated: Rated) -> None:
        if rated.kind == "score":
            self.scored.update(rated.models)
            left = [pane for model, pane in self.panes.items() if model not in self.scored]
            if left:
                left[0].focus()
                return
        self.rated += 1
        self.run_worker(self._next(), group="queue", exclusive=True)

    # -- actions (keys in workbench.ui.keys, scope "queue") ----------------------------------

    async def action_skip(self) -> None:
        """Leave this session unrated and go on."""
        if self.done or self.session is None:
            return
        self.skipped += 1
        await self._next()

    async def action_toggle_order(self) -> None:
        """Newest first or oldest first, from the session on screen on."""
        if self.refs is not None or self.done:
            return
        self.newest_first = not self.newest_first
        rest = self.items[self.index + 1 :]
        self.items[self.index + 1 :] = reversed(rest)
        self.notify("Newest first." if self.newest_first else "Oldest first.", timeout=2)

    def action_close(self) -> None:
        self.dismiss(self.rated)
