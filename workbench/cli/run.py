"""``workbench run`` and ``workbench show``: the runner's events as Rich output or JSON.

``run --samples N`` asks every model N times (``workbench.checks.samples``: one session
per sample); ``--tests FILE`` checks every answer in the sandbox. Either prints,
per model, passed c/n, pass@1 and pass@N, and how many distinct answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workbench.checks.assertions import apply_checks
from workbench.checks.samples import (
    Checker,
    SampleHooks,
    SampleRun,
    SamplesReport,
    check_runs,
    sample_sampling,
)
from workbench.cli.ci import pass_rates, run_cases, under
from workbench.cli.junit import write_junit
from workbench.core import format as fmt
from workbench.core.events import Event, Finished, Loading, Notice, ThreadsChanged
from workbench.core.metrics import figures, live_rate
from workbench.core.record import ModelRun
from workbench.core.runner import Runner
from workbench.core.stats import SpeedStats, contention, speed_stats
from workbench.errors import UsageError
from workbench.models.config import Config, ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.comparison import compare_runs, open_session, rerun_requests, run_comparison
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session, SessionStore

#: ``--cold`` on ``run`` and ``suite``.
COLD_HELP = (
    "reuse nothing of an earlier prompt (llama.cpp's KV cache cleared, llama-server's "
    "cache_prompt off) before each answer, so times to first token compare fairly"
)

STATE_STYLE = {
    "queued": "dim",
    "loading": "cyan",
    "streaming": "yellow",
    "done": "green",
    "failed": "bold red",
    "cancelled": "magenta",
}


def new_runner(args: argparse.Namespace, config: Config) -> Runner:
    """A runner with ``--threads``, else the config's ``threads``, else the free cores."""
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1, not {threads}.")
    return Runner(
        cores=threads or config.threads,
        defaults=config.sampling,
        memory=config.memory,
        cold=getattr(args, "cold", False),
    )


def build_request(
    args: argparse.Namespace, config: Config, prompt: str, *, samples: int = 1, index: int = 0
) -> Request:
    """The request of sample ``index`` of ``samples`` (``workbench.checks.samples``' rules).

    It carries only what was asked; the runner resolves the rest (preset, config
    defaults, the model's config: ``workbench.models.settings``) and records it.
    """

    asked = Sampling(
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        seed=args.seed,
    )
    sampling = sample_sampling(asked, samples, index)
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
    tests: str = "",
) -> int:
    """Send ``prompt`` to ``specs`` (``args.samples`` times each); with ``tests``, check
    every answer. Prints the answers, or one JSON object."""

    samples = getattr(args, "samples", 1)
    request = build_request(args, config, prompt, samples=samples)
    checker = Checker.from_text(tests, request.mode, prompt) if tests else None
    if samples > 1:
        return await _run_samples(args, config, store, prompt, specs, checker)
    schedule = args.schedule or config.schedule
    runner = new_runner(args, config)
    recorder = open_session(store, specs, request, schedule=schedule)
    progress = Progress(recorder.session)
    console = Console(stderr=args.json)
    loop = asyncio.get_running_loop()
    # Ctrl-C cancels every model; what streamed so far is kept and saved.
    on_ctrl_c(loop, lambda: asyncio.ensure_future(runner.cancel()))
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
        report = await _check_one(recorder, checker, specs) if checker is not None else None
        if args.checks:
            await apply_checks(recorder.session.runs, args.checks)
            await recorder.save_async(complete=True)
    finally:
        on_ctrl_c(loop, None)
        await runner.pool.close()
    session = recorder.session
    progress.print_notices()
    if recorder.save_error:
        Console(stderr=True).print(f"[red]{recorder.save_error}[/]")
    if args.json:
        data = run_json(session, recorder.path)
        if report is not None:
            data["checks"] = [report.summary(model) for model in report.models]
        if args.checks:
            data["pass_rate"] = pass_rates(session.runs)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_session(console, session, recorder.path)
        if report is not None:
            print_summary(console, report)
        if args.checks:
            print_checks(console, session.runs)
    answered = all(run.state == "done" for run in session.runs)
    return ci_status(args, [session], answered)


