"""``workbench run`` and ``workbench show``: the runner's events as Rich output or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workbench import format as fmt
from workbench.compare import open_session, rerun_requests, run_comparison
from workbench.config import Config, ModelSpec
from workbench.errors import UsageError
from workbench.events import Event, Loading, ModelRun, ThreadsChanged
from workbench.metrics import figures, live_rate
from workbench.request import Request, Sampling
from workbench.runner import Runner
from workbench.sessions import Session, SessionStore

STATE_STYLE = {
    "queued": "dim",
    "loading": "cyan",
    "streaming": "yellow",
    "done": "green",
    "failed": "bold red",
    "cancelled": "magenta",
}


def build_request(args: argparse.Namespace, config: Config, prompt: str) -> Request:
    sampling = Sampling(
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        seed=args.seed,
    ).merged_over(config.sampling)
    if args.completion:
        if args.system:
            raise UsageError("--system has no meaning with --completion (there is no template).")
        return Request.completion(prompt, sampling=sampling)
    return Request.chat(prompt, system=args.system, sampling=sampling)


async def run_command(
    args: argparse.Namespace,
    config: Config,
    store: SessionStore,
    prompt: str,
    specs: list[ModelSpec],
) -> int:
    request = build_request(args, config, prompt)
    schedule = args.schedule or config.schedule
    runner = Runner()
    recorder = open_session(store, specs, request, schedule=schedule)
    progress = Progress(recorder.session)
    console = Console(stderr=args.json)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    # Ctrl-C cancels every model; what streamed so far is kept and saved.
    loop.add_signal_handler(signal.SIGINT, lambda: asyncio.ensure_future(runner.cancel()))
    try:
        with Live(progress, console=console, refresh_per_second=8, transient=True) as live:
            progress.live = live
            await run_comparison(
                runner,
                store,
                specs,
                request,
                schedule=schedule,
                listener=progress,
                recorder=recorder,
            )
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await runner.pool.close()
    del task
    session = recorder.session
    if recorder.save_error:
        Console(stderr=True).print(f"[red]{recorder.save_error}[/]")
    if args.json:
        print(json.dumps(run_json(session, recorder.path), indent=2, ensure_ascii=False))
    else:
        print_session(console, session, recorder.path)
    return 0 if all(run.state == "done" for run in session.runs) else 1


def run_json(session: Session, path: Path) -> dict[str, Any]:
    runs = []
    for run in session.runs:
        fig = figures(run)
        runs.append(
            {
                "model": run.model,
                "backend": run.identity.get("backend"),
                "state": run.state,
                "text": run.text,
                "prompt_tokens": run.prompt_tokens,
                "output_tokens": run.output_tokens,
                "ttft_s": fig.ttft_s,
                "total_s": fig.total_s,
                "gen_tokens_per_s": fig.gen_tokens_per_s,
                "prompt_tokens_per_s": fig.prompt_tokens_per_s,
                "finish_reason": run.finish_reason,
                "error": run.error["message"] if run.error else None,
                "threads": run.threads,
                "load_s": run.load_s,
                "server": run.timings.to_dict() if run.timings else None,
                "info": run.info,
            }
        )
    return {"session": str(path), "id": session.id, "schedule": session.schedule, "runs": runs}


class Progress:
    """A live line per model while the run goes on (a Rich renderable and a listener)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.loading: dict[str, float] = {}
        self.live: Live | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Loading):
            self.loading[event.model] = event.progress
        elif isinstance(event, ThreadsChanged):
            pass

    def __rich__(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for run in self.session.runs:
            state = Text(run.state, style=STATE_STYLE.get(run.state, ""))
            detail = ""
            if run.state == "loading":
                detail = f"{self.loading.get(run.model, 0.0):.0%}"
            elif run.state == "streaming" and run.t_sent is not None:
                now = time.monotonic() - run.t_sent
                speed = live_rate(len(run.chunks), run.first_token_s, now)
                detail = (
                    f"{len(run.text)} chars · TTFT {fmt.seconds(run.first_token_s)} · "
                    f"{fmt.rate(speed)} chunks · {fmt.seconds(now)}"
                    + (f" · {run.threads} threads" if run.threads else "")
                )
            elif run.state == "done":
                detail = fmt.figures_line(figures(run))
            elif run.state == "failed" and run.error:
                detail = run.error["message"]
            table.add_row(Text(run.model, style="bold"), state, Text(detail))
        return table


def print_session(console: Console, session: Session, path: Path | None) -> None:
    """The answers side by side, each with its figures, then where the session is."""
    table = Table(show_header=True, expand=True, show_lines=False)
    for run in session.runs:
        table.add_column(
            Text.assemble((run.model, "bold"), "  ", (run.state, STATE_STYLE.get(run.state, ""))),
            ratio=1,
            overflow="fold",
        )
    table.add_row(*(_answer(run) for run in session.runs))
    table.add_row(*(_figures(run, session.schedule) for run in session.runs))
    title = "chat" if session.mode == "chat" else "completion"
    console.print(Panel(Text(session.prompt), title=f"{title} prompt", title_align="left"))
    console.print(table)
    if path is not None:
        console.print(Text.assemble("Session saved: ", (str(path), "bold")))


def _answer(run: ModelRun) -> Group:
    parts: list[Any] = [Text(run.text)]
    if run.error:
        parts.append(Text(f"\n{run.error['title']}: {run.error['message']}", style="red"))
    if run.info.get("warning"):
        parts.append(Text(f"\n{run.info['warning']}", style="yellow"))
    return Group(*parts)


def _figures(run: ModelRun, schedule: str) -> Text:
    fig = figures(run)
    lines = [fmt.figures_line(fig)]
    server = fmt.server_line(fig)
    if server:
        lines.append(server)
    extra = [schedule]
    if run.threads:
        extra.append(f"{run.threads} threads")
    if run.finish_reason:
        extra.append(f"finish: {run.finish_reason}")
    lines.append(" · ".join(extra))
    return Text("\n".join(lines), style="dim")


async def rerun_command(
    args: argparse.Namespace, config: Config, store: SessionStore, original: Session
) -> int:
    """Run a saved session's prompt and settings again as a new, linked session."""
    from workbench.selection import resolve

    specs = resolve(config, args.models or [run.model for run in original.runs])
    # Each model gets what it was sent: its whole conversation on a follow-up turn.
    requests = rerun_requests(original, [spec.name for spec in specs])
    runner = Runner()
    recorder = open_session(
        store, specs, requests, schedule=original.schedule, rerun_of=original.id
    )
    console = Console(stderr=args.json)
    progress = Progress(recorder.session)
    try:
        with Live(progress, console=console, refresh_per_second=8, transient=True):
            await run_comparison(
                runner,
                store,
                specs,
                requests,
                schedule=original.schedule,
                listener=progress,
                recorder=recorder,
            )
    finally:
        await runner.pool.close()
    session = recorder.session
    changes = compare_runs(original, session)
    if args.json:
        data = run_json(session, recorder.path)
        data["rerun_of"] = original.id
        data["changes"] = changes
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_session(console, session, recorder.path)
        table = Table(
            "model",
            "text similarity",
            "TTFT",
            "gen tok/s",
            "output tokens",
            title=f"then ({original.id}) → now",
        )
        for change in changes:
            table.add_row(
                change["model"],
                "–" if change["similarity"] is None else f"{change['similarity']:.0%}",
                f"{fmt.seconds(change['ttft_s'][0])} → {fmt.seconds(change['ttft_s'][1])}",
                f"{fmt.rate(change['gen_tokens_per_s'][0])} → "
                f"{fmt.rate(change['gen_tokens_per_s'][1])}",
                f"{fmt.count(change['output_tokens'][0])} → "
                f"{fmt.count(change['output_tokens'][1])}",
            )
        console.print(table)
    return 0 if all(run.state == "done" for run in session.runs) else 1


def compare_runs(old: Session, new: Session) -> list[dict[str, Any]]:
    """Per model present in both: how similar the texts are and how the figures moved."""
    from workbench.diff import diff_lines

    changes = []
    old_runs = {run.model: run for run in old.runs}
    for run in new.runs:
        before = old_runs.get(run.model)
        if before is None:
            continue
        a, b = figures(before), figures(run)
        changes.append(
            {
                "model": run.model,
                "similarity": diff_lines(before.text, run.text).similarity,
                "ttft_s": [a.ttft_s, b.ttft_s],
                "gen_tokens_per_s": [a.gen_tokens_per_s, b.gen_tokens_per_s],
                "output_tokens": [a.output_tokens, b.output_tokens],
            }
        )
    return changes
