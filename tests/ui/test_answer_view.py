"""The line-based answer view: streamed appends draw what one append of the whole text
draws, code blocks, wrapping on resize, the code block keys, and the cheap paths."""

from __future__ import annotations

import gc
import random

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from ui_helpers import ANSWER, SIZE, compare_screen, finished, send, wait_for

from workbench.store.diff import extract_code_blocks
from workbench.ui.markdown_blocks import LONG_LINE, BlockSplitter
from workbench.ui.widgets.answer_view import AnswerView

LONG = (
    "# Merging\n\n"
    "Here is a function that merges two sorted lists in linear time. It walks both "
    "lists with two indices and always takes the **smaller** head, so the result "
    "stays `sorted`.\n\n"
    "```python\ndef merge(left, right):\n    result = []\n    i = j = 0\n"
    "    while i < len(left) and j < len(right):\n        if left[i] <= right[j]:\n"
    "            result.append(left[i])\n            i += 1\n        else:\n"
    "            result.append(right[j])\n            j += 1\n    return result\n```\n\n"
    "How it works:\n\n1. **Two indices** start at the front.\n2. The *smaller* head goes "
    "first; ties take the left one.\n3. The rest is appended as it is.\n\n"
    "- a bullet\n  - a nested one\n\n> a quote that is long enough to wrap in a narrow pane\n\n"
    "| a | b |\n|---|---|\n| 1 | two |\n\n---\n"
    "~~~\nplain fence, no language\n\n\twith a tab\n~~~\n"
    "````markdown\n```python\nnot closed by the inner fence\n```\n````\n"
    "Last words, and an unclosed fence:\n```rust\nfn main() {}\n"
)


class Views(App):
    """Two views side by side in scroll containers, as a pane holds them."""

    def __init__(self, width: int = 50) -> None:
        super().__init__()
        self.width = width

    def compose(self) -> ComposeResult:
        for name in ("one", "two"):
            with VerticalScroll(id=f"box-{name}"):
                yield AnswerView(id=name)

    def on_mount(self) -> None:
        for box in self.query(VerticalScroll):
            box.styles.width = self.width
            box.styles.height = "1fr"


def rows(view: AnswerView) -> list[list[tuple[str, object]]]:
    """What the view draws, row by row: (text, style) segments."""
    return [
        [(s.text, s.style) for s in view.render_line(y)] for y in range(view.virtual_size.height)
    ]


def text_of(view: AnswerView) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.virtual_size.height)]


def pieces(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, min(60, len(text) - 1))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


# --- the splitter (no Textual) -----------------------------------------------------------


def _blocks(splitter: BlockSplitter) -> list[tuple]:
    return [(b.kind, b.lines, b.language, b.gap) for b in splitter.closed]


def test_splitter_result_does_not_depend_on_how_the_text_was_cut():
    rng = random.Random(7)
    texts = [LONG, ANSWER, "a\r\nb\r\n\r\n```py\r\nx\r\n```\r\n", "x" * (3 * LONG_LINE + 5)]
    for text in texts:
        whole = BlockSplitter()
        whole.feed(text)
        whole.finish()
        for _ in range(30):
            cut = BlockSplitter()
            for piece in pieces(text, rng):
                cut.feed(piece)
            cut.finish()
            assert _blocks(cut) == _blocks(whole)


def test_splitter_code_blocks_are_the_diff_modules_code_blocks():
    rng = random.Random(3)
    parts = ["text\n", "\n", "```python\n", "```\n", "~~~~\n", "   ```\n", "x = 1\n", "````\n"]
    for _ in range(300):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 14)))
        splitter = BlockSplitter()
        splitter.feed(text)
        splitter.finish()
        code = [("\n".join(b.lines), b.language) for b in splitter.closed if b.kind == "code"]
        expected = [(b.code, b.language) for b in extract_code_blocks(text)]
        assert code == expected, text


def test_splitter_cuts_long_lines_and_long_blocks():
    splitter = BlockSplitter()
    splitter.feed(("word " * 1000).strip())  # one 4,999-character line, still open
    assert len(splitter.partial) <= LONG_LINE
    splitter.feed("\n" + "".join(f"- item {n} with some words\n" for n in range(400)))
    splitter.finish()
    text_blocks = [b for b in splitter.closed if b.kind == "text"]
    assert len(text_blocks) > 2  # the long list was closed where it renders the same
    assert all(not b.gap for b in text_blocks[1:])


# --- the widget --------------------------------------------------------------------------


