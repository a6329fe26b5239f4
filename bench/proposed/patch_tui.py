"""Proposed fixes for the TUI absorb benchmark, applied as patches at run time.

Evidence for the benchmark report, not part of workbench: each patch is the
change proposed for ``workbench/ui`` or ``workbench/sessions.py``, written so
that ``bench/proposed/try.py`` can measure it against the same benchmark. Delete
a patch once its fix has landed.

- ``pane-classes``: a pane's state classes (``-streaming``, ``-done`` …) style
  its own border only, so restyle the pane alone. Today ``set_class`` restyles
  every descendant, and every code block (``MarkdownFence``) re-highlights its
  code on a restyle: seconds at the end of a long answer.
- ``serial-append``: the tick awaits each pane's ``Markdown.append`` in turn.
  Through ``MarkdownStream`` the four panes append from tasks of their own;
  ``Markdown.append`` holds ``App.batch_update()`` (no repaint at all) while it
  mounts blocks, and four such batches chain back to back.
- ``session-save``: periodic saves while streaming use the C JSON encoder
  (``indent`` forces the pure-Python one) and skip reloading the file to merge
  ratings when it is still the file this recorder wrote; the final save stays
  indented.
- ``streamed-view``: one line-based widget per answer instead of Textual's
  Markdown (a widget per block, and every layout pass walks them all): finished
  blocks are rendered to lines once, the open block shows as plain text until it
  ends, ``render_line`` serves the lines.
"""

from __future__ import annotations

import json
import time
from typing import Any

from markdown_it import MarkdownIt
from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.dom import DOMNode
from textual.strip import Strip
from textual.widget import Widget

from workbench.events import FINAL_STATES
from workbench.sessions import SessionRecorder, atomic_write
from workbench.ui.widgets.answer_pane import AnswerPane

STATES = frozenset({"queued", "loading", "streaming", "done", "failed", "cancelled"})
NAMES = ("pane-classes", "serial-append", "session-save", "streamed-view")


# --- pane-classes ----------------------------------------------------------------------


def pane_set_class(self: AnswerPane, add: bool, *class_names: str, update: bool = True):
    """The proposed AnswerPane.set_class: state classes restyle the pane alone."""
    if not all(name.startswith("-") and name[1:] in STATES for name in class_names):
        return DOMNode.set_class(self, add, *class_names, update=update)
    changed = not self.has_class(*class_names) if add else any(map(self.has_class, class_names))
    DOMNode.set_class(self, add, *class_names, update=False)
    if changed and update:
        # compare.tcss styles AnswerPane.-<state> itself only; its descendants
        # (the Markdown of every turn) keep their styles.
        self.app.stylesheet.update_nodes([self], animate=True)
        self.refresh()
    return self


# --- serial-append ---------------------------------------------------------------------

_original_tick = AnswerPane.tick


async def serial_tick(self: AnswerPane, now: float) -> None:
    """The proposed AnswerPane.tick: append this pane's text now, awaited, then the rest."""
    markdown = self._markdown
    if self._pending and self._stream is not None and markdown is not None:
        text = "".join(self._pending)
        self._pending.clear()
        await markdown.append(text)
    await _original_tick(self, now)


# --- session-save ----------------------------------------------------------------------


def recorder_save(self: SessionRecorder, *, complete: bool | None = None) -> None:
    """The proposed SessionRecorder.save."""
    if complete is not None:
        self.session.complete = complete
    path = self.store.path_for(self.session.id)
    try:
        with self.store.locked(self.session.id):
            # Another window may have added ratings, but only if the file changed
            # since this recorder wrote it.
            if _mark(path) != getattr(self, "_written", None):
                self._merge_ratings_from_disk()
            data = self.session.to_dict()
            if complete is not None:  # the file people read and diff
                payload = json.dumps(data, ensure_ascii=False, indent=1)
            else:  # while streaming: the C encoder, several times faster
                payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            atomic_write(path, payload.encode("utf-8"))
            self._written = _mark(path)
            self.path = path
        self.save_error = None
    except OSError as exc:
        self.save_error = f"Could not save session {self.session.id}: {exc}"
    self._last_save = time.monotonic()


