"""The runner: fan-out, failures and cancels that stay with one model, the thread budget."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from workbench.core.events import (
    Cancelled,
    Delta,
    Event,
    Failed,
    Finished,
    Loading,
    Queued,
    Started,
    ThreadsChanged,
)
from workbench.core.runner import Runner, split_threads
from workbench.errors import ModelLoadError
from workbench.models.request import Request

REQUEST = Request.chat("Say ten words.")


class Recorder:
    """A listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, model: str) -> list[Event]:
        return [e for e in self.events if e.model == model]


def pieces(text: str) -> list[str]:
    """Word-sized pieces with their trailing space, as the scripted backend sends them."""
    return re.findall(r"[^ \n]*[ \n]|[^ \n]+$", text)


# Generous: only a deadlock would take this long.
DEADLOCK_S = 20


async def run(runner: Runner, specs, request=REQUEST, schedule="parallel", listener=None):
    return await asyncio.wait_for(
        runner.run(specs, request, schedule, listener=listener), DEADLOCK_S
    )


# --- fan-out ---------------------------------------------------------------------------


async def test_two_models_run_at_the_same_time(scripted):
    specs = [scripted.spec("a", delay=0.02), scripted.spec("b", delay=0.02)]
    runner = Runner()

    started = time.monotonic()
    parallel = await run(runner, specs)
    parallel_s = time.monotonic() - started

    started = time.monotonic()
    sequential = await run(runner, specs, schedule="sequential")
    sequential_s = time.monotonic() - started

    for runs in (parallel, sequential):
        assert [r.state for r in runs] == ["done", "done"]
        assert [r.text for r in runs] == [scripted.default_text, scripted.default_text]
    # Two equal models side by side take about as long as one; one after the other, twice.
    assert parallel_s / sequential_s < 0.75, (parallel_s, sequential_s)
    assert scripted.activity.max_running == 2


async def test_each_model_gets_its_own_request(scripted):
    specs = [scripted.spec("a"), scripted.spec("b")]
    requests = {"a": Request.chat("to a"), "b": Request.completion("to b")}
    runs = await run(Runner(), specs, requests)
    assert [r.state for r in runs] == ["done", "done"]
    assert scripted.backends["a"].requests[0].last_user_text == "to a"
    assert scripted.backends["b"].requests[0].mode == "completion"
    assert runs[0].conversation == [{"role": "user", "content": "to a"}]
    assert runs[1].prompt == "to b"


async def test_backends_stay_loaded_between_prompts(scripted):
    specs = [scripted.spec("a")]
    runner = Runner()
    await run(runner, specs)
    first = scripted.backends["a"]
    await run(runner, specs)
    assert scripted.backends["a"] is first
    assert runner.pool.loaded("a") is first
    assert first.loaded


async def test_usage_comes_from_the_backend_not_from_chunks(scripted):
    (result,) = await run(Runner(), [scripted.spec("a", text="x y z")])
    assert result.output_tokens == 3
    assert result.prompt_tokens == len(REQUEST.last_user_text.split()) + 1
    assert result.usage_source == "scripted"
    assert result.finish_reason == "stop"
    assert result.total_s is not None and result.total_s >= result.last_token_s


# --- events ----------------------------------------------------------------------------


async def test_events_come_in_order(scripted):
    events = Recorder()
    specs = [scripted.spec("a", delay=0.001), scripted.spec("b", text="just three words")]
    runs = await run(Runner(), specs, listener=events)
    for result in runs:
        mine = events.of(result.model)
        kinds = [type(e) for e in mine]
        assert kinds[0] is Queued
        first_start = kinds.index(Started)
        assert first_start > 1
        assert set(kinds[1:first_start]) == {Loading}
        loading = [e.progress for e in mine[1:first_start]]
        assert loading == sorted(loading) and loading[-1] == 1.0
        assert kinds[-1] is Finished
        assert set(kinds[first_start + 1 : -1]) == {Delta}
        deltas = [e for e in mine if isinstance(e, Delta)]
        assert len(deltas) == len(pieces(result.text))
        assert "".join(d.text for d in deltas) == result.text
        offsets = [d.offset for d in deltas]
        assert offsets == sorted(offsets) and offsets[0] >= 0
        assert mine[-1].run is result
        assert result.first_token_s == offsets[0]
        assert result.last_token_s == offsets[-1]
        assert result.chunks == [(d.offset, d.text) for d in deltas]


