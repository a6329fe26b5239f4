"""The thread budget and GPU offload: a fully offloaded model needs one host thread and
no share of the cores; a partly offloaded one still runs layers on the CPU and counts.

The device facts are faked (no GPU on these machines): each scripted backend reports
what a llama.cpp worker reports after load (``info["llama"]["offload"]``).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from workbench.core.runner import Runner, fully_offloaded
from workbench.models.backends.base import register_backend
from workbench.models.request import Request


def with_offload(scripted, offload: dict[str, str]) -> None:
    make = scripted.factory

    def factory(spec):
        backend = make(spec)
        backend.info = {"llama": {"offload": offload[spec.name]}} if spec.name in offload else {}
        return backend

    register_backend("scripted", factory)


async def run(runner, specs):
    request = Request.chat("hi")
    try:
        return await asyncio.wait_for(runner.run(specs, request), 30)
    finally:
        await runner.pool.close()


async def test_a_fully_offloaded_model_takes_one_thread_and_no_share(scripted):
    with_offload(scripted, {"gpu": "full", "cpu": "none", "half": "partial"})
    specs = [scripted.spec(n, local=True, delay=0.005) for n in ("gpu", "cpu", "half")]
    runs = await run(Runner(cores=4), specs)
    assert [r.state for r in runs] == ["done"] * 3
    given = {name: scripted.backends[name].threads_given for name in ("gpu", "cpu", "half")}
    # Without the rule the three would split 4 cores 2/1/1; the CPU models get 2 each.
    assert given == {"gpu": [1], "cpu": [2], "half": [2]}
    assert [r.threads for r in runs] == [1, 2, 2]


async def test_offloaded_models_leave_every_core_to_a_cpu_model(scripted):
    with_offload(scripted, {"g1": "full", "g2": "full"})
    specs = [scripted.spec(n, local=True, delay=0.005) for n in ("g1", "g2", "cpu")]
    await run(Runner(cores=2), specs)
    assert scripted.backends["cpu"].threads_given == [2]
    assert scripted.backends["g1"].threads_given == scripted.backends["g2"].threads_given == [1]
    assert scripted.activity.max_running == 3  # nobody waited for a share


async def test_a_partly_offloaded_model_still_counts(scripted):
    with_offload(scripted, {"a": "partial", "b": "partial"})
    specs = [scripted.spec(n, local=True, delay=0.005) for n in ("a", "b")]
    await run(Runner(cores=2), specs)
    assert scripted.backends["a"].threads_given == scripted.backends["b"].threads_given == [1]
    assert scripted.activity.max_thread_sum <= 2


def test_what_counts_as_fully_offloaded():
    backend = SimpleNamespace(info={})
    assert not fully_offloaded(backend)
    for offload, expected in (("none", False), ("partial", False), ("full", True)):
        backend.info = {"llama": {"offload": offload}}
        assert fully_offloaded(backend) is expected


async def test_a_failed_run_keeps_the_effective_settings(scripted):
    with_offload(scripted, {"a": "partial"})
    spec = scripted.spec("a", local=True, error=RuntimeError("boom"), error_after=1)
    (result,) = await run(Runner(cores=2), [spec])
    assert result.state == "failed"
    assert result.info["llama"] == {"offload": "partial"}