async def _check_one(
    recorder: SessionRecorder, checker: Checker, specs: list[ModelSpec]
) -> SamplesReport:
    """Check the answers of a one-sample run; their tally."""

    runs = [run for run in recorder.session.runs if run.state != "cancelled"]
    report = SamplesReport([spec.name for spec in specs], 1, checked=True)
    report.recorders.append(recorder)
    report.count(runs, await check_runs(runs, checker))
    recorder.save()
    return report


async def _run_samples(
    args: argparse.Namespace,
    config: Config,
    store: SessionStore,
    prompt: str,
    specs: list[ModelSpec],
    checker: Checker | None,
) -> int:

    samples = args.samples
    schedule = args.schedule or config.schedule
    runner = new_runner(args, config)
    run = SampleRun(
        runner,
        store,
        specs,
        lambda index: build_request(args, config, prompt, samples=samples, index=index),
        samples=samples,
        schedule=schedule,
        checker=checker,
    )
    console = Console(stderr=args.json)
    progress = Progress(None)

    class Lines(SampleHooks):
        """The live lines follow the sample running; a line per sample when it ends."""

        async def opened(self, index: int, recorder: SessionRecorder) -> None:
            progress.session = recorder.session
            progress.title = f"sample {index + 1}/{samples}"

        def finished(self, index: int, recorder: SessionRecorder) -> None:
            console.print(sample_line(index, samples, recorder.session), highlight=False)

    cancelling: list[asyncio.Future[None]] = []

    def stop() -> None:
        run.stop()
        cancelling.append(asyncio.ensure_future(runner.cancel()))

    loop = asyncio.get_running_loop()
    # Ctrl-C cancels every model and the samples still to come; what streamed is saved.
    on_ctrl_c(loop, stop)
    try:
        with Live(progress, console=console, refresh_per_second=8, transient=True):
            report = await run.run(listener=progress, hooks=Lines())
    finally:
        on_ctrl_c(loop, None)
        await runner.pool.close()
    if args.checks:
        for recorder in report.recorders:
            await apply_checks(recorder.session.runs, args.checks)
            await recorder.save_async(complete=True)
    progress.print_notices()
    for recorder in report.recorders:
        if recorder.save_error:
            Console(stderr=True).print(f"[red]{recorder.save_error}[/]")
    if args.json:
        data = report.to_dict()
        data["sessions"] = [run_json(r.session, r.path) for r in report.recorders]
        data["speed"] = {
            model: [g.to_dict() for g in groups] for model, groups in samples_speed(report).items()
        }
        if args.checks:
            data["pass_rate"] = pass_rates(r for rec in report.recorders for r in rec.session.runs)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_samples(console, report, prompt)
        if args.checks:
            print_checks(console, [r for rec in report.recorders for r in rec.session.runs])
    runs = [r for recorder in report.recorders for r in recorder.session.runs]
    answered = report.done == samples and all(r.state == "done" for r in runs)
    return ci_status(args, [r.session for r in report.recorders], answered)


def print_checks(console: Console, runs: Iterable[ModelRun]) -> None:
    """A line per answer checked: each check's verdict, the reason of those that failed."""
    for run in runs:
        results = run.info.get("checks")
        if not results:
            continue
        line = Text(f"{run.model}: ", style="bold")
        for number, item in enumerate(results):
            line.append(" · " if number else "")
            ok = item["passed"]
            line.append(f"{'✔' if ok else '✘'} {item['name']}", style="green" if ok else "red")
            if not ok:
                line.append(f" ({item['message']})", style="dim")
        console.print(line, highlight=False)


def ci_status(args: argparse.Namespace, sessions: list[Session], answered: bool) -> int:
    """The exit status (1: a model did not answer, or a pass rate is under --fail-under);
    writes --junit."""
    runs = [run for session in sessions for run in session.runs]
    if args.junit:
        cases = [
            case
            for index, session in enumerate(sessions, start=1)
            for run in session.runs
            for case in run_cases(run, f"run.{run.model}", session.id, f"sample {index}: ")
        ]
        write_junit(args.junit, cases, name="workbench run")
    low = under(pass_rates(runs), args.fail_under, Console(stderr=True))
    return 0 if answered and not low else 1


def sample_line(index: int, samples: int, session: Session) -> Text:
    """``sample 2/5: smollm2 passed · gemma3 failed (tests.py:1: assert …)``."""
    line = Text(f"sample {index + 1}/{samples}: ", style="dim")
    for number, run in enumerate(session.runs):
        if number:
            line.append(" · ")
        line.append(run.model, style="bold")
        line.append(" ")
        line.append_text(_state_or_check(run))
    return line


