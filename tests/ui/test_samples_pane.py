"""Several samples per model in the compare screen: a turn per sample with its check
line, the summary in each pane, one session per sample, and esc stopping the rest."""

from __future__ import annotations

import json

from textual.widgets import Input, Static
from ui_helpers import SIZE, compare_screen, finished, send, wait_for


async def set_samples(pilot, value: str) -> None:
    """f3 goes to temperature; tab walks on to top-p, max tokens, seed, samples."""
    await pilot.press("f3", "tab", "tab", "tab", "tab")
    field = pilot.app.screen.focused
    assert isinstance(field, Input) and field.id == "samples"
    await pilot.press(*value)


async def set_tests(pilot, text: str) -> None:
    await pilot.press("f10")
    pilot.app.screen.focused.load_text(text)


def texts(pane, selector: str) -> list[str]:
    return [str(widget.render()) for widget in pane.query(selector).results(Static)]


def sessions(app) -> list[dict]:
    files = sorted(p for p in app.store.root.glob("*.json") if not p.name.startswith("."))
    return [json.loads(path.read_text()) for path in files]


async def test_three_samples_with_tests_show_each_check_and_the_summary(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await set_samples(pilot, "3")
        await set_tests(pilot, "assert add(2, 2) == 4")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=60)
        alpha, beta = screen.panes["alpha"], screen.panes["beta"]
        assert texts(alpha, ".user") == ["sample 1/3", "sample 2/3", "sample 3/3"]
        assert texts(alpha, ".check") == ["✔ tests passed"] * 3
        assert all(line.startswith("error: No Python code") for line in texts(beta, ".check"))
        [summary] = texts(alpha, ".samples")
        assert summary == (
            "3 samples · passed 3/3 · pass@1 100% · pass@3 100% · 1 distinct of 3 answers"
        )
        [summary] = texts(beta, ".samples")
        assert "passed 0/3 · pass@1 0% · pass@3 0%" in summary
        # The last sample is the latest answer: rating and the next prompt act on it.
        assert screen.thread is not None and screen.thread.session.tags[0] == "sample:3"
    saved = sessions(app)
    assert len(saved) == 3
    groups = {tag for s in saved for tag in s["tags"] if tag.startswith("group:")}
    assert len(groups) == 1
    assert sorted(s["sampling"]["seed"] for s in saved) == [1, 2, 3]
    assert {s["sampling"]["temperature"] for s in saved} == {0.8}
    for s in saved:
        checks = {run["model"]: run["info"]["check"]["status"] for run in s["runs"]}
        assert checks == {"alpha": "passed", "beta": "error"}


async def test_samples_without_tests_count_distinct_answers(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await set_samples(pilot, "2")
        await send(pilot, "Write add")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        pane = screen.panes["alpha"]
        assert not pane.query(".check.-shown")
        assert texts(pane, ".samples") == ["2 samples · 1 distinct of 2 answers"]


async def test_esc_stops_the_remaining_samples(make_app):
    app = make_app("slow")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await set_samples(pilot, "5")
        await send(pilot, "Count")
        await wait_for(pilot, lambda: screen.panes["slow"].state == "streaming")
        await pilot.press("escape")
        await wait_for(pilot, lambda: finished(app), timeout=30)
        pane = screen.panes["slow"]
        assert texts(pane, ".user") == ["sample 1/5"]
        assert pane.state == "cancelled"
        [summary] = texts(pane, ".samples")
        assert summary == "5 samples · stopped: 0 of 5 answered"
    assert len(sessions(app)) == 1


async def test_samples_out_of_range_are_refused_with_a_message(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await set_samples(pilot, "25")
        await send(pilot, "Write add")
        await pilot.pause()
        assert screen.thread is None and not screen.running
        messages = [n.message for n in app._notifications]
        assert "samples must be between 1 and 20, not 25." in messages
