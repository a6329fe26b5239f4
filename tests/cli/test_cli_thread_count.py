"""``workbench run``'s table says "1 thread", not "1 threads" (as the app does)."""

from __future__ import annotations

from workbench.cli.run import _figures
from workbench.core.record import ModelRun


def finished(threads: int) -> ModelRun:
    return ModelRun(
        model="m",
        state="done",
        text="hi",
        chunks=[(0.1, "hi")],
        first_token_s=0.1,
        last_token_s=0.1,
        total_s=0.2,
        prompt_tokens=3,
        output_tokens=1,
        threads=threads,
        finish_reason="stop",
    )


def test_one_thread_is_singular_and_two_are_plural():
    assert "parallel · 1 thread · finish" in _figures(finished(1), "parallel").plain
    assert "parallel · 2 threads · finish" in _figures(finished(2), "parallel").plain