def _mark(path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


# --- streamed-view ---------------------------------------------------------------------


class StreamedMarkdown(Widget):
    """An answer's Markdown as one widget of pre-rendered lines.

    Finished top-level blocks are rendered (Rich Markdown) once; the open block
    is shown as plain wrapped text until the next block starts or ``finish()``.
    Layout asks for a height, repaint asks ``render_line`` for what is on screen.
    """

    DEFAULT_CSS = "StreamedMarkdown { height: auto; padding: 0 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = ""
        self._pieces: list[str] = []
        self._lines: list[Strip] = []
        self._tail = ""
        self._tail_lines: list[Strip] = []
        self._width = 0
        self._parser = MarkdownIt("gfm-like")

    def append(self, text: str) -> None:
        self.source += text
        self._tail += text
        starts = [
            token.map[0]
            for token in self._parser.parse(self._tail)
            if token.map is not None and token.level == 0
        ]
        if len(starts) > 1:  # every block but the last one is finished
            done = "".join(self._tail.splitlines(keepends=True)[: starts[-1]])
            self._add_piece(done)
            self._tail = self._tail[len(done) :]
        if self._width:
            self._tail_lines = self._render(Text(self._tail.rstrip("\n")), blank=False)
        self.refresh(layout=True)

    def finish(self) -> None:
        if self._tail:
            self._add_piece(self._tail)
            self._tail, self._tail_lines = "", []
            self.refresh(layout=True)

    def _add_piece(self, source: str) -> None:
        self._pieces.append(source)
        if self._width:
            self._lines += self._render(RichMarkdown(source))

    def _render(self, renderable, blank: bool = True) -> list[Strip]:
        if not self._width or not str(getattr(renderable, "markup", renderable)).strip():
            return []
        console = self.app.console
        options = console.options.update_width(self._width)
        lines = console.render_lines(renderable, options, pad=True)
        strips = [Strip(line, self._width) for line in lines]
        return [*strips, Strip.blank(self._width)] if blank else strips

    def get_content_height(self, container, viewport, width: int) -> int:
        if width != self._width:
            self._width = width
            self._lines = [s for piece in self._pieces for s in self._render(RichMarkdown(piece))]
            self._tail_lines = self._render(Text(self._tail.rstrip("\n")), blank=False)
        return len(self._lines) + len(self._tail_lines)

    def render_line(self, y: int) -> Strip:
        if y < len(self._lines):
            return self._lines[y]
        y -= len(self._lines)
        if y < len(self._tail_lines):
            return self._tail_lines[y]
        return Strip.blank(self.size.width)


_original_begin_turn = AnswerPane.begin_turn


async def streamed_begin_turn(self: AnswerPane, run, user_text, schedule) -> None:
    """begin_turn, with the turn's Markdown swapped for a StreamedMarkdown."""
    await _original_begin_turn(self, run, user_text, schedule)
    markdown, stream = self._markdown, self._stream
    view = StreamedMarkdown(classes="answer")
    await markdown.parent.mount(view, before=markdown)
    await markdown.remove()
    if stream is not None:
        await stream.stop()
    self._markdown, self._stream = view, None


async def streamed_tick(self: AnswerPane, now: float) -> None:
    view = self._markdown
    if isinstance(view, StreamedMarkdown):
        if self._pending:
            view.append("".join(self._pending))
            self._pending.clear()
        if self.state in FINAL_STATES and not self._finalized:
            view.finish()
    await _original_tick(self, now)


def apply(names: list[str]) -> None:
    unknown = set(names) - set(NAMES)
    if unknown:
        raise SystemExit(f"unknown TUI patch(es) {sorted(unknown)}; known: {', '.join(NAMES)}")
    if "pane-classes" in names:
        AnswerPane.set_class = pane_set_class
    if "serial-append" in names:
        AnswerPane.tick = serial_tick
    if "session-save" in names:
        SessionRecorder.save = recorder_save
    if "streamed-view" in names:
        AnswerPane.begin_turn = streamed_begin_turn
        AnswerPane.tick = streamed_tick
