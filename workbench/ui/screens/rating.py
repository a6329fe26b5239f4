"""The rating modals: a score with tags and a note, and a vote between two of N answers.

Both save through ``workbench.store.votes`` themselves (under the session's lock, in a
thread) and return what they saved as a :class:`Rated`, or None when cancelled.
Any screen that shows a saved session can push them::

    app.push_screen(RatingModal(app.store, session.id, "gemma3"), on_rated)
    app.push_screen(VoteModal(app.store, session.id, [(m, m) for m in models]), on_rated)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from workbench.errors import WorkbenchError
from workbench.store.sessions import SessionStore
from workbench.store.votes import add_score, add_vote

#: The stylesheet of the rating modals and screens.
RATING_CSS = Path(__file__).resolve().parent.parent / "rating.tcss"
#: How a vote reads, with the two answers' names.
VOTE_WORDS = {
    "a": "{a} is better than {b}",
    "b": "{b} is better than {a}",
    "tie": "{a} and {b} tie",
    "bad": "{a} and {b} are both bad",
}


@dataclass(frozen=True)
class Rated:
    """A rating that was saved: a score of one model, or a vote between two."""

    kind: str  # "score" or "vote"
    models: tuple[str, ...]
    score: int | None = None
    outcome: str | None = None
    tags: tuple[str, ...] = ()
    note: str = ""
    blind: bool = False


#: What saving a rating can raise (shown to the user, never a traceback).
SAVE_ERRORS = (WorkbenchError, OSError)


async def save_score(
    store: SessionStore,
    session_id: str,
    model: str,
    score: int,
    *,
    tags: Sequence[str] = (),
    note: str = "",
) -> Rated:
    """``votes.add_score`` in a thread (it waits for the session's lock); raises SAVE_ERRORS."""
    tags = tuple(tags)
    await asyncio.to_thread(add_score, store, session_id, model, score, tags=tags, note=note)
    return Rated("score", (model,), score=score, tags=tags, note=note)


async def save_vote(
    store: SessionStore,
    session_id: str,
    model_a: str,
    model_b: str,
    outcome: str,
    *,
    tags: Sequence[str] = (),
    blind: bool = False,
) -> Rated:
    """``votes.add_vote`` in a thread (it waits for the session's lock); raises SAVE_ERRORS."""
    tags = tuple(tags)
    await asyncio.to_thread(
        add_vote, store, session_id, model_a, model_b, outcome, tags=tags, blind=blind
    )
    return Rated("vote", (model_a, model_b), outcome=outcome, tags=tags, blind=blind)


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags as typed: separated by commas or spaces, a leading ``#`` dropped, no repeats."""
    words = (word.lstrip("#") for word in re.split(r"[,\s]+", text))
    return tuple(dict.fromkeys(word for word in words if word))


class ScoreBar(Static, can_focus=True):
    """A score from 1 to 5 as stars; number keys or ← → change it, enter saves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"set({n})", show=False) for n in range(1, 6)),
        Binding("left", "step(-1)", show=False),
        Binding("right", "step(1)", show=False),
        Binding("enter", "submit", show=False),
    ]

    class Submitted(Message):
        """Enter was pressed on the score."""

    def __init__(self, score: int | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.score = score

    def on_mount(self) -> None:
        self._draw()

    def action_set(self, score: int) -> None:
        self.score = score
        self._draw()

    def action_step(self, step: int) -> None:
        self.action_set(3 if self.score is None else min(5, max(1, self.score + step)))

    def action_submit(self) -> None:
        self.post_message(self.Submitted())

    def _draw(self) -> None:
        if self.score is None:
            self.update(Content.from_markup("[$text-muted]☆☆☆☆☆  press 1–5[/]"))
            return
        stars = "★" * self.score + "☆" * (5 - self.score)
        self.update(Content.from_markup("[b $accent]$stars[/]  $n/5", stars=stars, n=self.score))


class RatingModal(ModalScreen[Rated | None]):
    """Score one answer 1–5 with tags and a note; saves with ``votes.add_score``."""

    CSS_PATH = RATING_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="cancel_rating")
    ]

    def __init__(
        self,
        store: SessionStore,
        session_id: str,
        model: str,
        *,
        title: str | None = None,
        score: int | None = None,
        tags: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.store = store
        self.session_id = session_id
        self.model = model
        self.answer_title = title or model
        self.initial_score = score
        self.initial_tags = tuple(tags)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="rating-dialog") as dialog:
            dialog.border_title = f"Rate {self.answer_title}"
            dialog.border_subtitle = "1–5 score · tab next field · enter saves · esc cancels"
            yield Label("Score")
            yield ScoreBar(self.initial_score, id="score")
            yield Label("Tags (commas or spaces)")
            yield Input(" ".join(self.initial_tags), placeholder="e.g. python refactor", id="tags")
            yield Label("Note")
            yield Input(placeholder="what was good or wrong", id="note")
            yield Static("", id="warning")

    def on_mount(self) -> None:
        self.query_one(ScoreBar).focus()

    async def on_score_bar_submitted(self) -> None:
        await self._save()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self._save()

    async def _save(self) -> None:
        score = self.query_one(ScoreBar).score
        warning = self.query_one("#warning", Static)
        if score is None:
            warning.update("Choose a score first: 1 to 5.")
            self.query_one(ScoreBar).focus()
            return
        tags = parse_tags(self.query_one("#tags", Input).value)
        note = self.query_one("#note", Input).value.strip()
        try:
            rated = await save_score(
                self.store, self.session_id, self.model, score, tags=tags, note=note
            )
        except SAVE_ERRORS as exc:
            warning.update(Content(f"Not saved: {getattr(exc, 'message', exc)}"))
            return
        self.notify(f"{self.answer_title}: {score}/5 saved.", timeout=2)
        self.dismiss(rated)


class VoteModal(ModalScreen[Rated | None]):
    """Vote between two of several answers: choose the pair, then a, b, t or n.

    ``choices`` are (model, what to call it) in pane order; the pair with the
    ``focused`` model and the next one is highlighted first. Saves with
    ``votes.add_vote`` (``blind`` says whether the names were hidden).
    """

    CSS_PATH = RATING_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "vote('a')", "First better", id="modal_vote_a"),
        Binding("b", "vote('b')", "Second better", id="modal_vote_b"),
        Binding("t", "vote('tie')", "Tie", id="modal_vote_tie"),
        Binding("n", "vote('bad')", "Both bad", id="modal_vote_bad"),
        Binding("escape", "dismiss(None)", "Cancel", id="cancel_vote"),
    ]

    def __init__(
        self,
        store: SessionStore,
        session_id: str,
        choices: Sequence[tuple[str, str]],
        *,
        focused: str | None = None,
        blind: bool = False,
        tags: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if len(choices) < 2:
            raise ValueError("a vote needs two answers")
        self.store = store
        self.session_id = session_id
        self.titles = dict(choices)
        models = [model for model, _ in choices]
        self.pairs = list(combinations(models, 2))
        self.blind = blind
        self.tags = tuple(tags)
        start = models.index(focused) if focused in models else 0
        first = {models[start], models[(start + 1) % len(models)]}
        self.start = next((i for i, pair in enumerate(self.pairs) if set(pair) == first), 0)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="rating-dialog") as dialog:
            dialog.border_title = "Vote"
            dialog.border_subtitle = "↑↓ pair · a b t n vote · esc cancels"
            yield OptionList(
                *(
                    Option(Content(f"{self.titles[a]}  vs  {self.titles[b]}"), id=str(i))
                    for i, (a, b) in enumerate(self.pairs)
                ),
                id="pairs",
            )
            yield Static("", id="outcomes")
            yield Label("Tags (commas or spaces)")
            yield Input(" ".join(self.tags), id="tags")
            yield Static("", id="warning")

    def on_mount(self) -> None:
        pairs = self.query_one(OptionList)
        pairs.highlighted = self.start
        pairs.focus()
        self._describe()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._describe()

    def _pair(self) -> tuple[str, str]:
        index = self.query_one(OptionList).highlighted
        return self.pairs[self.start if index is None else index]

    def _describe(self) -> None:
        a, b = self._pair()
        self.query_one("#outcomes", Static).update(
            Content.from_markup(
                "[b]a[/] $a better · [b]b[/] $b better · [b]t[/] tie · [b]n[/] both bad",
                a=self.titles[a],
                b=self.titles[b],
            )
        )

    async def action_vote(self, outcome: str) -> None:
        a, b = self._pair()
        tags = parse_tags(self.query_one("#tags", Input).value)
        try:
            rated = await save_vote(
                self.store, self.session_id, a, b, outcome, tags=tags, blind=self.blind
            )
        except SAVE_ERRORS as exc:
            warning = self.query_one("#warning", Static)
            warning.update(Content(f"Not saved: {getattr(exc, 'message', exc)}"))
            return
        self.dismiss(rated)
