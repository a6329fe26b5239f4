"""Screenshots of the rating screens, over scripted models, compared with the stored SVGs.

``test_mode`` masks measured times, deals blind panes from a fixed seed and hides
how long the fit took, so the pictures do not depend on the machine. Update them
on purpose with ``pytest tests/ui/test_rating_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from test_rating import _votes_for_a_leaderboard
from ui_helpers import SIZE, finished, send, wait_for


def test_blind_compare_screen_with_a_self_naming_answer(snap_compare, make_app):
    app = make_app("smollm2", "beta")

    async def run_before(pilot) -> None:
        await pilot.press("ctrl+b")
        await send(pilot, "Who are you?")
        await wait_for(pilot, lambda: finished(pilot.app))
        await pilot.press("f5")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leaderboard_screen(snap_compare, make_app):
    app = make_app("alpha")
    _votes_for_a_leaderboard(app.store)

    async def run_before(pilot) -> None:
        await pilot.press("f12")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "board", None) is not None)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
