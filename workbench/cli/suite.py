"""``workbench suite humaneval|FILE``: the command line of suites (arguments, progress
with ETA and live pass counts on stderr, the report).

The command-line view of ``workbench.checks.suite`` (loading), ``suite_run`` (running,
resuming) and ``suite_report`` (pass@k with intervals).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from workbench.checks.humaneval import PROTOCOLS
from workbench.checks.samples import samples_problem
from workbench.checks.sandbox import isolation_report
from workbench.checks.suite import MODES, Task, load_suite
from workbench.checks.suite_report import SuiteReport
from workbench.checks.suite_run import SuiteHooks, SuiteRun, SuiteSettings
from workbench.cli.run import COLD_HELP, new_runner
from workbench.core import format as fmt
from workbench.errors import UsageError
from workbench.models.config import SCHEDULES, Config
from workbench.models.request import Sampling
from workbench.store.sessions import SessionStore


def suite_command(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    suite = load_suite(args.file, limit=args.limit, task_ids=args.tasks or ())
    specs = [config.model(name) for name in args.models] if args.models else list(config.models)
    problem = samples_problem(args.samples, maximum=None)
    if problem:
        raise UsageError(f"--{problem}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive.")
    protocol = args.protocol or args.mode or "auto"
    settings = SuiteSettings(
        samples=args.samples,
        sampling=Sampling(args.temperature, args.top_p, args.max_tokens),
        defaults=config.sampling,
        seed=args.seed if args.seed is not None else 1,
        schedule=args.schedule or config.schedule,
        timeout=args.timeout,
        mode=args.mode,
        protocol=protocol,
        resume=not args.fresh,
    )
    err = Console(stderr=True)
    err.print(
        f"Suite {escape(suite.name)}: {_plural(len(suite.tasks), 'task')} × "
        f"{_plural(args.samples, 'sample')} on "
        f"{', '.join(escape(s.name) for s in specs)}. Each answer's code runs in the "
        f"sandbox (timeout {args.timeout:g} s).",
        highlight=False,
    )
    report = asyncio.run(_run(args, suite, specs, store, settings, config, err))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_report(Console(), report, failures=args.failures)
    if report.stopped:
        err.print("Stopped: run the same command again to continue where it stopped.")
        return 130
    return 0 if report.failed_runs == 0 else 1


async def _run(args, suite, specs, store, settings, config, err) -> SuiteReport:
    runner = new_runner(args, config)
    run = SuiteRun(suite, specs, runner, store, settings, hooks=None)
    for model, (protocol, why) in run.report.protocols.items():
        err.print(f"  {escape(model)}: {protocol} protocol ({escape(why)})", highlight=False)
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        # The first Ctrl-C stops the suite (what is saved stays, a rerun resumes);
        # a second one interrupts as usual.
        err.print("Stopping: the answers in flight are cancelled; the saved ones stay.")
        run.stop()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, interrupted)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[passes]}"),
        console=err,
        transient=False,
        disable=args.quiet,
    )
    run.hooks = _Bar(progress)
    try:
        with progress:
            return await run.run()
    finally:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)
        await runner.pool.close()


class _Bar(SuiteHooks):
    """A rich progress bar: answers done of all, ETA, passes so far per model."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bar = None
        self.passed: dict[str, list[int]] = {}

    def started(self, report: SuiteReport, total: int, reused: int) -> None:
        self.passed = {model: [0, 0] for model in report.models}
        what = f"{report.suite.name}" + (f" ({reused} saved)" if reused else "")
        self.bar = self.progress.add_task(what, total=total, completed=reused, passes="")

    def answered(
        self, report: SuiteReport, model: str, task: Task, check: dict, saved: bool = False
    ) -> None:
        counts = self.passed.setdefault(model, [0, 0])
        counts[0] += bool(check.get("passed"))
        counts[1] += 1
        passes = "  ".join(f"{m} {c}/{n}" for m, (c, n) in self.passed.items())
        if self.bar is not None:
            self.progress.update(self.bar, advance=0 if saved else 1, passes=escape(passes))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _interval(value: tuple[float, float] | None) -> str:
    if value is None:
        return "–"
    return f"{fmt.percent(value[0], 1)}–{fmt.percent(value[1], 1)}"