# --- failures --------------------------------------------------------------------------


async def test_a_failing_model_fails_alone(scripted):
    events = Recorder()
    specs = [scripted.spec("bad", delay=0.01, fail_after=3), scripted.spec("good", delay=0.01)]
    bad, good = await run(Runner(), specs, listener=events)
    assert bad.state == "failed"
    assert bad.text == "".join(pieces(scripted.default_text)[:3])  # the partial text is kept
    assert bad.error["type"] == "BackendError"
    assert "Scripted failure" in bad.error["message"]
    assert bad.total_s is not None
    assert good.state == "done"
    assert good.text == scripted.default_text
    assert good.output_tokens == len(pieces(scripted.default_text))
    failed = [e for e in events.events if isinstance(e, Failed)]
    assert [e.model for e in failed] == ["bad"]
    assert failed[0].error == bad.error


async def test_load_error_fails_that_model_with_its_message(scripted):
    error = ModelLoadError("model.gguf: not a GGUF file (bad magic).")
    specs = [scripted.spec("broken", load_error=error), scripted.spec("fine")]
    broken, fine = await run(Runner(), specs)
    assert broken.state == "failed"
    assert broken.error["type"] == "ModelLoadError"
    assert broken.error["message"] == "model.gguf: not a GGUF file (bad magic)."
    assert broken.error["title"] == ModelLoadError.title
    assert broken.text == ""
    assert fine.state == "done"


async def test_an_unexpected_exception_is_a_failure_not_a_crash(scripted):
    events = Recorder()
    specs = [
        scripted.spec("buggy", delay=0.005, error=RuntimeError("boom"), error_after=2),
        scripted.spec("fine", delay=0.005),
    ]
    buggy, fine = await run(Runner(), specs, listener=events)
    assert buggy.state == "failed"
    assert buggy.error["message"].startswith("Unexpected RuntimeError")
    assert "boom" in buggy.error["message"]
    assert buggy.text == "".join(pieces(scripted.default_text)[:2])
    assert fine.state == "done" and fine.text == scripted.default_text
    assert any(isinstance(e, Failed) and e.model == "buggy" for e in events.events)


async def test_an_unexpected_exception_while_loading(scripted):
    specs = [scripted.spec("buggy", load_error=KeyError("n_ctx"), local=True)]
    (buggy,) = await run(Runner(cores=2), specs)
    assert buggy.state == "failed"
    assert buggy.error["message"].startswith("Unexpected KeyError")


# --- cancel ----------------------------------------------------------------------------


async def test_cancel_one_model_mid_stream(scripted):
    runner = Runner()
    events = Recorder()
    tasks: list[asyncio.Task] = []

    def cancel_a_after_its_first_delta(event):
        events(event)
        if isinstance(event, Delta) and event.model == "a" and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel("a")))

    specs = [scripted.spec("a", delay=0.02), scripted.spec("b", delay=0.02)]
    a, b = await run(runner, specs, listener=cancel_a_after_its_first_delta)
    await asyncio.gather(*tasks)
    assert a.state == "cancelled"
    assert 0 < len(a.text) < len(scripted.default_text)
    assert scripted.default_text.startswith(a.text)
    assert b.state == "done" and b.text == scripted.default_text
    kinds = [type(e) for e in events.of("a")]
    assert kinds[-1] is Cancelled and Finished not in kinds


async def test_cancel_all_mid_stream(scripted):
    runner = Runner()
    tasks: list[asyncio.Task] = []

    def cancel_all(event):
        if isinstance(event, Delta) and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel()))

    specs = [scripted.spec("a", delay=0.02), scripted.spec("b", delay=0.02)]
    runs = await run(runner, specs, listener=cancel_all)
    await asyncio.gather(*tasks)
    assert [r.state for r in runs] == ["cancelled", "cancelled"]
    assert all(len(r.text) < len(scripted.default_text) for r in runs)


async def test_cancel_all_while_loading(scripted):
    runner = Runner()
    tasks: list[asyncio.Task] = []

    def cancel_when_loading(event):
        if isinstance(event, Loading) and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel()))

    specs = [scripted.spec("a", load_delay=30), scripted.spec("b", load_delay=30, local=True)]
    runs = await run(runner, specs, listener=cancel_when_loading)
    await asyncio.gather(*tasks)
    assert [r.state for r in runs] == ["cancelled", "cancelled"]
    assert not scripted.backends["a"].loaded and not scripted.backends["b"].loaded


