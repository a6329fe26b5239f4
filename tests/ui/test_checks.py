"""Tests attached to a prompt in the compare screen: pass/fail in the panes, in the
session files, and as a pass rate on the leaderboard (over scripted models)."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Static, TextArea
from ui_helpers import ANSWER, SIZE, compare_screen, finished, send, wait_for

from workbench.checks.samples import build_tests, rate_text
from workbench.ui.checks import check_line
from workbench.ui.screens.leaderboard import LeaderboardScreen


def session_files(app):
    return sorted(p for p in app.store.root.glob("*.json") if not p.name.startswith("."))


def check_text(screen, model: str) -> str:
    return str(screen.panes[model].query_one(".check", Static).render())


async def type_tests(pilot, text: str) -> None:
    """Go to the tests field by its key and put ``text`` in it."""
    await pilot.press("f10")
    field = pilot.app.screen.focused
    assert isinstance(field, TextArea) and field.id == "tests"
    field.load_text(text)


async def test_passing_tests_show_in_the_pane_and_the_session_file(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await type_tests(pilot, "assert add(2, 2) == 4")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        assert check_text(screen, "alpha") == "✔ tests passed"
        assert check_text(screen, "beta").startswith("error: No Python code")
        assert screen.panes["alpha"].query_one(".check").display
    [path] = session_files(app)
    runs = {run["model"]: run for run in json.loads(path.read_text())["runs"]}
    assert runs["alpha"]["info"]["check"]["status"] == "passed"
    assert runs["beta"]["info"]["check"]["status"] == "error"
    state = json.loads(app.state_path.read_text())
    assert state["tests"] == "assert add(2, 2) == 4"  # kept for the next start


async def test_a_failing_test_shows_its_assertion(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await type_tests(pilot, "def test_add():\n    assert add(2, 2) == 5\n")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        line = check_text(screen, "alpha")
        assert line.startswith("✘ failed:") and "assert add(2, 2) == 5" in line
    [path] = session_files(app)
    [run] = json.loads(path.read_text())["runs"]
    assert run["info"]["check"]["passed"] is False


async def test_no_tests_no_check_and_broken_tests_do_not_send(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app))
        assert not screen.panes["alpha"].query_one(".check").display
        await type_tests(pilot, "assert add(")
        await send(pilot, "again")
        await pilot.pause()
        assert screen.thread is not None and screen.thread.turn == 1  # refused
    [path] = session_files(app)
    [run] = json.loads(path.read_text())["runs"]
    assert "check" not in run["info"]


async def test_the_leaderboard_shows_pass_rates(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await type_tests(pilot, "assert add(2, 2) == 4")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        await pilot.press("f12")
        board = app.screen
        assert isinstance(board, LeaderboardScreen)
        await wait_for(pilot, lambda: board.board is not None)
        table = board.query_one("#lb-standings", DataTable)
        rows = {table.get_row_at(i)[1]: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["alpha"][-1] == "1/1"
        assert rows["beta"][-1] == "0/1"


def test_humaneval_check_gets_the_answers_function():
    tests = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    assert build_tests(tests, ANSWER, "chat").entry_point == "add"
    assert build_tests("assert add(1, 2) == 3", ANSWER, "chat").entry_point is None
    called = tests + "check(add)\n"
    assert build_tests(called, ANSWER, "chat").entry_point is None


def test_check_lines_and_rates():
    assert check_line({"status": "passed"}).plain == "✔ tests passed"
    assert check_line({"status": "timeout", "message": "timed out"}).plain == "timeout: timed out"
    assert check_line({"status": "error", "message": "boom"}).plain == "error: boom"
    assert rate_text((3, 5)) == "3/5" and rate_text(None) == "–"