def print_report(console: Console, report: SuiteReport, failures: bool = True) -> None:
    """A task × model table (passed / samples; with one sample the failing line),
    then pass@k with its 95 % interval per model."""
    names = [escape(model) for model in report.models]
    title = f"suite {escape(report.suite.name)}: passed / samples"
    tasks = Table("task", *names, title=title)
    for task in report.suite.tasks:
        row = []
        for model in report.models:
            cell = report.cell(model, task.id)
            if not cell.n:
                row.append("[dim]not run[/]")
                continue
            style = "green" if cell.c == cell.n else ("red" if not cell.c else "")
            text = f"[{style}]{cell.c}/{cell.n}[/]" if style else f"{cell.c}/{cell.n}"
            if report.samples > 1:
                text += f" · {cell.distinct} distinct"
            elif failures and not cell.c:
                text += f" {escape(fmt.short(cell.checks[0]['message']))}"
            row.append(text)
        tasks.add_row(escape(task.id), *row)
    console.print(tasks)
    heads = [f"pass@{k}" for k in report.ks] + ["95 % interval"]
    if report.suite.evalplus:
        heads = [f"base pass@{k}" for k in report.ks] + ["base interval"] + heads
    title = f"pass@k per model · 95 % interval of pass@1: {report.interval_method}"
    summary = Table("model", "protocol", *heads, "passed", title=title)
    for model in report.models:
        data = report.summary(model)
        cells = []
        if report.suite.evalplus:
            cells += [fmt.percent(report.pass_at(model, k, True), 1) for k in report.ks]
            cells.append(_interval(report.interval(model, 1, True)))
        cells += [fmt.percent(report.pass_at(model, k), 1) for k in report.ks]
        cells.append(_interval(report.interval(model, 1)))
        summary.add_row(
            escape(model),
            escape(data.get("protocol", "per task")),
            *cells,
            f"{data['passed']}/{data['runs']}",
        )
    console.print(summary)
    isolation = ", ".join(sorted(report.isolation)) or "none run"
    console.print(
        f"{_plural(len(report.sessions), 'session')} (tag suite:{escape(report.suite.name)}); "
        f"{_plural(report.ran, 'answer')} run, {report.reused} taken from saved sessions; "
        f"generation {report.generation_s:.1f} s, checks {report.check_s:.1f} s; "
        f"sandbox isolation: {isolation}.",
        highlight=False,
    )
    if report.isolation - {"namespaces", "bwrap"}:  # weaker than the namespaces: say why
        console.print(escape(isolation_report().note), highlight=False)


def add_parsers(commands, common) -> None:
    """The ``suite`` subcommand, added to the CLI's parser."""
    p = commands.add_parser(
        "suite", help="HumanEval (or a file of prompts with tests) on your models: pass@k"
    )
    common(p)
    p.add_argument("file", help="humaneval, a TOML suite, or HumanEval/EvalPlus-format JSONL")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="MODEL")
    p.add_argument("--samples", type=int, default=1, metavar="N", help="answers per task")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N tasks")
    p.add_argument("--tasks", nargs="+", metavar="ID", help="only these task ids")
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        help="HumanEval tasks: chat, completion, or auto (per model; the default)",
    )
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per check")
    p.add_argument("--mode", choices=MODES, help="override every task's mode")
    p.add_argument("--max-tokens", type=int, metavar="N")
    p.add_argument("--temperature", type=float, metavar="T")
    p.add_argument("--top-p", type=float, metavar="P")
    p.add_argument("--seed", type=int, metavar="N", help="sample i uses seed N + i - 1")
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--threads", type=int, metavar="N", help="llama.cpp threads (default: free)")
    p.add_argument("--fresh", action="store_true", help="run everything again (no resume)")
    p.add_argument("--cold", action="store_true", help=COLD_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-failures",
        dest="failures",
        action="store_false",
        help="leave the failing line out of the task table",
    )
    p.add_argument("--json", action="store_true")


HANDLERS = {"suite": suite_command}
