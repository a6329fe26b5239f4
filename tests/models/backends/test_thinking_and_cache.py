"""Reasoning models' thinking kept apart, and prompt tokens taken from a cache, on real
loopback servers (llama-server flavoured OpenAI, Ollama) and the real llama.cpp worker."""

from __future__ import annotations

import asyncio

import pytest
from backend_helpers import server_spec
from fake_ollama import FakeOllama
from fake_openai import DONE, FakeOpenAI, piece, sse, thinking_piece

from workbench.core import format as fmt
from workbench.core.events import Delta, Thinking
from workbench.core.metrics import figures
from workbench.core.record import ModelRun
from workbench.core.runner import Runner
from workbench.models.request import Request, Sampling

THOUGHTS = ("Let me ", "think.")


async def run_one(spec, request, runner=None):
    runner = runner or Runner()
    events = []
    try:
        [run] = await asyncio.wait_for(runner.run([spec], request, listener=events.append), 60)
    finally:
        await runner.pool.close()
    return run, events


async def test_openai_reasoning_content_is_kept_apart_and_counted_in_the_rate():
    async with FakeOpenAI(thinking=THOUGHTS) as server:
        run, events = await run_one(server_spec("openai", server.base), Request.chat("hi"))
    assert run.state == "done", run.error
    assert run.text == "Hello!"  # the answer only: checks and diffs read this
    assert run.thinking == "Let me think."
    assert [text for _, text in run.thinking_chunks] == list(THOUGHTS)
    assert [e.text for e in events if isinstance(e, Thinking)] == list(THOUGHTS)
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "Hello!"
    # The server counts thinking tokens as output tokens: the rate's span starts at the
    # first thinking token, and says so.
    assert (run.output_tokens, run.thinking_tokens) == (5, 2)
    assert run.first_token_s == run.thinking_chunks[0][0] <= run.chunks[0][0]
    fig = figures(run)
    assert fig.rate_span == "thinking + answer"
    assert "(thinking + answer)" in fmt.figures_line(fig)
    # Saved and loaded apart from the answer.
    again = ModelRun.from_dict(run.to_dict())
    assert (again.thinking, again.text, again.thinking_tokens) == (run.thinking, "Hello!", 2)


async def test_a_model_without_thinking_keeps_its_files_and_label_as_before():
    async with FakeOpenAI() as server:
        run, _ = await run_one(server_spec("openai", server.base), Request.chat("hi"))
    assert run.thinking == "" and "thinking" not in run.to_dict()
    assert figures(run).rate_span == "answer"


async def test_vllm_style_reasoning_field_is_thinking_too():
    async with FakeOpenAI() as server:
        server.script = [
            piece(None),
            thinking_piece("Hmm.", key="reasoning"),
            piece("Yes."),
            piece(None, finish="stop"),
            DONE,
        ]
        run, _ = await run_one(server_spec("openai", server.base), Request.chat("hi"))
    assert (run.thinking, run.text) == ("Hmm.", "Yes.")


async def test_ollama_thinking_is_kept_apart():
    async with FakeOllama() as server:
        server.thinking = THOUGHTS
        spec = server_spec("ollama", server.url, model="llama3.2")
        run, _ = await run_one(spec, Request.chat("hi"))
    assert (run.text, run.thinking) == ("Hello!", "Let me think.")
    assert figures(run).rate_span == "thinking + answer"


async def test_llama_server_cache_n_is_recorded_and_shown():
    timings = {
        "prompt_n": 2,
        "prompt_ms": 4.0,
        "cache_n": 38,
        "predicted_n": 3,
        "predicted_ms": 30.0,
    }
    usage = {"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43}
    async with FakeOpenAI() as server:
        server.script = [
            piece(None),
            piece("Hi"),
            piece(None, finish="stop", timings=timings),
            sse({"id": "x", "choices": [], "usage": usage}),
            DONE,
        ]
        run, _ = await run_one(server_spec("openai", server.base), Request.chat("hi"))
    assert (run.prompt_tokens, run.cached_prompt_tokens) == (40, 38)
    fig = figures(run)
    assert "in 40 (38 cached)" in fmt.figures_line(fig)
    # Prompt tokens/s is over the 2 tokens evaluated, not the 40.
    assert fig.prompt_tokens_per_s == pytest.approx(2 / 0.004)


async def test_cold_turns_llama_servers_prompt_cache_off_and_is_recorded():
    async with FakeOpenAI() as server:
        run, _ = await run_one(
            server_spec("openai", server.base), Request.chat("hi"), Runner(cold=True)
        )
        body = server.posts[-1].json
    assert body["cache_prompt"] is False
    assert run.info["prompt_cache"] == "cold"


@pytest.mark.slow
async def test_llama_cpp_reports_the_prompt_tokens_it_took_from_its_cache(bundled):
    spec = bundled.model("smollm2")
    request = Request.chat("Write is_prime in Python.", sampling=Sampling(max_tokens=4, seed=1))
    runner = Runner(cores=1)
    try:
        first, _ = await run_one(spec, request, runner=_Keep(runner))
        again, _ = await run_one(spec, request, runner=_Keep(runner))
        runner.cold = True
        cold, _ = await run_one(spec, request, runner=_Keep(runner))
    finally:
        await runner.pool.close()
    for run in (first, again, cold):
        assert run.state == "done", run.error
    assert first.cached_prompt_tokens == 0
    # The same prompt again: all of it but the token that gives the first logits.
    assert again.cached_prompt_tokens == again.prompt_tokens - 1
    assert "cached" in fmt.figures_line(figures(again))
    # --cold: the whole prompt is evaluated again, and the run says it was cold.
    assert cold.cached_prompt_tokens == 0
    assert (cold.info["prompt_cache"], again.info["prompt_cache"]) == ("cold", "warm")
    assert cold.timings.prompt_tokens == cold.prompt_tokens


class _Keep:
    """A runner whose pool ``run_one`` must not close (the model stays loaded)."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.pool = _NoClose()

    def run(self, *args, **kw):
        return self._runner.run(*args, **kw)


class _NoClose:
    async def close(self) -> None:
        return None
