"""Cancels that used to leave the thread budget waiting for a model that never came."""

from __future__ import annotations

import asyncio

from workbench.core.events import Cancelled
from workbench.core.runner import Runner


async def test_a_model_cancelled_before_its_first_step_tells_the_budget(scripted):
    # Two local models: the gate opens once both have arrived (or said they never will).
    specs = [scripted.spec(n, local=True, delay=0.01) for n in ("a", "b")]
    runner = Runner(cores=2)
    events = []
    run = asyncio.ensure_future(runner.run(specs, _request(), listener=events.append))
    await asyncio.sleep(0)  # the run has made its tasks; none has taken a step yet
    assert set(runner._tasks) == {"a", "b"}
    await runner.cancel("a")
    # Before the fix, "b" waited at the gate for "a" forever.
    a, b = await asyncio.wait_for(run, 10)
    assert a.state == "cancelled" and b.state == "done"
    assert any(isinstance(e, Cancelled) and e.model == "a" for e in events)
    assert b.threads == 2  # alone, it gets every core
    assert scripted.backends["a"].requests == []


def _request():
    from workbench.models.request import Request

    return Request.chat("hi")
