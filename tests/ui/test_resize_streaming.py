"""The terminal resized while two answers stream: nothing is lost, the layout follows.

One pane follows its stream; in the other the user scrolled back to the top. The
terminal goes 200 → 80 → 60 (one pane a page: the other streams hidden) → 100 → 200
columns while both stream; at the end each pane holds its whole answer, the
following pane is at the bottom and the other is still at the top.
"""

from __future__ import annotations

import asyncio

import pytest
from ui_helpers import compare_screen, finished, send, wait_for

from workbench.models.backends import base
from workbench.models.backends.scripted import ScriptedBackend
from workbench.ui.widgets.answer_view import AnswerView

TEXT = "".join(f"Line {i} goes on.\n\n" for i in range(60))


class Gated(ScriptedBackend):
    """Streams the first half of ``TEXT``, then the rest once ``gate`` opens, so every
    resize happens while both panes stream however slow the machine is."""

    gate: asyncio.Event

    async def stream(self, request):
        count = 0
        async for chunk in super().stream(request):
            count += 1
            if count == 120:
                await Gated.gate.wait()
            yield chunk


@pytest.fixture(autouse=True)
def _gated_streams(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    base.register_backend("scripted", lambda spec: Gated(spec, TEXT, delay=0.005))
    Gated.gate = asyncio.Event()


def _view(pane) -> AnswerView:
    return pane.query_one(AnswerView)


def _shown(screen) -> list[str]:
    return [name for name, pane in screen.panes.items() if pane.region.area]


async def test_resizing_while_answers_stream_keeps_text_and_scroll(make_app):
    app = make_app("stream1", "stream2")
    async with app.run_test(size=(200, 50)) as pilot:
        screen = compare_screen(app)
        await send(pilot, "Count")
        follow, reader = screen.panes["stream1"], screen.panes["stream2"]
        await wait_for(pilot, lambda: reader.max_scroll_y > 5 and follow.max_scroll_y > 5)
        await pilot.press("f5", "right", "home")  # the reader goes back to the top
        await pilot.pause()
        assert reader.scroll_y == 0 and follow.active and reader.active

        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert screen.sidebar_folded and _shown(screen) == ["stream1", "stream2"]
        assert [p.region.width for p in screen.panes.values()] == [40, 40]
        assert reader.scroll_y == 0

        await pilot.resize_terminal(60, 24)  # one pane a page: the focused one shows
        await pilot.pause()
        assert _shown(screen) == ["stream2"]
        assert "pane 2 of 2" in str(screen.pane_area.marker.render())
        hidden = len(_view(follow).source)
        Gated.gate.set()  # the hidden pane streams on
        await wait_for(pilot, lambda: len(_view(follow).source) > hidden)
        assert reader.scroll_y == 0

        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert _shown(screen) == ["stream1", "stream2"]
        assert [p.region.width for p in screen.panes.values()] == [50, 50]

        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert not screen.sidebar_folded and screen.query_one("#sidebar").region.width == 36

        await wait_for(pilot, lambda: finished(app), timeout=60)
        await pilot.pause()
        for pane in (follow, reader):
            assert _view(pane).source == TEXT and pane.answer == TEXT
            assert pane.state == "done"
        assert follow.max_scroll_y > 0 and follow.scroll_y == follow.max_scroll_y
        assert reader.scroll_y == 0
