"""The app around the compare screen: themes, state, keys, help, palette, errors."""

from __future__ import annotations

import json

from textual.command import CommandPalette
from ui_helpers import SIZE, compare_screen, finished, make_config, send, wait_for

from workbench.errors import ConfigError
from workbench.ui.app import WorkbenchApp
from workbench.ui.keys import ACTIONS
from workbench.ui.screens.error import ErrorModal
from workbench.ui.screens.help import HelpScreen


async def test_theme_chosen_from_the_palette_is_remembered(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "workbench-dark"
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"workbench-light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "workbench-light"
        assert app.get_css_variables()["diff-added-background"] == "#dafbe1"
    assert json.loads(app.state_path.read_text())["theme"] == "workbench-light"
    again = make_app("alpha")
    async with again.run_test(size=SIZE):
        assert again.theme == "workbench-light"


async def test_builtin_theme_gets_the_diff_variables(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await pilot.pause()
        assert app.get_css_variables()["diff-removed-background"]


async def test_config_theme_wins_and_an_unknown_one_is_reported(make_app):
    app = make_app("alpha", theme="workbench-light")
    async with app.run_test(size=SIZE):
        assert app.theme == "workbench-light"
    app = make_app("alpha", theme="no-such-theme")
    async with app.run_test(size=SIZE):
        assert app.theme == "workbench-dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


async def test_broken_state_file_is_ignored_with_a_notification(make_app, tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        assert any("broken state file" in n.message for n in app._notifications)
        await send(pilot, "still works")
        await wait_for(pilot, lambda: finished(app))
    assert json.loads((tmp_path / "state.json").read_text())["history"] == ["still works"]


async def test_remembered_choice_of_models(make_app, tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"version": 1, "models": ["broken", "gone"]}))
    app = make_app("alpha", "beta", "broken")
    async with app.run_test(size=SIZE):
        assert compare_screen(app).picker.chosen == ["broken"]


async def test_bad_config_opens_a_modal_not_a_traceback(tmp_path):
    error = ConfigError("unknown key 'modles'.", path="workbench.toml", line=3)
    app = WorkbenchApp(
        make_config("alpha"),
        sessions_dir=tmp_path,
        state_path=None,
        startup_errors=[error],
        test_mode=True,
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert "workbench.toml:3" in app.screen.message
        await pilot.press("enter")
        assert not isinstance(app.screen, ErrorModal)


async def test_help_lists_every_action_with_remapped_keys(make_app):
    app = make_app("alpha", keys={"zoom": "m"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("DataTable")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        ids = {row[1] for row in rows}
        assert {a.id for a in ACTIONS} <= ids
        assert [row[0] for row in rows if row[1] == "zoom"] == ["m"]
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_has_every_action(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        titles = [c.title for c in app.get_system_commands(compare_screen(app))]
        # The other screens' actions are in their palettes (tests/ui/test_review_screens.py).
        for action in (a for a in ACTIONS if a.scope in ("app", "compare", "pane")):
            assert any(title.startswith(action.help) for title in titles), action.id
        await pilot.press("ctrl+p", *"zoom this")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert compare_screen(app).zoomed is compare_screen(app).panes["alpha"]


async def test_screenshot_key_saves_an_svg(make_app, tmp_path):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await pilot.pause()
    [svg] = tmp_path.glob("*.svg")
    assert svg.read_text().startswith("<svg")


async def test_quit_key_closes_the_models(make_app):
    app = make_app("alpha")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        assert app.runner.pool.loaded("alpha") is not None
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.runner.pool.loaded("alpha") is None
    assert app.return_code == 0


async def test_discovered_gguf_files_join_the_picker(tmp_path, monkeypatch):
    from dataclasses import replace

    from gguf_files import write_gguf

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real caches
    for name in ("HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "models"
    folder.mkdir()
    write_gguf(folder / "deepseek-coder-1.3b-instruct.Q4_K_M.gguf")
    config = replace(make_config("alpha"), discovery_folders=(str(folder),))
    app = WorkbenchApp(
        config, sessions_dir=tmp_path, state_path=None, test_mode=True, discover=True
    )
    async with app.run_test(size=SIZE) as pilot:
        picker = compare_screen(app).picker
        await wait_for(pilot, lambda: len(picker.specs) == 2)
        spec = picker.specs["deepseek-coder-1.3b-instruct.Q4_K_M"]
        assert spec.origin.startswith("discovered")
        assert picker.chosen == ["alpha"]  # found, not chosen for the user
