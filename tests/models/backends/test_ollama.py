"""The Ollama backend against a fake loopback Ollama, directly and through the Runner."""

from __future__ import annotations

import asyncio
import time

import pytest
from backend_helpers import collect, server_spec
from fake_ollama import FakeOllama
from loopback import closed_port

from workbench.core.runner import Runner
from workbench.errors import (
    BackendError,
    ConnectError,
    ModelLoadError,
    StreamProtocolError,
    StreamTimeout,
)
from workbench.models.backends.base import Backend, create_backend
from workbench.models.backends.ollama import OllamaBackend, has_model, list_models
from workbench.models.request import Request, Sampling, ServerTimings


@pytest.fixture
async def server():
    async with FakeOllama() as fake:
        yield fake


def spec_for(server: FakeOllama, **kw):
    return server_spec("ollama", server.url, **({"model": "llama3.2"} | kw))


def test_keeps_the_backend_contract():
    backend = create_backend(server_spec("ollama", "http://127.0.0.1:9"))
    assert isinstance(backend, OllamaBackend) and isinstance(backend, Backend)
    assert (backend.kind, backend.local) == ("ollama", False)


async def test_chat_streams_text_then_counts_and_timings(server):
    spec = spec_for(server, stop=("</s>",), sampling=Sampling(max_tokens=64, top_p=0.9))
    backend = OllamaBackend(spec)
    request = Request.chat("hi", sampling=Sampling(temperature=0.3, seed=7))
    text, [usage], error = await collect(backend.stream(request))
    await backend.close()

    assert (text, error) == ("Hello!", None)
    assert (usage.prompt_tokens, usage.output_tokens) == (26, 3)
    assert (usage.finish_reason, usage.source) == ("stop", "ollama counts")
    assert usage.timings == ServerTimings(
        source="ollama",
        prompt_tokens=26,
        prompt_ms=200.0,
        output_tokens=3,
        generation_ms=300.0,
        load_ms=100.0,
    )
    assert usage.timings.gen_tokens_per_s == pytest.approx(10.0)
    assert usage.info == {"server_total_ms": 900.0}
    [post] = server.posts
    assert post.path == "/api/chat"
    assert post.json == {
        "model": "llama3.2",
        "stream": True,
        "options": {
            "temperature": 0.3,
            "top_p": 0.9,
            "num_predict": 64,
            "seed": 7,
            # Explicit, never Ollama's unstated defaults (workbench.models.settings).
            "top_k": 40,
            "min_p": 0.05,
            "repeat_penalty": 1.0,
            "stop": ["</s>"],
        },
        "messages": [{"role": "user", "content": "hi"}],
    }


async def test_completion_uses_generate_raw(server):
    backend = OllamaBackend(spec_for(server))
    text, [usage], error = await collect(backend.stream(Request.completion("def f(")))
    await backend.close()
    assert (text, error, usage.output_tokens) == ("Hello!", None, 3)
    [post] = server.posts
    assert post.path == "/api/generate"
    assert post.json["raw"] is True and post.json["prompt"] == "def f("
    # The Llama 3 preset's settings (the model id says llama3.2), the rest workbench's.
    assert post.json["options"] == {
        "temperature": 0.6,
        "top_p": 0.9,
        "num_predict": 256,
        "top_k": 40,
        "min_p": 0.05,
        "repeat_penalty": 1.0,
    }


async def test_load_checks_the_tag_and_loads_the_model(server):
    backend = OllamaBackend(spec_for(server))
    progress: list[float] = []
    await backend.load(progress.append)
    await backend.close()
    assert progress == [0.0, 0.3, 1.0]
    [preload] = server.posts
    assert preload.json == {"model": "llama3.2", "stream": False}


async def test_load_of_a_missing_model_lists_the_tags(server):
    backend = OllamaBackend(spec_for(server, model="mistral"))
    with pytest.raises(ModelLoadError) as missing:
        await backend.load(lambda p: None)
    await backend.close()
    message = missing.value.message
    assert "no model 'mistral'" in message
    assert "llama3.2:latest, qwen2.5-coder:0.5b" in message
    assert "ollama pull mistral" in message
    assert server.posts == []


