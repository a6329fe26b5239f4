"""One saved session, read-only, in the compare layout: diff, replay, re-run, delete.

Replay fills the panes again at the pace of the saved chunk timeline (speed
×1, ×2, ×10 or instant, pause); each pane ends on the figures that were
recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Static

from workbench.core.events import Delta, Started
from workbench.core.record import ModelRun
from workbench.errors import UsageError, WorkbenchError
from workbench.store.replay import Beat, timeline
from workbench.store.sessions import Session
from workbench.ui.keys import bindings
from workbench.ui.pane_host import PaneHost, final_event
from workbench.ui.rater import Rater
from workbench.ui.replayer import SPEEDS, ReplayClock, speed_label
from workbench.ui.screens.choice import ChoiceModal, ConfirmModal
from workbench.ui.screens.diff import open_diff
from workbench.ui.screens.error import ErrorModal
from workbench.ui.screens.rating import VOTE_WORDS
from workbench.ui.widgets.pane_area import PaneArea
from workbench.ui.widgets.session_list import when

if TYPE_CHECKING:
    from workbench.models.config import ModelSpec
    from workbench.ui.app import WorkbenchApp
    from workbench.ui.screens.rating import Rated

#: How often the replay delivers due chunks and the panes redraw (Hz).
FRAME_RATE = 20


def ratings_line(session: Session) -> str:
    """The session's scores and votes in a line, or "" when it has none."""
    parts = []
    for score in session.ratings.get("scores", []):
        tags = f" ({', '.join(score['tags'])})" if score.get("tags") else ""
        parts.append(f"{score.get('model')} {score.get('score')}/5{tags}")
    for vote in session.ratings.get("votes", []):
        words = VOTE_WORDS.get(vote.get("outcome", ""), "{a} vs {b}: ?")
        parts.append(words.format(a=vote.get("a"), b=vote.get("b")))
    return " · ".join(parts)


