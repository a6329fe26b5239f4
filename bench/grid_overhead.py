"""What a grid adds per cell: a 100-cell grid against a loopback server, as the user runs it.

The server (bench/_sse_server.py, a process of its own) paces each token like a
model and reports its own time per answer in llama-server's ``timings``. The grid
runs through the command line (`workbench grid FILE --json`, a fresh sessions
folder each round), so the wall time is what the user waits; the baseline is the
sum of the server's own timings over the same answers. What is left is workbench:
process start, a session saved per cell, the runner, the checks, the report.

    python bench/grid_overhead.py [--rounds 3] [--prompts 25] [--temperatures 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median, report
from fanout import Server


def grid_text(prompts: int, temperatures: int, tokens: int) -> str:
    temps = ", ".join(f"{0.1 * i:.1f}" for i in range(temperatures))
    lines = [
        'name = "overhead"',
        'models = ["bench"]',
        "",
        "[settings]",
        f"temperature = [{temps}]",
        f"max_tokens = [{tokens}]",
    ]
    for index in range(prompts):
        lines += [
            "",
            "[[prompts]]",
            f'name = "p{index:03d}"',
            f'prompt = "Write merge number {index}."',
            'checks = [{ type = "contains", value = "def" }, '
            f'{{ type = "max-tokens", value = {tokens} }}]',
        ]
    return "\n".join(lines) + "\n"


def server_seconds(folder: Path) -> tuple[float, int]:
    """The server's own time over every saved answer, and how many answers."""
    total, count = 0.0, 0
    for path in folder.glob("*.json"):
        if path.name.startswith("."):
            continue
        for run in json.loads(path.read_text())["runs"]:
            timings = run.get("timings") or {}
            total += ((timings.get("prompt_ms") or 0) + (timings.get("generation_ms") or 0)) / 1000
            count += 1
    return total, count


def one_round(work: Path, url: str, index: int) -> dict[str, float]:
    config = work / "workbench.toml"
    config.write_text(
        f'[[models]]\nname = "bench"\nbackend = "openai"\nurl = "{url}/v1"\nmodel = "bench-model"\n'
    )
    sessions = work / f"sessions-{index}"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "grid", "grid.toml", "--json",
         "--config", str(config), "--sessions", str(sessions)],
        cwd=work, capture_output=True, text=True, timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"workbench grid failed: {result.stderr[-2000:]}")
    cells = len(json.loads(result.stdout)["cells"])
    served, answers = server_seconds(sessions)
    return {"wall_s": wall, "server_s": served, "answers": answers, "cells": cells}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=25)
    parser.add_argument("--temperatures", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--pace-ms", type=float, default=2.0, help="ms per token at the server")
    args = parser.parse_args()
    rounds = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        Server(1, "--pace-ms", str(args.pace_ms), "--timings") as server,
    ):
        work = Path(tmp)
        (work / "grid.toml").write_text(grid_text(args.prompts, args.temperatures, args.tokens))
        for index in range(args.rounds):
            rounds.append(one_round(work, server.url, index))
    answers = rounds[0]["answers"]
    wall = median([r["wall_s"] for r in rounds])
    served = median([r["server_s"] for r in rounds])
    per_cell_ms = (wall - served) / answers * 1000
    rows = [
        {
            "measure": (
                f"grid of {answers} cells ({args.tokens} tokens at {args.pace_ms:g} ms each), "
                "wall s at the command line"
            ),
            "baseline": f"{served:.2f} (sum of the server's own timings)",
            "workbench": f"{wall:.2f}",
            "ratio": f"{wall / served:.2f}",
            "goal": "",
            "met": "",
        },
        {
            "measure": "workbench's time per cell (wall - server) / cells, ms",
            "baseline": "",
            "workbench": f"{per_cell_ms:.1f}",
            "ratio": "",
            "goal": "",
            "met": "",
        },
    ]
    report("grid_overhead", rows, {"args": vars(args), "rounds": rounds})


if __name__ == "__main__":
    main()
