"""The suite results view, driven by keys: models × tasks of a saved suite, a task's
answers side by side with their check lines, and a suite run (resumed) from the view
with its progress bar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, ProgressBar, Static
from ui_helpers import SIZE, wait_for

from workbench.checks.suite import load_suite
from workbench.checks.suite_run import SuiteRun, SuiteSettings
from workbench.core.runner import Runner
from workbench.models.backends import base
from workbench.models.backends.scripted import ScriptedBackend
from workbench.store.sessions import SessionStore
from workbench.ui.screens.session_view import SessionView
from workbench.ui.screens.suite_results import SuiteResultsScreen
from workbench.ui.widgets.answer_pane import AnswerPane

#: What each scripted model answers a HumanEval chat prompt (code after the prefill).
ANSWERS = {
    "alpha": "def double(x):\n    return 2 * x\n```\n",
    "beta": "def double(x):\n    return x + 2\n```\n",
}


@pytest.fixture(autouse=True)
def _coders(monkeypatch):
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    base.register_backend(
        "scripted", lambda spec: ScriptedBackend(spec, ANSWERS.get(spec.name, "No idea."))
    )


def _suite_file(folder: Path, count: int = 3) -> Path:
    path = folder / "double.jsonl"
    lines = [
        json.dumps(
            {
                "task_id": f"D/{i}",
                "prompt": f'def double(x):\n    """Double x ({i})."""\n',
                "test": f"def check(candidate):\n    assert candidate({i}) == {2 * i}\n",
                "entry_point": "double",
            }
        )
        for i in range(1, count + 1)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _run_first(app, path: Path, limit: int) -> None:
    """Run the suite's first tasks outside the app, as `workbench suite` would."""
    suite = load_suite(path, limit=limit)
    runner = Runner(cores=2)
    try:
        await SuiteRun(
            suite, list(app.config.models), runner, SessionStore(app.store.root), SuiteSettings()
        ).run()
    finally:
        await runner.pool.close()


def _grid(app) -> DataTable:
    return app.screen.query_one("#suite-grid", DataTable)


async def test_grid_then_a_tasks_answers_side_by_side_with_checks(make_app, tmp_path):
    app = make_app("alpha", "beta")
    await _run_first(app, _suite_file(tmp_path), limit=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+f6")
        await wait_for(pilot, lambda: isinstance(app.screen, SuiteResultsScreen))
        await wait_for(pilot, lambda: _grid(app).row_count == 3)
        grid = _grid(app)
        assert [str(c.label) for c in grid.ordered_columns] == ["task", "alpha", "beta"]
        # beta's x + 2 doubles 2 only.
        assert grid.get_row_at(0) == ["D/1", "✓", "✗"]
        assert grid.get_row_at(1) == ["D/2", "✓", "✓"]
        summary = str(app.screen.query_one("#suite-summary", Static).render())
        assert "alpha (chat): pass@1 100.0%" in summary and "beta (chat): pass@1 33.3%" in summary
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        await wait_for(pilot, lambda: len(app.screen.query(AnswerPane)) == 2)
        await pilot.pause()
        panes = {pane.model: pane for pane in app.screen.query(AnswerPane)}
        assert "task:D/3" in app.screen.session.tags
        lines = {m: str(p._check.render()) for m, p in panes.items()}
        assert "passed" in lines["alpha"]
        assert "assert candidate(3) == 6" in lines["beta"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SuiteResultsScreen))


async def test_run_from_the_view_resumes_and_shows_progress(make_app, tmp_path):
    app = make_app("alpha", "beta")
    path = _suite_file(tmp_path, count=4)
    await _run_first(app, path, limit=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+f6")
        await wait_for(pilot, lambda: _grid(app).row_count == 1)
        await pilot.press("r")
        screen = app.screen
        await wait_for(pilot, lambda: screen.suite_run is None and _grid(app).row_count == 4)
        bar = screen.query_one("#suite-bar", ProgressBar)
        assert bar.total == 8 and bar.progress == 8
        progress = str(screen.query_one("#suite-progress", Static).render())
        assert "6 run, 2 saved" in progress
        rows = [_grid(app).get_row_at(i) for i in range(4)]
        assert [row[1] for row in rows] == ["✓"] * 4
        assert [row[2] for row in rows] == ["✗", "✓", "✗", "✗"]


def test_snapshot_of_the_grid(snap_compare, make_app, tmp_path):
    import asyncio

    app = make_app("alpha", "beta")
    asyncio.run(_run_first(app, _suite_file(tmp_path), limit=3))

    async def run_before(pilot) -> None:
        await pilot.press("shift+f6")
        await wait_for(pilot, lambda: isinstance(app.screen, SuiteResultsScreen))
        await wait_for(pilot, lambda: _grid(app).row_count == 3)
        await pilot.press("down", "right")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
