"""Replay a saved session in its panes, and re-run it as a new, linked session."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from review_helpers import LEFT, RIGHT, run, save_session, settled
from ui_helpers import ANSWER, SIZE, wait_for

from workbench.store.replay import timeline
from workbench.ui.screens.choice import ChoiceModal
from workbench.ui.screens.diff import DiffScreen
from workbench.ui.screens.rerun import RerunScreen
from workbench.ui.screens.session_view import SessionView
from workbench.ui.screens.sessions import SessionsScreen


async def open_session(pilot, index: int = 0) -> SessionView:
    """f6, then the ``index``-th newest session, read-only."""
    await pilot.press("f6")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
    await wait_for(pilot, lambda: settled(pilot.app))
    await pilot.press(*["down"] * index, "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionView))
    view = pilot.app.screen
    await wait_for(pilot, lambda: all(not p.active for p in view.panes.values()))
    return view


def interleaved(store, *, step: float = 0.01, session_id: str = "20261110-120000-aaaaaa"):
    """Two models whose chunks alternate: beta starts later and ends first."""
    return save_session(
        store,
        session_id,
        "Write add and sub",
        [
            run("alpha", LEFT, step=step, start=0.05),
            run("beta", RIGHT, step=step * 0.7, start=0.08),
        ],
    )


async def replay_at(pilot, view: SessionView, faster: int) -> float:
    """Replay ``faster`` speed steps above ×1; the seconds it took."""
    await pilot.press(*["plus"] * faster)
    started = time.perf_counter()
    await pilot.press("r")
    await wait_for(pilot, lambda: view.replay is not None and view.replay.done, timeout=20)
    elapsed = time.perf_counter() - started
    await wait_for(pilot, lambda: all(not p.active for p in view.panes.values()))
    return elapsed


def final_texts(view: SessionView) -> dict[str, str]:
    return {model: pane.run.text for model, pane in view.panes.items() if pane.run}


async def test_replay_instant_fills_the_panes_in_the_recorded_order(make_app):
    app = make_app("alpha", "beta")
    session = interleaved(app.store)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_session(pilot)
        await replay_at(pilot, view, faster=3)  # ×1 → ×2 → ×10 → instant
        assert view.speed == 0
        assert view.replay_log == list(timeline(session))
        models = [beat.model for beat in view.replay_log]
        assert models[0] == "alpha" and "beta" in models[:5]  # they interleave
        assert final_texts(view) == {"alpha": LEFT, "beta": RIGHT}
        for model in ("alpha", "beta"):
            pane = view.panes[model]
            assert pane.run == session.run(model)  # the saved run: its recorded figures
            assert pane.state == "done"
            assert f"{pane.run.output_tokens} out / 7 in tok" in str(
                pane.query_one(".figures").render()
            )
        assert "replayed" in view.sub_title


async def test_replay_at_ten_times_keeps_the_pace_and_the_order(make_app):
    app = make_app("alpha", "beta")
    session = interleaved(app.store, step=0.2)  # about 5.3 s as recorded
    duration = max(beat.offset for beat in timeline(session))
    async with app.run_test(size=SIZE) as pilot:
        view = await open_session(pilot)
        await pilot.press("plus", "plus")  # ×1 → ×2 → ×10
        # Started as the key does, but watched without Pilot: a key press returns only
        # once the app is idle, which is after the replay.
        started = time.perf_counter()
        await view.run_action("replay")
        seen: set[int] = set()
        while not view.replay.done and time.perf_counter() - started < 20:
            seen.add(len(view.replay_log))
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        assert view.speed == 10 and view.replay.speed == 10
        assert view.replay_log == list(timeline(session))
        total = len(view.replay_log)
        assert any(0 < n < total for n in seen)  # it came in over time, not at once …
        assert duration / 10 * 0.8 <= elapsed < duration  # … ten times faster than recorded
        await wait_for(pilot, lambda: all(not p.active for p in view.panes.values()))
        assert final_texts(view) == {"alpha": LEFT, "beta": RIGHT}


async def test_pause_stops_the_replay_and_resume_goes_on(make_app):
    app = make_app("alpha", "beta")
    interleaved(app.store, step=0.1)  # about 3 s at ×1
    async with app.run_test(size=SIZE) as pilot:
        view = await open_session(pilot)
        assert not view.check_action("pause", ())  # nothing to pause yet
        await view.run_action("replay")  # as "r" does (see the test above)
        deadline = time.perf_counter() + 10
        while len(view.replay_log) < 3 and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        await pilot.press("p")
        assert view.replay.paused and "paused" in view.sub_title
        shown, position = len(view.replay_log), view.replay.position
        await pilot.pause(0.5)
        assert len(view.replay_log) == shown and view.replay.position == position
        streaming = view.panes["alpha"].state
        assert streaming == "streaming"
        await pilot.press("p")
        await wait_for(pilot, lambda: len(view.replay_log) > shown)
        await pilot.press("plus", "plus", "plus")  # instant: the rest at once
        await wait_for(pilot, lambda: view.replay.done)
        assert not view.check_action("pause", ())


async def test_rerun_makes_a_new_session_linked_to_the_original(make_app):
    app = make_app("alpha", "beta")
    original = save_session(
        app.store,
        "20261111-120000-aaaaaa",
        "Write add",
        [run("alpha", "def add(a, b): return a + b\n"), run("beta", "Short answer.\n")],
    )
    async with app.run_test(size=SIZE) as pilot:
        await open_session(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RerunScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.changes is not None)
        new = screen.session
        assert new.rerun_of == original.id and new.id != original.id
        saved = json.loads(app.store.path_for(new.id).read_text())
        assert saved["rerun_of"] == original.id and saved["complete"] is True
        assert [r["state"] for r in saved["runs"]] == ["done", "done"]
        assert saved["sampling"]["max_tokens"] == 64  # the original's settings
        assert saved["runs"][0]["text"] == ANSWER  # what the scripted alpha says now
        changes = {c["model"]: c for c in screen.changes}
        assert changes["alpha"]["output_tokens"][0] == original.run("alpha").output_tokens
        table = screen.query_one("#rerun-summary")
        assert table.display and table.row_count == 2
        await pilot.press("f7")  # old vs new of the focused model
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        pair = app.screen.pairs[app.screen.index]
        assert (pair.a_name, pair.b_name) == ("alpha then", "alpha now")
        assert pair.b_text == ANSWER
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        await pilot.press("escape")
        await wait_for(pilot, lambda: settled(app) and len(app.screen.summaries) == 2)


async def test_rerun_can_take_the_models_chosen_now(make_app):
    app = make_app("alpha", "beta")
    save_session(
        app.store,
        "20261111-120000-bbbbbb",
        "hello",
        [run("alpha", "hi"), run("gone", "bye")],
    )
    async with app.run_test(size=SIZE) as pilot:
        await open_session(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceModal))
        await pilot.press("down", "enter")  # the models chosen now: alpha, beta
        await wait_for(pilot, lambda: isinstance(app.screen, RerunScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.changes is not None)
        assert [r.model for r in screen.session.runs] == ["alpha", "beta"]
        assert [c["model"] for c in screen.changes] == ["alpha"]  # beta has no "then"
        assert screen.query_one("#rerun-summary").row_count == 2


@pytest.mark.slow
async def test_rerun_with_the_real_bundled_models(bundled, tmp_path):
    try:
        import workbench.models.backends.llamacpp  # noqa: F401
    except ImportError as exc:  # pragma: no cover
        pytest.skip(f"the llama.cpp backend is not there: {exc}")
    from workbench.store.sessions import SessionStore
    from workbench.ui.app import WorkbenchApp

    names = [spec.name for spec in bundled.models][:2]
    store = SessionStore(tmp_path / "sessions")
    original = save_session(
        store,
        "20261112-120000-aaaaaa",
        "Write a Python function that adds two numbers.",
        [run(name, "def add(a, b):\n    return a + b\n") for name in names],
    )
    original.sampling = {"temperature": 0.0, "top_p": 0.95, "max_tokens": 12, "seed": 1}
    store.save(original)
    app = WorkbenchApp(
        bundled, sessions_dir=store.root, state_path=tmp_path / "state.json", save_dir=tmp_path
    )
    async with app.run_test(size=SIZE) as pilot:
        await open_session(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RerunScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.changes is not None, timeout=600)
        new = screen.session
        await pilot.press("ctrl+q")
    saved = json.loads(store.path_for(new.id).read_text())
    assert saved["rerun_of"] == original.id
    for run_data in saved["runs"]:
        assert run_data["state"] == "done", run_data["error"]
        assert run_data["text"] and 0 < run_data["usage"]["output_tokens"] <= 12
    assert {c["model"] for c in screen.changes} == set(names)
