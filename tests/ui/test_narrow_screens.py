"""The app at 80 to 120 columns, driven like a user: the folding sidebar and its drawer,
panes side by side, stacked or paged, one-line figures and their details, the diff,
the leaderboard and the sessions browser on narrow screens."""

from __future__ import annotations

import pytest
import ui_helpers
from review_helpers import run as saved_run
from review_helpers import save_session, settled
from test_rating import _votes_for_a_leaderboard
from textual.widgets import DataTable
from ui_helpers import compare_screen, finished, send, wait_for

from workbench.ui.screens.details import DetailsModal
from workbench.ui.screens.diff import DiffScreen
from workbench.ui.screens.leaderboard import STANDINGS_COLUMNS, LeaderboardScreen
from workbench.ui.screens.sessions import SessionsScreen


def _choose(tmp_path, *models: str) -> None:
    """The models the picker starts with (as saved from last time)."""
    names = ", ".join(f'"{m}"' for m in models)
    (tmp_path / "state.json").write_text(f'{{"version": 1, "models": [{names}]}}')


def _shown(screen) -> list[str]:
    """The panes on screen, left to right then top to bottom."""
    return [name for name, pane in screen.panes.items() if pane.region.area]


def _inside(screen, width: int) -> bool:
    return all(p.region.right <= width for p in screen.panes.values() if p.region.area)


async def _answered(pilot, prompt: str = "Write add()") -> None:
    await send(pilot, prompt)
    await wait_for(pilot, lambda: finished(pilot.app))
    await pilot.pause()


async def test_at_80x24_both_answers_show_side_by_side(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = compare_screen(app)
        assert not screen.sidebar_folded  # no answers yet: the picker stays
        assert screen.query_one("#sidebar").region.width == 36
        await _answered(pilot)
        assert screen.sidebar_folded and screen.query_one("#sidebar").region.width == 0
        assert "sidebar folded" in screen.sub_title
        assert any("sidebar folded" in n.message for n in app._notifications)
        assert _shown(screen) == ["alpha", "beta"] and _inside(screen, 80)
        assert [p.region.width for p in screen.panes.values()] == [40, 40]
        assert screen.pane_area.max_scroll_x == 0
        for pane in screen.panes.values():  # the figures take one line, not four
            assert "\n" not in str(pane.query_one(".figures").render())
            assert pane.query_one(".figures").region.height == 1


async def test_the_sidebar_key_and_the_drawer(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = compare_screen(app)
        await _answered(pilot)
        await pilot.press("ctrl+backslash")  # back: the panes page, one at a time
        await pilot.pause()
        assert not screen.sidebar_folded and screen.query_one("#sidebar").region.width == 36
        assert _shown(screen) == ["alpha"] and _inside(screen, 80)
        assert "pane 1 of 2" in str(screen.pane_area.marker.render())
        await pilot.press("ctrl+backslash")  # and away again
        await pilot.pause()
        assert screen.sidebar_folded and _shown(screen) == ["alpha", "beta"]
        await pilot.press("f2")  # the picker's key opens a drawer over the panes
        await pilot.pause()
        assert screen.drawer_open and screen.focused is screen.picker
        assert screen.query_one("#sidebar").region.width == 36
        assert [p.region.width for p in screen.panes.values()] == [40, 40]  # not pushed
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.drawer_open and screen.focused is screen.prompt
        await pilot.press("f3")
        await pilot.pause()
        assert screen.drawer_open
        await pilot.press("f5")  # leaving the sidebar closes the drawer
        await pilot.pause()
        assert not screen.drawer_open and screen.focused is screen.panes["alpha"]


async def test_four_models_page_two_at_a_time_at_100x30(make_app, tmp_path):
    _choose(tmp_path, "alpha", "beta", "gamma", "delta")
    app = make_app("alpha", "beta", "gamma", "delta")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = compare_screen(app)
        await _answered(pilot)
        marker = screen.pane_area.marker
        assert _shown(screen) == ["alpha", "beta"] and "panes 1–2 of 4" in str(marker.render())
        await pilot.press("f5", "right", "right")
        await pilot.pause()
        assert _shown(screen) == ["gamma", "delta"] and screen.focused is screen.panes["gamma"]
        assert "panes 3–4 of 4" in str(marker.render()) and _inside(screen, 100)
        await pilot.press("z")  # zoom works on a page
        await pilot.pause()
        assert _shown(screen) == ["gamma"] and screen.panes["gamma"].region.width == 100
        assert marker.region.area == 0
        await pilot.press("right")  # to the next pane, zoomed: the first page's
        await pilot.pause()
        assert _shown(screen) == ["delta"]
        await pilot.press("z", "right")
        await pilot.pause()
        assert _shown(screen) == ["alpha", "beta"] and screen.focused is screen.panes["alpha"]


async def test_the_layout_setting_and_its_key(make_app, tmp_path):
    app = make_app("alpha", "beta", layout="rows")
    async with app.run_test(size=(200, 50)) as pilot:
        screen = compare_screen(app)
        await _answered(pilot)
        alpha, beta = screen.panes.values()
        assert alpha.region.width == beta.region.width > 100  # stacked, full width
        assert beta.region.y >= alpha.region.bottom
        assert abs(alpha.region.height - beta.region.height) <= 1
        await pilot.press("ctrl+r")  # rows → auto: side by side fits
        await pilot.pause()
        assert app.pane_layout == "auto" and alpha.region.y == beta.region.y
        assert any("Layout auto: side by side" in n.message for n in app._notifications)
        await pilot.press("ctrl+r", "ctrl+r")
        await pilot.pause()
        assert app.pane_layout == "rows" and beta.region.y >= alpha.region.bottom
        await pilot.press("f5", "z")  # zoom in rows: one pane, the whole area
        await pilot.pause()
        assert _shown(screen) == ["alpha"] and alpha.region.width == 200


async def test_the_details_key_shows_every_figure(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=(80, 24)) as pilot:
        await _answered(pilot)
        await pilot.press("f5", "i")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsModal))
        text = app.screen.text
        assert "30 out / 3 in tok" in text and "parallel" in text and "TTFT" in text
        assert "alpha" in app.screen.query_one("#dialog").border_title
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailsModal)


