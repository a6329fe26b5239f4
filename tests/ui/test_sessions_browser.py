"""The sessions browser, driven by keys: list, filter as you type, open, delete, bad files."""

from __future__ import annotations

import json
import time

from review_helpers import browser, run, save_session, settled, shown_ids
from ui_helpers import SIZE, wait_for

from workbench.store.sessions import SessionStore, filter_summaries
from workbench.ui.screens.choice import ConfirmModal
from workbench.ui.screens.session_view import SessionView
from workbench.ui.screens.sessions import SessionsScreen
from workbench.ui.widgets.answer_pane import AnswerPane


def three_sessions(store: SessionStore) -> None:
    save_session(
        store,
        "20261101-090000-aaaaaa",
        "Sort a list in Python\nwith details",
        [run("alpha", "sorted(xs)"), run("beta", "xs.sort()")],
        tags=["work"],
    )
    save_session(
        store,
        "20261102-090000-bbbbbb",
        "Parse JSON in Rust",
        [run("gemma3", "serde_json"), run("beta", "use serde")],
        ratings={"scores": [{"id": "s1", "model": "beta", "score": 4, "tags": [], "at": 1.0}]},
    )
    save_session(
        store,
        "20261103-090000-cccccc",
        "Write a binary search",
        [run("alpha", "def bs(): ..."), run("smollm2", "def search(): ...")],
    )


async def open_browser(pilot) -> SessionsScreen:
    await pilot.press("f6")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
    await wait_for(pilot, lambda: settled(pilot.app))
    await pilot.pause()
    return browser(pilot.app)


async def test_lists_newest_first_with_when_prompt_models_and_rated(make_app):
    app = make_app("alpha", "beta")
    three_sessions(app.store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_browser(pilot)
        assert shown_ids(app) == [
            "20261103-090000-cccccc",
            "20261102-090000-bbbbbb",
            "20261101-090000-aaaaaa",
        ]
        lines = [screen.session_list.render_line(y).text for y in range(4)]
        assert lines[0].split() == ["when", "★", "prompt", "models"]
        assert "Write a binary search" in lines[1] and "alpha, smollm2" in lines[1]
        assert "★" in lines[2] and "Parse JSON in Rust" in lines[2]  # rated
        assert "★" not in lines[3] and "with details" not in lines[3]  # the first line only
        assert "3 sessions" in str(screen.query_one("#session-count").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, SessionsScreen)


async def test_filters_as_you_type_with_words_and_model_and_rated(make_app):
    app = make_app("alpha", "beta")
    three_sessions(app.store)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        await pilot.press(*"rust")
        await wait_for(pilot, lambda: settled(app))
        assert shown_ids(app) == ["20261102-090000-bbbbbb"]
        for _ in "rust":
            await pilot.press("backspace")
        await pilot.press(*"model:alp")
        await wait_for(pilot, lambda: settled(app))
        assert shown_ids(app) == ["20261103-090000-cccccc", "20261101-090000-aaaaaa"]
        await pilot.press(*" sort")
        await wait_for(pilot, lambda: settled(app))
        assert shown_ids(app) == ["20261101-090000-aaaaaa"]
        await pilot.press("ctrl+u", *"rated:yes")  # ctrl+u clears the input
        await wait_for(pilot, lambda: settled(app))
        assert shown_ids(app) == ["20261102-090000-bbbbbb"]
        await pilot.press("ctrl+u", *"tag:work")
        await wait_for(pilot, lambda: settled(app))
        assert shown_ids(app) == ["20261101-090000-aaaaaa"]
        await pilot.press("ctrl+u", *"nothing like it")
        await wait_for(pilot, lambda: settled(app))
        assert shown_ids(app) == []
        assert "No session matches" in str(browser(app).query_one("#session-count").render())


async def test_enter_opens_the_selected_session_read_only(make_app):
    app = make_app("alpha", "beta")
    three_sessions(app.store)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        await pilot.press("down", "enter")  # the second newest
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        view = app.screen
        await wait_for(pilot, lambda: all(not p.active for p in view.panes.values()))
        assert view.session.id == "20261102-090000-bbbbbb"
        assert [p.model for p in view.query(AnswerPane)] == ["gemma3", "beta"]
        assert view.panes["beta"].answer == "use serde"
        figures = str(view.panes["beta"].query_one(".figures").render())
        assert "2 out / 7 in tok" in figures
        info = str(view.query_one("#session-info").render())
        assert "beta 4/5" in info
        assert "Parse JSON in Rust" in str(view.query_one("#session-prompt Static").render())
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)


async def test_delete_asks_first_then_the_file_and_the_row_are_gone(make_app):
    app = make_app("alpha", "beta")
    three_sessions(app.store)
    target = app.store.path_for("20261103-090000-cccccc")
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")  # keep it
        await pilot.pause()
        assert isinstance(app.screen, SessionView) and target.exists()
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await wait_for(pilot, lambda: "20261103-090000-cccccc" not in shown_ids(app))
        assert not target.exists()
        assert shown_ids(app) == ["20261102-090000-bbbbbb", "20261101-090000-aaaaaa"]
        assert browser(app).session_list.selected.id == "20261102-090000-bbbbbb"


