"""Headless commands over saved sessions: diff, replay, score, vote, leaderboard, export."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from workbench.errors import UsageError
from workbench.models.config import Config
from workbench.store.sessions import SessionStore

OK, FAILED = 0, 1


def diff(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.cli.terminal import print_diff

    session = store.load(args.session)
    print_diff(
        Console(),
        session,
        args.model_a,
        args.model_b,
        code=args.code,
        unified=args.unified,
        ignore_whitespace=args.ignore_whitespace,
    )
    return OK


def replay(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    session = store.load(args.session)
    if args.rerun:
        from workbench.cli.run import rerun_command

        return asyncio.run(rerun_command(args, config, store, session))
    from workbench.cli.terminal import replay_session

    replay_session(Console(), session, args.speed)
    return OK


def score(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.store.votes import add_score

    session = add_score(
        store,
        args.session,
        args.model,
        args.score,
        tags=tuple(args.tag or ()),
        note=args.note or "",
    )
    Console().print(f"Scored {args.model} {args.score}/5 in {session.id}.")
    return OK


def vote(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.store.votes import add_vote

    session = add_vote(
        store, args.session, args.model_a, args.model_b, args.outcome, tags=tuple(args.tag or ())
    )
    Console().print(f"Voted {args.outcome} on {args.model_a} vs {args.model_b} in {session.id}.")
    return OK


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since takes a date like 2026-11-01, not {value!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def leaderboard(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.checks.samples import pass_rates
    from workbench.store.leaderboard import PROVISIONAL_BATTLES
    from workbench.store.leaderboard import leaderboard as fit
    from workbench.store.votes import collect

    since = _since(args.since)
    votes, scores, errors = collect(store, tag=args.tag, since=since, machine=args.machine)
    err = Console(stderr=True)
    for error in errors:
        err.print(f"[yellow]skipped[/] {error.message}", highlight=False)
    board = fit(votes, scores, bootstrap=args.bootstrap, bad=args.bad)
    # Pass rates beside the votes, as on the app's leaderboard: answers that passed
    # their tests (the app's checks, `run --tests`, suites) / answers checked.
    rates = pass_rates(store, tag=args.tag, since=since)
    if args.json:
        print(json.dumps(_board_json(board, rates), indent=2))
        return OK
    table = Table(
        "#", "model", "rating", "95% interval", "battles", "W-L-T", "mean score", "pass rate"
    )
    for rank, s in zip(board.ranks(), board.standings, strict=True):
        mean = "–" if s.mean_score is None else f"{s.mean_score:.2f}"
        if s.score_low is not None and s.score_high is not None:
            mean += f" ({s.score_low:.1f}–{s.score_high:.1f})"
        rated = s.rating is not None and s.rating_low is not None and s.rating_high is not None
        table.add_row(
            "–" if rank is None else str(rank),
            s.model,
            f"{s.rating:.0f}" if rated else "–",
            f"{s.rating_low:.0f}–{s.rating_high:.0f}" if rated else "–",
            f"{s.battles} provisional" if s.provisional else str(s.battles),
            f"{s.wins}-{s.losses}-{s.ties}",
            mean,
            _rate(rates.get(s.model)),
        )
    ranked = {s.model for s in board.standings}
    for model in sorted(set(rates) - ranked):  # checked by tests, never rated
        table.add_row("–", model, "–", "–", "0", "–", "–", _rate(rates[model]))
    console = Console()
    console.print(table)
    line = (
        f"{board.votes} votes; Bradley-Terry, 95% posterior intervals; "
        f"'both bad' counted as {'a tie' if board.bad == 'tie' else 'nothing (skipped)'}."
    )
    if any(s.provisional for s in board.standings):
        line += (
            f" Provisional: fewer than {PROVISIONAL_BATTLES} battles, listed after the "
            "ranked models, not ranked."
        )
    if rates:
        line += " Pass rate: answers that passed their tests / answers checked."
    console.print(line)
    return OK


def _rate(rate: tuple[int, int] | None) -> str:
    """``3/5 (60%)``, or ``–`` when no answer of the model was checked."""
    return f"{rate[0]}/{rate[1]} ({rate[0] / rate[1]:.0%})" if rate and rate[1] else "–"


def _board_json(board, rates: dict[str, tuple[int, int]] | None = None) -> dict:
    rates = rates or {}
    return {
        "votes": board.votes,
        "bootstrap": board.bootstrap,
        "bad": board.bad,
        "interval": "95% posterior (Laplace approximation)",
        "standings": [
            {
                "rank": rank,
                "model": s.model,
                "provisional": s.provisional,
                "rating": s.rating,
                "low": s.rating_low,
                "high": s.rating_high,
                "battles": s.battles,
                "wins": s.wins,
                "losses": s.losses,
                "ties": s.ties,
                "bad": s.bad,
                "scores": s.scores,
                "mean_score": s.mean_score,
                "score_low": s.score_low,
                "score_high": s.score_high,
            }
            for rank, s in zip(board.ranks(), board.standings, strict=True)
        ],
        "win_rate": board.win_rate_matrix,
        "battles": board.battle_count_matrix,
        "pass_rates": {
            model: {"passed": passed, "checked": checked, "rate": passed / checked}
            for model, (passed, checked) in sorted(rates.items())
            if checked
        },
    }


def export(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    from workbench.store.export import SAMPLE_FORMATS
    from workbench.store.export import export as render

    summaries, errors = store.list()
    err = Console(stderr=True)
    for error in errors:
        err.print(f"[yellow]skipped[/] {error.message}", highlight=False)
    sessions = []
    for summary in reversed(summaries):  # oldest first reads best in a report
        if args.tag and args.tag not in summary.tags:
            continue
        sessions.append(store.load(summary.path))
    if args.format in SAMPLE_FORMATS:
        text = _samples(sessions, args.format, args.model)
    else:
        text = render(sessions, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        if args.format in SAMPLE_FORMATS:
            lines = text.count("\n")  # one JSON line a sample
            what = f"{lines} sample{'s' * (lines != 1)}"
        else:
            what = f"{len(sessions)} sessions"
        err.print(f"Wrote {what} to {args.output}.")
    else:
        sys.stdout.write(text)
    return OK


def _samples(sessions, fmt: str, model: str | None) -> str:
    """human-eval's or EvalPlus's samples JSONL of one model's suite answers."""
    from workbench.store.export import samples_jsonl, suite_samples

    samples = suite_samples(sessions, model)
    models = sorted({s["model"] for s in samples})
    if not samples:
        which = f" of {model}" if model else ""
        raise UsageError(f"No checked HumanEval answers{which} in these sessions.")
    if len(models) > 1:
        raise UsageError(
            f"{fmt} holds one model's answers; these sessions have {', '.join(models)}: "
            "choose one with --model NAME."
        )
    return samples_jsonl(samples, fmt)