async def test_cancel_a_model_still_queued_in_a_sequential_run(scripted):
    runner = Runner()
    tasks: list[asyncio.Task] = []

    def cancel_b(event):
        if isinstance(event, Delta) and event.model == "a" and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel("b")))

    specs = [scripted.spec("a", delay=0.01), scripted.spec("b", delay=0.01)]
    a, b = await run(runner, specs, schedule="sequential", listener=cancel_b)
    await asyncio.gather(*tasks)
    assert a.state == "done" and a.text == scripted.default_text
    assert b.state == "cancelled"
    assert scripted.backends["b"].load_calls == 0


async def test_a_new_run_after_a_cancel_works(scripted):
    runner = Runner()
    tasks: list[asyncio.Task] = []

    def cancel_all(event):
        if isinstance(event, Delta) and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel()))

    specs = [scripted.spec("a", delay=0.005)]
    (first,) = await run(runner, specs, listener=cancel_all)
    await asyncio.gather(*tasks)
    assert first.state == "cancelled"
    (second,) = await run(runner, specs)
    assert second.state == "done" and second.text == scripted.default_text


# --- schedule --------------------------------------------------------------------------


async def test_sequential_runs_one_model_at_a_time(scripted):
    events = Recorder()
    names = ["a", "b", "c"]
    specs = [scripted.spec(name, delay=0.002) for name in names]
    runs = await run(Runner(), specs, schedule="sequential", listener=events)
    assert [r.state for r in runs] == ["done"] * 3
    # Nothing of the next model happens (past being queued) before the previous one ends.
    active = [e.model for e in events.events if not isinstance(e, Queued)]
    assert active == sorted(active, key=names.index)
    assert scripted.activity.max_running == 1


async def test_parallel_interleaves(scripted):
    events = Recorder()
    specs = [scripted.spec("a", delay=0.01), scripted.spec("b", delay=0.01)]
    await run(Runner(), specs, listener=events)
    deltas = [e.model for e in events.events if isinstance(e, Delta)]
    first_b = deltas.index("b")
    assert "a" in deltas[first_b:]  # a still streams after b began


# --- the CPU thread budget --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cores", "count", "shares"),
    [(2, 1, [2]), (2, 2, [1, 1]), (2, 3, [1, 1, 1]), (5, 2, [3, 2]), (8, 3, [3, 3, 2])],
)
def test_split_threads(cores, count, shares):
    assert split_threads(cores, count) == shares


async def test_two_local_models_on_two_cores_get_one_thread_each(scripted):
    events = Recorder()
    specs = [scripted.spec(n, local=True, delay=0.005) for n in ("a", "b")]
    runs = await run(Runner(cores=2), specs, listener=events)
    assert [r.state for r in runs] == ["done", "done"]
    assert scripted.backends["a"].threads_given == [1]
    assert scripted.backends["b"].threads_given == [1]
    assert [r.threads for r in runs] == [1, 1]
    assert {e.threads for e in events.events if isinstance(e, Started)} == {1}
    assert scripted.activity.max_thread_sum <= 2


async def test_one_local_model_alone_gets_every_core(scripted):
    (result,) = await run(Runner(cores=2), [scripted.spec("a", local=True)])
    assert scripted.backends["a"].threads_given == [2]
    assert result.threads == 2


class BusyMachine:
    """A CoreWatch that finds one of two cores busy with someone else's work."""

    def __init__(self) -> None:
        self.busy: float | None = None
        self.looks = 0

    def free(self) -> int:
        self.looks += 1
        self.busy = 1.2
        return 1

    def rest(self) -> None:
        pass


async def test_cores_busy_elsewhere_are_left_out(scripted):
    runner = Runner()
    runner._watch = watch = BusyMachine()
    specs = [scripted.spec(n, local=True, delay=0.005) for n in ("a", "b")]
    runs = await run(runner, specs)
    assert [r.state for r in runs] == ["done", "done"]
    # One free core: one model at a time, one thread each, and the session says why.
    assert scripted.backends["a"].threads_given == [1]
    assert scripted.backends["b"].threads_given == [1]
    assert scripted.activity.max_thread_sum <= 1
    assert [r.info["cores_busy_elsewhere"] for r in runs] == [1.2, 1.2]
    assert watch.looks == 1  # measured once, when the models were ready