async def test_streamed_appends_draw_what_one_append_draws():
    rng = random.Random(11)
    app = Views()
    async with app.run_test(size=(110, 40)) as pilot:
        one, two = app.query_one("#one", AnswerView), app.query_one("#two", AnswerView)
        one.append(LONG)
        one.finish()
        for _ in range(6):
            two.source, two.finished, two._splitter = "", False, BlockSplitter()
            two._reset_rows()
            for piece in pieces(LONG, rng):
                two.append(piece)
                if rng.random() < 0.3:
                    await pilot.pause()  # sometimes drawn mid-stream
            two.finish()
            await pilot.pause()
            assert two.source == one.source == LONG
            assert rows(two) == rows(one)
        # While it streams, too: the open block and the partial line.
        half = LONG[: len(LONG) // 2]
        for view in (one, two):
            view.source, view.finished, view._splitter = "", False, BlockSplitter()
            view._reset_rows()
        one.append(half)
        for piece in pieces(half, rng):
            two.append(piece)
        await pilot.pause()
        assert rows(two) == rows(one)


async def test_code_blocks_are_highlighted_once_closed_and_keep_their_rows():
    app = Views(width=60)
    async with app.run_test(size=(130, 40)) as pilot:
        view = app.query_one("#one", AnswerView)
        view.append("Code:\n\n```python\ndef add(a, b):\n    return a + b\n")
        await pilot.pause()
        open_rows = text_of(view)
        styles = {s.style for s in view.render_line(open_rows.index(" def add(a, b):"))}
        assert len(styles) == 1  # plain while the fence is open
        view.append("```\n\nAfter.\n")
        await pilot.pause()
        closed = text_of(view)
        assert closed[: len(open_rows)] == open_rows  # the same rows, now highlighted
        row = view.render_line(closed.index(" def add(a, b):"))
        assert len({s.style for s in row if s.text.strip()}) > 1
        assert closed[-1] == "After."
        region = view.code_block_region(0)
        assert region is not None and region.height == 4  # padding, two lines, padding


async def test_an_unknown_language_is_plain_and_control_codes_never_reach_the_screen():
    app = Views()
    async with app.run_test(size=(110, 40)) as pilot:
        view = app.query_one("#one", AnswerView)
        view.append("```nosuchlanguage\nx = 1\x1b[2J\n```\nplain \x1b[31mred\n")
        view.finish()
        await pilot.pause()
        drawn = "\n".join(text_of(view))
        assert "\x1b" not in drawn and "x = 1" in drawn and "plain" in drawn


async def test_resize_wraps_again():
    app = Views(width=80)
    async with app.run_test(size=(170, 40)) as pilot:
        view = app.query_one("#one", AnswerView)
        view.append(LONG)
        view.finish()
        await pilot.pause()
        wide = text_of(view)
        app.query_one("#box-one").styles.width = 30
        await pilot.pause()
        narrow = text_of(view)
        assert len(narrow) > len(wide)
        assert max(len(line) for line in narrow) <= view.size.width
        words = lambda lines: " ".join(lines).split()  # noqa: E731
        assert "".join(words(narrow)).count("merge") == "".join(words(wide)).count("merge")


async def test_rows_drawn_already_are_kept_when_the_view_grows():
    app = Views()
    async with app.run_test(size=(110, 40)) as pilot:
        view = app.query_one("#one", AnswerView)
        for n in range(5):
            view.append(f"line {n}\n\n")
            await pilot.pause()
        # Textual's private hook was called and kept the rows (see KeepRowsWhenGrowing).
        assert getattr(view, "_kept_rows", 0) >= 3


async def test_code_block_keys_copy_select_and_scroll(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "code please")
        await wait_for(pilot, lambda: finished(app))
        pane = compare_screen(app).panes["alpha"]
        view = pane.query_one(AnswerView)
        assert view.finished and view.source == ANSWER
        await pilot.press("f5", "b")
        assert app.clipboard == "def add(a, b):\n    return a + b"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert view.selected == 1 == pane.block_index
        region = view.code_block_region(1)
        mark = view.render_line(region.y + 1)
        assert mark.text.startswith("▌")  # the selected block is marked
        await pilot.press("b")
        assert app.clipboard == "assert add(2, 2) == 4"


async def test_pane_follows_the_stream_until_scrolled_up_and_gc_is_handed_back(make_app):
    app = make_app("slow")
    async with app.run_test(size=(80, 24)) as pilot:
        await send(pilot, "go")
        pane = compare_screen(app).panes["slow"]
        await wait_for(pilot, lambda: pane.max_scroll_y > 3)
        await pilot.pause(0.1)
        assert pane.scroll_y >= pane.max_scroll_y - 1  # follows the newest text
        assert gc.get_freeze_count() > 0  # full collections stay short while it streams
        pane.scroll_to(y=0, animate=False)
        await pilot.pause(0.2)
        assert pane.scroll_y < pane.max_scroll_y - 2  # scrolling up releases it
        await wait_for(pilot, lambda: finished(app), timeout=30)
    assert gc.get_freeze_count() == 0