async def test_down_server_is_a_connect_error(no_backoff):
    backend = OllamaBackend(server_spec("ollama", f"http://127.0.0.1:{closed_port()}"))
    with pytest.raises(ConnectError, match="Is the server running"):
        await backend.load(lambda p: None)
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert isinstance(error, ConnectError)


async def test_unknown_model_while_streaming_shows_ollamas_message(server, no_backoff):
    backend = OllamaBackend(spec_for(server, model="nope"))
    _, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert usages == [] and isinstance(error, BackendError)
    assert "HTTP 404" in error.message and "try pulling it first" in error.message


@pytest.mark.parametrize(
    ("fault", "error_type", "words"),
    [
        ("drop", BackendError, "mid-stream"),
        ("early_end", BackendError, "before its last line"),
        ("malformed", StreamProtocolError, "not valid JSON"),
        ("error", BackendError, "llama runner process has terminated"),
    ],
)
async def test_faults_keep_the_partial_text(server, fault, error_type, words):
    server.fault = fault
    backend = OllamaBackend(spec_for(server))
    text, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, usages) == ("Hel", [])
    assert type(error) is error_type and words in error.message
    assert len(server.posts) == 1  # never retried after the first byte


async def test_stall_ends_by_the_gap_timeout(server):
    server.fault = "stall"
    backend = OllamaBackend(spec_for(server, gap_timeout=0.4))
    started = time.monotonic()
    text, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert text == "Hel" and isinstance(error, StreamTimeout)
    assert time.monotonic() - started < 3


async def test_cancel_ends_the_stream_quietly(server):
    server.fault = "stall"
    backend = OllamaBackend(spec_for(server))
    task = asyncio.create_task(collect(backend.stream(Request.chat("hi"))))
    while not server.posts:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await backend.cancel()
    text, usages, error = await asyncio.wait_for(task, 2)
    await backend.close()
    assert (text, usages, error) == ("Hel", [], None)


async def test_runner_end_to_end(server):
    runner = Runner()
    [run] = await runner.run([spec_for(server)], Request.chat("hi"))
    await runner.pool.close()
    assert (run.state, run.text, run.error) == ("done", "Hello!", None)
    assert (run.prompt_tokens, run.output_tokens) == (26, 3)
    assert (run.finish_reason, run.usage_source) == ("stop", "ollama counts")
    assert run.timings.source == "ollama" and run.timings.load_ms == 100.0
    assert run.load_s is not None and run.first_token_s is not None
    data = run.to_dict()
    assert data["figures"]["server_gen_tokens_per_s"] == pytest.approx(10.0)
    assert data["info"]["server_total_ms"] == 900.0
    assert data["info"]["prompt_cache"] == "warm"
    assert data["sampling"]["seed"] is not None  # drawn, recorded and sent
    assert server.posts[-1].json["options"]["seed"] == data["sampling"]["seed"]


async def test_runner_keeps_partial_text_of_a_failed_run(server):
    server.fault = "error"
    runner = Runner()
    [run] = await runner.run([spec_for(server)], Request.chat("hi"))
    await runner.pool.close()
    assert (run.state, run.text) == ("failed", "Hel")
    assert "llama runner process has terminated" in run.error["message"]


async def test_runner_reports_a_missing_model_as_a_load_failure(server):
    runner = Runner()
    [run] = await runner.run([spec_for(server, model="mistral")], Request.chat("hi"))
    await runner.pool.close()
    assert run.state == "failed" and run.error["type"] == "ModelLoadError"


async def test_list_models(server):
    assert await list_models(server.url + "/") == ["llama3.2:latest", "qwen2.5-coder:0.5b"]


def test_has_model_implies_latest():
    names = ["llama3.2:latest", "qwen2.5-coder:0.5b", "registry.local:5000/team/m:latest"]
    assert has_model(names, "llama3.2")
    assert has_model(names, "llama3.2:latest")
    assert not has_model(names, "llama3.2:1b")
    assert not has_model(names, "qwen2.5-coder")
    assert has_model(names, "registry.local:5000/team/m")
