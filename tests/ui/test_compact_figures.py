"""The one-line figures of a narrow pane, for a run streaming now and for a saved one."""

from __future__ import annotations

from workbench.core.record import ModelRun
from workbench.ui.figures import compact


def test_a_saved_run_shows_its_figures_not_no_answer():
    # Loaded from a session file: no t_sent (a monotonic clock of the process that ran it).
    run = ModelRun(
        model="m",
        state="done",
        text="def add(a, b): return a + b",
        first_token_s=0.25,
        last_token_s=1.25,
        total_s=1.3,
        output_tokens=21,
        prompt_tokens=40,
    )
    line = compact(run, "done", now=0.0, width=80)
    assert line == "TTFT 0.25s · 20.0 tok/s · 21 tok · done"


def test_a_run_that_never_answered_says_so():
    run = ModelRun(model="m", state="failed")
    assert compact(run, "failed", now=0.0, width=80) == "no answer · failed"
