"""The diff screen, opened from the compare screen after a scripted run, and on 5,000 lines."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
import ui_helpers
from review_helpers import LEFT, RIGHT
from ui_helpers import SIZE, finished, send, wait_for

from workbench.store.diff import diff_lines
from workbench.ui.diff_layout import DiffPair
from workbench.ui.screens.choice import ChoiceModal
from workbench.ui.screens.diff import DiffScreen
from workbench.ui.widgets.diff_view import DiffView


@pytest.fixture(autouse=True)
def _two_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted models "left" and "right" answer LEFT and RIGHT."""
    monkeypatch.setitem(ui_helpers.SCRIPTS, "left", {"text": LEFT})
    monkeypatch.setitem(ui_helpers.SCRIPTS, "right", {"text": RIGHT})


async def run_and_diff(pilot) -> DiffScreen:
    await send(pilot, "Write add and sub")
    await wait_for(pilot, lambda: finished(pilot.app))
    await pilot.press("f7")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiffScreen))
    await pilot.pause()
    return pilot.app.screen


def header(screen: DiffScreen) -> str:
    return str(screen.query_one("#diff-header").render())


async def test_one_key_opens_the_diff_of_the_two_answers(make_app):
    app = make_app("left", "right")
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_and_diff(pilot)
        view = screen.query_one(DiffView)
        assert [(p.a_name, p.b_name) for p in screen.pairs] == [("left", "right")]
        assert screen.diff == diff_lines(LEFT, RIGHT)
        assert f"similarity {screen.diff.similarity:.0%}" in header(screen)
        assert "4 changed hunks" in header(screen)
        assert view.has_focus and not screen.unified
        # Side by side: the changed pair shows both sides, word changes marked.
        first = view.render_line(0).text
        assert "Intro line one." in first and "Intro line two." in first
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffScreen)


async def test_toggles_code_only_unified_and_whitespace(make_app):
    app = make_app("left", "right")
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_and_diff(pilot)
        view = screen.query_one(DiffView)
        await pilot.press("w")  # the re-indented return line no longer counts
        assert screen.ignore_whitespace and len(view.marks) == 3
        assert "ignoring whitespace" in header(screen)
        await pilot.press("c")  # only the code blocks: the prose changes are gone
        assert screen.code_only and len(view.marks) == 1
        assert not any("Intro" in f"{row.left}{row.right}" for row in view.items)  # type: ignore[union-attr]
        await pilot.press("w")
        assert len(view.marks) == 2
        await pilot.press("u")
        assert screen.unified and "unified" in header(screen)
        assert view.items[0].kind == "header"  # type: ignore[union-attr]
        lines = [view.render_line(y).text for y in range(len(view.items))]
        assert any("-     return a + b" in line for line in lines)  # re-indented: out …
        assert any("+         return a + b" in line for line in lines)  # … and in
        await pilot.press("u", "c")
        assert not screen.unified and not screen.code_only


async def test_next_and_previous_hunk_move_through_the_changes(make_app):
    app = make_app("left", "right")
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_and_diff(pilot)
        view = screen.query_one(DiffView)
        visited = []
        for _ in range(4):
            await pilot.press("n")
            visited.append(view.marks[view.current])
        assert visited == view.marks and visited == sorted(visited)
        assert "hunk 4/4" in header(screen)
        await pilot.press("n")  # no more below: stays, and says so
        assert view.current == 3
        assert any("No more changes below" in n.message for n in app._notifications)
        await pilot.press("p", "p")
        assert view.current == 1 and "hunk 2/4" in header(screen)
        await pilot.pause()
        y = view._tops[view.marks[1]] - round(view.scroll_y)
        assert view.render_line(y).text.startswith("▌")  # the current hunk is marked


async def test_three_answers_ask_for_a_pair_or_a_reference(make_app):
    app = make_app("left", "right", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", "down", "down", "space")  # choose beta too
        await send(pilot, "go")
        await wait_for(pilot, lambda: finished(app))
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceModal))
        labels = [label for label, _ in app.screen.choices]
        assert labels[:3] == ["left  ⟷  right", "left  ⟷  beta", "right  ⟷  beta"]
        assert "each against beta (reference)" in labels
        await pilot.press(*["down"] * labels.index("each against beta (reference)"), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        screen = app.screen
        assert [(p.a_name, p.b_name) for p in screen.pairs] == [
            ("beta", "left"),
            ("beta", "right"),
        ]
        assert "pair 1/2" in header(screen)
        await pilot.press("m")
        assert screen.index == 1 and "pair 2/2" in header(screen)
        assert screen.check_action("next_pair", ())


async def test_the_diff_palette_lists_the_diff_keys(make_app):
    from workbench.ui.keys import ACTIONS

    app = make_app("left", "right")
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_and_diff(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        for action in ACTIONS:
            if action.scope in ("diff", "app"):
                assert any(t.startswith(action.help) for t in titles), action.id
        assert not any(t.startswith("Send the prompt") for t in titles)


def five_thousand_lines() -> tuple[str, str]:
    rng = random.Random(4)
    words = [
        "def",
        "return",
        "for",
        "in",
        "if",
        "else",
        "value",
        "result",
        "items",
        "total",
        "self",
        "data",
        "print",
    ]
    a = [
        "    " * rng.randint(0, 3) + " ".join(rng.choices(words, k=rng.randint(2, 12))) + f" {i}"
        for i in range(5000)
    ]
    b = list(a)
    for k in range(200):
        i = rng.randrange(len(b))
        if k % 3 == 0:
            b[i] = b[i].replace("value", "amount", 1) + " # changed"
        elif k % 3 == 1:
            b.insert(i, f"inserted line {k}")
        else:
            del b[i]
    return "\n".join(a), "\n".join(b)


async def painted(view: DiffView) -> None:
    """Wait for the view to draw (its row cache fills as rows are drawn)."""
    while not view._cache:
        await asyncio.sleep(0.002)


async def test_five_thousand_lines_open_fast_and_draw_only_what_is_on_screen(make_app, capsys):
    a, b = five_thousand_lines()
    started = time.perf_counter()
    diff = diff_lines(a, b)
    diff.side_by_side()
    bare = time.perf_counter() - started
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        started = time.perf_counter()
        await app.push_screen(DiffScreen([DiffPair("a", a, "b", b)], "completion"))
        screen = app.screen
        view = screen.query_one(DiffView)
        await painted(view)
        opened = time.perf_counter() - started
        assert len(view.items) > 5000 and len(view.marks) > 100
        assert len(view._cache) <= view.size.height  # built: only the rows on screen
        started = time.perf_counter()
        for _ in range(20):
            screen.action_hunk(1)
        await painted(view)
        hunks = time.perf_counter() - started
        assert view.current == 19 and view.scroll_y > 100
        assert len(view._cache) <= view.size.height
        started = time.perf_counter()
        screen.action_toggle_unified()
        view.scroll_end(animate=False, immediate=True)
        await painted(view)
        unified = time.perf_counter() - started
        assert view.scroll_y > 100
        await pilot.press("n", "p", "pagedown", "u")  # and by keys, for good measure
        await pilot.pause()
        assert not screen.unified
    with capsys.disabled():
        print(
            f"\n5,000-line diff: diff_lines + rows {bare * 1000:.0f} ms; screen pushed and "
            f"first rows drawn {opened * 1000:.0f} ms; 20 hunk jumps + frame "
            f"{hunks * 1000:.0f} ms; unified + end + frame {unified * 1000:.0f} ms"
        )
