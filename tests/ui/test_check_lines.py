"""``# check:`` lines in the tests box: checks beside (or instead of) the tests, in the
panes and the session files (over scripted models)."""

from __future__ import annotations

import json

from test_checks import check_text, session_files, type_tests
from ui_helpers import SIZE, compare_screen, finished, send, wait_for


async def test_checks_alone_and_with_tests(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await type_tests(pilot, "# check: contains:def add\n# check: not-contains:TODO\n")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        await wait_for(pilot, lambda: checked(screen, "alpha", "beta"), timeout=30)
        assert check_text(screen, "alpha") == "✔ 2 checks passed"
        assert check_text(screen, "beta") == "✘ failed: contains:def add: not found: 'def add'"

        await pilot.press("ctrl+n")
        await type_tests(pilot, "assert add(2, 2) == 4\n# check: max-tokens:1\n")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        await wait_for(pilot, lambda: checked(screen, "alpha"), timeout=30)
        line = check_text(screen, "alpha")
        assert line.startswith("✘ failed: max-tokens:1:") and "(max 1)" in line

        await type_tests(pilot, "# check: regex:(\n")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: any("line 1" in str(n.message) for n in app._notifications))
    first, second = session_files(app)
    runs = {run["model"]: run for run in json.loads(first.read_text())["runs"]}
    assert runs["alpha"]["info"]["check"] == {
        "status": "passed", "passed": True, "message": "passed", "what": "2 checks"
    }  # fmt: skip
    assert [c["passed"] for c in runs["beta"]["info"]["checks"]] == [False, True]
    [alpha] = [r for r in json.loads(second.read_text())["runs"] if r["model"] == "alpha"]
    assert alpha["info"]["check"]["what"] == "tests and 1 check"


def checked(screen, *models: str) -> bool:
    """Every model's check line shows a verdict (not "running the tests…")."""
    return all(check_text(screen, m).startswith(("✔", "✘")) for m in models)