def _state_or_check(run: ModelRun) -> Text:
    check = run.info.get("check")
    if not isinstance(check, dict):
        return Text(run.state, style=STATE_STYLE.get(run.state, ""))
    if check.get("passed"):
        return Text("passed", style="green")
    message = str(check.get("message", ""))
    message = message if len(message) <= 70 else message[:69] + "…"
    return Text(f"{check.get('status', 'error')} ({message})", style="red")


def print_samples(console: Console, report: SamplesReport, prompt: str) -> None:
    """Each sample's answers side by side, then the summary per model."""
    console.print(Panel(Text(prompt), title="prompt", title_align="left"))
    for index, recorder in enumerate(report.recorders):
        session = recorder.session
        table = _answers_table(session)
        table.title = f"sample {index + 1}/{report.samples} · seed {session.sampling.get('seed')}"
        console.print(table)
    print_summary(console, report)
    if report.recorders:
        folder = str(report.recorders[0].path.parent)
        saved = f"{len(report.recorders)} sessions saved in "
        console.print(Text.assemble(saved, (folder, "bold"), f", tagged group:{report.group}"))


def print_summary(console: Console, report: SamplesReport) -> None:
    """passed c/n, pass@k and distinct answers per model."""
    ks = report.ks if report.checked else []
    table = Table("model", *(["passed"] if report.checked else []), *(f"pass@{k}" for k in ks))
    table.add_column("distinct answers")
    table.add_column("gen tok/s (mean ± std, median, n)")
    table.add_column("prompt tok/s")
    table.title = f"{report.samples} sample{'s' * (report.samples != 1)} per model"
    speeds = samples_speed(report)
    for model in report.models:
        data = report.summary(model)
        row = [model]
        if report.checked:
            row.append(f"{data.get('passed', 0)}/{data.get('checked', 0)}")
            pass_at = data.get("pass_at", {})
            row += [fmt.percent(pass_at.get(str(k))) for k in ks]
        row.append(f"{data['distinct']} of {data['answers']}")
        row += _speed_cells(speeds.get(model, []))
        table.add_row(*row)
    console.print(table)


def samples_speed(report: SamplesReport) -> dict[str, list[SpeedStats]]:
    """Per model, the speed of its samples as statistics (contended runs apart)."""
    runs: dict[str, list[tuple[ModelRun, str]]] = {}
    for recorder in report.recorders:
        session = recorder.session
        kind = contention(session.schedule, len(session.runs))
        for run in session.runs:
            runs.setdefault(run.model, []).append((run, kind))
    return {model: speed_stats(pairs) for model, pairs in runs.items()}


def _speed_cells(groups: list[SpeedStats]) -> list[str]:
    gen = [f"{g.gen_tokens_per_s.text()} {g.contention}" for g in groups if g.gen_tokens_per_s]
    prompt = [f"{g.prompt_tokens_per_s.text()}" for g in groups if g.prompt_tokens_per_s]
    return ["; ".join(gen) or "–", "; ".join(prompt) or "–"]


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
                "cached_prompt_tokens": run.cached_prompt_tokens,
                "output_tokens": run.output_tokens,
                "thinking": run.thinking,
                "thinking_tokens": run.thinking_tokens,
                "ttft_s": fig.ttft_s,
                "total_s": fig.total_s,
                "gen_tokens_per_s": fig.gen_tokens_per_s,
                "prompt_tokens_per_s": fig.prompt_tokens_per_s,
                "finish_reason": run.finish_reason,
                "error": run.error["message"] if run.error else None,
                "threads": run.threads,
                "sampling": run.sampling,
                "load_s": run.load_s,
                "server": run.timings.to_dict() if run.timings else None,
                "info": run.info,
            }
        )
    return {"session": str(path), "id": session.id, "schedule": session.schedule, "runs": runs}


