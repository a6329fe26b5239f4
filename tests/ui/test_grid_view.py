"""The grid view, driven by keys: prompts × models × settings of a saved grid, a cell's
answers side by side, its next repeat, and the scores given there counted in the cell."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static
from ui_helpers import SIZE, wait_for

from workbench.checks.grid import run_grid
from workbench.checks.grid_file import parse_grid
from workbench.core.runner import Runner
from workbench.store.sessions import SessionStore
from workbench.store.votes import add_score
from workbench.ui.screens.grid import GridScreen
from workbench.ui.screens.session_view import SessionView
from workbench.ui.widgets.answer_pane import AnswerPane

GRID = """\
name = "tools"
repeat = 2

[settings]
temperature = [0, 0.5]

[[prompts]]
name = "add"
prompt = "Write add(a, b)."
checks = [{ type = "contains", value = "def add" }]

[[prompts]]
name = "greet"
prompt = "Say hi."
checks = [{ type = "contains", value = "hi" }]
"""


async def _run(app) -> None:
    """Run the grid outside the app, as `workbench grid` would."""
    grid = parse_grid(GRID, Path("tools.toml"))
    runner = Runner(cores=2)
    try:
        await run_grid(
            grid, list(app.config.models), runner, SessionStore(app.store.root), schedule="parallel"
        )
    finally:
        await runner.pool.close()


def _table(app) -> DataTable:
    return app.screen.query_one("#grid-table", DataTable)


async def test_the_grid_and_a_cells_answers_side_by_side(make_app):
    app = make_app("alpha", "beta")
    await _run(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+f12")
        await wait_for(pilot, lambda: isinstance(app.screen, GridScreen))
        await wait_for(pilot, lambda: _table(app).row_count == 2)
        table = _table(app)
        headers = [str(c.label) for c in table.ordered_columns]
        assert headers == [
            "prompt",
            "alpha\ntemperature=0",
            "alpha\ntemperature=0.5",
            "beta\ntemperature=0",
            "beta\ntemperature=0.5",
        ]
        add, greet = table.get_row_at(0), table.get_row_at(1)
        # alpha's scripted answer has "def add"; beta's has neither "def add" nor "hi".
        assert add[0] == "add" and add[1].startswith("2/2 ✓") and add[3].startswith("0/2 ✓")
        assert greet[0] == "greet" and greet[3].startswith("0/2 ✓")
        assert "tok/s ‖" in add[1]  # two models in parallel: contended
        summary = str(app.screen.query_one("#grid-summary", Static).render())
        assert "alpha · temperature=0: 50.0% of 4 checks" in summary  # add passes, greet fails

        await pilot.press("enter")  # the cursor starts on the first model's column
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        await wait_for(pilot, lambda: len(app.screen.query(AnswerPane)) == 2)
        first = app.screen.session
        assert {"prompt:add", "settings:temperature=0", "repeat:1"} <= set(first.tags)
        add_score(app.store, first.id, "alpha", 4)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, GridScreen))
        await wait_for(pilot, lambda: "★4.0" in _table(app).get_row_at(0)[1])

        await pilot.press("n")  # the same cell's second repeat
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        assert "repeat:2" in app.screen.session.tags
        assert app.screen.session.id != first.id


async def test_no_grid_yet_says_how_to_run_one(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+f12")
        await wait_for(pilot, lambda: isinstance(app.screen, GridScreen))
        summary = app.screen.query_one("#grid-summary", Static)
        await wait_for(pilot, lambda: "workbench grid FILE" in str(summary.render()))
