"""The llama.cpp backend with the real bundled models, through the runner.

Small max_tokens throughout: the point is exact counts, faults and recovery, not text.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from workbench.core.events import Delta
from workbench.core.runner import Runner, available_cores
from workbench.errors import TemplateError
from workbench.models.backends import llamacpp as llamacpp_module
from workbench.models.request import Request, Sampling
from workbench.models.templates import chat_template
from workbench.store.comparison import run_comparison

PRIME = "Write a Python function is_prime(n)."
MODELS = ("smollm2", "gemma3")
# Only a hang would take this long.
DEADLINE_S = 240


def sampling(max_tokens: int) -> Sampling:
    return Sampling(max_tokens=max_tokens, seed=1, temperature=0.2)


@pytest.fixture
async def runner():
    runner = Runner()
    yield runner
    await runner.pool.close()


async def run(runner, bundled, request, names=MODELS, **kw):
    specs = [bundled.model(name) for name in names]
    return await asyncio.wait_for(runner.run(specs, request, **kw), DEADLINE_S)


def vocab(path):
    import llama_cpp

    return llama_cpp.Llama(str(path), vocab_only=True, verbose=False)


# --- chat and completion ---------------------------------------------------------------


@pytest.mark.slow
async def test_chat_then_completion_on_both_models(runner, bundled):
    chat = await run(runner, bundled, Request.chat(PRIME, sampling=sampling(16)))
    pids = {name: runner.pool.loaded(name)._proc.pid for name in MODELS}
    for result in chat:
        assert result.state == "done", result.error
        assert result.text.strip()
        assert result.prompt_tokens > 0
        assert 1 <= result.output_tokens <= 16
        assert result.usage_source == "llama.cpp tokenizer"
        assert result.timings.source == "llama.cpp perf"
        # A fresh context evaluates the whole prompt.
        assert result.timings.prompt_tokens == result.prompt_tokens
        assert result.first_token_s > 0
        assert result.info["n_ctx"] == 4096
    assert sum(r.threads for r in chat) <= available_cores()

    completion = await run(
        runner, bundled, Request.completion("def fib(n):", sampling=sampling(16))
    )
    for result in completion:
        assert result.state == "done", result.error
        assert result.text.strip()
        assert 1 <= result.output_tokens <= 16
    # The models stayed loaded: the same worker answered both prompts.
    assert {name: runner.pool.loaded(name)._proc.pid for name in MODELS} == pids


@pytest.mark.slow
async def test_gemma_gets_its_family_template_by_architecture(runner, bundled):
    (result,) = await run(runner, bundled, Request.chat(PRIME, sampling=sampling(4)), ["gemma3"])
    assert result.state == "done", result.error
    assert result.info["architecture"] == "gemma3"
    # Not the GGUF's (it has none) nor llama-cpp-python's silent Llama-2 fallback:
    # gemma's own format, and the info says how it was chosen.
    assert "gemma" in result.info["template"]
    assert "(by " in result.info["template"]
    assert result.output_tokens >= 1 and result.text.strip()


@pytest.mark.slow
async def test_prompt_tokens_are_the_tokenizer_count(runner, bundled):
    text = "The quick brown fox jumps over the lazy dog.\n\ndef fib(n):"
    results = await run(runner, bundled, Request.completion(text, sampling=sampling(2)))
    for result in results:
        assert result.state == "done", result.error
        path = runner.pool.loaded(result.model).model_path()
        expected = len(vocab(path).tokenize(text.encode("utf-8")))
        assert result.prompt_tokens == expected, result.model


@pytest.mark.slow
async def test_chat_prompt_tokens_count_the_template_once_with_one_bos(runner, bundled):
    (result,) = await run(runner, bundled, Request.chat(PRIME, sampling=sampling(2)), ["gemma3"])
    path = runner.pool.loaded("gemma3").model_path()
    formatted = f"<bos><start_of_turn>user\n{PRIME}<end_of_turn>\n<start_of_turn>model\n"
    expected = vocab(path).tokenize(formatted.encode(), add_bos=False, special=True)
    assert result.prompt_tokens == len(expected)


@pytest.mark.slow
async def test_output_is_capped_at_max_tokens(runner, bundled):
    results = await run(runner, bundled, Request.completion("1, 2, 3, 4, 5,", sampling=sampling(8)))
    for result in results:
        assert result.state == "done", result.error
        # Counting never stops by itself: it runs into the cap.
        assert result.output_tokens == 8, result.text
        assert result.finish_reason == "length"
        assert result.timings.output_tokens in (7, 8)


@pytest.mark.slow
async def test_generation_rate_agrees_with_llama_cpp_perf_counters(runner, bundled):
    request = Request.completion("1, 2, 3, 4,", sampling=sampling(64))
    results = await run(runner, bundled, request, schedule="sequential")
    for result in results:
        assert result.state == "done", result.error
        assert result.output_tokens >= 48
        from workbench.core.metrics import figures

        ours = figures(result).gen_tokens_per_s
        theirs = result.timings.gen_tokens_per_s
        assert ours and theirs
        assert abs(ours / theirs - 1) <= 0.05, (result.model, ours, theirs)


# --- faults ----------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_worker_killed_mid_stream(runner, bundled, tmp_sessions):
    killed: list[int] = []

    def kill_gemma_at_its_first_text(event):
        if isinstance(event, Delta) and event.model == "gemma3" and not killed:
            pid = runner.pool.loaded("gemma3")._proc.pid
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    specs = [bundled.model(name) for name in MODELS]
    request = Request.chat(PRIME, sampling=sampling(40))
    recorder = await asyncio.wait_for(
        run_comparison(runner, tmp_sessions, specs, request, listener=kill_gemma_at_its_first_text),
        DEADLINE_S,
    )
    smollm2, gemma3 = recorder.session.runs
    assert killed
    assert gemma3.state == "failed"
    assert "SIGKILL" in gemma3.error["message"]
    assert gemma3.error["type"] == "WorkerDied"
    assert gemma3.text and gemma3.chunks  # what streamed before the kill is kept
    assert gemma3.output_tokens is None
    assert smollm2.state == "done", smollm2.error
    assert smollm2.text.strip() and smollm2.output_tokens >= 1

    saved = tmp_sessions.load(recorder.path)
    assert saved.complete
    assert [r.state for r in saved.runs] == ["done", "failed"]
    assert saved.runs[1].text == gemma3.text
    assert "SIGKILL" in saved.runs[1].error["message"]

    # The next prompt on the same pool works again: the worker is restarted.
    again = await run(runner, bundled, Request.completion("def fib(n):", sampling=sampling(8)))
    assert [r.state for r in again] == ["done", "done"], [r.error for r in again]
    assert runner.pool.loaded("gemma3")._proc.pid != killed[0]
    assert again[1].text.strip()


@pytest.mark.slow
async def test_cancel_one_mid_stream(runner, bundled):
    tasks: list[asyncio.Task] = []

    def cancel_smollm2_at_its_first_text(event):
        if isinstance(event, Delta) and event.model == "smollm2" and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel("smollm2")))

    request = Request.completion("1, 2, 3, 4,", sampling=sampling(48))
    smollm2, gemma3 = await run(runner, bundled, request, listener=cancel_smollm2_at_its_first_text)
    await asyncio.gather(*tasks)
    assert smollm2.state == "cancelled"
    assert smollm2.text  # kept
    assert smollm2.output_tokens is None
    assert gemma3.state == "done", gemma3.error
    assert gemma3.output_tokens == 48


@pytest.mark.slow
async def test_cancel_all_then_the_next_prompt_at_once(runner, bundled, monkeypatch):
    # A user presses cancel, then sends the next prompt straight away. A short grace
    # before a cancelled worker is killed keeps this test short; the next prompt
    # streams for longer than the grace, as a real next prompt streams for longer
    # than the default 3 s.
    monkeypatch.setattr(llamacpp_module, "CANCEL_GRACE_S", 0.5)
    tasks: list[asyncio.Task] = []

    def cancel_all_at_the_first_text(event):
        if isinstance(event, Delta) and not tasks:
            tasks.append(asyncio.ensure_future(runner.cancel()))

    request = Request.completion("1, 2, 3, 4,", sampling=sampling(48))
    first = await run(runner, bundled, request, listener=cancel_all_at_the_first_text)
    await asyncio.gather(*tasks)
    assert [r.state for r in first] == ["cancelled", "cancelled"]
    pids = {name: runner.pool.loaded(name)._proc.pid for name in MODELS}

    again = await run(runner, bundled, Request.completion("1, 2, 3, 4,", sampling=sampling(128)))
    assert [r.state for r in again] == ["done", "done"], [r.error for r in again]
    assert [r.output_tokens for r in again] == [128, 128]
    # Cancelling between tokens needs no new worker.
    assert {name: runner.pool.loaded(name)._proc.pid for name in MODELS} == pids


@pytest.mark.slow
async def test_an_abandoned_stream_leaves_nothing_for_the_next_prompt(bundled):
    """A reader that stops early (no cancel) must not see its tail in the next answer."""
    backend = llamacpp_module.LlamaCppBackend(bundled.model("smollm2"))
    await backend.load(lambda _p: None)
    try:
        counting = Request.completion("1, 2, 3, 4,", sampling=sampling(200))
        asked = Request.completion("The capital of France is", sampling=sampling(12))

        async def answer(request):
            parts = [c.text async for c in backend.stream(request) if hasattr(c, "text")]
            return "".join(parts)

        fresh = await asyncio.wait_for(answer(asked), DEADLINE_S)
        stream = backend.stream(counting)
        async for _chunk in stream:
            break  # the reader walks away while the worker is mid-answer
        await stream.aclose()
        after = await asyncio.wait_for(answer(asked), DEADLINE_S)
        assert after == fresh  # the same seed: the same answer, no stale numbers in it
    finally:
        await backend.close()


# --- templates (fast) ------------------------------------------------------------------


def test_unknown_architecture_without_template_suggests_completion_mode():
    with pytest.raises(TemplateError) as info:
        chat_template({"general.architecture": "mamba"})
    message = info.value.message
    assert "completion" in message
    assert "'mamba'" in message
    assert "chat_template" in message


def test_template_sources():
    assert chat_template({"tokenizer.chat_template": "{{ x }}"}).source.startswith("gguf")
    by_arch = chat_template({"general.architecture": "gemma3"})
    assert "gemma" in by_arch.source and "architecture" in by_arch.source
    assert "<end_of_turn>" in by_arch.stop or "<end_of_turn>" in by_arch.template
    named = chat_template({"general.architecture": "mamba"}, "chatml")
    assert "chatml" in named.source and "config" in named.source
    custom = chat_template({"tokenizer.chat_template": "{{ x }}"}, "{{ y }}")
    assert custom.source == "config" and custom.template == "{{ y }}"
