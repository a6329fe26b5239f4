"""Headless review of saved sessions: coloured diffs and replays in the terminal."""

from __future__ import annotations

import asyncio

from rich.columns import Columns
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from workbench.store.diff import code_of, diff_lines
from workbench.store.replay import Beat, play
from workbench.store.sessions import Session


def texts_for_diff(session: Session, model: str, code: bool) -> str:
    run = session.run(model)
    return code_of(run.text, session.mode) if code else run.text


def print_diff(
    console: Console,
    session: Session,
    model_a: str,
    model_b: str,
    *,
    code: bool = False,
    unified: bool = False,
    ignore_whitespace: bool = False,
) -> None:
    """The diff of two answers: unified lines, or side by side (colour only on a terminal)."""
    a = texts_for_diff(session, model_a, code)
    b = texts_for_diff(session, model_b, code)
    diff = diff_lines(a, b, ignore_whitespace=ignore_whitespace)
    what = "code" if code else "answers"
    hunks = len(diff.hunk_rows)
    console.print(
        Text.assemble(
            (f"{model_a}", "bold red"),
            " vs ",
            (f"{model_b}", "bold green"),
            f" ({what}): similarity {diff.similarity:.0%}, {hunks} changed hunk"
            + ("" if hunks == 1 else "s"),
        )
    )
    if unified:
        for line in diff.unified(a_name=model_a, b_name=model_b):
            style = ""
            if line.startswith(("+++", "---")):
                style = "bold"
            elif line.startswith("+"):
                style = "green"
            elif line.startswith("-"):
                style = "red"
            elif line.startswith("@@"):
                style = "cyan"
            console.print(Text(line, style=style), highlight=False, soft_wrap=True)
        return
    width = max((console.width - 3) // 2, 20)
    for row in diff.side_by_side():
        left = _segments(row.left_segments, row.left, "red")
        right = _segments(row.right_segments, row.right, "green")
        marker = {"equal": " ", "delete": "-", "insert": "+"}.get(row.kind, "~")
        # Long lines wrap in their half (a cut line would hide the change at its end).
        lefts, rights = left.wrap(console, width), right.wrap(console, width)
        for i in range(max(len(lefts), len(rights), 1)):
            a = lefts[i] if i < len(lefts) else Text("")
            b = rights[i] if i < len(rights) else Text("")
            a.truncate(width, pad=True)
            b.truncate(width, pad=True)
            sign = marker if i == 0 else " "
            console.print(Text.assemble(a, f" {sign} ", b), highlight=False)


def _segments(segments, plain: str | None, colour: str) -> Text:
    if plain is None:
        return Text("")
    if not segments:
        return Text(plain)
    text = Text()
    for segment in segments:
        style = "" if segment.kind == "equal" else f"bold {colour} reverse"
        text.append(segment.text, style=style)
    return text


def replay_session(console: Console, session: Session, speed: float) -> None:
    """The panes fill again at the recorded pace (``speed`` 0 means at once)."""
    texts = {run.model: "" for run in session.runs}

    def render() -> Columns:
        return Columns(
            [
                Panel(Text(texts[name]), title=name, width=max(console.width // len(texts) - 1, 20))
                for name in texts
            ]
        )

    with Live(render(), console=console, refresh_per_second=20) as live:

        def show(beat: Beat) -> None:
            texts[beat.model] += beat.text
            live.update(render())

        asyncio.run(play(session, show, speed=speed))
    for run in session.runs:
        if run.error:
            console.print(Text(f"{run.model}: {run.error['message']}", style="red"))
