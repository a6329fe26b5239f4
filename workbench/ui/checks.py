"""What a pane shows of checks: one coloured line per answer, and the summary of samples.

The logic (tests from the typed text, running them, tallies, pass rates) is
Textual-free and lives in ``workbench.checks.samples``; this module only draws it.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content

from workbench.checks.samples import summary_text


def check_line(check: dict[str, Any] | None) -> Content:
    """One line for a pane: ``✔ tests passed``, ``✘ failed: <assertion>``, an error, a timeout."""
    if check is None:
        return Content.from_markup("[$text-muted]running the tests…[/]")
    status, message = check.get("status", "error"), check.get("message", "")
    if status == "passed":
        what = check.get("what", "tests")
        return Content.from_markup("[b $success]✔ $what passed[/]", what=what)
    if status == "failed":
        return Content.from_markup("[b $error]✘ failed:[/] $message", message=message)
    if status in ("timeout", "killed"):
        return Content.from_markup(
            "[b $warning]$status:[/] $message", status=status, message=message
        )
    return Content.from_markup("[b $error]error:[/] $message", message=message)


def samples_line(summary: dict[str, Any], samples: int) -> Content:
    """The summary of one model's samples: ``samples 3 · passed 2/3 · pass@1 67% · …``."""
    return Content.from_markup(
        "[b $accent]$count samples[/] · $text",
        count=str(samples),
        text=summary_text(summary, samples),
    )
