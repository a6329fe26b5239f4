"""``workbench grid FILE``: the command line of grids (arguments, progress, the report).

The command-line view of ``workbench.checks.grid``, which runs grids. Prints one
table (prompts × models × settings: checks passed and generation speed), writes
a Markdown or CSV report and JUnit XML on request, and exits 1 when a model's
pass rate is under ``--fail-under`` (or a model failed to answer).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from workbench.checks.grid import CellResult, GridHooks, GridReport, run_grid
from workbench.checks.grid_file import load_grid
from workbench.cli.ci import add_ci_options, fail_under, run_cases, under
from workbench.cli.junit import Case, write_junit
from workbench.cli.run import new_runner
from workbench.core import format as fmt
from workbench.core.record import ModelRun
from workbench.errors import UsageError
from workbench.models.config import SCHEDULES, Config
from workbench.models.selection import resolve
from workbench.store.sessions import SessionStore

REPORT_FORMATS = ("markdown", "csv")


def add_parser(commands, common) -> None:
    """The ``grid`` subcommand, added to the CLI's parser."""
    p = commands.add_parser(
        "grid", help="prompts × models × settings, repeated and checked; one table"
    )
    common(p)
    p.add_argument("file", help="a grid file (TOML): prompts, settings lists, repeat, checks")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="MODEL")
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--threads", type=int, metavar="N", help="llama.cpp threads (default: free)")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--report", metavar="FILE", help="also write the table to FILE")
    p.add_argument("--format", choices=REPORT_FORMATS, help="of --report (default: by suffix)")
    add_ci_options(p)


def grid_command(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    grid = load_grid(Path(args.file))
    threshold = fail_under(args.fail_under)
    specs = resolve(config, args.models or list(grid.models))
    schedule = args.schedule or grid.schedule or config.schedule
    err = Console(stderr=True)
    cells = len(grid.prompts) * len(grid.combos)
    err.print(
        f"Grid {escape(grid.name)}: {len(grid.prompts)} prompts × {len(grid.combos)} settings × "
        f"{len(specs)} models × {grid.repeat} repeats = {cells * len(specs) * grid.repeat} "
        f"answers ({schedule}).",
        highlight=False,
    )
    report = asyncio.run(_run(args, config, grid, specs, store, schedule, err))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        Console().print(report_table(report))
    if args.report:
        write_report(Path(args.report), report, args.format)
    if args.junit:
        write_junit(args.junit, junit_cases(report), name=f"workbench grid {grid.name}")
    return exit_status(report, threshold, err)


async def _run(args, config, grid, specs, store, schedule, err: Console) -> GridReport:
    runner = new_runner(args, config)
    progress = _Progress(err)
    try:
        with progress.bar:
            return await run_grid(grid, specs, runner, store, schedule=schedule, hooks=progress)
    finally:
        await runner.pool.close()


class _Progress(GridHooks):
    """A progress bar on stderr with the ETA and the checks passed so far."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[passed]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.bar.add_task("answers", total=None, passed="")
        self.passed = self.total = 0

    def planned(self, total: int, done: int) -> None:
        self.bar.update(self.task, total=total, completed=done)
        if done:
            self.bar.console.print(f"Resuming: {done} of {total} answers are already saved.")

    def answered(self, cell: CellResult, run: ModelRun, checks) -> None:
        self.passed += sum(item["passed"] for item in checks)
        self.total += len(checks)
        shown = f"checks passed {self.passed}/{self.total}" if self.total else ""
        self.bar.update(self.task, advance=1, passed=shown)


def exit_status(report: GridReport, threshold: float | None, err: Console) -> int:
    failed = sum(run.state == "failed" for cell in report.cells.values() for run, _, _ in cell.runs)
    if failed:
        err.print(f"{failed} answers failed (the model errored): exit status 1.")
    rates = {model: report.pass_rate(model) for model in report.models}
    return 1 if under(rates, threshold, err) or failed else 0


def cell_text(cell: CellResult | None) -> tuple[str, str]:
    """The checks (``3/4 passed``) and speed (``81 ± 3 tok/s n=2 contended``) of a cell."""
    if cell is None or not cell.runs:
        return "–", ""
    checks = f"{cell.passed}/{cell.total} passed" if cell.total else "no checks"
    speeds = []
    for stats in cell.speed():
        if stats.gen_tokens_per_s is not None:
            spread = stats.gen_tokens_per_s
            speeds.append(f"{spread.short()} tok/s (n={spread.n}, {stats.contention})")
    failed = sum(run.state == "failed" for run, _, _ in cell.runs)
    if failed:
        checks += f", {failed} failed"
    return checks, "; ".join(speeds)


def report_table(report: GridReport) -> Table:
    grid = report.grid
    columns = report.columns()
    labels = {combo.label: grid.varying(combo) for combo in grid.combos}
    shared = f" · {grid.constant()}" if grid.constant() else ""
    table = Table(
        "prompt",
        title=f"grid {escape(grid.name)}{escape(shared)}: checks passed · generation tok/s "
        "(mean ± std; n; alone or contended)",
    )
    for model, combo in columns:  # fold, never cut: a cut header hides what differs
        settings = (
            "\n".join(labels[combo].split(" ")) if '"' not in labels[combo] else labels[combo]
        )
        table.add_column(f"{escape(model)}\n{escape(settings)}".rstrip(), overflow="fold")
    for prompt in report.grid.prompts:
        row = []
        for model, combo in columns:
            checks, speed = cell_text(report.cells.get((prompt.name, model, combo)))
            row.append(f"{checks}\n[dim]{speed}[/]" if speed else checks)
        table.add_row(escape(prompt.name), *row)
    table.add_section()
    table.add_row("pass rate", *(fmt.percent(report.column_rate(m, c), 1) for m, c in columns))
    return table


def report_rows(report: GridReport) -> list[dict[str, str]]:
    """One row per prompt × model × settings: what the Markdown and CSV reports hold."""
    rows = []
    for prompt in report.grid.prompts:
        for model, combo in report.columns():
            cell = report.cells.get((prompt.name, model, combo))
            checks, speed = cell_text(cell)
            rows.append(
                {
                    "prompt": prompt.name,
                    "model": model,
                    "settings": combo,
                    "runs": str(len(cell.runs) if cell else 0),
                    "checks": checks,
                    "gen tok/s": speed,
                }
            )
    return rows


def write_report(path: Path, report: GridReport, kind: str | None) -> None:
    kind = kind or ("csv" if path.suffix.lower() == ".csv" else "markdown")
    rows = report_rows(report)
    if kind == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["prompt"])
        writer.writeheader()
        writer.writerows(rows)
        text = out.getvalue()
    else:
        head = list(rows[0]) if rows else ["prompt"]
        lines = [f"# grid {report.grid.name}", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + " --- |" * len(head))
        for row in rows:
            cells = (row[key].replace("|", "\\|") for key in head)
            lines.append("| " + " | ".join(cells) + " |")
        text = "\n".join(lines) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--report {path}: cannot write it: {exc.strerror or exc}") from None


def junit_cases(report: GridReport) -> list[Case]:
    """One test case per cell, repeat and check (a run without checks: one "answered")."""
    cases = []
    for cell in report.cells.values():
        suite, classname = f"{report.grid.name}.{cell.model}", f"{cell.prompt}[{cell.combo}]"
        for index, (run, _, _) in enumerate(cell.runs, start=1):
            cases += run_cases(run, suite, classname, prefix=f"repeat {index}: ")
    return cases


HANDLERS = {"grid": grid_command}
