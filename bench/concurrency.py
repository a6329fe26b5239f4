"""Concurrency: N local models in one parallel run versus the best sequential run.

The sequential baseline runs each model alone with every core (the fastest
way to run them one after another); the parallel run is workbench's runner
with its CPU thread budget. Goal: parallel wall time ≤ 1.05 × sequential.
For contrast it also times the naive parallel run (every model with every
core at once): the oversubscription cliff the thread budget avoids.

    python bench/concurrency.py [--rounds 3] [--tokens 96] [--models smollm2,gemma3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import median, report

from workbench.config import load_config
from workbench.request import Request, Sampling
from workbench.runner import BackendPool, Runner, available_cores

PROMPT = 'def quicksort(items):\n    """Sort a list of numbers."""\n'


async def timed(runner: Runner, specs, schedule: str, tokens: int) -> tuple[float, list]:
    request = Request.completion(
        PROMPT, sampling=Sampling(temperature=0.0, max_tokens=tokens, seed=1)
    )
    start = time.monotonic()
    runs = await runner.run(specs, request, schedule)
    wall = time.monotonic() - start
    for run in runs:
        if run.state != "done":
            raise SystemExit(f"{run.model} {run.state}: {run.error}")
    return wall, runs


async def main_async(args: argparse.Namespace) -> None:
    config = load_config(None)
    names = args.models.split(",")
    specs = [config.model(name) for name in names]
    cores = available_cores()
    pool = BackendPool()
    budgeted = Runner(pool, cores=cores)
    # Pretends there are enough cores for everyone: each model takes them all.
    naive = Runner(pool, cores=cores * len(specs))
    await timed(budgeted, specs, "sequential", 8)  # load every model once
    parallel, sequential, oversubscribed = [], [], []
    for _ in range(args.rounds):
        sequential.append((await timed(budgeted, specs, "sequential", args.tokens))[0])
        parallel.append((await timed(budgeted, specs, "parallel", args.tokens))[0])
        if not args.skip_naive:
            oversubscribed.append((await timed(naive, specs, "parallel", args.tokens))[0])
    await pool.close()
    ratio = median(parallel) / median(sequential)
    rows = [
        {
            "measure": f"{len(specs)} models ({args.models}), {args.tokens} tokens each, wall s",
            "baseline": f"{median(sequential):.2f} (sequential)",
            "workbench": f"{median(parallel):.2f} (parallel)",
            "ratio": f"{ratio:.3f}",
            "goal": "<= 1.05",
            "met": ratio <= 1.05,
        },
    ]
    if oversubscribed:
        naive_ratio = median(oversubscribed) / median(sequential)
        rows.append(
            {
                "measure": "naive parallel, every model with all cores (for contrast)",
                "baseline": f"{median(sequential):.2f}",
                "workbench": f"{median(oversubscribed):.2f}",
                "ratio": f"{naive_ratio:.3f}",
                "goal": "(the cliff)",
                "met": "",
            }
        )
    report(f"concurrency-{len(specs)}", rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--models", default="smollm2,gemma3")
    parser.add_argument("--skip-naive", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
