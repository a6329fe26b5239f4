"""The app with a sessions folder it cannot write: the send shows why, in a modal."""

from __future__ import annotations

from ui_helpers import SIZE, send, wait_for

from workbench.ui.screens.error import ErrorModal


async def test_a_send_that_cannot_be_saved_says_so(make_app, tmp_path):
    (tmp_path / "sessions").write_text("a file where the folder should be")
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert app.screen.error_title == "Cannot save the session"
        assert "--sessions DIR" in app.screen.message
        await pilot.press("enter")
        assert not isinstance(app.screen, ErrorModal)
