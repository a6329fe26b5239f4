"""Reliability tests: faults injected on purpose. Each test records the figure it measured,
and the figures are printed together at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

# The fault servers of the backend tests (loopback, fake_openai, fake_ollama) and the
# UI tests' helpers are reused here, imported by plain module name as those tests do.
for _folder in ("models/backends", "ui"):
    _path = str(Path(__file__).resolve().parent.parent / _folder)
    if _path not in sys.path:
        sys.path.append(_path)

from reliability_helpers import FIGURES  # noqa: E402


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for test, text in FIGURES:
        terminalreporter.write_line(f"{test:<58} {text}")
