"""Drive the compare screen by keys, like a user, over scripted models."""

from __future__ import annotations

import json

from ui_helpers import ANSWER, SIZE, compare_screen, finished, send, wait_for

from workbench.ui.widgets.answer_pane import AnswerPane
from workbench.ui.widgets.answer_view import AnswerView


def session_files(app):
    return sorted(p for p in app.store.root.glob("*.json") if not p.name.startswith("."))


async def test_first_frame_loads_no_model(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = compare_screen(app)
        assert screen.query_one("#hint")
        assert app.runner.pool.loaded("alpha") is None
        assert screen.picker.states["alpha"] == ("not loaded", None)
        assert screen.focused is screen.prompt


async def test_pick_models_send_and_both_finish_with_figures(make_app):
    app = make_app("alpha", "beta", "broken")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        assert screen.picker.chosen == ["alpha", "beta"]  # the first two by default
        await pilot.press("f2", "space")  # drop alpha …
        assert screen.picker.chosen == ["beta"]
        await pilot.press("space")  # … and take it back
        assert screen.picker.chosen == ["alpha", "beta"]
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app))
        panes = screen.query(AnswerPane)
        assert [p.model for p in panes] == ["alpha", "beta"]
        for pane in panes:
            assert pane.state == "done"
            assert pane.border_subtitle == "done"
            # The line shows what fits the pane; every figure is in its details (i).
            assert "TTFT" in str(pane.query_one(".figures").render())
            figures = pane.full_figures()
            assert "out /" in figures and "TTFT" in figures and "parallel" in figures
        assert screen.panes["alpha"].query_one(AnswerView).source == ANSWER
        assert screen.picker.states["alpha"][0] == "ready"
        assert screen.prompt.text == ""  # sent prompts leave the editor (and go to history)
    [path] = session_files(app)
    saved = json.loads(path.read_text())
    assert [run["state"] for run in saved["runs"]] == ["done", "done"]
    assert saved["prompt"] == "Write add" and saved["complete"] is True
    state = json.loads((app.state_path).read_text())
    assert state["history"] == ["Write add"] and state["models"] == ["alpha", "beta"]


async def test_failed_pane_shows_error_and_keeps_text_while_other_finishes(make_app):
    app = make_app("alpha", "broken")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        broken, alpha = screen.panes["broken"], screen.panes["alpha"]
        assert alpha.state == "done" and broken.state == "failed"
        assert broken.has_class("-failed")
        error = broken.query_one(".error")
        assert error.display and "Scripted failure" in str(error.render())
        assert broken.query_one(AnswerView).source.startswith("This starts well")
        assert screen.picker.states["broken"][0] == "ready"  # it loaded; the answer failed


