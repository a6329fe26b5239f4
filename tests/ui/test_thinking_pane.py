"""A reasoning model's thinking in its pane: folded to one line, opened by a key, and
kept out of the answer (copy, code blocks, checks read the answer only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from textual.widgets import Static
from ui_helpers import finished, send, wait_for

from workbench.models.backends.base import register_backend
from workbench.models.backends.scripted import ScriptedBackend
from workbench.models.request import Chunk, Request, ThinkingChunk
from workbench.ui.widgets.thinking_fold import ThinkingFold

THOUGHT = "The user wants a greeting. Say hello."


class Reasoner(ScriptedBackend):
    """Thinks first, then answers (as a reasoning model behind llama-server does)."""

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        for word in THOUGHT.split(" "):
            yield ThinkingChunk(word + " ")
        async for chunk in super().stream(request):
            yield chunk


async def test_thinking_is_folded_and_a_key_opens_it(make_app):
    register_backend("scripted", lambda spec: Reasoner(spec, text="Hello!\n"))
    app = make_app("thinker")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        pane = app.screen.panes["thinker"]
        fold = pane.query_one(ThinkingFold)
        chars = len(pane.run.thinking)
        assert str(fold.render()).startswith(f"▸ thinking ({chars} chars) · h shows it")
        assert pane.answer == "Hello!\n"  # the thinking is not the answer
        assert THOUGHT not in str(fold.render())
        pane.focus()
        await pilot.press("h")
        assert THOUGHT in str(fold.render())
        await pilot.press("h")
        assert THOUGHT not in str(fold.render())
        # The session keeps it apart as well.
        assert pane.run.thinking.strip() == THOUGHT and "greeting" not in pane.run.text
        assert isinstance(fold, Static)


async def test_an_answer_without_thinking_has_no_fold(make_app):
    app = make_app("alpha")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        pane = app.screen.panes["alpha"]
        assert not pane.query(ThinkingFold)
        pane.focus()
        await pilot.press("h")
        await pilot.pause()
        assert not pane.query(ThinkingFold)


async def test_the_cold_switch_reaches_the_runner_and_the_session(make_app):
    app = make_app("alpha")
    async with app.run_test(size=(120, 40)) as pilot:
        assert "cache    warm" in str(app.screen.settings._switches())
        await pilot.press("f11")
        assert app.runner.cold and "cache    cold" in str(app.screen.settings._switches())
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        assert app.screen.panes["alpha"].run.info["prompt_cache"] == "cold"
        await pilot.press("f11")
        assert not app.runner.cold