async def test_a_corrupt_file_is_reported_once_and_skipped(make_app):
    app = make_app("alpha", "beta")
    three_sessions(app.store)
    (app.store.root / "20261104-000000-broken.json").write_text("{not json")
    (app.store.root / "20261105-000000-future.json").write_text(
        json.dumps({"schema_version": 99, "id": "x"})
    )
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        assert len(shown_ids(app)) == 3
        warnings = [n for n in app._notifications if "unreadable" in (n.title or "")]
        assert len(warnings) == 1
        assert "20261104-000000-broken.json" in warnings[0].message
        assert "schema_version 99" in warnings[0].message
        assert "2 unreadable files" in str(browser(app).query_one("#session-count").render())
        # Back from a session the list is read again: the same files are not reported again.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        await pilot.press("escape")
        await wait_for(pilot, lambda: settled(app))
        await pilot.pause()
        assert len([n for n in app._notifications if "unreadable" in (n.title or "")]) == 1


async def test_the_key_again_does_not_stack_a_second_browser(make_app):
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        assert "No saved sessions yet" in str(browser(app).query_one("#session-count").render())
        await pilot.press("f6")
        await pilot.pause()
        assert sum(isinstance(s, SessionsScreen) for s in app.screen_stack) == 1


async def test_ten_thousand_sessions_open_and_filter_without_a_wait(make_app, capsys):
    """Open and filter times against a bare ``list()`` of the same store (no absolute limits)."""
    app = make_app("alpha", "beta")
    store = app.store
    store.root.mkdir(parents=True)
    models = ["smollm2", "gemma3", "deepseek", "codestral", "qwen"]
    template = save_session(store, "20260101-000000-000000", "template", [run("a", "x")])
    base = template.to_dict()
    for i in range(10_000):  # written plainly: atomic saves of 10,000 files take a while
        data = dict(base)
        data["id"] = f"2026{1 + i % 12:02d}{1 + i % 28:02d}-{i:06d}-abcdef"
        data["created"] = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00"
        data["prompt"] = f"Write function number {i} that sorts"
        data["runs"] = [
            {**base["runs"][0], "model": models[i % 5]},
            {**base["runs"][0], "model": models[(i + 1) % 5]},
        ]
        (store.root / f"{data['id']}.json").write_text(json.dumps(data))
    summaries, errors = store.list()  # builds the index, as any earlier listing would have
    assert len(summaries) == 10_001 and not errors
    started = time.perf_counter()
    summaries, _ = store.list()
    bare_list = time.perf_counter() - started
    started = time.perf_counter()
    filter_summaries(summaries, "model:gemma 77")
    bare_filter = time.perf_counter() - started

    async with app.run_test(size=SIZE) as pilot:
        started = time.perf_counter()
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and settled(app))
        opened = time.perf_counter() - started
        assert len(shown_ids(app)) == 10_001
        await pilot.press(*"model:gemma 7")
        started = time.perf_counter()
        await pilot.press("7")  # the last key: its debounce, the filter pass, the new rows
        await wait_for(pilot, lambda: settled(app))
        filtered = time.perf_counter() - started
        shown = shown_ids(app)
        assert shown and len(shown) < 10_001
        assert all("gemma3" in row.models for row in browser(app).session_list.rows)
        await pilot.press("pagedown", "pagedown", "down")
        await pilot.pause()
    with capsys.disabled():
        print(
            f"\n10,000 sessions: list() {bare_list * 1000:.0f} ms; filter_summaries "
            f"{bare_filter * 1000:.0f} ms; browser open {opened * 1000:.0f} ms "
            f"({opened / bare_list:.1f}× list); last key to filtered list "
            f"{filtered * 1000:.0f} ms ({filtered / bare_list:.1f}× list, of which "
            f"{SessionsScreen.DEBOUNCE * 1000:.0f} ms is the debounce)"
        )
    # Relative only: opening is one listing (in a thread) plus a screenful of rows;
    # filtering is one pass over the summaries after the debounce.
    assert opened / bare_list < 5
    assert filtered / bare_list < 5


async def test_a_saved_session_can_be_rated_from_its_panes(make_app):
    app = make_app("alpha", "beta")
    three_sessions(app.store)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView))
        view = app.screen
        await wait_for(pilot, lambda: all(not p.active for p in view.panes.values()))
        assert view.focused is view.panes["alpha"]
        await pilot.press("4")  # the pane's score key, on this session
        await wait_for(pilot, lambda: "alpha 4/5" in str(view.query_one("#session-info").render()))
        saved = app.store.load("20261103-090000-cccccc")
        assert [(s["model"], s["score"]) for s in saved.ratings["scores"]] == [("alpha", 4)]
