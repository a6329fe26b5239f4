"""The arithmetic of narrow terminals, without a terminal: pane arrangements, the sidebar
rule, one-line figures, dropped columns, when a diff goes unified."""

from __future__ import annotations

import pytest
from review_helpers import run
from rich.cells import cell_len

from workbench.ui import figures
from workbench.ui.diff_layout import wraps_most
from workbench.ui.fit_columns import columns_to_drop, empty_columns
from workbench.ui.pane_layout import (
    MIN_PANE_WIDTH,
    Arrangement,
    arrange,
    next_layout,
    sidebar_fits,
)
from workbench.ui.widgets.session_list import _widths, header_line


@pytest.mark.parametrize(
    ("count", "width", "height", "layout", "expected"),
    [
        (2, 80, 14, "auto", ("columns", 2)),  # 80×24 with the sidebar folded: 40 each
        (2, 79, 14, "auto", ("columns", 1)),  # too narrow and too low to stack: pages
        (2, 79, 30, "auto", ("rows", 2)),  # … but tall enough to stack
        (4, 100, 20, "auto", ("columns", 2)),  # 100×30: two at a time
        (4, 164, 40, "auto", ("columns", 4)),  # 200×50 with the sidebar
        (3, 100, 40, "auto", ("rows", 3)),
        (2, 200, 40, "rows", ("rows", 2)),  # asked for, though columns would fit
        (5, 200, 30, "rows", ("rows", 3)),  # stacked pages of what fits
        (3, 100, 40, "columns", ("columns", 2)),  # asked for: pages of columns
        (1, 30, 5, "auto", ("columns", 1)),  # never zero panes a page
    ],
)
def test_arrange(count, width, height, layout, expected):
    arrangement = arrange(count, width, height, layout)
    assert (arrangement.direction, arrangement.per_page) == expected
    assert arrangement.count == count
    if arrangement.direction == "columns" and arrangement.per_page > 1:
        assert width // arrangement.per_page >= MIN_PANE_WIDTH


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="auto, columns, rows"):
        arrange(2, 80, 20, "grid")


def test_pages_and_their_marker():
    three = Arrangement("columns", 1, 3)
    assert three.paged and three.pages == 3
    assert [three.page_of(i) for i in range(3)] == [0, 1, 2]
    assert three.marker(1) == "pane 2 of 3"
    four = Arrangement("columns", 2, 5)
    assert list(four.shown(2)) == [4]
    assert four.marker(0) == "panes 1–2 of 5" and four.marker(2) == "pane 5 of 5"
    assert not Arrangement("rows", 2, 2).paged
    assert Arrangement("rows", 2, 2).describe() == "stacked"
    assert four.describe() == "2 side by side per page, 3 pages"


def test_the_sidebar_stays_while_two_panes_of_the_minimum_width_fit():
    assert sidebar_fits(80, 0)  # no answers yet: the picker is what matters
    assert sidebar_fits(80, 1)  # 44 columns for one pane
    assert not sidebar_fits(80, 2)
    assert not sidebar_fits(100, 2) and not sidebar_fits(115, 4)
    assert sidebar_fits(116, 2) and sidebar_fits(120, 4)


def test_the_layout_key_cycles():
    assert [next_layout(x) for x in ("auto", "columns", "rows")] == ["columns", "rows", "auto"]


def test_a_narrow_pane_gets_one_line_of_figures():
    done = run("alpha", "one two three four", start=0.25, step=0.01)
    done.t_sent = 100.0
    wide = figures.fitted(done, "done", "parallel", 101.0, 120, threads=[2])
    assert wide.count("\n") == 1 and "4 out / 7 in tok" in wide and "parallel" in wide
    for width in (40, 34, 28, 24):
        line = figures.fitted(done, "done", "parallel", 101.0, width)
        assert "\n" not in line and cell_len(line) <= width, (width, line)
        assert line.endswith("done") and "0.25s" in line and "4" in line
    assert figures.fitted(done, "done", "parallel", 101.0, 40).startswith("TTFT 0.25s · ")
    tiny = figures.fitted(done, "done", "parallel", 101.0, 10)
    assert cell_len(tiny) == 10 and tiny.endswith("…")


def test_the_compact_line_while_streaming_and_masked():
    streaming = run("alpha", "one two three", state="streaming", start=0.5)
    streaming.t_sent = 10.0
    line = figures.compact(streaming, "streaming", 12.0, 40, mask=True)
    assert line == "TTFT #.##s·≈##.# tok/s·≈3 tok·streaming"  # the spaced one is 45 cells
    assert figures.compact(streaming, "streaming", 12.0, 60, mask=True) == (
        "TTFT #.##s · ≈##.# tok/s · ≈3 tok · streaming"
    )
    queued = run("beta", "", state="queued")
    queued.t_sent = None
    assert figures.compact(queued, "queued", 1.0, 40) == "waiting for the model…"
    failed = run("beta", "", state="failed", first_token_s=None)
    failed.t_sent = 1.0
    assert figures.compact(failed, "failed", 2.0, 40) == "no answer · failed"


def test_fit_line_cuts_with_an_ellipsis():
    assert figures.fit_line("abcdef", 4) == "abc…"
    assert figures.fit_line("abc", 4) == "abc"
    assert figures.fit_line("abc", 0) == "abc"  # not laid out: as it is


def test_columns_are_dropped_least_useful_first():
    widths = {"#": 3, "model": 12, "rating": 8, "bad": 5, "n": 3, "": 23, "score": 15}
    assert columns_to_drop(widths, ["bad", "n", ""], 100) == []
    assert columns_to_drop(widths, ["bad", "n", ""], 64) == ["bad"]  # 69 cells in all
    assert columns_to_drop(widths, ["bad", "n", ""], 45) == ["bad", "n", ""]
    # Columns outside the order always stay, even when the rest cannot fit.
    assert columns_to_drop(widths, ["bad", "n", ""], 10) == ["bad", "n", ""]
    rows = [("1", "alpha", "–", ""), ("2", "beta", "–", "x")]
    assert empty_columns(rows, ["#", "model", "pass", "note"]) == ["pass"]
    assert empty_columns([], ["#"]) == []


def test_side_by_side_wraps_most_lines():
    assert wraps_most(["x" * 50, "y" * 50, "short"], 32)
    assert not wraps_most(["x" * 50, "short", "short too", ""], 32)
    assert not wraps_most([], 32)
    assert wraps_most(["\t\t\t\tx" * 2], 32)  # a tab is four cells


def test_the_sessions_list_drops_the_year_then_the_models():
    assert _widths(160) == (16, 36, 103)
    when, models, prompt = _widths(80)
    assert (when, models) == (11, 20) and when + models + prompt + 5 == 80
    assert _widths(60)[1] == 0 and "models" not in header_line(60)
    assert "models" in header_line(100)


def test_panes_of_one_width_show_the_same_kind_of_figures():
    short, long = run("a", "x y"), run("b", " ".join(["w"] * 2000), prompt_tokens=123456)
    for one in (short, long):
        one.t_sent = 1.0
    for width in (40, 59):  # narrow: one line each, whatever the numbers
        assert all(
            "\n" not in figures.fitted(r, "done", "parallel", 9.0, width) for r in (short, long)
        )
    for width in (60, 90):  # wide: the full lines each, even one that must wrap
        assert all("\n" in figures.fitted(r, "done", "parallel", 9.0, width) for r in (short, long))
