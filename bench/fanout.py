"""Server fan-out: client CPU per token, workbench versus a plain httpx client.

A loopback server (bench/_sse_server.py, a process of its own, so its CPU is
never counted) streams ``--tokens`` chat-completion deltas per stream as SSE.
``--streams`` concurrent streams are read

- by workbench: one ``openai`` model per stream, all in one ``Runner.run``
  (the backend's SSE parser, timeouts, the runner's clock and events);
- by a plain client: one ``httpx.AsyncClient``, ``aiter_lines``, ``json.loads``
  of every ``data:`` line, the delta's text kept.

The figure is this process's CPU time (``time.process_time``: user + system,
every thread) per token, median of the rounds, which alternate. Goal:
workbench ≤ 1.2 × the plain client. Both check that every stream's text
arrived whole.

    python bench/fanout.py [--rounds 5] [--streams 16] [--tokens 2000] [--burst 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _common import median, report
from _sse_server import expected_text

from workbench.core.runner import BackendPool, Runner
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling

PROMPT = "Write a function that merges two sorted lists."


class Server:
    """The SSE server in a child process; stopped (only that process) on exit."""

    def __init__(self, burst: int, *options: str) -> None:
        self.burst, self.options = burst, options
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Server:
        script = Path(__file__).with_name("_sse_server.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--port", "0", "--burst", str(self.burst), *self.options],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.__exit__()
            raise SystemExit(f"the SSE server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def measured(coro_factory):
    """Run the coroutine; return (its result, CPU seconds, wall seconds)."""

    async def run():
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        result = await coro_factory()
        return result, time.process_time() - cpu, time.perf_counter() - wall

    return run()


async def plain_round(client: httpx.AsyncClient, url: str, streams: int, tokens: int) -> list[str]:
    body = {
        "model": "bench-model",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "max_tokens": tokens,
        "temperature": 0,
    }

    async def one() -> str:
        parts: list[str] = []
        async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                obj = json.loads(data)
                choices = obj.get("choices")
                if choices:
                    text = (choices[0].get("delta") or {}).get("content")
                    if text:
                        parts.append(text)
        return "".join(parts)

    return await asyncio.gather(*(one() for _ in range(streams)))


async def workbench_round(runner: Runner, specs: list[ModelSpec], tokens: int) -> list[str]:
    request = Request.chat(PROMPT, sampling=Sampling(max_tokens=tokens, temperature=0.0))
    runs = await runner.run(specs, request, "parallel")
    for run in runs:
        if run.state != "done" or run.output_tokens != tokens:
            raise SystemExit(f"{run.model}: {run.state}, {run.output_tokens} tokens, {run.error}")
    return [run.text for run in runs]


async def main_async(args: argparse.Namespace) -> None:
    expected = expected_text(args.tokens)
    total = args.streams * args.tokens
    results: dict[str, list[dict[str, float]]] = {"plain": [], "workbench": []}
    with Server(args.burst) as server:
        specs = [
            ModelSpec(
                name=f"stream-{i + 1:02d}", backend="openai", url=server.url + "/v1", model="m"
            )
            for i in range(args.streams)
        ]
        runner = Runner(BackendPool())
        limits = httpx.Limits(max_connections=args.streams, max_keepalive_connections=args.streams)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            rounds = {
                "plain": lambda: plain_round(client, server.url, args.streams, args.tokens),
                "workbench": lambda: workbench_round(runner, specs, args.tokens),
            }
            for kind in rounds:  # warm-up: connections, imports
                await rounds[kind]()
            for index in range(args.rounds):
                order = ["plain", "workbench"] if index % 2 == 0 else ["workbench", "plain"]
                for kind in order:
                    texts, cpu, wall = await measured(rounds[kind])
                    if any(text != expected for text in texts):
                        raise SystemExit(f"{kind}: a stream's text did not arrive whole")
                    results[kind].append(
                        {"cpu_s": cpu, "wall_s": wall, "cpu_us_per_token": cpu / total * 1e6}
                    )
        await runner.pool.close()
    base = median([r["cpu_us_per_token"] for r in results["plain"]])
    ours = median([r["cpu_us_per_token"] for r in results["workbench"]])
    ratio = ours / base
    base_wall = median([r["wall_s"] for r in results["plain"]])
    ours_wall = median([r["wall_s"] for r in results["workbench"]])
    rows = [
        {
            "measure": (
                f"{args.streams} SSE streams x {args.tokens:,} tokens, client CPU us/token"
            ),
            "baseline": f"{base:.1f} (plain httpx + json)",
            "workbench": f"{ours:.1f}",
            "ratio": f"{ratio:.2f}",
            "goal": "<= 1.2",
            "met": ratio <= 1.2,
        },
        {
            "measure": "wall s of one round (for information)",
            "baseline": f"{base_wall:.2f}",
            "workbench": f"{ours_wall:.2f}",
            "ratio": f"{ours_wall / base_wall:.2f}",
            "goal": "",
            "met": "",
        },
    ]
    report("fanout", rows, {"args": vars(args), "rounds": results})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=1, help="frames a stream sends per turn")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
