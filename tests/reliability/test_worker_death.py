"""A local model's worker process dies: SIGKILLed at random points, or aborted by llama.cpp.

Whatever the moment, the other model finishes, the dead model's run keeps the
text it had shown with an error that says the worker died, the session file
loads, and the next prompt starts a new worker. Real bundled models, tiny answers.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import pytest
from reliability_helpers import figure, tiny_llama_gguf, truncated_copy

from workbench.core.events import Delta, Event, Failed, Finished, Loading, Started
from workbench.core.runner import Runner
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.store.comparison import run_comparison

SEED = 20260808
#: 100 runs with a kill each (measured: about 2 minutes on 2 busy cores, see the figure).
KILLS = int(os.environ.get("WB_KILLS", "100"))
PROMPT = Request.chat("Write a Python function is_prime(n).", sampling=Sampling(max_tokens=16))
RECOVERY = Request.completion("def fib(n):", sampling=Sampling(max_tokens=4, seed=1))
# Only a hang would take this long.
DEADLINE_S = 120
IDLE = "idle (after its run)"


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workers' stderr logs land here, so a test can count them."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


class Killer:
    """SIGKILLs a model's worker ``delay`` seconds into a run, noting the run's phase then."""

    def __init__(self, runner: Runner, model: str) -> None:
        self.runner = runner
        self.model = model
        self.phase = "queued"
        #: (pid, phase) of the kill.
        self.killed: tuple[int, str] | None = None
        #: The worker that answered this run (seen at its first text, or its end).
        self.answered_pid: int | None = None
        self.killed_pid: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._after_start: float | None = None

    def listen(self, event: Event) -> None:
        if event.model != self.model:
            return
        if isinstance(event, Loading):
            self.phase = "loading"
        elif isinstance(event, Started):
            self.phase = "prompt"  # the prompt is being evaluated: no text yet
            if self._after_start is not None:
                self.arm(self._after_start)
        elif isinstance(event, Delta):
            self.phase = "streaming"
            self.answered_pid = self.answered_pid or self._pid()
        elif isinstance(event, Finished):
            self.phase = "ended"
            self.answered_pid = self.answered_pid or self._pid()
        elif isinstance(event, Failed):
            self.phase = "ended"

    def arm(self, delay: float) -> None:
        self._handle = asyncio.get_running_loop().call_later(delay, self._kill)

    def arm_after_start(self, delay: float) -> None:
        """Kill ``delay`` seconds after the model's stream starts (prompt or streaming)."""
        self._after_start = delay

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def _pid(self) -> int | None:
        proc = getattr(self.runner.pool.loaded(self.model), "_proc", None)
        return proc.pid if proc is not None and proc.returncode is None else None

    def _kill(self) -> None:
        pid = self._pid()
        if pid is None:
            # Its worker is not started yet: kill it as soon as it is.
            self._handle = asyncio.get_running_loop().call_later(0.002, self._kill)
            return
        os.kill(pid, signal.SIGKILL)
        self.killed_pid = pid
        # A run quicker than the draw has ended: its worker dies idle, after answering.
        self.killed = (pid, IDLE if self.phase == "ended" else self.phase)


async def timed_run(runner, store, specs, request, listener=None):
    started = time.monotonic()
    recorder = await asyncio.wait_for(
        run_comparison(runner, store, specs, request, listener=listener), DEADLINE_S
    )
    return recorder, time.monotonic() - started


