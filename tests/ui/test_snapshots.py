"""Screenshots of the main states, over scripted models, compared with the stored SVGs.

``test_mode`` masks every measured time and rate (and the session id), so the
pictures do not depend on the machine. Update them on purpose with
``pytest tests/ui/test_snapshots.py --snapshot-update`` and review the diff.
"""

from __future__ import annotations

from ui_helpers import SIZE, finished, send, wait_for


def _after_sending(prompt: str):
    async def run_before(pilot) -> None:
        await send(pilot, prompt)
        await wait_for(pilot, lambda: finished(pilot.app))
        await pilot.pause()

    return run_before


def test_empty_compare_screen(snap_compare, make_app):
    assert snap_compare(make_app("alpha", "beta", "broken"), terminal_size=SIZE)


def test_two_finished_panes(snap_compare, make_app):
    app = make_app("alpha", "beta")
    assert snap_compare(app, terminal_size=SIZE, run_before=_after_sending("Write add()"))


def test_failed_pane_keeps_partial_text(snap_compare, make_app, tmp_path):
    (tmp_path / "state.json").write_text('{"version": 1, "models": ["alpha", "broken"]}')
    app = make_app("alpha", "broken")
    assert snap_compare(app, terminal_size=SIZE, run_before=_after_sending("Go"))


def test_follow_up_zoomed_in_light_theme(snap_compare, make_app):
    app = make_app("alpha", "beta", theme="workbench-light")

    async def run_before(pilot) -> None:
        await _after_sending("Write add()")(pilot)
        await _after_sending("Now in Rust")(pilot)
        await pilot.press("f5", "z")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, make_app):
    assert snap_compare(make_app("alpha"), terminal_size=SIZE, press=["f1"])
