"""Weight repacking on versus off, and the warm-up's cost per load.

Same model (Gemma 3 270M Q4_K_M: llama.cpp repacks its Q4_K weights into the
CPU's interleaved layout where the CPU has one), same threads (all cores), same
prompt, same number of tokens, greedy sampling, through workbench's own worker.
Rounds alternate a load with repacking off and one with it on (each a fresh
worker); the figures are llama.cpp's own perf counters of each run, and the
ratio of medians (on / off) is what justifies the default ("auto": on, unless it
crashed on this CPU). A CPU whose repacked kernels crash (AMX on some Xeons)
reports the crash and only the "off" figures.

The warm-up (one decode at the end of every load) is timed by the worker; its
row gives the median ms per load and its share of the whole load.

    python bench/repack.py [--rounds 3] [--tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import replace

from _common import median, report

PROMPT = (
    "def merge_sort(items):\n"
    '    """Sort a list of numbers with merge sort and return a new list.\n\n'
    "    The list may be empty; equal items keep their order.\n"
    '    """\n'
) * 4


async def one_round(spec, repack: bool, tokens: int, threads: int) -> dict:
    from workbench.models.backends.llamacpp import LlamaCppBackend
    from workbench.models.request import Request, Sampling, Usage

    backend = LlamaCppBackend(replace(spec, llama=replace(spec.llama, repack=repack)))
    started = time.monotonic()
    try:
        await backend.load(lambda _p: None)
        load_ms = (time.monotonic() - started) * 1000
        request = Request.completion(
            PROMPT,
            sampling=Sampling(max_tokens=tokens, temperature=0.0, seed=1),
            threads=threads,
        )
        usage = None
        async for chunk in backend.stream(request):
            if isinstance(chunk, Usage):
                usage = chunk
        assert usage is not None and usage.timings is not None
        return {
            "repack": backend.info["llama"]["repack"],
            "repacked": backend.info["llama"]["repacked"],
            "load_ms": load_ms,
            "warmup_ms": backend.info["warmup_ms"],
            "gen_tps": usage.timings.gen_tokens_per_s,
            "prompt_tps": usage.timings.prompt_tokens_per_s,
            "output_tokens": usage.output_tokens,
        }
    finally:
        await backend.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    from workbench.errors import ModelLoadError
    from workbench.models.config import load_config

    spec = replace(load_config(None).model("gemma3"), n_ctx=1024)
    threads = len(os.sched_getaffinity(0))
    rounds: dict[bool, list[dict]] = {False: [], True: []}
    crashed = None
    loop = asyncio.new_event_loop()
    loop.run_until_complete(one_round(spec, False, 4, threads))  # page cache, imports
    for _ in range(args.rounds):
        for repack in (False, True):
            if repack and crashed:
                continue
            try:
                rounds[repack].append(
                    loop.run_until_complete(one_round(spec, repack, args.tokens, threads))
                )
            except ModelLoadError as exc:
                crashed = exc.message
    off, on = rounds[False], rounds[True]
    rows = []
    for key, what in (("gen_tps", "gen tokens/s"), ("prompt_tps", "prompt tokens/s")):
        base = median([r[key] for r in off])
        if on:
            value = median([r[key] for r in on])
            label = "on" if on[0]["repacked"] else "on, none repacked"
            rows.append(
                {
                    "measure": f"{what}, repacking on vs off (gemma3 Q4_K_M, {threads} threads)",
                    "baseline": f"{base:.1f} (off)",
                    "workbench": f"{value:.1f} ({label})",
                    "ratio": f"{value / base:.3f}",
                    "goal": ">= 1.0 keeps the default on",
                    "met": value / base >= 1.0,
                }
            )
        else:
            rows.append(
                {
                    "measure": f"{what}, repacking off (on crashed: {crashed})",
                    "baseline": f"{base:.1f} (off)",
                    "workbench": "crashed",
                    "ratio": "-",
                    "goal": "-",
                    "met": "-",
                }
            )
    every = off + on
    warmup = median([r["warmup_ms"] for r in every])
    load = median([r["load_ms"] for r in every])
    rows.append(
        {
            "measure": "warm-up cost (ms per load; share of the whole load)",
            "baseline": f"load {load:.0f} ms",
            "workbench": f"warm-up {warmup:.1f} ms",
            "ratio": f"{warmup / load:.3f}",
            "goal": "-",
            "met": "-",
        }
    )
    report("repack", rows, {"off": off, "on": on, "crashed": crashed})


if __name__ == "__main__":
    main()
