"""Rating keys for any screen of answer panes: scores, votes, tags and notes, blind mode.

The keys (1–5, A B T N, t, f) are bindings of the answer pane whose actions run on
its screen (``screen.score(3)``), so one set of keys works wherever panes are shown.
A screen mixes in :class:`Rater` and says which session its panes show
(``rating_session_id``); the compare screen mixes in :class:`CompareRating`, which
adds blind mode and battles.

Every rating goes through ``votes.add_score`` / ``votes.add_vote`` (under the
session's lock), in a thread, so a slow disk never freezes the screen.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from workbench.store.blind import BlindDeal
from workbench.ui.blind_view import Disguise
from workbench.ui.keys import key_label
from workbench.ui.screens.rating import (
    SAVE_ERRORS,
    VOTE_WORDS,
    Rated,
    RatingModal,
    VoteModal,
    save_score,
    save_vote,
)
from workbench.ui.widgets.answer_pane import AnswerPane

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp


class Rater:
    """Score, vote, tag and note the answers of the panes on this screen.

    The host screen has ``panes`` (model → pane, left to right) and ``current``
    (the focused pane), and overrides :attr:`rating_session_id`. It can override
    :meth:`rating_tags` (added to every rating) and :meth:`on_rated` (called after
    each saved rating: the queue moves on, the battle reveals).
    """

    panes: dict[str, AnswerPane]
    current: AnswerPane | None
    #: The blind deal of the panes on screen, and their shared mask (None: not blind).
    deal: BlindDeal | None = None
    disguise: Disguise | None = None

    # -- for the host to override ------------------------------------------------------------

    @property
    def rating_session_id(self) -> str | None:
        """The session the panes show (None: nothing to rate yet)."""
        return None

    def rating_tags(self) -> tuple[str, ...]:
        return ()

    def on_rated(self, rated: Rated) -> None:
        """Called after a score or a vote is saved."""

    # -- helpers -----------------------------------------------------------------------------

    @property
    def _rater_wb(self) -> WorkbenchApp:
        return self.app

    def pane_title(self, model: str) -> str:
        """What the user calls this answer now: ``Model A`` while blind, else the name."""
        if self.deal is not None and model in self.deal.order:
            return self.deal.title(model)
        return model

    def _rater_session(self) -> str | None:
        session_id = self.rating_session_id
        if session_id is None:
            self.notify("Nothing to rate yet: send a prompt first.", severity="warning")
        return session_id

    def _rater_finished(self, pane: AnswerPane) -> bool:
        if pane.run is None or pane.active:
            title = self.pane_title(pane.model)
            self.notify(f"{title} is still answering.", severity="warning")
            return False
        return True

    async def _rater_save(self, saving: Awaitable[Rated]) -> Rated | None:
        """Await a ``save_score``/``save_vote``; a problem is a notification, not a crash."""
        try:
            return await saving
        except SAVE_ERRORS as exc:
            message = getattr(exc, "message", str(exc))
            self.notify(message, title="Rating not saved", severity="error")
            return None

    def redraw_panes(self) -> None:
        for pane in self.panes.values():
            pane.redraw_status()

    # -- actions (keys in workbench.ui.keys, scope "pane") -----------------------------------

    async def action_score(self, score: int) -> None:
        """Score the focused answer 1–5."""
        pane, session_id = self.current, self._rater_session()
        if pane is None or session_id is None or not self._rater_finished(pane):
            return
        store, tags = self._rater_wb.store, self.rating_tags()
        rated = await self._rater_save(save_score(store, session_id, pane.model, score, tags=tags))
        if rated is not None:
            self.notify(f"{self.pane_title(pane.model)}: {score}/5 saved.", timeout=2)
            self.on_rated(rated)

    async def action_vote(self, outcome: str) -> None:
        """Vote between the two answers; with more panes, choose the pair in a modal."""
        session_id = self._rater_session()
        panes = list(self.panes.values())
        if session_id is None:
            return
        if len(panes) < 2:
            self.notify("A vote needs two answers.", severity="warning")
            return
        if not all(self._rater_finished(pane) for pane in panes):
            return
        blind = self.deal is not None and not self.deal.revealed
        if len(panes) == 2:
            a, b = (pane.model for pane in panes)
            store, tags = self._rater_wb.store, self.rating_tags()
            saving = save_vote(store, session_id, a, b, outcome, tags=tags, blind=blind)
            rated = await self._rater_save(saving)
            if rated is not None:
                self._rater_voted(rated)
            return
        focused = self.current.model if self.current is not None else panes[0].model
        modal = VoteModal(
            self._rater_wb.store,
            session_id,
            [(pane.model, self.pane_title(pane.model)) for pane in panes],
            focused=focused,
            blind=blind,
            tags=self.rating_tags(),
        )
        self.app.push_screen(modal, self._rater_voted_in_modal)

    def _rater_voted_in_modal(self, rated: Rated | None) -> None:
        if rated is not None:
            self._rater_voted(rated)

    def _rater_voted(self, rated: Rated) -> None:
        a, b = rated.models
        words = VOTE_WORDS[rated.outcome or "tie"].format(
            a=self.pane_title(a), b=self.pane_title(b)
        )
        message = f"Vote saved: {words}."
        if self.deal is not None and not self.deal.revealed and self.deal.record_vote(a, b):
            self.redraw_panes()
            names = ", ".join(f"{self.deal.label(m)} is {m}" for m in self.deal.order)
            message += f" Revealed: {names}."
        self.notify(message, timeout=6)
        self.on_rated(rated)

    def action_rate_note(self) -> None:
        """Score the focused answer with tags and a note, in a small modal."""
        pane, session_id = self.current, self._rater_session()
        if pane is None or session_id is None or not self._rater_finished(pane):
            return
        modal = RatingModal(
            self._rater_wb.store,
            session_id,
            pane.model,
            title=self.pane_title(pane.model),
            tags=self.rating_tags(),
        )
        self.app.push_screen(modal, self._rater_scored_in_modal)

    def _rater_scored_in_modal(self, rated: Rated | None) -> None:
        if rated is not None:
            self.on_rated(rated)

    def action_show_speed(self) -> None:
        """Blind mode: show the speed figures anyway, or hide them again."""
        if self.disguise is None or self.disguise.deal.revealed:
            self.notify("The figures are all shown: blind mode is off.", timeout=2)
            return
        self.disguise.show_speed = not self.disguise.show_speed
        self.redraw_panes()

    # -- blind deals ---------------------------------------------------------------------------

    def disguise_panes(self, deal: BlindDeal) -> None:
        """Hide the panes of ``deal`` behind labels (set before they draw, or redrawn now)."""
        self.deal = deal
        self.disguise = Disguise(deal, speed_key=key_label(self._rater_wb.keys["show_speed"]))
        for model in deal.order:
            self.panes[model].disguise = self.disguise
            if self.panes[model].is_mounted:
                self.panes[model].redraw_status()

    def undisguise_panes(self) -> None:
        self.deal = self.disguise = None
        for pane in self.panes.values():
            pane.disguise = None
            if pane.is_mounted:
                pane.redraw_status()


class CompareRating(Rater):
    """The compare screen's part: rate the latest turn, and blind mode."""

    #: Whether new comparisons are dealt blind (``ctrl+b``).
    blind = False
    _blind_rng: random.Random | None = None

    @property
    def rating_session_id(self) -> str | None:
        return self.thread.session.id if self.thread is not None else None

    def blind_seed(self) -> int:
        """The seed of the next deal: random, or a fixed sequence in test mode (snapshots)."""
        if self._blind_rng is None:
            self._blind_rng = random.Random(0 if self._rater_wb.test_mode else None)
        return self._blind_rng.getrandbits(32)

    def blind_panes(self, panes: dict[str, AnswerPane]) -> dict[str, AnswerPane]:
        """The new panes of a comparison: in a shuffled order and disguised when blind."""
        self.deal = self.disguise = None
        if not self.blind or len(panes) < 2:
            return panes
        deal = BlindDeal.deal(list(panes), self.blind_seed())
        self.panes = {model: panes[model] for model in deal.order}
        self.disguise_panes(deal)
        return self.panes

    async def action_toggle_blind(self) -> None:
        """Blind mode on: names, backend details and speed figures hidden, panes shuffled."""
        self.blind = not self.blind
        if not self.blind:
            if self.deal is not None:
                self.undisguise_panes()
            self.notify("Blind mode off: names and figures are shown.", timeout=3)
        elif any(pane.active for pane in self.panes.values()):
            self.notify("Blind mode on from the next comparison.", timeout=3)
        else:
            if len(self.panes) >= 2:
                await self._rater_deal_shown_panes()
            self.notify(
                "Blind mode on: names, backend details and speed figures are hidden and the "
                "panes shuffled until you vote.",
                timeout=5,
            )
        self._refresh_titles()

    async def _rater_deal_shown_panes(self) -> None:
        """Shuffle the panes already on screen and hide their names."""
        panes = list(self.panes.values())
        deal = BlindDeal.deal([pane.model for pane in panes], self.blind_seed())
        container = panes[0].parent
        if container is not None:
            for model in deal.order:  # moving each to the end leaves them in deal order
                last = container.children[-1]
                if self.panes[model] is not last:
                    container.move_child(self.panes[model], after=last)
        self.panes = {model: self.panes[model] for model in deal.order}
        self.disguise_panes(deal)
