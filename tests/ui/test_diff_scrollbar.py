"""The diff view wraps its lines inside the room its vertical scrollbar leaves.

A diff longer than the screen shows a vertical scrollbar; lines wrapped at the
widget's whole width lost their last cells under it (found at 100×30: "It first
check|s |if" and a horizontal scrollbar nobody asked for).
"""

from __future__ import annotations

from workbench.ui.diff_layout import DiffPair
from workbench.ui.screens.diff import DiffScreen
from workbench.ui.widgets.diff_view import DiffView

LONG = " ".join(f"w{i:03}" for i in range(120))  # 599 cells: wraps several times


def answers() -> tuple[str, str]:
    """Two answers whose first lines differ and wrap, and enough changed lines to scroll."""
    a = "\n".join(f"line {i}" for i in range(40))
    b = "\n".join(f"line {i}." for i in range(40))
    return f"{LONG}\n{a}", f"{LONG} changed\n{b}"


def shown_text(view: DiffView, start: int, end: int | None) -> str:
    """The text of cells ``start:end`` of every row on screen, as far as the eye sees."""
    region = view.scrollable_content_region
    rows = [view.render_line(y).text[: region.width] for y in range(region.height)]
    return "".join(row[start:end] for row in rows)


async def test_wrapped_lines_lose_no_cells_under_the_scrollbar(make_app):
    a, b = answers()
    app = make_app("alpha")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(DiffScreen([DiffPair("a", a, "b", b)], "completion"))
        screen = app.screen
        view = screen.query_one(DiffView)
        for unified in (True, False):
            if screen.unified != unified:
                await pilot.press("u")
            await pilot.pause()
            assert view.scrollbars_enabled[0]  # the vertical scrollbar takes its columns
            assert view.max_scroll_x == 0  # nothing hides sideways
            gutter = view._gutter()
            if unified:
                text = shown_text(view, gutter, None)
            else:  # the left side: its gutter, then text up to the bar
                text = shown_text(view, gutter, gutter + view._text_width(view._layout_width))
            assert LONG in text
