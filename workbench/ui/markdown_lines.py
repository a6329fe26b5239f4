"""Markdown to lines of Textual ``Content``, at a width, in the answer view's styles.

markdown-it parses one block at a time (the answer view hands it finished
blocks and the line being typed); this walks its tree into wrapped lines:
paragraphs, headings, lists, quotes, tables, rules and code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from textual.content import Content
from textual.style import Style

BULLETS = ("• ", "▪ ", "‣ ", "⭑ ", "◦ ")


@dataclass(frozen=True)
class Look:
    """The styles the renderer uses, from the view's component classes (so: the theme)."""

    headings: tuple[Style, ...]
    code_inline: Style
    code_block: Style
    bullet: Style
    quote: Style
    link: Style
    rule: Style
    table_header: Style
    selected: Style


_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_EMPHASIS = {"em": Style(italic=True), "strong": Style(bold=True), "s": Style(strike=True)}


def render_markdown(source: str, width: int, look: Look) -> list[Content]:
    """``source`` (Markdown) as lines of at most ``width`` cells."""
    return _blocks(SyntaxTreeNode(_PARSER.parse(source)).children, width, look, 0, True)


@lru_cache(maxsize=64)
def lexer(name: str):
    """Pygments' lexer for ``name`` (lexers can be used again and again)."""
    return get_lexer_by_name(name, stripnl=False, ensurenl=True)


@lru_cache(maxsize=256)
def known_language(name: str) -> bool:
    """Whether Pygments has a lexer called ``name``. Cached: an unknown name makes
    Pygments scan every installed package's plugins (~70 ms)."""
    try:
        get_lexer_by_name(name)
    except ClassNotFound:
        return False
    return True


def code_lines(code: list[str], width: int, look: Look) -> list[Content]:
    """Code lines on the code background, plain, folded at the width (no padding rows)."""
    inner = max(1, width - 2)
    out = []
    for text in code:
        line = Content(text).expand_tabs(4)
        for piece in line.fold(inner) if line.cell_length > inner else [line]:
            pad = Content(" " * max(0, width - 1 - piece.cell_length))
            out.append((Content(" ") + piece + pad).stylize_before(look.code_block))
    return out


def code_padding(width: int, look: Look) -> Content:
    return Content(" " * width).stylize_before(look.code_block)


def _blocks(nodes, width: int, look: Look, depth: int, loose: bool) -> list[Content]:
    out: list[Content] = []
    for node in nodes:
        lines = _block(node, width, look, depth)
        if out and lines and loose:
            out.append(Content(""))
        out += lines
    return out


def _block(node: SyntaxTreeNode, width: int, look: Look, depth: int) -> list[Content]:
    kind = node.type
    if kind == "paragraph":
        return _wrap(_inline(node.children[0], Style(), look), width)
    if kind == "heading":
        level = int(node.tag[1:]) if node.tag[1:].isdigit() else 1
        return _wrap(_inline(node.children[0], look.headings[min(level, 6) - 1], look), width)
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, width, look, depth)
    if kind == "blockquote":
        inner = _blocks(node.children, max(1, width - 2), look, depth, True)
        mark = Content.styled("▌ ", look.quote)
        return [mark + line for line in inner]
    if kind in ("fence", "code_block"):
        # Plain: a fence here is the line being typed ("```pyt") or an indented one.
        code = node.content.rstrip("\n").split("\n")
        pad = code_padding(width, look)
        return [pad, *code_lines(code, width, look), pad]
    if kind == "hr":
        return [Content.styled("─" * width, look.rule)]
    if kind == "table":
        return _table(node, width, look)
    if kind == "html_block":
        return [
            line
            for text in node.content.rstrip("\n").split("\n")
            for line in _wrap(Content(text), width)
        ]
    return _blocks(node.children, width, look, depth, True)


def _list(node: SyntaxTreeNode, width: int, look: Look, depth: int) -> list[Content]:
    items = node.children
    loose = any(
        child.type == "paragraph" and not child.hidden for item in items for child in item.children
    )
    if node.type == "bullet_list":
        marks = [BULLETS[depth % len(BULLETS)]] * len(items)
    else:
        start = int(node.attrs.get("start", 1))
        numbers = [f"{start + i}. " for i in range(len(items))]
        size = max(map(len, numbers))
        marks = [number.rjust(size) for number in numbers]
    out: list[Content] = []
    for mark, item in zip(marks, items, strict=True):
        inner = _blocks(item.children, max(1, width - len(mark)), look, depth + 1, loose)
        if loose and out:
            out.append(Content(""))
        indent = Content(" " * len(mark))
        for index, line in enumerate(inner or [Content("")]):
            out.append((Content.styled(mark, look.bullet) if index == 0 else indent) + line)
    return out


def _table(node: SyntaxTreeNode, width: int, look: Look) -> list[Content]:
    rows = [(row, section.type == "thead") for section in node.children for row in section.children]
    cells = [
        [
            _inline(cell.children[0], Style(), look) if cell.children else Content("")
            for cell in row.children
        ]
        for row, _ in rows
    ]
    columns = max((len(row) for row in cells), default=0)
    if not columns:
        return []
    sizes = [
        max((row[i].cell_length for row in cells if i < len(row)), default=1)
        for i in range(columns)
    ]
    room = max(columns, width - 3 * (columns - 1))
    while sum(sizes) > room:  # shrink the widest column until the table fits
        widest = max(range(columns), key=sizes.__getitem__)
        sizes[widest] = max(1, sizes[widest] - max(1, (sum(sizes) - room) // columns))
    sep = Content.styled(" │ ", look.rule)
    out: list[Content] = []
    for (_, header), row in zip(rows, cells, strict=True):
        wrapped = [_wrap(row[i] if i < len(row) else Content(""), sizes[i]) for i in range(columns)]
        for y in range(max(len(parts) for parts in wrapped)):
            parts = []
            for i, lines in enumerate(wrapped):
                part = lines[y] if y < len(lines) else Content("")
                part = part + Content(" " * (sizes[i] - part.cell_length))
                parts.append(part.stylize_before(look.table_header) if header else part)
            out.append(sep.join(parts))
        if header:
            out.append(Content.styled("─┼─".join("─" * size for size in sizes), look.rule))
    return out


def _inline(node: SyntaxTreeNode, style: Style, look: Look) -> Content:
    parts: list[tuple[str, Style]] = []
    _inline_parts(node, style, look, parts)
    return Content.assemble(*parts)


def _inline_parts(node: SyntaxTreeNode, style: Style, look: Look, parts: list) -> None:
    for child in node.children:
        kind = child.type
        if kind in ("text", "html_inline"):
            parts.append((child.content, style))
        elif kind == "code_inline":
            parts.append((child.content, style + look.code_inline))
        elif kind == "softbreak":
            parts.append((" ", style))
        elif kind == "hardbreak":
            parts.append(("\n", style))
        elif kind in _EMPHASIS:
            _inline_parts(child, style + _EMPHASIS[kind], look, parts)
        elif kind in ("link", "image"):
            _inline_parts(child, style + look.link, look, parts)
        else:
            _inline_parts(child, style, look, parts)


def _wrap(content: Content, width: int) -> list[Content]:
    out: list[Content] = []
    for line in content.split("\n", allow_blank=True) if "\n" in content.plain else [content]:
        out += line.wrap(width) if line.cell_length > width else [line]
    return out
