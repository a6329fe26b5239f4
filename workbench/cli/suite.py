"""``workbench suite FILE``: the command line of suites (arguments, progress, the report).

The command-line view of ``workbench.checks.suite``, which holds the suite logic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workbench.checks.samples import samples_problem
from workbench.checks.suite import MODES, SuiteReport, load_suite, run_suite
from workbench.cli.run import new_runner
from workbench.core import format as fmt
from workbench.errors import UsageError
from workbench.models.config import SCHEDULES, Config
from workbench.models.request import Sampling
from workbench.store.sessions import SessionStore


def suite_command(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    suite = load_suite(Path(args.file))
    specs = [config.model(name) for name in args.models] if args.models else list(config.models)
    problem = samples_problem(args.samples, maximum=None)
    if problem:
        raise UsageError(f"--{problem}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive.")
    sampling = Sampling(args.temperature, args.top_p, args.max_tokens)
    err = Console(stderr=True)
    err.print(
        f"Suite {suite.name}: {_plural(len(suite.tasks), 'task')} × "
        f"{_plural(args.samples, 'sample')} on "
        f"{', '.join(s.name for s in specs)}. Each answer's code runs in the sandbox "
        f"(timeout {args.timeout:g} s).",
        highlight=False,
    )
    report = asyncio.run(_run(args, suite, specs, store, sampling, config, err))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_report(Console(), report)
    return 0 if report.failed_runs == 0 else 1


async def _run(args, suite, specs, store, sampling, config, err) -> SuiteReport:
    runner = new_runner(args, config)
    try:
        return await run_suite(
            suite,
            specs,
            runner,
            store,
            samples=args.samples,
            sampling=sampling,
            defaults=config.sampling,
            seed=args.seed if args.seed is not None else 1,
            schedule=args.schedule or config.schedule,
            timeout=args.timeout,
            mode=args.mode,
            progress=err,
        )
    finally:
        await runner.pool.close()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def print_report(console: Console, report: SuiteReport) -> None:
    """A task × model table of passes and distinct answers, then pass@k per model."""
    names = [escape(model) for model in report.models]
    title = f"suite {escape(report.suite.name)}: passed / samples"
    tasks = Table("task", *names, title=title)
    for task in report.suite.tasks:
        row = []
        for model in report.models:
            cell = report.cell(model, task.id)
            style = "green" if cell.c == cell.n and cell.n else ("red" if not cell.c else "")
            text = f"[{style}]{cell.c}/{cell.n}[/]" if style else f"{cell.c}/{cell.n}"
            row.append(f"{text} · {cell.distinct} distinct")
        tasks.add_row(escape(task.id), *row)
    console.print(tasks)
    summary = Table("model", *(f"pass@{k}" for k in report.ks), "passed", "distinct / task")
    for model in report.models:
        data = report.summary(model)
        summary.add_row(
            escape(model),
            *(fmt.percent(report.pass_at(model, k), 1) for k in report.ks),
            f"{data['passed']}/{data['runs']}",
            "–" if data["mean_distinct"] is None else f"{data['mean_distinct']:.1f}",
        )
    console.print(summary)
    isolation = ", ".join(sorted(report.isolation)) or "none run"
    console.print(
        f"{len(report.sessions)} sessions saved (tag suite:{escape(report.suite.name)}); "
        f"sandbox isolation: {isolation}.",
        highlight=False,
    )


def add_parsers(commands, common) -> None:
    """The ``suite`` subcommand, added to the CLI's parser."""
    p = commands.add_parser("suite", help="run a file of prompts with tests; pass@k per model")
    common(p)
    p.add_argument("file", help="a suite: our TOML format or HumanEval-format JSONL")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="MODEL")
    p.add_argument("--samples", type=int, default=1, metavar="N", help="answers per model")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per check")
    p.add_argument("--mode", choices=MODES, help="override every task's mode")
    p.add_argument("--max-tokens", type=int, metavar="N")
    p.add_argument("--temperature", type=float, metavar="T")
    p.add_argument("--top-p", type=float, metavar="P")
    p.add_argument("--seed", type=int, metavar="N", help="sample i uses seed N + i (default 1)")
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--threads", type=int, metavar="N", help="llama.cpp threads (default: free)")
    p.add_argument("--json", action="store_true")


HANDLERS = {"suite": suite_command}