class Progress:
    """A live line per model while the run goes on (a Rich renderable and a listener)."""

    def __init__(self, session: Session | None) -> None:
        self.session = session
        #: A line above the models (``sample 2/5``).
        self.title: str | None = None
        self.loading: dict[str, float] = {}
        self.live: Live | None = None
        #: What a backend said once (a load without weight repacking), for stderr.
        self.notices: list[str] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, Loading):
            self.loading[event.model] = event.progress
        elif isinstance(event, Finished) and event.run.info.get("notice"):
            self.notices.append(f"{event.model}: {event.run.info['notice']}")
        elif isinstance(event, ThreadsChanged):
            pass
        elif isinstance(event, Notice):  # before the run starts (models run in groups)
            Console(stderr=True).print(Text(event.text, style="yellow"), highlight=False)

    def print_notices(self) -> None:
        for notice in self.notices:
            Console(stderr=True).print(Text(notice, style="yellow"))

    def __rich__(self) -> Table:
        table = Table.grid(padding=(0, 2))
        if self.title:
            table.add_row(Text(self.title, style="dim"), "", "")
        for run in self.session.runs if self.session is not None else ():
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
                    + (f" · {_threads(run.threads)}" if run.threads else "")
                )
            elif run.state == "done":
                detail = fmt.figures_line(figures(run))
            elif run.state == "failed" and run.error:
                detail = run.error["message"]
            table.add_row(Text(run.model, style="bold"), state, Text(detail))
        return table


def print_session(console: Console, session: Session, path: Path | None) -> None:
    """The answers side by side, each with its figures, then where the session is."""
    title = "chat" if session.mode == "chat" else "completion"
    console.print(Panel(Text(session.prompt), title=f"{title} prompt", title_align="left"))
    console.print(_answers_table(session))
    if path is not None:
        console.print(Text.assemble("Session saved: ", (str(path), "bold")))


def _answers_table(session: Session) -> Table:
    table = Table(show_header=True, expand=True, show_lines=False)
    for run in session.runs:
        table.add_column(
            Text.assemble((run.model, "bold"), "  ", (run.state, STATE_STYLE.get(run.state, ""))),
            ratio=1,
            overflow="fold",
        )
    table.add_row(*(_answer(run) for run in session.runs))
    table.add_row(*(_figures(run, session.schedule) for run in session.runs))
    return table


def _answer(run: ModelRun) -> Group:
    parts: list[Any] = [Text(run.text)]
    if run.thinking:  # kept apart from the answer; `--json` and the session hold it
        parts.insert(0, Text(f"(thought for {len(run.thinking):,} characters)", style="dim"))
    if run.error:
        parts.append(Text(f"\n{run.error['title']}: {run.error['message']}", style="red"))
    if run.info.get("warning"):
        parts.append(Text(f"\n{run.info['warning']}", style="yellow"))
    if isinstance(run.info.get("check"), dict):
        parts.append(Text.assemble("\ntests: ", _state_or_check(run)))
    return Group(*parts)


def _threads(count: int) -> str:
    return f"{count} thread{'s' if count != 1 else ''}"


def _figures(run: ModelRun, schedule: str) -> Text:
    fig = figures(run)
    lines = [fmt.figures_line(fig)]
    server = fmt.server_line(fig)
    if server:
        lines.append(server)
    settings = fmt.settings_line(run.sampling)
    if settings:
        lines.append(settings)
    extra = [schedule]
    if run.threads:
        extra.append(_threads(run.threads))
    if run.finish_reason:
        extra.append(f"finish: {run.finish_reason}")
    lines.append(" · ".join(extra))
    return Text("\n".join(lines), style="dim")


async def rerun_command(
    args: argparse.Namespace, config: Config, store: SessionStore, original: Session
) -> int:
    """Run a saved session's prompt and settings again as a new, linked session."""
    from workbench.models.selection import resolve

    specs = resolve(config, args.models or [run.model for run in original.runs])
    # Each model gets what it was sent: its whole conversation on a follow-up turn.
    requests = rerun_requests(original, [spec.name for spec in specs])
    runner = new_runner(args, config)
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


def on_ctrl_c(loop: asyncio.AbstractEventLoop, callback: Callable[[], object] | None) -> None:
    """Ctrl-C calls ``callback`` (None: as before). Windows' event loop has no signal
    handlers: there Ctrl-C stays a KeyboardInterrupt, which ``main`` reports."""
    with contextlib.suppress(NotImplementedError):
        if callback is None:
            loop.remove_signal_handler(signal.SIGINT)
        else:
            loop.add_signal_handler(signal.SIGINT, callback)
