"""One model's answers: its state, a live figures line, and the Markdown of each turn.

The runner's events only change this pane's attributes (``apply``); the screen
calls ``tick`` about 20 times a second, which writes the text gathered since
the last tick into the Markdown stream and redraws the figures. So four models
streaming cost a few widget updates per frame, never one per token.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownFence, MarkdownStream

from workbench.diff import CodeBlock, extract_code_blocks
from workbench.events import (
    FINAL_STATES,
    Cancelled,
    Delta,
    Event,
    Failed,
    Finished,
    Loading,
    ModelRun,
    Queued,
    Started,
    ThreadsChanged,
)
from workbench.ui import figures
from workbench.ui.checks import check_line
from workbench.ui.keys import bindings

if TYPE_CHECKING:
    from workbench.ui.blind_view import Disguise


PANE_STATES = ("queued", "loading", "streaming", "done", "failed", "cancelled")


class AnswerPane(VerticalScroll, can_focus=True):
    """The answers of one model, turn after turn, scrolled to the newest text."""

    ALLOW_MAXIMIZE = False
    BINDINGS = bindings("pane")

    class Requested(Message):
        """Base of the requests a pane sends up to its screen."""

        def __init__(self, pane: AnswerPane) -> None:
            super().__init__()
            self.pane = pane

    class CancelRequested(Requested):
        """The user asked to cancel this pane's run."""

    class ZoomRequested(Requested):
        """The user asked to zoom this pane (or to leave the zoom)."""

    class MoveRequested(Message):
        """The user asked to go to the pane ``step`` places away."""

        def __init__(self, pane: AnswerPane, step: int) -> None:
            super().__init__()
            self.pane = pane
            self.step = step

    class SaveRequested(Message):
        """The user asked to save ``block`` of this pane's answer to a file."""

        def __init__(self, pane: AnswerPane, block: CodeBlock) -> None:
            super().__init__()
            self.pane = pane
            self.block = block

    def __init__(self, model: str, *, mask: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.mask = mask
        self.run: ModelRun | None = None
        self.state = "queued"
        self.progress: float | None = None
        self.schedule = "parallel"
        #: The CPU threads the model had during this turn, in order (local models).
        self.threads: list[int] = []
        self.error: dict[str, str] | None = None
        self.block_index: int | None = None
        self._pending: list[str] = []
        self._stream: MarkdownStream | None = None
        self._markdown: Markdown | None = None
        self._error: Static | None = None
        self._check: Static | None = None
        self._finalized = True
        self._dirty = True
        #: Blind mode's mask (workbench.ui.blind_view): what the title and figures may show.
        self.disguise: Disguise | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="figures")

    @property
    def active(self) -> bool:
        return not self._finalized

    @property
    def answer(self) -> str:
        """The latest turn's answer as far as it got."""
        return self.run.text if self.run is not None else ""

    async def begin_turn(self, run: ModelRun, user_text: str | None, schedule: str) -> None:
        """Add a turn for ``run`` (showing ``user_text`` above it on follow-ups)."""
        if self._stream is not None:
            await self._stream.stop()
        self.run, self.schedule, self.state = run, schedule, run.state
        self.error, self.progress, self.threads, self.block_index = None, None, [], None
        self._pending.clear()
        self._finalized, self._dirty = False, True
        self._markdown = Markdown(classes="answer")
        self._error = Static("", classes="error")
        self._check = Static("", classes="check")
        turn = Vertical(classes="turn")
        await self.mount(turn)
        if user_text:
            await turn.mount(Static(Content(user_text), classes="user"))
        await turn.mount_all([self._markdown, self._error, self._check])
        self._stream = Markdown.get_stream(self._markdown)
        self.anchor(False)
        self._render_status(time.monotonic())

    def apply(self, event: Event) -> None:
        """Take one runner event into this pane's state (drawn at the next tick)."""
        if isinstance(event, Delta):
            self._pending.append(event.text)
            return
        if isinstance(event, Queued):
            self.state = "queued"
        elif isinstance(event, Loading):
            self.state, self.progress = "loading", event.progress
        elif isinstance(event, Started):
            self.state = "streaming"
            self._note_threads(event.threads)
        elif isinstance(event, ThreadsChanged):
            self._note_threads(event.threads)
        elif isinstance(event, Failed):
            self.state, self.error = "failed", event.error
        elif isinstance(event, Finished | Cancelled):
            self.state = event.run.state
        self._dirty = True

    def _note_threads(self, threads: int | None) -> None:
        if threads is not None and (not self.threads or self.threads[-1] != threads):
            self.threads.append(threads)

    async def tick(self, now: float) -> None:
        """Write the text gathered since the last tick and refresh the figures."""
        if self._pending and self._stream is not None:
            text = "".join(self._pending)
            self._pending.clear()
            await self._stream.write(text)
        final = self.state in FINAL_STATES and not self._finalized
        if final and self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        if final and self.error and self._error is not None:
            self._error.update(_error_content(self.error))
            self._error.add_class("-shown")
        if not self.is_anchored and self.max_scroll_y > 0:
            # Follow the newest text once it overflows (anchoring earlier would
            # align a short answer to the bottom); scrolling up releases it.
            self.anchor()
        if final or self._dirty or self.state in ("loading", "streaming"):
            self._dirty = False
            self._render_status(now)
        if final:
            # Last, so that "not active" means the final figures are on screen.
            self._finalized = True

    def _set_state_class(self) -> None:
        """Mark the pane with its state; restyle the pane alone.

        The state classes style the pane's own border (compare.tcss), so there is
        no need for ``set_class``'s restyle of every descendant, which makes each
        code block re-highlight its code: seconds at the end of a long answer.
        """
        wanted = f"-{self.state}"
        states = [f"-{name}" for name in PANE_STATES]
        if self.has_class(wanted) and not any(self.has_class(c) for c in states if c != wanted):
            return
        for name in states:
            self.set_class(name == wanted, name, update=False)
        if self.is_attached:
            self.app.stylesheet.update_nodes([self], animate=True)
            self.refresh()

    def _render_status(self, now: float) -> None:
        label = self.state
        if self.state == "loading" and self.progress is not None:
            label = f"loading {round(self.progress * 100)}%"
        self.border_title = self.model if self.disguise is None else self.disguise.title(self)
        self.border_subtitle = label
        self._set_state_class()
        if self.run is None:
            return
        if self.state in FINAL_STATES:
            lines = figures.final(self.run, self.schedule, threads=self.threads, mask=self.mask)
            text = "\n".join(lines)
        else:
            text = figures.live(self.run, now, mask=self.mask)
        if self.disguise is not None:
            text = self.disguise.figures(self, text)
        self.query_one(".figures", Static).update(Content(text))

    def show_check(self, check: dict[str, Any] | None) -> None:
        """Show the latest turn's test result (``None``: the tests are running)."""
        if self._check is not None:
            self._check.update(check_line(check))
            self._check.add_class("-shown")

    @property
    def shown_name(self) -> str:
        """What messages call this pane: its model, or its blind label (``Model A``)."""
        return self.model if self.disguise is None else self.disguise.deal.title(self.model)

    def redraw_status(self) -> None:
        """Draw the title and figures again (blind mode's mask changed)."""
        self._render_status(time.monotonic())

    # -- actions (keys in workbench.ui.keys, scope "pane") -----------------------------------

    def action_cancel(self) -> None:
        self.post_message(self.CancelRequested(self))

    def action_zoom(self) -> None:
        self.post_message(self.ZoomRequested(self))

    def action_move(self, step: int) -> None:
        self.post_message(self.MoveRequested(self, step))

    def action_copy_answer(self) -> None:
        if not self.answer:
            self.notify(f"{self.shown_name} has no answer to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(self.answer)
        self.notify(f"Copied {self.shown_name}'s answer ({len(self.answer)} characters).")

    def action_copy_code(self) -> None:
        block = self.selected_block()
        if block is not None:
            self.app.copy_to_clipboard(block.code)
            self.notify(f"Copied code block {self._block_label()} of {self.shown_name}.")

    def action_save_code(self) -> None:
        block = self.selected_block()
        if block is not None:
            self.post_message(self.SaveRequested(self, block))

    def action_select_block(self, step: int) -> None:
        blocks = extract_code_blocks(self.answer)
        if not blocks:
            self.notify(f"{self.shown_name}'s answer has no code block.", severity="warning")
            return
        current = -1 if self.block_index is None and step > 0 else (self.block_index or 0)
        self.block_index = (current + step) % len(blocks)
        fences = list(self._markdown.query(MarkdownFence)) if self._markdown else []
        for index, fence in enumerate(fences):
            fence.set_class(index == self.block_index, "-selected")
        if self.block_index < len(fences):
            self.scroll_to_widget(fences[self.block_index], animate=False)
        self.notify(f"Code block {self._block_label()} of {self.shown_name} selected.", timeout=2)

    def selected_block(self) -> CodeBlock | None:
        """The selected code block of the latest answer, else its first one."""
        blocks = extract_code_blocks(self.answer)
        if not blocks:
            self.notify(f"{self.shown_name}'s answer has no code block.", severity="warning")
            return None
        index = self.block_index if self.block_index is not None else 0
        return blocks[min(index, len(blocks) - 1)]

    def _block_label(self) -> str:
        count = len(extract_code_blocks(self.answer))
        return f"{(self.block_index or 0) + 1}/{count}"


def _error_content(error: dict[str, str]) -> Content:
    return Content.from_markup(
        "[b]$title[/b]\n$message",
        title=error.get("title", "Error"),
        message=error.get("message", ""),
    )
