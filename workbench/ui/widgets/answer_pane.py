"""One model's answers: its state, a live figures line, and the Markdown of each turn.

The runner's events only change this pane's attributes (``apply``); the screen
calls ``tick`` about 20 times a second, which appends the text gathered since
the last tick to the turn's ``AnswerView`` (a line-based view: the new text is
rendered, not the answer) and redraws the figures. So four models streaming
cost a few widget updates per frame, never one per token.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from workbench.core.events import (
    Cancelled,
    Delta,
    Event,
    Failed,
    Finished,
    Loading,
    Queued,
    Started,
    Thinking,
    ThreadsChanged,
)
from workbench.core.record import FINAL_STATES, ModelRun
from workbench.store.diff import CodeBlock, extract_code_blocks
from workbench.ui import figures
from workbench.ui.checks import check_line
from workbench.ui.keys import bindings, key_label
from workbench.ui.widgets.answer_view import AnswerView, KeepRowsWhenGrowing
from workbench.ui.widgets.thinking_fold import ThinkingFold

if TYPE_CHECKING:
    from workbench.ui.blind_view import Disguise


PANE_STATES = ("queued", "loading", "streaming", "done", "failed", "cancelled")


class AnswerPane(KeepRowsWhenGrowing, VerticalScroll, can_focus=True):
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

    class DetailsRequested(Requested):
        """The user asked for this pane's full figures (a narrow pane shows one line)."""

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
        self._view: AnswerView | None = None
        self._error: Static | None = None
        self._check: Static | None = None
        self._finalized = True
        self._dirty = True
        #: A reasoning model's thinking of this turn, folded (made when it first comes).
        self._thinking: ThinkingFold | None = None
        self._thinking_dirty = False
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
        if self._view is not None and self._pending:
            self._view.append("".join(self._pending))
        if self._view is not None:
            self._view.finish()
        self.run, self.schedule, self.state = run, schedule, run.state
        self.error, self.progress, self.threads, self.block_index = None, None, [], None
        self._pending.clear()
        self._finalized, self._dirty = False, True
        self._thinking, self._thinking_dirty = None, False
        _quiet_gc.streaming(self)  # from now: old garbage waits until the answers end
        self._view = AnswerView(classes="answer")
        self._error = Static("", classes="error")
        self._check = Static("", classes="check")
        # A turn's widgets go straight into the pane: a container per turn would grow
        # (and be drawn again) at every tick too.
        widgets = [self._view, self._error, self._check]
        if user_text:
            widgets.insert(0, Static(Content(user_text), classes="user"))
        await self.mount_all(widgets)
        self.anchor(False)
        self._render_status(time.monotonic())

    def apply(self, event: Event) -> None:
        """Take one runner event into this pane's state (drawn at the next tick)."""
        if isinstance(event, Delta):
            self._pending.append(event.text)
            return
        if isinstance(event, Thinking):
            self._thinking_dirty = True
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
        """Write the text gathered since the last tick and refresh the figures.

        The view renders the new text at once (no await in the middle). With text
        to write, the pane first lets the event loop run what is waiting (a key
        press, a frame): the screen ticks its panes one after another, and four
        panes' work in one stretch would hold a key press that long.
        """
        view = self._view
        if self._thinking_dirty and view is not None:
            await self._show_thinking(view)
        if self._pending and view is not None:
            await asyncio.sleep(0)
        if self._pending and view is not None:
            text = "".join(self._pending)
            self._pending.clear()
            view.append(text)
            _quiet_gc.streaming(self)
        final = self.state in FINAL_STATES and not self._finalized
        if final and view is not None:
            view.finish()  # the last line and block, rendered for good
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
            _quiet_gc.done(self)

    async def _show_thinking(self, view: AnswerView) -> None:
        """The thinking so far, in its fold above the answer (mounted the first time)."""
        self._thinking_dirty = False
        if self.run is None or not self.run.thinking:
            return
        if self._thinking is None:
            keys = getattr(self.app, "keys", {})
            self._thinking = ThinkingFold(key_label(keys.get("thinking", "h")))
            await self.mount(self._thinking, before=view)
        self._thinking.show(self.run.thinking)

    def action_toggle_thinking(self) -> None:
        """Open or fold the thinking of a reasoning model's latest answer."""
        if self._thinking is None:
            self.notify(f"{self.shown_name}'s answer has no thinking.", severity="warning")
            return
        self._thinking.toggle()

    def on_unmount(self) -> None:
        _quiet_gc.done(self)

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
        title = self.model if self.disguise is None else self.disguise.title(self)
        # Setting a border title repaints the whole pane, even to the same text.
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != label:
            self.border_subtitle = label
        self._set_state_class()
        if self.run is None:
            return
        line = self.query_one(".figures", Static)
        # A narrow pane gets one line (TTFT · tok/s · tokens · state); ``i`` shows them all.
        width = self._figures_width(line)
        text = figures.fitted(
            self.run,
            self.state,
            self.schedule,
            now,
            width,
            threads=self.threads,
            mask=self.mask,
        )
        if self.disguise is not None:
            text = self.disguise.figures(self, text)
        line.update(Content(text))

    def _figures_width(self, line: Static) -> int:
        """Cells for the figures line, beside the scrollbar whether it shows or not: panes
        of one width fit one kind of line, and it keeps its form when the scrollbar comes."""
        if not self.is_attached or self.region.width <= 0:
            return 0
        gutter = self.styles.gutter.width + self.styles.scrollbar_size_vertical
        return max(self.region.width - gutter - line.styles.padding.width, 1)

    def full_figures(self) -> str:
        """Every figure of the latest turn, whatever the width (the details key)."""
        if self.run is None:
            return "No answer yet."
        now = time.monotonic()
        text = figures.fitted(
            self.run, self.state, self.schedule, now, 0, threads=self.threads, mask=self.mask
        )
        return text if self.disguise is None else self.disguise.figures(self, text)

    def on_resize(self) -> None:
        # The figures line is fitted to the width: full or compact.
        if self.run is not None:
            self._render_status(time.monotonic())

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

    def action_details(self) -> None:
        self.post_message(self.DetailsRequested(self))

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
        view = self._view
        if view is not None:
            view.select(self.block_index)
            region = view.code_block_region(self.block_index)
            if region is not None:
                self._scroll_to_view_region(view, region)
        self.notify(f"Code block {self._block_label()} of {self.shown_name} selected.", timeout=2)

    def _scroll_to_view_region(self, view: AnswerView, region) -> None:
        """Scroll so that ``region`` of ``view`` (its own coordinates) shows."""
        node = view
        while node is not self and node.parent is not None:
            region = region.translate(node.virtual_region.offset)
            node = node.parent
        self.release_anchor()
        self.scroll_to_region(region, animate=False, top=True, force=True)

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

    async def show_samples(self, summary: Content) -> None:
        """Show the summary of a samples run (passes, pass@k, distinct answers) below
        its samples; it stays above the turns that follow."""
        line = Static(summary, classes="samples")
        line.styles.height = "auto"
        line.styles.padding = (0, 1)
        line.styles.margin = (1, 0, 0, 0)
        await self.mount(line)
        line.scroll_visible(animate=False)


class _QuietGC:
    """Keeps the garbage collector's full passes short while answers stream.

    A streaming answer keeps thousands of drawn rows alive, and Python's full
    collection walks every live object: at 2,000 tokens/s in four panes those
    passes grew to 100-250 ms, frozen frames in the middle of the stream. While
    a pane streams, what has lived for a tick is moved out of the collector's
    sight (``gc.freeze``, cheap); the young generations are collected as usual.
    When the last pane stops, everything is handed back (``gc.unfreeze``) and is
    collected as usual again. Textual does the like around smooth scrolling.
    """

    def __init__(self) -> None:
        self.panes: set[int] = set()

    def streaming(self, pane: AnswerPane) -> None:
        self.panes.add(id(pane))
        gc.freeze()

    def done(self, pane: AnswerPane) -> None:
        if id(pane) in self.panes:
            self.panes.discard(id(pane))
            if not self.panes:
                gc.unfreeze()


_quiet_gc = _QuietGC()


def _error_content(error: dict[str, str]) -> Content:
    return Content.from_markup(
        "[b]$title[/b]\n$message",
        title=error.get("title", "Error"),
        message=error.get("message", ""),
    )
