"""Screenshots of the diff screen and the sessions browser, compared with the stored SVGs.

Update them on purpose with ``pytest tests/ui/test_review_snapshots.py --snapshot-update``
and review the pictures.
"""

from __future__ import annotations

import os
import time

import pytest
import ui_helpers
from review_helpers import LEFT, RIGHT, run, save_session, settled
from ui_helpers import SIZE, finished, send, wait_for

from workbench.ui.screens.diff import DiffScreen
from workbench.ui.screens.sessions import SessionsScreen


@pytest.fixture(autouse=True)
def _fixed_answers_and_clock(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(ui_helpers.SCRIPTS, "left", {"text": LEFT})
    monkeypatch.setitem(ui_helpers.SCRIPTS, "right", {"text": RIGHT})
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"  # the browser shows local times
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def _diff(*keys: str):
    async def run_before(pilot) -> None:
        await send(pilot, "Write add and sub")
        await wait_for(pilot, lambda: finished(pilot.app))
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiffScreen))
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_diff_side_by_side_on_the_second_hunk(snap_compare, make_app):
    app = make_app("left", "right")
    assert snap_compare(app, terminal_size=SIZE, run_before=_diff("n", "n"))


def test_diff_unified_code_only_light_theme(snap_compare, make_app):
    app = make_app("left", "right", theme="workbench-light")
    assert snap_compare(app, terminal_size=SIZE, run_before=_diff("u", "c", "n"))


def test_sessions_browser_filtered(snap_compare, make_app):
    app = make_app("alpha", "beta")
    store = app.store
    save_session(store, "20261101-090000-aaaaaa", "Sort a list", [run("alpha", "x"), run("b", "y")])
    save_session(
        store,
        "20261102-090000-bbbbbb",
        "Parse JSON in Rust, with serde and a long prompt that does not fit in its column " * 2,
        [run("gemma3", "x"), run("deepseek-coder-6.7b-instruct", "y")],
        ratings={"scores": [{"id": "s", "model": "gemma3", "score": 5, "tags": [], "at": 1.0}]},
    )
    save_session(store, "20261103-090000-cccccc", "Binary search", [run("alpha", "z")])
    (store.root / "20261104-000000-broken.json").write_text("{not json")

    async def run_before(pilot) -> None:
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
        await wait_for(pilot, lambda: settled(pilot.app))
        await pilot.press(*"model:a", "down")
        await wait_for(pilot, lambda: settled(pilot.app))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