async def test_load_key_loads_the_chosen_models_in_the_background(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        screen = compare_screen(app)
        await wait_for(pilot, lambda: screen.picker.states["beta"][0] == "ready")
        assert app.runner.pool.loaded("alpha").loaded
        await send(pilot, "hi")  # the preloaded models answer as usual
        await wait_for(pilot, lambda: finished(app))
        assert screen.panes["alpha"].state == "done"


async def test_missing_model_file_fails_its_pane_and_says_so(make_app):
    app = make_app("missing", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        assert screen.panes["missing"].state == "failed"
        assert "missing.gguf" in str(screen.panes["missing"].query_one(".error").render())
        assert screen.picker.states["missing"][0] == "failed"
        assert any("missing.gguf" in n.message for n in app._notifications)
        assert screen.panes["beta"].state == "done"


async def test_cancel_one_pane_then_all(make_app):
    app = make_app("slow", "slow2", "slow3")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "count")
        screen = compare_screen(app)
        await wait_for(pilot, lambda: screen.panes["slow"].state == "streaming")
        await pilot.press("f5", "x")  # the focused (first) pane
        await wait_for(pilot, lambda: screen.panes["slow"].state == "cancelled")
        assert screen.running
        await pilot.press("escape")
        await wait_for(pilot, lambda: finished(app))
        assert {p.state for p in screen.panes.values()} == {"cancelled"}
        assert "cancelled" in screen.panes["slow2"].border_subtitle


async def test_zoom_one_pane_and_back(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        await pilot.press("f5", "right", "z")
        alpha, beta = screen.panes["alpha"], screen.panes["beta"]
        await pilot.pause()
        assert screen.has_class("-zoomed") and screen.zoomed is beta
        assert beta.region.width > 150 and not alpha.display
        await pilot.press("left")  # the zoom follows the focus
        await pilot.pause()
        assert screen.zoomed is alpha and alpha.region.width > 150
        await pilot.press("z")
        await pilot.pause()
        assert not screen.has_class("-zoomed") and beta.display
        assert alpha.region.width < 80


async def test_follow_up_continues_each_conversation_and_ctrl_n_starts_over(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        first = screen.thread.session
        assert "turn 2 (follow-up)" in screen.prompt.border_title
        await send(pilot, "second")
        await wait_for(pilot, lambda: finished(app))
        second = screen.thread.session
        assert second.parent == first.id and second.turn == 2
        conversation = second.run("alpha").conversation
        assert [m["role"] for m in conversation] == ["user", "assistant", "user"]
        assert conversation[1]["content"] == ANSWER
        assert conversation[2]["content"] == "second"
        assert len(screen.panes["alpha"].query(AnswerView)) == 2  # one view per turn
        assert len(session_files(app)) == 2
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.thread is None and not screen.query(AnswerPane)
        assert "turn 1 (new comparison)" in screen.prompt.border_title


async def test_history_brings_back_earlier_prompts(make_app):
    app = make_app("beta")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        await wait_for(pilot, lambda: finished(app))
        await send(pilot, "two")
        await wait_for(pilot, lambda: finished(app))
        await pilot.press(*"draft")
        screen = compare_screen(app)
        await pilot.press("ctrl+up")
        assert screen.prompt.text == "two"
        await pilot.press("ctrl+up")
        assert screen.prompt.text == "one"
        await pilot.press("ctrl+down", "ctrl+down")
        assert screen.prompt.text == "draft"


async def test_copy_answer_and_code_blocks_and_save_one(make_app, tmp_path):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "code please")
        await wait_for(pilot, lambda: finished(app))
        await pilot.press("f5", "c")
        assert app.clipboard == ANSWER
        await pilot.press("b")
        assert app.clipboard == "def add(a, b):\n    return a + b"
        await pilot.press("right_square_bracket", "right_square_bracket", "b")
        assert app.clipboard == "assert add(2, 2) == 4"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert (tmp_path / "alpha.py").read_text() == "assert add(2, 2) == 4\n"
        await pilot.press("s", "enter", "enter")  # exists: a second enter overwrites
        await pilot.pause()
        assert isinstance(app.screen, type(compare_screen(app)))


async def test_schedule_and_mode_switch_show_in_figures_and_session(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t", "ctrl+o")
        screen = compare_screen(app)
        assert screen.settings.schedule == "sequential"
        assert screen.settings.mode == "completion"
        await send(pilot, "def add(")
        await wait_for(pilot, lambda: finished(app))
        assert "sequential" in screen.panes["beta"].full_figures()  # the details (i)
        saved = screen.thread.session
        assert saved.schedule == "sequential" and saved.mode == "completion"


async def test_remapped_key_sends(make_app):
    app = make_app("beta", keys={"send": "f10", "sendd": "f7"})
    async with app.run_test(size=SIZE) as pilot:
        assert any("'sendd'" in n.message for n in app._notifications)
        await pilot.press("f4", *"hi", "ctrl+s")
        await pilot.pause()
        assert not compare_screen(app).panes  # ctrl+s is no longer "send"
        await pilot.press("f10")
        await wait_for(pilot, lambda: finished(app))
        assert compare_screen(app).panes["beta"].state == "done"


async def test_many_models_page_instead_of_scrolling_across(make_app):
    app = make_app("m1", "m2", "m3", "m4", "m5")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", "down", "down", "space", "down", "space", "down", "space")
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        assert len(screen.panes) == 5
        area = screen.pane_area
        assert area.max_scroll_x == 0  # nothing hides to the right
        shown = [pane.model for pane in screen.panes.values() if pane.region.width]
        assert shown == ["m1", "m2", "m3"]
        assert "panes 1–3 of 5" in str(area.marker.render())
        await pilot.press("f5", "right", "right", "right")
        await pilot.pause()
        shown = [pane.model for pane in screen.panes.values() if pane.region.width]
        assert shown == ["m4", "m5"] and screen.focused is screen.panes["m4"]
        assert "panes 4–5 of 5" in str(area.marker.render())


async def test_a_bad_setting_is_refused_and_empty_ones_mean_default(make_app):
    app = make_app("beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3", "tab", "5")  # top-p 5
        await send(pilot, "hi")
        screen = compare_screen(app)
        assert not screen.panes
        assert any("top-p must be between 0 and 1" in n.message for n in app._notifications)
        assert not screen.query_one("#sampling-temperature").has_class("-invalid")
        await pilot.press("f3", "tab", "backspace", "0", ".", "5", "ctrl+s")
        await wait_for(pilot, lambda: finished(app))
        assert screen.thread.session.sampling["top_p"] == 0.5
        # The session keeps what was asked; each run what it used, and from where.
        assert screen.thread.session.sampling["temperature"] is None
        run = screen.thread.session.run("beta")
        assert (run.sampling["temperature"], run.sampling["top_p"]) == (0.2, 0.5)
        assert run.info["sampling_sources"]["temperature"] == "workbench default"
        assert isinstance(run.sampling["seed"], int)  # drawn, recorded and sent
