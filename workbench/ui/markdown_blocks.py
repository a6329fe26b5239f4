"""Markdown cut into top-level blocks as it streams in: complete lines in, blocks out.

Pure Python (no Textual), so the answer view can render each block once, when it
can no longer change. Every line is looked at once: the fence state is kept line
by line with the same CommonMark rules as ``workbench.store.diff``'s code-block
extraction (block ``i`` of kind "code" here is ``extract_code_blocks(text)[i]``),
and the result does not depend on how the text was cut into pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# CommonMark: up to 3 spaces of indent, then 3+ backticks or 3+ tildes (as workbench.store.diff).
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
#: A line that may start a new text block without changing how the text before it
#: renders: a list item or a heading (not a table row or a paragraph's next line).
_SAFE_START = re.compile(r"^(?:[-+*] |\d{1,9}[.)] |#{1,6} )")
#: An open text block longer than this is closed at the next safe start ...
SOFT_BLOCK_CHARS = 2_000
#: ... or at the next line, whatever it is.
HARD_BLOCK_CHARS = 16_000
#: A line longer than this is cut (at a space when there is one) into lines this long.
LONG_LINE = 2_000
#: Control characters a model may write (an escape sequence would reach the terminal):
#: all of C0 but tab, newline and carriage return (lines are split on those), DEL, C1.
_CONTROL_CODES = dict.fromkeys(
    [c for c in range(0x20) if chr(c) not in "\t\n\r"] + [0x7F, *range(0x80, 0xA0)]
)


@dataclass
class Block:
    """A top-level piece of the answer: Markdown text, or one fenced code block."""

    kind: str  # "text" or "code"
    #: Source lines (text); code lines without the fences, dedented as CommonMark says (code).
    lines: list[str] = field(default_factory=list)
    language: str | None = None
    #: A blank line separates it from the block before (not after a forced split).
    gap: bool = True
    fence: str = ""
    indent: int = 0
    chars: int = 0


class BlockSplitter:
    """Complete lines in, top-level blocks out; no Textual, no rendering.

    ``feed`` takes any piece of text; ``closed`` gains every block that can no
    longer change, ``open`` is the block still growing and ``partial`` the text
    after the last newline. The result depends on the text only, never on how it
    was cut into pieces.
    """

    def __init__(self) -> None:
        self.closed: list[Block] = []
        self.open: Block | None = None
        self.partial = ""
        self.blank = False  # a blank line after the open text block's last line
        #: Bumped whenever the open block gains a complete line.
        self.version = 0

    def feed(self, text: str) -> None:
        text = self.partial + text.translate(_CONTROL_CODES)
        if text.endswith("\r"):  # maybe the first half of a \r\n
            text, self.partial = text[:-1], "\r"
        else:
            self.partial = ""
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        tail = lines.pop()
        for line in lines:
            for piece in _cut(line):
                self._line(piece)
        while len(tail) > LONG_LINE:
            piece, tail = _cut_once(tail)
            self._line(piece)
        self.partial = tail + self.partial

    def finish(self) -> None:
        """The text is complete: its last line and its open block end."""
        tail, self.partial = self.partial.replace("\r", ""), ""
        if tail:
            self._line(tail)
        self._close()

    @property
    def gap_before_partial(self) -> bool:
        """Whether a blank line goes between what is shown and the partial line."""
        if self.open is None:
            return bool(self.closed)
        return self.open.kind == "text" and self.blank

    def _line(self, line: str) -> None:
        block = self.open
        if block is not None and block.kind == "code":
            if _closes(line, block.fence):
                self._close()
            else:
                n = len(line) - len(line.lstrip(" "))
                block.lines.append(line[min(n, block.indent) :])
                self.version += 1
            return
        m = _FENCE.match(line)
        if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
            self._close()
            info = m.group(3).strip()
            self.open = Block(
                "code",
                language=info.split()[0] if info else None,
                gap=bool(self.closed),
                fence=m.group(2),
                indent=len(m.group(1)),
            )
            self.version += 1
            return
        if not line.strip():
            self.blank = block is not None
            return
        if block is not None:
            starts = not line[0].isspace()
            if self.blank and starts:
                self._start_text(line, gap=True)
                return
            if not self.blank and (
                block.chars > HARD_BLOCK_CHARS
                or (block.chars > SOFT_BLOCK_CHARS and _SAFE_START.match(line))
            ):
                self._start_text(line, gap=False)  # long: split where it renders the same
                return
            if self.blank:
                block.lines.append("")
            block.lines.append(line)
            block.chars += len(line) + 1
            self.blank = False
            self.version += 1
            return
        self._start_text(line, gap=bool(self.closed))

    def _start_text(self, line: str, *, gap: bool) -> None:
        self._close()
        self.open = Block("text", [line], gap=gap, chars=len(line) + 1)
        self.version += 1

    def _close(self) -> None:
        if self.open is not None:
            self.closed.append(self.open)
            self.open = None
            self.version += 1
        self.blank = False


def _closes(line: str, fence: str) -> bool:
    m = _FENCE.match(line)
    return bool(
        m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip()
    )


def _cut_once(line: str) -> tuple[str, str]:
    space = line.rfind(" ", LONG_LINE // 2, LONG_LINE)
    cut = space + 1 if space > 0 else LONG_LINE
    return line[:cut].rstrip(" ") or line[:cut], line[cut:]


def _cut(line: str) -> list[str]:
    pieces = []
    while len(line) > LONG_LINE:
        piece, line = _cut_once(line)
        pieces.append(piece)
    pieces.append(line)
    return pieces