LONG_LEFT = "\n".join(f"Line {i} of the first answer says something rather long." for i in range(8))
LONG_RIGHT = LONG_LEFT.replace("first answer", "second answer").replace("Line 3", "Row 3")


@pytest.fixture
def _long_answers(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(ui_helpers.SCRIPTS, "left", {"text": LONG_LEFT})
    monkeypatch.setitem(ui_helpers.SCRIPTS, "right", {"text": LONG_RIGHT})


@pytest.mark.usefixtures("_long_answers")
async def test_a_narrow_diff_starts_unified_until_the_user_chooses(make_app):
    app = make_app("left", "right")
    async with app.run_test(size=(80, 24)) as pilot:
        await _answered(pilot)
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        diff = app.screen
        header = str(diff.query_one("#diff-header").render())
        assert diff.unified and "unified (narrow: u for side by side)" in header
        await pilot.resize_terminal(200, 40)  # wide: side by side, by itself
        await pilot.pause()
        assert not diff.unified
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert diff.unified
        await pilot.press("u")  # the user's choice holds at any width
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not diff.unified and diff.unified_chosen


async def test_the_leaderboard_drops_columns_before_it_would_scroll(make_app):
    app = make_app("alpha")
    _votes_for_a_leaderboard(app.store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f12")
        board = app.screen
        assert isinstance(board, LeaderboardScreen)
        await wait_for(pilot, lambda: board.board is not None)
        await pilot.pause()
        table = board.query_one("#lb-standings", DataTable)
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels[:3] == ["#", "model", "rating"] and len(labels) < len(STANDINGS_COLUMNS)
        assert "bad" not in labels and "n" not in labels
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0
        await pilot.resize_terminal(200, 40)
        await wait_for(pilot, lambda: len(table.ordered_columns) == len(STANDINGS_COLUMNS))


async def test_the_sessions_browser_drops_the_year_and_the_models(make_app):
    app = make_app("alpha")
    save_session(app.store, "20261101-090000-aaaaaa", "Sort a list", [saved_run("alpha", "x")])
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await wait_for(pilot, lambda: settled(app))
        await pilot.pause()
        listing = app.screen.session_list
        header = "".join(s.text for s in listing.render_line(0))
        row = "".join(s.text for s in listing.render_line(1))
        assert "models" not in header and "Sort a list" in row and "2026" not in row
        assert "11-01" in row


async def test_the_help_screen_wraps_instead_of_scrolling_sideways(make_app):
    app = make_app("alpha")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert [str(c.label) for c in table.ordered_columns] == ["key", "action", "where"]
        assert table.max_scroll_x == 0
        await pilot.resize_terminal(160, 40)  # room for the ids again
        await pilot.pause()
        assert [str(c.label) for c in table.ordered_columns] == ["key", "id", "action", "where"]
        assert table.max_scroll_x == 0
