"""The sandbox tests print the timing margins they measured at the end of the run."""

from __future__ import annotations

from sandbox_helpers import MARGINS, NOTES, SLACK_S


def pytest_terminal_summary(terminalreporter) -> None:
    if not MARGINS and not NOTES:
        return
    terminalreporter.section("sandbox timing (bound: timeout + 1 s)")
    for name, timeout, elapsed in MARGINS:
        terminalreporter.write_line(
            f"{name:<34} timeout {timeout:>4g} s  took {elapsed:6.3f} s  "
            f"margin {timeout + SLACK_S - elapsed:6.3f} s  ratio {elapsed / timeout:5.3f}"
        )
    for note in NOTES:
        terminalreporter.write_line(note)