def median(values) -> float:
    return sorted(values)[len(values) // 2]


def worker_logs(folder: Path, model: str) -> list[Path]:
    return sorted(folder.glob(f"workbench-{model}-*.log"))


def check_killed_run(recorder, store, killer: Killer, where: str) -> None:
    small, other = recorder.session.runs
    # The other model always finishes.
    assert other.state == "done", (where, other.error)
    assert other.output_tokens >= 1 and other.text.strip(), where
    if killer.killed is None or killer.killed[1] == IDLE:
        assert small.state == "done", (where, small.error)
    elif small.state == "done" and killer.killed[1] == "streaming":
        # The signal landed after the worker had written its last token and its
        # final report: the answer is whole, and it is right to keep it.
        assert small.finish_reason is not None and small.output_tokens, where
    elif small.state == "done":
        # Killed after its load but before its prompt was sent: the dead worker was seen
        # (it did not answer a ping) and replaced at once, so the run did not fail.
        assert killer.killed[1] in ("loading", "prompt"), where
        assert killer.answered_pid not in (None, killer.killed[0]), where
    else:
        assert small.state == "failed", where
        assert small.error["type"] in ("WorkerDied", "ModelLoadError"), (where, small.error)
        message = small.error["message"]
        assert "worker process" in message and "SIGKILL" in message, (where, message)
        # What was shown stays, exactly as it streamed.
        assert small.text == "".join(text for _, text in small.chunks), where
        if killer.killed[1] == "streaming":
            assert small.text, where
        assert small.output_tokens is None, where
    # The session file loads and holds what the panes showed.
    saved = store.load(recorder.path)
    assert saved.complete, where
    assert [(r.state, r.text, r.error) for r in saved.runs] == [
        (r.state, r.text, r.error) for r in recorder.session.runs
    ], where


@pytest.mark.slow
async def test_worker_sigkilled_at_random_points(bundled, tmp_sessions, private_tmp):
    """Each run's worker is killed at a random moment: for a third of the runs from a cold
    start (loading included), else while the prompt is evaluated or while the text
    streams; a kill drawn after the model answered finds its worker idle. After each,
    the next prompt must start a new worker and answer."""
    smollm2, gemma3 = bundled.model("smollm2"), bundled.model("gemma3")
    runner = Runner()
    rng = random.Random(SEED)
    started = time.monotonic()
    try:
        # How long smollm2's part of a run lasts from a cold and from a warm worker (the
        # best of two each), and when its first text comes from a warm one.
        spans: dict[str, float] = {}
        # The machine's speed changes (2 cores, other test runs): the warm figures follow
        # the runs that ended without a kill.
        recent: dict[str, collections.deque[float]] = {
            "ttft": collections.deque(maxlen=9),
            "stream": collections.deque(maxlen=9),
        }
        for state in ("cold", "cold", "warm", "warm"):
            if state == "cold":
                await runner.pool.get(smollm2).close()
            else:  # as in the loop: another prompt before (no prompt cache to reuse)
                await asyncio.wait_for(runner.run([smollm2], RECOVERY), DEADLINE_S)
            recorder, _ = await timed_run(runner, tmp_sessions, [smollm2, gemma3], PROMPT)
            run = recorder.session.runs[0]
            span = run.load_s + run.total_s
            spans[state] = min(spans.get(state, span), span)
            if state == "warm":
                recent["ttft"].append(run.first_token_s)
                recent["stream"].append(run.total_s)

        phases: collections.Counter[str] = collections.Counter()
        restart_s: list[float] = []
        slowest = 0.0
        for index in range(KILLS):
            spans["ttft"], spans["stream"] = (median(recent[k]) for k in ("ttft", "stream"))
            killer = Killer(runner, "smollm2")
            draw = rng.randrange(3)
            if draw == 0:  # from a cold start: loading, prompt or text
                await runner.pool.get(smollm2).close()
                killer.arm(rng.uniform(0.0, spans["cold"]))
            elif draw == 1:  # a warm worker evaluating the prompt
                killer.arm_after_start(rng.uniform(0.0, spans["ttft"]))
            else:  # a warm worker streaming its text (or, past its end, idle)
                killer.arm_after_start(rng.uniform(spans["ttft"], spans["stream"]))
            recorder, took = await timed_run(
                runner, tmp_sessions, [smollm2, gemma3], PROMPT, killer.listen
            )
            killer.disarm()
            slowest = max(slowest, took)
            where = f"run {index} (draw {draw}, kill {killer.killed})"
            small = recorder.session.runs[0]
            if killer.killed is None:
                phases["none (the run ended first)"] += 1
            elif small.state == "done" and killer.killed[1] == "streaming":
                phases["after its last token"] += 1
            elif small.state == "done" and killer.killed[1] != IDLE:
                phases["before its prompt (replaced)"] += 1
            else:
                phases[killer.killed[1]] += 1
            check_killed_run(recorder, tmp_sessions, killer, where)
            if small.state == "done" and draw and small.first_token_s is not None:
                recent["ttft"].append(small.first_token_s)
                recent["stream"].append(small.total_s)

            # The next prompt starts a new worker and answers.
            (again,) = await asyncio.wait_for(runner.run([smollm2], RECOVERY), DEADLINE_S)
            assert again.state == "done", (where, again.error)
            assert again.output_tokens >= 1, where
            if killer.killed is not None:
                assert runner.pool.loaded("smollm2")._proc.pid != killer.killed[0], where
                restart_s.append(again.load_s or 0.0)
            # At most one log per worker: a dead worker's log does not pile up.
            assert len(worker_logs(private_tmp, "smollm2")) <= 1, where
    finally:
        await runner.pool.close()
    assert worker_logs(private_tmp, "smollm2") == worker_logs(private_tmp, "gemma3") == []
    # Most kills fell inside the model's run, as drawn (not after it ended).
    missed = phases["none (the run ended first)"] + phases[IDLE] + phases["after its last token"]
    assert missed <= KILLS // 3, phases
    elapsed = time.monotonic() - started
    restart_s.sort()
    figure(
        "test_worker_sigkilled_at_random_points",
        f"{KILLS} runs (seed {SEED}), kills by phase {dict(phases)}; the other model done "
        f"{KILLS}/{KILLS}; sessions loaded {KILLS}/{KILLS}; the next prompt answered "
        f"{KILLS}/{KILLS} with a new worker (load median {restart_s[len(restart_s) // 2]:.2f} s, "
        f"max {restart_s[-1]:.2f} s); smollm2 cold {spans['cold']:.2f} s, warm TTFT "
        f"{spans['ttft']:.2f} s, stream {spans['stream']:.2f} s; slowest run {slowest:.2f} s; "
        f"total {elapsed:.0f} s",
    )


# --- a model file that llama.cpp refuses, or aborts on ---------------------------------

SMOLLM2 = "smollm2"


def _bad_files(folder: Path, real: Path) -> dict[str, tuple[Path, list[str]]]:
    """name -> (file, words the error must contain)."""
    return {
        "truncated-half": (
            truncated_copy(real, folder / "half.gguf", 0.5),
            ["not within the file bounds", "corrupted or incomplete"],
        ),
        "truncated-header": (
            truncated_copy(real, folder / "head.gguf", 5000),
            ["gguf_init_from_reader", "failed"],
        ),
        "bogus-architecture": (
            tiny_llama_gguf(folder / "arch.gguf", arch="no-such-arch"),
            ["unknown model architecture", "no-such-arch"],
        ),
        "inconsistent-tensor-shape": (
            tiny_llama_gguf(folder / "shape.gguf", wrong_shape=True),
            ["blk.0.attn_q.weight", "wrong shape"],
        ),
        "unknown-tokenizer": (
            tiny_llama_gguf(folder / "tok.gguf", tokenizer="bogus"),
            ["unknown tokenizer", "bogus"],
        ),
        # The shapes agree with the header, but 5 KV heads cannot serve 2 heads:
        # building the graph trips GGML_ASSERT, which aborts the worker process.
        "ggml-assert-abort": (
            tiny_llama_gguf(folder / "assert.gguf", n_head_kv=5),
            ["worker process died", "SIGABRT", "GGML_ASSERT"],
        ),
    }


@pytest.mark.slow
async def test_a_bad_gguf_fails_its_own_run_clearly(bundled, tmp_sessions, tmp_path, private_tmp):
    good = bundled.model(SMOLLM2)
    runner = Runner()
    files = _bad_files(tmp_path, runner.pool.get(good).model_path())
    measured = []
    try:
        for name, (path, words) in files.items():
            bad = ModelSpec(name="bad", backend="llamacpp", path=str(path), chat_template="chatml")
            for attempt in (1, 2):  # the second prompt fails the same way: nothing hangs
                request = Request.chat("Say hi.", sampling=Sampling(max_tokens=8, seed=1))
                recorder, elapsed = await timed_run(runner, tmp_sessions, [good, bad], request)
                ok, failed = recorder.session.runs
                assert ok.state == "done" and ok.text.strip(), (name, ok.error)
                assert failed.state == "failed", name
                assert failed.error["type"] == "ModelLoadError", (name, failed.error)
                message = failed.error["message"]
                assert path.name in message, (name, message)
                for word in words:
                    assert word in message, (name, word, message)
                assert len(message) < 600, (name, message)
                saved = tmp_sessions.load(recorder.path)
                assert saved.runs[1].error == failed.error
                if attempt == 1:
                    measured.append(f"{name} {elapsed:.2f} s")
    finally:
        await runner.pool.close()
    assert list(private_tmp.iterdir()) == []  # no worker log left behind
    figure(
        "test_a_bad_gguf_fails_its_own_run_clearly",
        f"{len(files)} bad files, each a ModelLoadError naming the cause while smollm2 "
        f"answered (twice each): {', '.join(measured)}",
    )


@pytest.mark.slow
async def test_a_worker_that_died_idle_is_restarted_by_the_next_prompt(bundled, private_tmp):
    """Killed while idle, just before the next prompt (before the event loop has seen its
    exit): the prompt starts a new worker rather than failing."""
    smollm2 = bundled.model("smollm2")
    runner = Runner()
    delays = (0.0, 0.001, 0.005, 0.02) * 2
    try:
        (first,) = await asyncio.wait_for(runner.run([smollm2], RECOVERY), DEADLINE_S)
        assert first.state == "done", first.error
        for delay in delays:
            pid = runner.pool.loaded("smollm2")._proc.pid
            os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(delay)
            (run,) = await asyncio.wait_for(runner.run([smollm2], RECOVERY), DEADLINE_S)
            assert run.state == "done", (delay, run.error)
            assert runner.pool.loaded("smollm2")._proc.pid != pid
    finally:
        await runner.pool.close()
    figure(
        "test_a_worker_that_died_idle_is_restarted_by_the_next_prompt",
        f"{len(delays)} idle kills, the next prompt sent "
        f"{', '.join(f'{d * 1000:g}' for d in delays[:4])} ms later: all answered by a new worker",
    )
