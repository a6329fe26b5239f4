"""The pane screens' faster frame timer rests on two Textual internals: guard them."""

from __future__ import annotations

from textual.screen import Screen

from workbench.ui.pane_host import FRAME_RATE, PaneHost


def test_textual_still_has_the_hooks_the_frame_timer_replaces():
    # A rename in Textual would silently bring back the 60 fps grid.
    assert isinstance(Screen.__dict__.get("_update_timer"), property)
    assert callable(getattr(Screen, "_on_timer_update", None))
    assert isinstance(PaneHost.__dict__["_update_timer"], property)


async def test_the_compare_screen_draws_on_the_faster_grid(make_app):
    app = make_app("alpha")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, PaneHost)
        timer = screen._update_timer
        assert timer is screen._update_timer  # one timer per screen
        assert timer._interval == 1 / FRAME_RATE
