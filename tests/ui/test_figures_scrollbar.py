"""Side-by-side panes of one width show one kind of figures line, scrollbar or not.

At 80×24 the pane whose answer scrolled showed ``0.23s·16.7 tok/s·256 tok·done`` and
its neighbour ``TTFT 0.34s·27.8 tok/s·12 tok·done``: the width the line was fitted
to lost two cells when the scrollbar appeared (at the end of the stream, so the line
also changed its form as the answer finished).
"""

from __future__ import annotations

import pytest
import ui_helpers
from ui_helpers import finished, send, wait_for

from workbench.ui.widgets.answer_pane import AnswerPane


@pytest.fixture(autouse=True)
def _answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ui_helpers.SCRIPTS, "short", {"text": "Bonjour.\n"})
    long = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(60))
    monkeypatch.setitem(ui_helpers.SCRIPTS, "long", {"text": long})


async def test_a_scrolling_pane_fits_its_figures_to_the_same_width(make_app):
    app = make_app("short", "long")
    async with app.run_test(size=(80, 24)) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        await pilot.pause()
        short, long = app.screen.query(AnswerPane)
        assert short.region.width == long.region.width
        assert long.show_vertical_scrollbar and not short.show_vertical_scrollbar
        lines = [pane.query_one(".figures") for pane in (short, long)]
        assert short._figures_width(lines[0]) == long._figures_width(lines[1])
