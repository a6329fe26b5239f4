"""f10 brings the tests box into view on a short terminal.

At 80×24 (the sidebar folded, opened as a drawer by f10) the settings panel was
cut at the bottom: the tests box took the focus out of sight and typed text went
into it unseen.
"""

from __future__ import annotations

from textual.widgets import TextArea
from ui_helpers import compare_screen, finished, send, wait_for


async def test_the_focused_tests_box_is_on_screen_at_80_by_24(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=(80, 24)) as pilot:
        await send(pilot, "hi")  # two panes: the sidebar folds
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        assert screen.sidebar_folded
        await pilot.press("f10")
        await pilot.pause()
        tests = screen.query_one("#tests", TextArea)
        settings = screen.query_one("#settings")
        assert tests.has_focus and screen.drawer_open
        inside = settings.content_region  # what the panel shows of its children
        assert inside.contains_region(tests.region), (inside, tests.region)
