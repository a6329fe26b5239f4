"""Blind battles: each prompt goes to two models of a pool, unnamed; vote, see who, next.

The pair is drawn by :class:`workbench.store.blind.PairScheduler` from the votes already
stored, so every pair of the pool gets played, not only the popular ones. Each
battle is a session of its own; its vote is saved with ``blind=True`` and the
tag ``battle``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from pathlib import PurePath
from typing import ClassVar

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.blind import BlindDeal, PairScheduler, pair_counts
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session
from workbench.ui.conversation import first_requests
from workbench.ui.keys import bindings, key_label
from workbench.ui.pane_host import REVIEW_CSS, PaneHost
from workbench.ui.rater import Rater
from workbench.ui.screens.error import ErrorModal
from workbench.ui.screens.rating import RATING_CSS, Rated
from workbench.ui.widgets.pane_area import PaneArea
from workbench.ui.widgets.prompt_editor import PromptEditor

#: The tag every battle vote carries (the leaderboard can filter on it).
BATTLE_TAG = "battle"
#: How often streamed text is written into the panes (Hz), as on the compare screen.
FLUSH_RATE = 20


class BattleScreen(Rater, PaneHost):
    """Two models of the pool answer each prompt blind; one key votes and reveals them."""

    SCOPE: ClassVar[str] = "battle"
    RUNS_MODELS: ClassVar[bool] = True
    BINDINGS = bindings("battle")
    CSS_PATH: ClassVar[list[str | PurePath]] = [REVIEW_CSS, RATING_CSS]
    AUTO_FOCUS = "#battle-prompt"

    def __init__(self, pool: Sequence[ModelSpec], *, seed: int | str | None = None) -> None:
        super().__init__()
        self.pool = {spec.name: spec for spec in pool}
        self.seed = seed
        self.scheduler = PairScheduler(list(self.pool), seed=seed)
        #: The session of the battle on screen, and whether it got its vote.
        self.session: Session | None = None
        self.voted = False
        self.rounds = 0
        self.votes = 0

    @property
    def prompt(self) -> PromptEditor:
        return self.query_one(PromptEditor)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⚔")
        yield Static("", id="battle-status")
        hint = (
            "Write a prompt: two models of the pool answer it without their names. "
            f"{self._key('battle_send')} sends · {self._key('vote_a')} "
            f"{self._key('vote_b')} {self._key('vote_tie')} {self._key('vote_bad')} vote"
        )
        yield PaneArea(Static(Content(hint), id="hint"), id="panes")
        prompt = PromptEditor(self.wb.ui_state.history, id="battle-prompt")
        prompt.cursor_blink = not self.wb.test_mode
        prompt.border_title = "Prompt · battle"
        prompt.border_subtitle = f"{self._key('battle_send')} send"
        yield prompt
        yield Footer()

    def _key(self, action_id: str) -> str:
        return key_label(self.wb.keys[action_id])

    def on_mount(self) -> None:
        self.sub_title = f"blind battles · {len(self.pool)} models"
        self.set_interval(1 / FLUSH_RATE, self.tick_panes)
        self._status()
        self.run_worker(self._count_votes, thread=True, group="count", exit_on_error=False)

    def _count_votes(self) -> None:
        """Start the pair counts from the stored votes (a disk read: a thread)."""
        from workbench.store.votes import collect

        votes, _, _ = collect(self.wb.store)
        counts = pair_counts(votes, self.pool)
        self.app.call_from_thread(self._counted, counts)

    def _counted(self, counts: Counter[tuple[str, str]]) -> None:
        self.scheduler.counts = counts
        self._status()

    def _status(self) -> None:
        pairs = list(combinations(sorted(self.pool), 2))
        played = sum(1 for pair in pairs if self.scheduler.counts[pair])
        parts = [
            f"round {self.rounds}",
            f"{self.votes} voted here",
            f"{played} of {len(pairs)} pairs played",
            "pool: " + ", ".join(self.pool),
        ]
        text = " · ".join(parts)
        line = Content(text)
        if self.deal is not None and self.deal.revealed:
            line = Content.from_markup(
                "[b]$shown[/b] · next prompt, then $key · $line",
                shown=", ".join(f"{self.deal.label(m)} was {m}" for m in self.deal.order),
                key=self._key("battle_send"),
                line=text,
            )
        self.query_one("#battle-status", Static).update(line)

    # -- for the Rater ---------------------------------------------------------------------

    @property
    def rating_session_id(self) -> str | None:
        return self.session.id if self.session is not None else None

    def rating_tags(self) -> tuple[str, ...]:
        return (BATTLE_TAG,)

    def on_rated(self, rated: Rated) -> None:
        if rated.kind != "vote":
            return
        if not self.voted:
            self.scheduler.record(*rated.models)
            self.votes += 1
        self.voted = True
        self._status()
        self.prompt.focus()

    # -- a round ------------------------------------------------------------------------------

    async def action_send(self) -> None:
        """Send the prompt to the next pair, blind."""
        text = self.prompt_to_send(
            self.prompt, busy="The two models are still answering.", empty="Write a prompt first."
        )
        if text is None:
            return
        if self.session is not None and not self.voted:
            self.notify("The last battle got no vote; it is left out.", timeout=3)
        pair = self.scheduler.next_pair()
        specs = [self.pool[name] for name in pair]
        requests = first_requests(
            specs,
            text,
            mode="chat",
            system=None,
            typed=Sampling(),
        )
        schedule = self.wb.config.schedule
        recorder = self.open_recorder(specs, requests, schedule)
        if recorder is None:
            return
        self.running = True
        await self.reset_panes(list(pair))
        self.disguise_panes(BlindDeal(pair))  # the draw already chose who is A
        for name in pair:
            await self.panes[name].begin_turn(recorder.session.run(name), None, schedule)
        self.session, self.voted = recorder.session, False
        self.rounds += 1
        self.wb.ui_state.remember_prompt(text)
        self.wb.save_state()
        self.prompt.clear_prompt()
        self.panes[pair[0]].focus()
        self._status()
        self.run_worker(
            self._run(specs, requests, recorder, schedule), group="battle", exit_on_error=False
        )

    async def _run(
        self,
        specs: list[ModelSpec],
        requests: dict[str, Request],
        recorder: SessionRecorder,
        schedule: str,
    ) -> None:
        try:
            await self.stream(specs, requests, recorder, schedule)
        finally:
            self.running = False

    async def action_close(self) -> None:
        """Leave the battles (a battle still answering is cancelled)."""
        if self.running:
            await self.wb.runner.cancel()
        self.dismiss()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "count":
            self.notify(f"Could not count the earlier votes: {event.worker.error}", timeout=5)
            return
        self.running = False
        error = event.worker.error
        self.app.push_screen(ErrorModal("Something went wrong", f"{type(error).__name__}: {error}"))
