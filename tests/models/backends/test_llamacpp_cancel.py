"""Cancel paths of the llama.cpp backend on the real worker (SmolLM2).

Faults are injected the way they happen: a load cut short by esc, a worker that
cannot stop in time (stopped with SIGSTOP, as in a long prompt evaluation), a
thread change that overtakes its generate command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest

from workbench.core.events import Delta
from workbench.core.runner import Runner
from workbench.models.backends import llamacpp as llamacpp_module
from workbench.models.backends.llamacpp import LlamaCppBackend
from workbench.models.request import Request, Sampling, Usage

DEADLINE_S = 240
pytestmark = pytest.mark.slow


async def test_a_load_cancelled_half_way_is_finished_by_the_next_load(bundled):
    backend = LlamaCppBackend(bundled.model("smollm2"))
    try:
        seen: list[float] = []
        loading = asyncio.ensure_future(backend.load(seen.append))
        while not seen:  # the worker has started loading
            await asyncio.sleep(0.005)
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loading
        assert backend.info == {}  # it was cancelled before "ready"
        # Before the fix the next load returned at once: no template, no preset, and the
        # rest of the load counted in the next answer's time to first token.
        await asyncio.wait_for(backend.load(lambda _p: None), DEADLINE_S)
        assert backend.info.get("template") and "preset" in backend.info
        chunks = [c async for c in backend.stream(Request.chat("Hi.", sampling=_few()))]
        assert isinstance(chunks[-1], Usage) and chunks[-1].output_tokens >= 1
    finally:
        await backend.close()


async def test_a_cancel_that_ends_in_the_kill_is_recorded_as_cancelled(bundled, monkeypatch):
    monkeypatch.setattr(llamacpp_module, "CANCEL_GRACE_S", 0.3)
    runner = Runner(cores=1)
    spec = bundled.model("smollm2")
    cancels: list[asyncio.Future] = []

    def stall_then_cancel(event):
        if isinstance(event, Delta) and not cancels:
            # The worker cannot answer the cancel in time (as in a long prompt).
            os.kill(runner.pool.loaded("smollm2")._proc.pid, signal.SIGSTOP)
            cancels.append(asyncio.ensure_future(runner.cancel("smollm2")))

    try:
        request = Request.chat("Count to fifty.", sampling=Sampling(max_tokens=200, seed=1))
        (run,) = await asyncio.wait_for(
            runner.run([spec], request, listener=stall_then_cancel), DEADLINE_S
        )
        await asyncio.gather(*cancels)
        assert run.state == "cancelled", run.error  # was "failed" (worker killed)
        assert run.error is None and run.text  # what streamed is kept
        # The next prompt gets a new worker.
        (again,) = await asyncio.wait_for(
            runner.run([spec], Request.chat("Hi.", sampling=_few())), DEADLINE_S
        )
        assert again.state == "done", again.error
    finally:
        await runner.pool.close()


async def test_a_thread_change_that_overtakes_its_generate_is_applied(bundled):
    backend = LlamaCppBackend(bundled.model("smollm2"))
    try:
        await asyncio.wait_for(backend.load(lambda _p: None), DEADLINE_S)
        request = Request.chat("Hi.", sampling=_few(), threads=2)
        stream = backend.stream(request)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the stream has begun; its generate is not sent yet
        assert backend._streaming
        await backend.set_threads(1)
        chunks = [await first] + [c async for c in stream]
        usage = chunks[-1]
        assert isinstance(usage, Usage)
        # Before the fix the worker dropped the change when the generate came.
        assert usage.info["worker_threads"] == 1
    finally:
        await backend.close()


def _few() -> Sampling:
    return Sampling(max_tokens=6, seed=1, temperature=0.0)