class SessionView(Rater, PaneHost):
    """A saved session's answers, figures and ratings; read-only but for ratings and delete.

    The rating keys of the panes (scores, votes, tags and note) work here as on the
    compare screen (``Rater``), on this session.
    """

    SCOPE: ClassVar[str] = "session"
    BINDINGS = bindings("session")

    def __init__(self, session: Session, path: Path) -> None:
        super().__init__()
        self.session = session
        self.path = path
        #: The replay speed: the keys set it, for this replay and the next.
        self.speed = 1.0
        self.replay: ReplayClock | None = None
        #: The beats shown by the current replay, in the order they were shown.
        self.replay_log: list[Beat] = []
        self._ghosts: dict[str, ModelRun] = {}
        self._starts: dict[str, float] = {}

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    @property
    def replaying(self) -> bool:
        return self.replay is not None and not self.replay.done

    @property
    def rating_session_id(self) -> str | None:
        return self.session.id

    def on_rated(self, rated: Rated) -> None:
        """Show the new rating with the others (they are read again from the file)."""
        try:
            self.session.ratings = self.wb.store.load(str(self.path)).ratings
        except WorkbenchError as exc:
            self.notify(exc.message, title="Cannot read the ratings", severity="warning")
            return
        self.query_one("#session-info", Static).update(self._info())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return self.replaying  # shown only while there is a replay to pause
        return True

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⚖")
        yield Static(self._info(), id="session-info")
        yield PaneArea(id="panes")
        with VerticalScroll(id="session-prompt") as prompt:
            kind = "chat" if self.session.mode == "chat" else "completion"
            prompt.border_title = f"Prompt · {kind} · turn {self.session.turn}"
            if self.session.system:
                prompt.border_subtitle = "with a system prompt"
            yield Static(Content(self.session.prompt))
        yield Footer()

    def _info(self) -> Content:
        s = self.session
        facts = [when(s.created), s.schedule]
        if s.parent:
            facts.append(f"follows {s.parent}")
        if s.rerun_of:
            facts.append(f"re-run of {s.rerun_of}")
        if s.tags:
            facts.append("tags: " + ", ".join(s.tags))
        rated = ratings_line(s)
        return Content.from_markup(
            "$facts\n[b]ratings[/b] $rated",
            facts=" · ".join(facts),
            rated=rated or "none yet",
        )

    async def on_mount(self) -> None:
        self.sub_title = f"session {self.session.id}"
        await self._show_saved()
        self.set_interval(1 / FRAME_RATE, self._frame)
        if self.current is not None:
            self.current.focus()

    async def _show_saved(self) -> None:
        """Every run as saved: its whole text, its final state and figures."""
        await self.reset_panes([run.model for run in self.session.runs])
        for run in self.session.runs:
            pane = self.panes[run.model]
            await pane.begin_turn(run, None, self.session.schedule)
            pane.apply(Delta(run.model, run.text, 0.0))
            pane.apply(final_event(run))
            if isinstance(run.info.get("check"), dict):
                pane.show_check(run.info["check"])  # a checked answer's verdict (suites)

    async def _frame(self) -> None:
        now = time.monotonic()
        replay = self.replay
        if replay is not None and self._ghosts:
            for index, beat in replay.due(now):
                self._show(index, beat)
            for model, ghost in self._ghosts.items():
                if model in self._starts:  # the live figures count replay time
                    ghost.t_sent = now - (replay.position - self._starts[model])
            if replay.done:
                for model in list(self._ghosts):  # runs without a chunk end last
                    self._finish(model)
                self.refresh_bindings()
            self._status()
        for pane in list(self.panes.values()):
            await pane.tick(now)

    def _show(self, index: int, beat: Beat) -> None:
        assert self.replay is not None
        ghost, pane = self._ghosts.get(beat.model), self.panes.get(beat.model)
        if ghost is None or pane is None:
            return
        saved = self.session.run(beat.model)
        offset = saved.chunks[len(ghost.chunks)][0]
        if beat.model not in self._starts:
            self._starts[beat.model] = beat.offset - offset
            ghost.state, ghost.first_token_s = "streaming", saved.first_token_s or offset
            pane.apply(Started(beat.model))
        ghost.chunks.append((offset, beat.text))
        ghost.text += beat.text
        pane.apply(Delta(beat.model, beat.text, offset))
        self.replay_log.append(beat)
        if index == self.replay.last_beat[beat.model]:
            self._finish(beat.model)

    def _finish(self, model: str) -> None:
        """The replay of ``model`` ended: its pane shows the saved run and its figures."""
        if self._ghosts.pop(model, None) is None:
            return
        saved = self.session.run(model)
        pane = self.panes[model]
        pane.run = saved
        pane.apply(final_event(saved))

    def _status(self) -> None:
        replay = self.replay
        parts = [f"session {self.session.id}"]
        if replay is not None:
            if replay.done:
                parts.append("replayed")
            else:
                state = "paused" if replay.paused else speed_label(replay.speed)
                parts.append(f"replay {state} · {replay.position:.1f}s / {replay.duration:.1f}s")
        self.sub_title = " · ".join(parts)

    # -- actions (keys in workbench.ui.keys, scope "session") ----------------------------

    def action_diff(self) -> None:
        texts = {run.model: run.text for run in self.session.runs}
        open_diff(self.app, texts, self.session.mode, title=f"session {self.session.id}")

    async def action_replay(self) -> None:
        """Replay from the start at the chosen speed (again, if one is going on)."""
        beats = list(timeline(self.session))
        if not beats:
            self.notify("Nothing to replay: this session saved no text.", severity="warning")
            return
        self.replay = None
        self._ghosts = {}
        await self.reset_panes([run.model for run in self.session.runs])
        self._starts, self.replay_log = {}, []
        for run in self.session.runs:
            ghost = ModelRun(model=run.model, identity=run.identity)
            self._ghosts[run.model] = ghost
            await self.panes[run.model].begin_turn(ghost, None, self.session.schedule)
        self.replay = ReplayClock(beats, time.monotonic(), speed=self.speed)
        self.refresh_bindings()
        if self.current is not None:
            self.current.focus()
        self._status()

    def action_pause(self) -> None:
        if not self.replaying:
            self.notify("No replay is going on (r starts one).", timeout=2)
            return
        assert self.replay is not None
        paused = self.replay.toggle_pause(time.monotonic())
        self.notify("Replay paused." if paused else "Replay resumed.", timeout=2)
        self._status()

    def action_speed(self, step: int) -> None:
        """One step faster (1) or slower (-1) along ×1, ×2, ×10, instant."""
        index = SPEEDS.index(self.speed) + step
        if not 0 <= index < len(SPEEDS):
            self.notify(f"The replay speed is {speed_label(self.speed)} already.", timeout=2)
            return
        speed = self.speed = SPEEDS[index]
        if self.replay is not None:
            self.replay.set_speed(speed, time.monotonic())
        self.notify(f"Replay speed {speed_label(speed)}.", timeout=2)
        self._status()

    def action_delete(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.wb.store.delete(str(self.path))
            except (OSError, UsageError) as exc:
                self.notify(f"Could not delete {self.path.name}: {exc}", severity="error")
                return
            self.notify(f"Deleted session {self.session.id}.")
            self.dismiss()

        first = self.session.prompt.strip().splitlines()[0][:60] if self.session.prompt else ""
        message = f"Delete session {self.session.id} ({first!r})? Its file goes for good."
        self.app.push_screen(ConfirmModal("Delete this session?", message), confirmed)

    def action_rerun(self) -> None:
        """Re-run with the same models, or with the ones chosen on the compare screen."""
        same = [run.model for run in self.session.runs]
        compare = self.wb.compare
        if compare is not None and compare.running:
            self.notify("Models are answering on the compare screen; wait for them.")
            return
        chosen = compare.picker.chosen if compare is not None else []
        if not chosen or set(chosen) == set(same):
            self._rerun(same)
            return
        choices = [
            (f"the same models: {', '.join(same)}", same),
            (f"the models chosen now: {', '.join(chosen)}", chosen),
        ]
        modal = ChoiceModal("Re-run with which models?", choices)
        self.app.push_screen(modal, lambda names: self._rerun(names) if names else None)

    def _rerun(self, names: list[str]) -> None:
        from workbench.ui.screens.rerun import RerunScreen

        try:
            specs = self._specs(names)
        except WorkbenchError as exc:
            self.app.push_screen(ErrorModal("Cannot re-run", exc.message))
            return
        self.app.push_screen(RerunScreen(self.session, specs))

    def _specs(self, names: list[str]) -> list[ModelSpec]:
        """The models by name: the picker's (configured and discovered), else resolved."""
        from workbench.models.selection import resolve

        compare = self.wb.compare
        known = compare.picker.specs if compare is not None else {}
        missing = [name for name in names if name not in known]
        found = dict(zip(missing, resolve(self.wb.config, missing), strict=True)) if missing else {}
        return [known[name] if name in known else found[name] for name in names]

    def action_close(self) -> None:
        self.dismiss()
