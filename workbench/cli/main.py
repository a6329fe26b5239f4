"""The command line: ``workbench`` opens the app; subcommands work headless.

Exit status: 0 when every model answered, 1 when any failed, 2 for bad usage
or config. Errors are printed as one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from workbench import __version__
from workbench.errors import UsageError, WorkbenchError
from workbench.models.config import SCHEDULES, Config, load_config
from workbench.store.sessions import SessionStore

if TYPE_CHECKING:
    from workbench.models.config import ModelSpec
    from workbench.models.gguf import GGUFInfo
    from workbench.models.memory import MemoryEstimate

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _common(parser: argparse.ArgumentParser, *, command: bool = True) -> None:
    """--config and --sessions, before or after the command. A command's copies have
    no default: one would overwrite a value given before the command."""
    default = argparse.SUPPRESS if command else None
    parser.add_argument(
        "--config", type=Path, metavar="FILE", default=default, help="workbench.toml to use"
    )
    parser.add_argument(
        "--sessions", type=Path, metavar="DIR", default=default, help="folder of session files"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Compare LLMs side by side. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    _common(parser, command=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="send one prompt to several models at once")
    _common(run)
    run.add_argument("prompt", help="the prompt (use - to read it from standard input)")
    run.add_argument("-m", "--model", action="append", dest="models", metavar="MODEL")
    run.add_argument("--system", metavar="TEXT", help="system prompt (chat mode)")
    run.add_argument("--completion", action="store_true", help="raw completion, no template")
    run.add_argument("--max-tokens", type=int, metavar="N")
    run.add_argument("--temperature", type=float, metavar="T")
    run.add_argument("--top-p", type=float, metavar="P")
    run.add_argument("--seed", type=int, metavar="N")
    run.add_argument("--schedule", choices=SCHEDULES, help="parallel (default) or sequential")
    run.add_argument(
        "--threads", type=int, metavar="N", help="llama.cpp threads to share (default: free cores)"
    )
    run.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="N",
        help="answers per model (seed + i each; temperature 0.8 unless set)",
    )
    run.add_argument(
        "--tests",
        type=Path,
        metavar="FILE",
        help="Python asserts / test functions every answer is run against (sandboxed)",
    )
    run.add_argument(
        "--cold",
        action="store_true",
        help="reuse nothing of an earlier prompt (KV cache cleared): fair times to first token",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    from workbench.cli.ci import add_ci_options

    add_ci_options(run, checks=True)

    models = commands.add_parser("models", help="list the models workbench knows")
    _common(models)
    models.add_argument("--json", action="store_true")
    models.add_argument(
        "--no-discover", action="store_true", help="skip the GGUF files found on this machine"
    )
    models.add_argument("--no-servers", action="store_true", help="skip asking servers")

    sessions = commands.add_parser("sessions", help="list saved sessions, newest first")
    _common(sessions)
    sessions.add_argument("--json", action="store_true")

    show = commands.add_parser("show", help="print a saved session")
    _common(show)
    show.add_argument("session", help="a session file's path or its id")
    show.add_argument("--json", action="store_true")

    from workbench.cli.doctor import add_parser as add_doctor_parser
    from workbench.cli.grid import add_parser as add_grid_parser
    from workbench.cli.review import add_parsers
    from workbench.cli.suite import add_parsers as add_suite_parsers

    add_parsers(commands, _common)
    add_doctor_parser(commands, _common)
    add_suite_parsers(commands, _common)
    add_grid_parser(commands, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True)
    try:
        if args.command is None:  # the app loads the config itself: a bad one is shown there
            from workbench.ui import app

            return app.run_app(args.config, args.sessions)
        config = load_config(args.config)
        store = SessionStore(args.sessions or config.sessions_dir or _default_sessions())
        from workbench.cli.doctor import HANDLERS as DOCTOR_HANDLERS
        from workbench.cli.grid import HANDLERS as GRID_HANDLERS
        from workbench.cli.review import HANDLERS
        from workbench.cli.suite import HANDLERS as SUITE_HANDLERS

        handler = {"run": _run, "models": _models, "sessions": _sessions, "show": _show}
        handlers = {**handler, **HANDLERS, **SUITE_HANDLERS, **DOCTOR_HANDLERS, **GRID_HANDLERS}
        return handlers[args.command](args, config, store)
    except WorkbenchError as exc:
        err.print(f"[bold red]{exc.title}:[/] {exc.message}", highlight=False)
        return EXIT_USAGE if exc.title in ("Bad config", "Bad usage") else EXIT_FAILED
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    except BrokenPipeError:
        # The reader went away (`workbench … | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        # A bug of ours: one clear line, the traceback only on request.
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        err.print(
            f"[bold red]Unexpected error:[/] {type(exc).__name__}: {exc}\n"
            "Run again with WORKBENCH_DEBUG=1 to see the traceback, and please report it.",
            highlight=False,
        )
        return EXIT_FAILED


def _default_sessions() -> Path:
    from workbench.paths import default_sessions_dir

    return default_sessions_dir()


def _run(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.cli.run import run_command

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UsageError("The prompt is empty.")
    from workbench.checks.samples import read_tests, samples_problem

    problem = samples_problem(args.samples)
    if problem:
        raise UsageError(f"--{problem}")
    tests = read_tests(args.tests) if args.tests else ""
    from workbench.cli.ci import fail_under, parsed_checks
    from workbench.models.selection import resolve

    args.checks, args.fail_under = parsed_checks(args.checks), fail_under(args.fail_under)

    specs = resolve(config, args.models or [])  # unknown names fail before anything loads
    return asyncio.run(run_command(args, config, store, prompt, specs, tests))


def _models(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.models import discovery

    rows = [
        {
            **spec.identity(),
            "preset": spec.chat_template if "{" not in (spec.chat_template or "{") else None,
        }
        for spec in config.models
    ]
    problems: list[dict[str, str]] = []
    taken = [spec.name for spec in config.models]
    memory = {spec.name: _model_memory(spec) for spec in config.models}
    if not args.no_discover:
        base = config.path.parent if config.path else Path.cwd()
        found = discovery.discover(config.discovery_folders, base=base, taken=taken)
        rows += [{**m.spec.identity(), **m.row()} for m in found.models]
        memory.update({m.spec.name: _model_memory(m.spec, m.info) for m in found.models})
        taken += [m.spec.name for m in found.models]
        problems += [
            {"where": str(p.path), "title": p.title, "message": p.message}
            for p in found.problems
            if not p.skipped
        ]
    if not args.no_servers:
        servers = discovery.servers_in_config(config) + [
            discovery.Server(*s) for s in config.discovery_servers
        ]
        for listing in asyncio.run(discovery.list_servers(servers, taken=taken)):
            rows += [{**m.spec.identity(), "preset": m.preset} for m in listing.models]
            if listing.error is not None:
                problems.append(
                    {
                        "where": listing.server.url,
                        "title": listing.error.title,
                        "message": listing.error.message,
                    }
                )
    for row in rows:  # a local model's estimated memory (servers take none here)
        if memory.get(row["name"]) is not None:
            row["memory"] = memory[row["name"]].to_dict()
    err = Console(stderr=True)
    for problem in problems:  # never fatal: the other models are listed
        err.print(f"[yellow]{problem['title']}:[/] {problem['message']}", highlight=False)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from rich.table import Table

    from workbench.models.memory import format_bytes

    table = Table("name", "backend", "where", "preset", "memory", "from", box=None, pad_edge=False)
    for row in rows:
        where = row.get("path") or row.get("package") or f"{row.get('url')} ({row.get('model')})"
        need = f"≈ {format_bytes(row['memory']['total'])}" if "memory" in row else ""
        table.add_row(
            row["name"], row["backend"], where, row.get("preset") or "", need, row["origin"]
        )
    Console().print(table)
    return EXIT_OK


def _model_memory(spec: ModelSpec, info: GGUFInfo | None = None) -> MemoryEstimate | None:
    """A local model's estimated memory at its n_ctx and settings (None: a server, or no file)."""
    if spec.backend != "llamacpp":
        return None
    if info is not None:
        from workbench.models.memory import estimate_for

        return estimate_for(info, spec.n_ctx, spec.llama)
    from workbench.core.admission import model_estimate
    from workbench.models.backends.base import create_backend

    return model_estimate(create_backend(spec), spec)


def _sessions(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    summaries, errors = store.list()
    err = Console(stderr=True)
    for error in errors:
        err.print(f"[yellow]skipped[/] {error.message}", highlight=False)
    if args.json:
        print(json.dumps([s.to_dict() for s in summaries], indent=2, ensure_ascii=False))
        return EXIT_OK
    from rich.table import Column, Table

    # The id is what show, diff, score … take: never cut (the other columns wrap).
    whole = Column("id", no_wrap=True, min_width=max((len(s.id) for s in summaries), default=2))
    table = Table(whole, "when", "prompt", "models", "rated", box=None, pad_edge=False)
    for s in summaries:
        table.add_row(
            s.id,
            s.created.replace("T", " ")[:19],
            s.first_line[:60],
            ", ".join(s.models),
            "yes" if s.rated else "",
        )
    Console().print(table)
    if not summaries:
        err.print(f"No sessions in {store.root}.")
    return EXIT_OK


def _show(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.cli.run import print_session

    session = store.load(args.session)
    if args.json:
        print(json.dumps(session.to_dict(), indent=1, ensure_ascii=False))
    else:
        print_session(Console(), session, store.resolve(args.session))
    return EXIT_OK
