"""Generation overhead: `workbench run` versus a bare llama-cpp-python loop.

Same model (SmolLM2), same prompt tokens, same threads (all cores), same
number of tokens, greedy sampling. Rounds alternate between the two; the
ratio of median generation tokens/s is the figure (goal ≥ 0.97), and the
time-to-first-token difference (goal ≤ +15 ms). It also checks that the
tokens/s workbench reports agrees with llama.cpp's own perf counters of the
same run (goal: within 5 %).

Two clocks. The worker process stamps each token as it is sampled, and the
figures a session records come from those stamps ("worker-stamped"): they do
not see the pipe, the JSON and the event loop between the worker and the
runner. So a third kind of round runs the runner in this process and stamps
each token again when the runner's listener receives it ("at the client"):
tokens/s and TTFT as the app sees them, beside the worker-stamped ones of the
same run.

    python bench/overhead.py [--rounds 5] [--tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

from _common import median, report, smollm2_path

PROMPT = 'def quicksort(items):\n    """Sort a list of numbers."""\n'


def bare_round(llm, tokens_wanted: int, threads: int) -> tuple[float, float]:
    """(generation tokens/s, ttft seconds) of a bare llama-cpp-python loop."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
    tokens = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    if llm.metadata.get("tokenizer.ggml.add_bos_token", "true") != "false":
        tokens.insert(0, llm.token_bos())
    llm.reset()  # no prompt cache: workbench's worker also evaluates the prompt each time
    start = time.monotonic()
    stamps = []
    for token in llm.generate(tokens, temp=0.0, top_k=1, top_p=1.0, min_p=0.05):
        stamps.append(time.monotonic())
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or len(stamps) >= tokens_wanted:
            break
    n = len(stamps)
    return (n - 1) / (stamps[-1] - stamps[0]), stamps[0] - start


def workbench_round(tokens_wanted: int, sessions: str, threads: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            "--completion",
            PROMPT,
            "-m",
            "smollm2",
            "--max-tokens",
            str(tokens_wanted),
            "--temperature",
            "0",
            "--seed",
            "1",
            "--threads",  # the bare loop's threads, whatever else the machine runs
            str(threads),
            "--json",
            "--sessions",
            sessions,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["runs"][0]


async def client_round(runner, spec, tokens_wanted: int) -> dict:
    """One run through the runner, in this process: its worker-stamped figures and the
    same figures from the moments the runner's listener received each token."""
    from workbench.core.events import Delta
    from workbench.core.metrics import figures, generation_rate
    from workbench.models.request import Request, Sampling

    arrivals: list[float] = []

    def listener(event) -> None:
        if isinstance(event, Delta) and event.text:
            arrivals.append(time.monotonic())

    sampling = Sampling(max_tokens=tokens_wanted, temperature=0.0, seed=1)
    # Cold, as the bare loop (llm.reset()): the same prompt each round must not be
    # answered from the KV cache the round before left.
    request = Request.completion(PROMPT, sampling=sampling, cold=True)
    [run] = await runner.run([spec], request, "parallel", listener=listener)
    stamped = figures(run)
    return {
        "output_tokens": run.output_tokens,
        "worker_rate": stamped.gen_tokens_per_s,
        "worker_ttft": stamped.ttft_s,
        "client_rate": generation_rate(run.output_tokens, arrivals[0], arrivals[-1]),
        "client_ttft": arrivals[0] - run.t_sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument(
        "--no-warmup", action="store_true", help="skip warming up `workbench run` (smoke test)"
    )
    args = parser.parse_args()
    import tempfile

    from llama_cpp import Llama

    from workbench.core.runner import Runner
    from workbench.models.config import load_config

    threads = len(os.sched_getaffinity(0))
    llm = Llama(
        smollm2_path(), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    # The same model, n_ctx and threads in this process's runner (its own worker).
    spec = load_config(None).model("smollm2")
    runner = Runner(cores=threads)
    loop = asyncio.new_event_loop()
    bare_rates, bare_ttft, wb_rates, wb_ttft, agreement = [], [], [], [], []
    clients: list[dict] = []
    with tempfile.TemporaryDirectory() as sessions:
        if not args.no_warmup:
            workbench_round(8, sessions, threads)  # warm the page cache and Python's imports
        bare_round(llm, 8, threads)  # and the bare context's first decode (its buffers)
        loop.run_until_complete(client_round(runner, spec, 8))  # loads the worker
        for _ in range(args.rounds):
            rate, ttft = bare_round(llm, args.tokens, threads)
            bare_rates.append(rate)
            bare_ttft.append(ttft)
            run = workbench_round(args.tokens, sessions, threads)
            if run["output_tokens"] != args.tokens:
                print(f"note: workbench produced {run['output_tokens']} tokens", file=sys.stderr)
            wb_rates.append(run["gen_tokens_per_s"])
            wb_ttft.append(run["ttft_s"])
            server = run["server"]["gen_tokens_per_s"]
            agreement.append(run["gen_tokens_per_s"] / server)
            clients.append(loop.run_until_complete(client_round(runner, spec, args.tokens)))
    loop.run_until_complete(runner.pool.close())
    loop.close()
    client_rate = median([c["client_rate"] for c in clients])
    client_ttft = median([c["client_ttft"] for c in clients])
    stamped_rate = median([c["worker_rate"] for c in clients])
    stamped_ttft = median([c["worker_ttft"] for c in clients])
    rate_ratio = median(wb_rates) / median(bare_rates)
    ttft_delta_ms = (median(wb_ttft) - median(bare_ttft)) * 1000
    worst = max(abs(1 - a) for a in agreement)
    report(
        "overhead",
        [
            {
                "measure": f"gen tokens/s, SmolLM2, {threads} threads, {args.tokens} tokens",
                "baseline": f"{median(bare_rates):.1f}",
                "workbench": f"{median(wb_rates):.1f}",
                "ratio": f"{rate_ratio:.3f}",
                "goal": ">= 0.97",
                "met": rate_ratio >= 0.97,
            },
            {
                "measure": "time to first token (ms)",
                "baseline": f"{median(bare_ttft) * 1000:.1f}",
                "workbench": f"{median(wb_ttft) * 1000:.1f}",
                "ratio": f"{ttft_delta_ms:+.1f} ms",
                "goal": "<= +15 ms",
                "met": ttft_delta_ms <= 15,
            },
            {
                "measure": "gen tokens/s at the client (the runner's listener, in process)",
                "baseline": f"{median(bare_rates):.1f}",
                "workbench": f"{client_rate:.1f} (worker-stamped {stamped_rate:.1f})",
                "ratio": f"{client_rate / median(bare_rates):.3f}",
                "goal": ">= 0.97",
                "met": client_rate / median(bare_rates) >= 0.97,
            },
            {
                "measure": "time to first token at the client (ms)",
                "baseline": f"{median(bare_ttft) * 1000:.1f}",
                "workbench": f"{client_ttft * 1000:.1f} (worker-stamped {stamped_ttft * 1000:.1f})",
                "ratio": f"{(client_ttft - median(bare_ttft)) * 1000:+.1f} ms",
                "goal": "<= +15 ms",
                "met": (client_ttft - median(bare_ttft)) * 1000 <= 15,
            },
            {
                "measure": "reported tokens/s vs llama.cpp perf counters",
                "baseline": "perf",
                "workbench": "client clock",
                "ratio": f"worst {worst:.1%} off",
                "goal": "<= 5%",
                "met": worst <= 0.05,
            },
        ],
        {"clients": clients, "bare_rates": bare_rates, "bare_ttft": bare_ttft},
    )


if __name__ == "__main__":
    main()
