"""The app end to end on the two bundled GGUF models, driven by keys (slow)."""

from __future__ import annotations

import pytest
from ui_helpers import SIZE, compare_screen, finished, send, wait_for

from workbench.ui.app import WorkbenchApp


@pytest.mark.slow
async def test_compare_the_bundled_models_from_the_keyboard(bundled, tmp_path):
    try:
        import workbench.models.backends.llamacpp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - only before the backend lands
        pytest.skip(f"the llama.cpp backend is not there yet: {exc}")
    app = WorkbenchApp(
        bundled,
        sessions_dir=tmp_path / "sessions",
        state_path=tmp_path / "state.json",
        save_dir=tmp_path,
    )
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        assert screen.picker.chosen == ["smollm2", "gemma3"]
        assert app.runner.pool.loaded("smollm2") is None  # nothing loads before the first send
        # f3 goes to temperature; tab walks on to top-p, max tokens, seed.
        await pilot.press("f3", "0", "tab", "tab", "2", "4", "tab", "1")
        await send(pilot, "Write a Python function that adds two numbers.")
        await wait_for(pilot, lambda: finished(app), timeout=600)
        for name in ("smollm2", "gemma3"):
            pane = screen.panes[name]
            assert pane.state == "done", pane.error
            assert pane.run.text and 0 < pane.run.output_tokens <= 24
            assert "tok/s" in str(pane.query_one(".figures").render())
            assert "parallel" in pane.full_figures()  # the conditions: in the details (i)
            assert screen.picker.states[name][0] == "ready"
        first = screen.thread.session
        assert first.sampling["max_tokens"] == 24 and first.sampling["seed"] == 1

        await send(pilot, "Now add a docstring.")
        await wait_for(pilot, lambda: finished(app), timeout=600)
        second = screen.thread.session
        assert second.parent == first.id
        for name in ("smollm2", "gemma3"):
            roles = [m["role"] for m in second.run(name).conversation]
            assert roles == ["user", "assistant", "user"]
            assert screen.panes[name].state == "done"
        await pilot.press("ctrl+q")
    assert len(list((tmp_path / "sessions").glob("*.json"))) == 2
