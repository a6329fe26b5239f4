"""``workbench diff``'s side by side in a terminal: long lines wrap, nothing is cut.

At 80 columns a line longer than its half ended where the half did
("if isinstance(n, bool) and n % 2 =", "divide 10-100 with t"), and one hunk was
"1 changed hunks".
"""

from __future__ import annotations

import io

from rich.console import Console

from workbench.cli.terminal import print_diff
from workbench.core.record import ModelRun
from workbench.store.sessions import Session

LONG_A = " ".join(f"a{i:02}" for i in range(40))  # 159 cells: four halves of 38
LONG_B = " ".join(f"b{i:02}" for i in range(40))


def session() -> Session:
    runs = [
        ModelRun(model="one", state="done", text=f"same\n{LONG_A}\nsame again"),
        ModelRun(model="two", state="done", text=f"same\n{LONG_B}\nsame again"),
    ]
    return Session(id="20260101-000000-abcdef", created="2026-01-01T00:00:00+00:00",
                   mode="chat", prompt="p", runs=runs)  # fmt: skip


def printed(**options) -> str:
    out = io.StringIO()
    print_diff(Console(file=out, width=80), session(), "one", "two", **options)
    return out.getvalue()


def test_side_by_side_wraps_long_lines_and_keeps_every_word():
    text = printed()
    assert max(len(line) for line in text.splitlines()) <= 80
    words = text.split()
    for i in range(40):
        assert f"a{i:02}" in words and f"b{i:02}" in words
    assert text.splitlines()[0].endswith("1 changed hunk")


def test_unified_keeps_every_word_too():
    text = printed(unified=True)
    assert all(f"a{i:02}" in text and f"b{i:02}" in text for i in range(40))