async def test_a_given_core_count_is_not_measured(scripted):
    runner = Runner(cores=2)
    assert runner._watch is None
    (result,) = await run(runner, [scripted.spec("a", local=True)])
    assert result.threads == 2 and "cores_busy_elsewhere" not in result.info


async def test_more_cores_are_split(scripted):
    specs = [scripted.spec(n, local=True, delay=0.005) for n in ("a", "b")]
    await run(Runner(cores=4), specs)
    assert scripted.backends["a"].threads_given == [2]
    assert scripted.backends["b"].threads_given == [2]


async def test_remote_models_take_no_share(scripted):
    specs = [scripted.spec("local", local=True, delay=0.005), scripted.spec("remote", delay=0.005)]
    local, remote = await run(Runner(cores=2), specs)
    assert scripted.backends["local"].threads_given == [2]
    assert scripted.backends["remote"].threads_given == [None]
    assert remote.threads is None and local.threads == 2


async def test_three_local_models_on_two_cores_never_oversubscribe(scripted):
    specs = [scripted.spec(n, local=True, delay=0.01) for n in ("a", "b", "c")]
    runs = await run(Runner(cores=2), specs)
    assert [r.state for r in runs] == ["done"] * 3
    assert [r.text for r in runs] == [scripted.default_text] * 3
    assert scripted.activity.max_running == 2
    assert scripted.activity.max_thread_sum <= 2


async def test_when_one_finishes_the_other_gets_its_cores(scripted):
    events = Recorder()
    specs = [
        scripted.spec("short", local=True, text="a b", delay=0.01),
        scripted.spec("long", local=True, delay=0.02),
    ]
    short, long = await run(Runner(cores=2), specs, listener=events)
    assert short.state == long.state == "done"
    assert scripted.backends["long"].threads_given == [1]
    assert scripted.backends["long"].set_threads_calls == [2]
    assert scripted.backends["short"].set_threads_calls == []
    changed = [e for e in events.events if isinstance(e, ThreadsChanged)]
    assert [(e.model, e.threads) for e in changed] == [("long", 2)]
    # The change comes after the short model ended, while the long one still streams.
    order = events.events
    finished_short = next(i for i, e in enumerate(order) if isinstance(e, Finished))
    assert order.index(changed[0]) > finished_short
    assert any(isinstance(e, Delta) and e.model == "long" for e in order[order.index(changed[0]) :])
    assert scripted.activity.max_thread_sum <= 2
    # The session keeps the change: when (after the request was sent) and to how many.
    [[offset, threads]] = long.info["threads_changed"]
    assert threads == 2 and 0 < offset <= long.total_s
    assert "threads_changed" not in short.info


async def test_sequential_local_models_each_get_every_core(scripted):
    specs = [scripted.spec(n, local=True, delay=0.002) for n in ("a", "b")]
    await run(Runner(cores=2), specs, schedule="sequential")
    assert scripted.backends["a"].threads_given == [2]
    assert scripted.backends["b"].threads_given == [2]


async def test_a_local_model_that_fails_to_load_does_not_block_the_others(scripted):
    specs = [
        scripted.spec("broken", local=True, load_error=ModelLoadError("no such file")),
        scripted.spec("fine", local=True, delay=0.005),
    ]
    broken, fine = await run(Runner(cores=2), specs)
    assert broken.state == "failed"
    assert fine.state == "done"
    assert scripted.backends["fine"].threads_given == [2]


async def test_a_local_model_failing_mid_stream_hands_over_its_cores(scripted):
    specs = [
        scripted.spec("bad", local=True, delay=0.01, fail_after=2),
        scripted.spec("good", local=True, delay=0.02),
    ]
    bad, good = await run(Runner(cores=2), specs)
    assert bad.state == "failed" and good.state == "done"
    assert scripted.backends["good"].set_threads_calls == [2]


async def test_cancel_a_local_model_waiting_for_cores(scripted):
    runner = Runner(cores=2)
    tasks: list[asyncio.Task] = []

    def cancel_c(event):
        if isinstance(event, Delta) and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel("c")))

    specs = [scripted.spec(n, local=True, delay=0.01) for n in ("a", "b", "c")]
    a, b, c = await run(runner, specs, listener=cancel_c)
    await asyncio.gather(*tasks)
    assert a.state == b.state == "done"
    assert c.state == "cancelled"
    assert scripted.backends["c"].threads_given == []  # it never started
    assert scripted.activity.max_thread_sum <= 2