def add_parsers(commands, common) -> None:
    """The subcommands of this module, added to the CLI's parser."""
    p = commands.add_parser("diff", help="diff two answers of a session")
    common(p)
    p.add_argument("session")
    p.add_argument("model_a")
    p.add_argument("model_b")
    p.add_argument("--code", action="store_true", help="only the code blocks")
    p.add_argument("--unified", action="store_true", help="unified instead of side by side")
    p.add_argument("-w", "--ignore-whitespace", action="store_true")

    p = commands.add_parser("replay", help="replay a session as it streamed, or re-run it")
    common(p)
    p.add_argument("session")
    p.add_argument("--speed", type=float, default=1.0, help="1, 2, 10…; 0 shows it at once")
    p.add_argument("--rerun", action="store_true", help="run the prompt again as a new session")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="MODEL")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("score", help="score one answer 1-5")
    common(p)
    p.add_argument("session")
    p.add_argument("model")
    p.add_argument("score", type=int, choices=range(1, 6), metavar="1-5")
    p.add_argument("--tag", action="append")
    p.add_argument("--note")

    p = commands.add_parser("vote", help="vote between two answers: a, b, tie or bad")
    common(p)
    p.add_argument("session")
    p.add_argument("model_a")
    p.add_argument("model_b")
    p.add_argument("outcome", choices=("a", "b", "tie", "bad"))
    p.add_argument("--tag", action="append")

    p = commands.add_parser("leaderboard", help="your models ranked from your votes")
    common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--tag")
    p.add_argument("--since", metavar="DATE")
    p.add_argument(
        "--machine",
        metavar="TEXT",
        help="only sessions whose machine (CPU, cores, llama.cpp build) contains TEXT",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap rounds for the mean scores' intervals (ratings need none)",
    )
    p.add_argument(
        "--bad",
        choices=("tie", "skip"),
        default="tie",
        help="count 'both bad' votes as a tie (default) or skip them",
    )

    p = commands.add_parser("export", help="sessions, answers, figures and ratings")
    common(p)
    p.add_argument(
        "--format",
        # humaneval-samples / evalplus-samples: the checked code for the reference harnesses
        choices=("jsonl", "csv", "markdown", "comparator", "humaneval-samples", "evalplus-samples"),
        default="jsonl",
    )
    p.add_argument("-o", "--output", metavar="FILE")
    p.add_argument("--tag")
    p.add_argument("-m", "--model", help="samples formats: whose answers")


HANDLERS = {
    "diff": diff,
    "replay": replay,
    "score": score,
    "vote": vote,
    "leaderboard": leaderboard,
    "export": export,
}
