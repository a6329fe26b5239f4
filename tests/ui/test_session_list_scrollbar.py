"""The sessions list fits its columns in the room its vertical scrollbar leaves.

With more sessions than rows the scrollbar covered the last two cells of every
row (the end of the models column) and a sideways scroll appeared (found at 100×30
with 40 sessions).
"""

from __future__ import annotations

from review_helpers import browser, run, save_session, settled
from ui_helpers import wait_for

from workbench.ui.screens.sessions import SessionsScreen

MODELS = [f"model{i}" for i in range(12)]  # longer than the models column: it ends in …


async def test_rows_end_before_the_scrollbar(make_app):
    app = make_app("alpha")
    for i in range(40):
        runs = [run(name, "x") for name in MODELS]
        save_session(app.store, f"20261101-0900{i:02}-aaaaaa", f"prompt {i}", runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await wait_for(pilot, lambda: settled(app))
        await pilot.pause()
        view = browser(app).session_list
        assert view.scrollbars_enabled[0]  # more sessions than rows
        assert view.max_scroll_x == 0  # nothing hides sideways
        visible = view.scrollable_content_region.width
        for y in range(1, 5):
            shown = view.render_line(y).text[:visible]
            assert shown.rstrip().endswith("…"), shown  # the models column's end is seen
