"""One answer turn as lines: Markdown streamed in, rendered once per finished block.

Textual's ``Markdown`` widget mounts a widget per block, and every layout pass
walks them all; four panes streaming a long answer spend their time there. This
widget is one line-based view (like Textual's ``Log``): text is cut into
top-level blocks as it arrives, a finished block is rendered to ``Strip`` s once,
and ``render_line`` serves whatever is on screen.

Every append costs the new text, never the whole answer:

- ``workbench.ui.markdown_blocks.BlockSplitter`` looks at complete lines only, once
  each, and keeps the fence state line by line (block ``i`` of kind "code" is
  ``workbench.store.diff.extract_code_blocks(text)[i]``);
- an open code block gains one plain row per new line (highlighted once, when
  its fence closes, with as many rows); an open text block is rendered again
  (``workbench.ui.markdown_lines``) only when it gains a complete line, and is
  split when it grows long;
- the last, partial line is the only thing rendered on every append.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.content import Content
from textual.geometry import Region
from textual.highlight import HighlightTheme
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget

from workbench.ui.markdown_blocks import Block, BlockSplitter
from workbench.ui.markdown_lines import (
    Look,
    known_language,
    lexer,
    render_markdown,
)


def _ignore(*args: object) -> None:
    return None


class KeepRowsWhenGrowing:
    """Keep the rows a widget has drawn when it only grows taller (or scrolls further).

    Textual draws a widget whose size changed again from scratch: it drops the
    widget's cache of drawn rows. A pane streaming text grows at every tick: the
    answer, its turn and the pane's scroll extent, so four panes would redraw every
    row on screen at every frame. Rows do not move when a widget grows at the
    bottom (no bottom padding or border), and a scroll container's own rows do not
    depend on how far it scrolls, so they stay valid; the rows whose content
    changed are refreshed by whoever changed them (``AnswerView._changed``).

    A mixin, before the widget class in the bases (``class Pane(KeepRowsWhenGrowing,
    VerticalScroll)``): not a Widget itself, so the widget's CSS type chain (which
    follows the first Widget base) is unchanged. It overrides a private Textual
    hook: if Textual renames it, the override is simply never called and the widget
    is only slower (a test checks that it is called).
    """

    def _size_updated(self, size, *args, **kwargs) -> bool:
        old = self.outer_size
        cache = getattr(self, "_styles_cache", None)
        keep = cache is not None and self.is_attached and size.width == old.width
        if keep and size.height != old.height:
            styles = self.styles
            keep = (
                size.height > old.height
                and not styles.padding.bottom
                and not styles.border_bottom[0]
                and not styles.outline_bottom[0]
            )
        if not keep:
            return super()._size_updated(size, *args, **kwargs)
        self._kept_rows = getattr(self, "_kept_rows", 0) + 1
        cache.clear = cache.set_dirty = _ignore
        try:
            return super()._size_updated(size, *args, **kwargs)
        finally:
            del cache.clear, cache.set_dirty


_COMPONENTS = (
    *(f"answer-view--h{level}" for level in range(1, 7)),
    "answer-view--code-inline",
    "answer-view--code-block",
    "answer-view--bullet",
    "answer-view--quote",
    "answer-view--link",
    "answer-view--rule",
    "answer-view--table-header",
    "answer-view--selected",
)


class AnswerView(KeepRowsWhenGrowing, Widget):
    """One answer's Markdown, appended to as it streams, drawn line by line.

    ``append`` takes text, ``finish`` ends it (the last line and block are
    rendered for good). ``selected`` is the code block drawn with a mark.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = set(_COMPONENTS)

    DEFAULT_CSS = (
        """
    AnswerView {
        height: auto;
        & > .answer-view--code-inline { background: $warning 10%; color: $text-warning 95%; }
        &:light > .answer-view--code-inline { background: $error 5%; color: $text-error 95%; }
        & > .answer-view--code-block { background: black 10%; }
        &:light > .answer-view--code-block { background: black 5%; }
        & > .answer-view--bullet { color: $text-primary; }
        &:light > .answer-view--bullet { color: $text-secondary; }
        & > .answer-view--quote { color: $text-primary 50%; }
        & > .answer-view--link { color: $text-accent; text-style: underline; }
        & > .answer-view--rule { color: $secondary; }
        & > .answer-view--table-header { color: $primary; text-style: bold; }
        & > .answer-view--selected { color: $accent; text-style: bold; }
    }
    """
        # Headings as Textual's Markdown draws them (the theme's markdown-h* variables).
        + "".join(
            f"AnswerView > .answer-view--h{n} {{ color: $markdown-h{n}-color; "
            f"background: $markdown-h{n}-background; text-style: $markdown-h{n}-text-style; }}\n"
            for n in range(1, 7)
        )
    )

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        #: Everything appended so far.
        self.source = ""
        #: The code block (index among this answer's code blocks) marked as selected.
        self.selected: int | None = None
        self.finished = False
        self._splitter = BlockSplitter()
        self._width = 0
        self._look: Look | None = None
        self._base = Style()
        self._blank = Strip.blank(0)
        self._code_style = self._base.rich_style
        self._code_pad = self._blank
        self._reset_rows()
        if text:
            self.append(text)

    def _reset_rows(self) -> None:
        self._done: list[Strip] = []  # the rows of the closed blocks
        self._rendered = 0  # how many closed blocks _done holds
        self._code_rows: list[tuple[int, int]] = []  # rows of each closed code block
        self._open: list[Strip] = []  # the open block's complete lines (and its gap row)
        self._open_block: Block | None = None
        self._open_version = -1
        self._open_code = 0  # lines of the open code block in _open
        self._tail: list[Strip] = []  # the partial last line
        self._tail_key: tuple | None = None  # what _tail shows

    # -- text in ---------------------------------------------------------------------------

    def append(self, text: str) -> None:
        """Add streamed text; only the new text and the last line are rendered."""
        if text:
            self.source += text
            self._splitter.feed(text)
            self._changed()

    def finish(self) -> None:
        """The answer is complete: render its last line and block for good."""
        if not self.finished:
            self.finished = True
            self._splitter.finish()
            self._changed()

    def select(self, index: int | None) -> None:
        """Mark code block ``index`` (``None``: none)."""
        self.selected = index
        self.refresh()

    def code_block_region(self, index: int) -> Region | None:
        """Where code block ``index`` is drawn, in this widget's coordinates."""
        self._ensure()
        rows = self._block_rows(index)
        if rows is None:
            return None
        top = self.styles.padding.top
        return Region(0, top + rows[0], self.outer_size.width, rows[1] - rows[0])

    # -- Textual's side ----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look = None  # a theme change? compare the styles at the next layout
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        self._ensure(width)
        return self._height()

    def render_line(self, y: int) -> Strip:
        # Layout (get_content_height) has brought the rows up to date: only look them up.
        strip = self._row(y)
        if self.selected is not None and self._look is not None:
            rows = self._block_rows(self.selected)
            if rows is not None and rows[0] <= y < rows[1]:
                mark = self._base + self._look.code_block + self._look.selected
                strip = Strip.join([Strip([Segment("▌", mark.rich_style)], 1), strip.crop(1)])
        return strip

    # -- rows -----------------------------------------------------------------------------------

    def _height(self) -> int:
        return len(self._done) + len(self._open) + len(self._tail)

    def _row(self, y: int) -> Strip:
        for rows in (self._done, self._open, self._tail):
            if y < len(rows):
                return rows[y]
            y -= len(rows)
        return self._blank

    def _block_rows(self, index: int) -> tuple[int, int] | None:
        if index < len(self._code_rows):
            return self._code_rows[index]
        block = self._splitter.open
        if index == len(self._code_rows) and block is not None and block.kind == "code":
            start = len(self._done) + (1 if self._open and block.gap and self._done else 0)
            return start, len(self._done) + len(self._open)
        return None

    def _changed(self) -> None:
        if not self._width or not self.is_attached:
            self.refresh(layout=True)
            return
        first, before = len(self._done), self._height()
        old = self._open + self._tail
        self._sync()
        after = self._height()
        # Repaint from the first row that changed (rows above it are drawn already).
        new = self._done[first:] + self._open + self._tail
        same = 0
        for a, b in zip(old, new, strict=False):
            if a is not b and list(a) != list(b):
                break
            same += 1
        top = first + same
        if after > top or before > top:
            region = Region(0, top, self._width, max(before, after) - top)
            self.refresh(region, layout=after != before)

    def _ensure(self, width: int | None = None) -> None:
        """Render again from scratch when the width or the theme changed, else catch up."""
        width = self.size.width if width is None else width
        if not width:
            return
        look = self._look
        if look is None:
            look = self._make_look()
        if width != self._width or look != self._look:
            self._width, self._look = width, look
            self._base = self.get_visual_style()
            self._blank = Strip.blank(width, self._base.rich_style)
            self._code_style = (self._base + look.code_block).rich_style
            self._token_styles: dict = {}
            self._code_pad = Strip.blank(width, self._code_style)
            self._reset_rows()
        self._sync()

    def _make_look(self) -> Look:
        get = self.get_visual_style
        return Look(
            headings=tuple(get(f"answer-view--h{level}", partial=True) for level in range(1, 7)),
            code_inline=get("answer-view--code-inline", partial=True),
            code_block=get("answer-view--code-block", partial=True),
            bullet=get("answer-view--bullet", partial=True),
            quote=get("answer-view--quote", partial=True),
            link=get("answer-view--link", partial=True),
            rule=get("answer-view--rule", partial=True),
            table_header=get("answer-view--table-header", partial=True),
            selected=get("answer-view--selected", partial=True),
        )

    def _sync(self) -> None:
        """Render what the splitter closed or added since the last time."""
        splitter, look, width = self._splitter, self._look, self._width
        if look is None or not width:
            return
        closed = splitter.closed
        while self._rendered < len(closed):
            block = closed[self._rendered]
            self._rendered += 1
            if block.gap and self._done:
                self._done.append(self._blank)
            start = len(self._done)
            if block.kind == "code":
                pad = self._code_pad
                self._done += [pad, *self._code_strips(block.lines, block.language), pad]
                self._code_rows.append((start, len(self._done)))
            else:
                self._done += self._strips(render_markdown("\n".join(block.lines), width, look))
        block = splitter.open
        if block is None:
            self._open, self._open_block = [], None
        elif block is not self._open_block or (
            block.kind == "text" and splitter.version != self._open_version
        ):
            self._open_block, self._open_version, self._open_code = block, splitter.version, 0
            self._open = [self._blank] if block.gap and self._done else []
            if block.kind == "code":
                self._open.append(self._code_pad)
            else:
                self._open += self._strips(render_markdown("\n".join(block.lines), width, look))
        if block is not None and block.kind == "code" and self._open_code < len(block.lines):
            new = block.lines[self._open_code :]
            self._open += self._code_strips(new, None)
            self._open_code = len(block.lines)
        partial = splitter.partial.replace("\r", "")
        code = block is not None and block.kind == "code"
        key = (partial, code, splitter.gap_before_partial)
        if key == self._tail_key:
            return
        self._tail_key, self._tail = key, []
        if partial.strip():
            gap = [self._blank] if splitter.gap_before_partial else []
            if code:
                self._tail = gap + self._code_strips([partial], None)
            else:
                self._tail = gap + self._strips(render_markdown(partial, width, look))

    def _code_strips(self, lines: list[str], language: str | None) -> list[Strip]:
        """Rows of code on the code background, highlighted when Pygments knows
        ``language`` (else plain). Long lines fold at the width, so a block has as
        many rows plain (while it streams) as highlighted (once it is closed)."""
        code = self._code_style
        if not (language and known_language(language)):
            texts = [line.expandtabs(4) for line in lines]
            return [
                row for text in texts for row in self._code_rows_of([Segment(text, code)], text)
            ]
        # Pygments' tokens straight to segments: Content's spans cost more than the lexing.
        source = "\n".join(line.expandtabs(4) for line in lines)
        rows: list[Strip] = []
        segments: list[Segment] = []
        text: list[str] = []
        style_of = self._token_style
        for token_type, value in lexer(language).get_tokens(source):
            style = style_of(token_type)
            parts = value.split("\n")
            for index, part in enumerate(parts):
                if index:
                    rows += self._code_rows_of(segments, "".join(text))
                    segments, text = [], []
                if part:
                    segments.append(Segment(part, style))
                    text.append(part)
        if segments:
            rows += self._code_rows_of(segments, "".join(text))
        while len(rows) < len(lines):  # blank last lines the lexer dropped
            rows.append(self._code_rows_of([], "")[0])
        return rows

    def _code_rows_of(self, segments: list[Segment], text: str) -> list[Strip]:
        width, code = self._width, self._code_style
        inner = max(1, width - 2)
        size = cell_len(text)
        edge = Segment(" ", code)
        if size <= inner:
            return [Strip([edge, *segments, Segment(" " * (width - 1 - size), code)], width)]
        cuts = [*range(inner, size, inner), size]
        return [
            Strip([edge, *piece, Segment(" " * (width - 1 - piece.cell_length), code)], width)
            for piece in Strip(segments, size).divide(cuts)
        ]

    def _token_style(self, token_type) -> RichStyle:
        """The style of a Pygments token: Textual's highlight theme on the code background."""
        cache = self._token_styles
        style = cache.get(token_type)
        if style is None:
            found, kind = "", token_type
            while kind is not None and not (found := HighlightTheme.STYLES.get(kind, "")):
                kind = kind.parent
            assert self._look is not None
            base = self._base + self._look.code_block
            try:
                style = (base + Style.parse(found)).rich_style if found else base.rich_style
            except Exception:  # a style Textual cannot parse: plain
                style = base.rich_style
            cache[token_type] = style
        return style

    def _strips(self, lines: list[Content]) -> list[Strip]:
        base, width = self._base, self._width
        fill = base.rich_style
        strips = []
        for line in lines:
            segments = [Segment(text, style.rich_style) for text, style in line.render(base, "")]
            room = width - line.cell_length
            if room >= 0:
                if room:
                    segments.append(Segment(" " * room, fill))
                strips.append(Strip(segments, width))
            else:
                strips.append(Strip(segments).crop(0, width))
        return strips
