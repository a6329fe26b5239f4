"""Screenshots at the sizes people's terminals have: 80×24, 100×30, 120×40 and 200×50.

The compare screen with two and with four models, the diff screen and the
leaderboard, over scripted models with masked times. At 80 and 100 columns two
panes share the width with the sidebar folded; four page two at a time; the diff
goes unified where side by side would wrap most lines; the leaderboard leaves out
its least useful columns. Update on purpose with ``--snapshot-update`` and look at
every picture.
"""

from __future__ import annotations

import pytest
import ui_helpers
from test_rating import _votes_for_a_leaderboard
from ui_helpers import finished, send, wait_for

from workbench.ui.screens.diff import DiffScreen

SIZES = [(80, 24), (100, 30), (120, 40), (200, 50)]
IDS = [f"{w}x{h}" for w, h in SIZES]

#: Two answers, mostly prose lines of 40 to 50 cells: side by side wraps most of them
#: below 120 columns, so the diff starts unified there.
OLD = (
    "To reverse a list in Python, slice it backwards.\n"
    "The slice makes a new list and keeps the old one.\n"
    "It works on strings and tuples just the same.\n\n"
    "```python\nitems[::-1]\n```\n\n"
    "For a list you own, reverse() works in place.\n"
    "It returns None, so do not assign its result.\n"
)
NEW = (
    "To reverse a list in Python, use reversed().\n"
    "The call makes an iterator and keeps the list.\n"
    "It works on strings and tuples just the same.\n\n"
    "```python\nlist(reversed(items))\n```\n\n"
    "For a list you own, reverse() works in place.\n"
    "It returns None, so never assign its result.\n"
)


@pytest.fixture(autouse=True)
def _answers(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(ui_helpers.SCRIPTS, "old", {"text": OLD})
    monkeypatch.setitem(ui_helpers.SCRIPTS, "new", {"text": NEW})


def _choose(tmp_path, *models: str) -> None:
    names = ", ".join(f'"{m}"' for m in models)
    (tmp_path / "state.json").write_text(f'{{"version": 1, "models": [{names}]}}')


async def _answered(pilot) -> None:
    await send(pilot, "Write add()")
    await wait_for(pilot, lambda: finished(pilot.app))
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_compare_two_models(snap_compare, make_app, size):
    app = make_app("alpha", "beta")
    assert snap_compare(app, terminal_size=size, run_before=_answered)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_compare_four_models(snap_compare, make_app, tmp_path, size):
    _choose(tmp_path, "alpha", "beta", "broken", "delta")
    app = make_app("alpha", "beta", "broken", "delta")
    assert snap_compare(app, terminal_size=size, run_before=_answered)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_diff(snap_compare, make_app, size):
    app = make_app("old", "new")

    async def run_before(pilot) -> None:
        await _answered(pilot)
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiffScreen))
        await pilot.press("n")
        pilot.app.clear_notifications()  # the compare screen's, over the diff
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_leaderboard(snap_compare, make_app, size):
    app = make_app("alpha")
    _votes_for_a_leaderboard(app.store)

    async def run_before(pilot) -> None:
        await pilot.press("f12")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "board", None) is not None)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
