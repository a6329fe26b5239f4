"""A backend's one-time notice (a load without weight repacking) shows under the figures."""

from __future__ import annotations

from workbench.core.record import ModelRun
from workbench.ui import figures

NOTICE = "llama.cpp crashed repacking weights for this CPU (AMX); loaded without repacking"


def run(**info) -> ModelRun:
    return ModelRun("m", state="done", text="hi", output_tokens=1, info=dict(info))


def test_the_notice_is_a_line_of_the_final_figures() -> None:
    lines = figures.final(run(notice=NOTICE), "parallel")
    assert lines[-1] == NOTICE
    assert len(lines) == len(figures.final(run(), "parallel")) + 1


def test_no_notice_no_line() -> None:
    assert all("repacking" not in line for line in figures.final(run(), "parallel"))
