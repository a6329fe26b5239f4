"""The OpenAI backend against a fake loopback SSE server: the happy path and every fault."""

from __future__ import annotations

import asyncio
import time

import pytest
from backend_helpers import collect, server_spec
from fake_openai import DONE, DROP, KEEP_ALIVE, FakeOpenAI, piece, sse
from loopback import closed_port

from workbench.core.runner import Runner
from workbench.errors import BackendError, ConnectError, StreamProtocolError, StreamTimeout
from workbench.models.backends.base import Backend, create_backend
from workbench.models.backends.openai import NO_USAGE, OpenAIBackend, list_models
from workbench.models.request import Request, Sampling, ServerTimings


@pytest.fixture
async def server():
    async with FakeOpenAI() as fake:
        yield fake


def backend_for(server: FakeOpenAI, **kw) -> OpenAIBackend:
    return OpenAIBackend(server_spec("openai", server.base, **kw))


def test_keeps_the_backend_contract():
    backend = create_backend(server_spec("openai", "http://127.0.0.1:9/v1"))
    assert isinstance(backend, OpenAIBackend) and isinstance(backend, Backend)
    assert (backend.kind, backend.local) == ("openai", False)


async def test_chat_streams_text_then_usage(server):
    backend = backend_for(server, stop=("\n\n",), sampling=Sampling(temperature=0.7, seed=1))
    request = Request.chat("hi", system="be brief", sampling=Sampling(temperature=0.1))
    text, usages, error = await collect(backend.stream(request))
    await backend.close()

    assert (text, error) == ("Hello!", None)
    [usage] = usages
    assert (usage.prompt_tokens, usage.output_tokens) == (5, 3)
    assert (usage.finish_reason, usage.source) == ("stop", "server usage")
    assert usage.info["server_model"] == "fake-model"
    [post] = server.posts
    assert post.path == "/v1/chat/completions"
    assert post.json == {
        "model": "fake-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "temperature": 0.1,  # the request's own setting wins over the spec's
        "seed": 1,
        # Explicit, never the server's unstated default (workbench.models.settings); no
        # top_k / min_p / repeat_penalty unless asked: the OpenAI API has none.
        "top_p": 0.95,
        "max_tokens": 256,
        "stop": ["\n\n"],
    }
    assert "authorization" not in post.headers


async def test_completion_mode_uses_completions_and_text(server):
    backend = backend_for(server)
    text, [usage], error = await collect(backend.stream(Request.completion("def f(")))
    await backend.close()
    assert (text, error, usage.output_tokens) == ("Hello!", None, 3)
    [post] = server.posts
    assert post.path == "/v1/completions"
    assert post.json["prompt"] == "def f("
    assert "messages" not in post.json


async def test_llama_server_timings_are_kept(server):
    server.timings = True
    backend = backend_for(server)
    _, [usage], _ = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert usage.timings == ServerTimings(
        source="llama-server timings",
        prompt_tokens=5,
        prompt_ms=10.0,
        output_tokens=3,
        generation_ms=30.0,
    )
    assert usage.timings.gen_tokens_per_s == pytest.approx(100.0)


async def test_no_usage_gives_usage_without_counts(server):
    server.usage = False
    backend = backend_for(server)
    text, [usage], error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, error) == ("Hello!", None)
    assert (usage.prompt_tokens, usage.output_tokens, usage.source) == (None, None, NO_USAGE)
    assert usage.finish_reason == "stop"


async def test_load_reports_progress_and_waits_for_a_loading_server(server):
    server.models_status = [503, 503, 200]
    backend = backend_for(server)
    progress: list[float] = []
    await backend.load(progress.append)
    await backend.close()
    assert progress[0] == 0.0 and progress[-1] == 1.0 and 0.5 in progress


async def test_down_server_is_a_clear_connect_error(no_backoff):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    backend = OpenAIBackend(server_spec("openai", url))
    with pytest.raises(ConnectError, match=r"Is the server running at http://127\.0\.0\.1"):
        await backend.load(lambda p: None)
    _, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert isinstance(error, ConnectError) and usages == []
    assert url in error.message


async def test_down_server_fails_the_run_not_the_runner(no_backoff):
    spec = server_spec("openai", f"http://127.0.0.1:{closed_port()}/v1")
    runner = Runner()
    [run] = await runner.run([spec], Request.chat("hi"))
    await runner.pool.close()
    assert run.state == "failed"
    assert run.error["type"] == "ConnectError"
    assert "Is the server running" in run.error["message"]


async def test_dropped_connection_keeps_partial_text_and_is_not_retried(server):
    server.script = [piece("Hel"), piece("lo"), DROP]
    runner = Runner()
    [run] = await runner.run([server_spec("openai", server.base)], Request.chat("hi"))
    await runner.pool.close()
    assert run.state == "failed"
    assert run.text == "Hello"
    assert run.error["title"] == "Connection lost"
    assert "mid-stream" in run.error["message"]
    assert len(server.posts) == 1  # never retried once text was yielded


async def test_stream_closed_before_finish_is_an_error(server):
    server.script = [piece("Hel")]  # a clean end of the body, but no finish and no [DONE]
    backend = backend_for(server)
    text, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, usages) == ("Hel", [])
    assert isinstance(error, BackendError) and "before it was complete" in error.message


async def test_missing_done_is_tolerated_after_a_finish_reason(server):
    server.script = [piece("ok"), piece(None, finish="length")]
    backend = backend_for(server)
    text, [usage], error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, error, usage.finish_reason) == ("ok", None, "length")


async def test_malformed_line_is_a_protocol_error(server):
    server.script = [piece("Hel"), b'data: {"choices": [{"delta": {"content": "lo"\n\n', DONE]
    backend = backend_for(server)
    text, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, usages) == ("Hel", [])
    assert isinstance(error, StreamProtocolError) and "not valid JSON" in error.message


async def test_wrong_shape_is_a_protocol_error(server):
    server.script = [piece("Hel"), sse({"choices": [{"delta": {"content": 42}}]}), DONE]
    backend = backend_for(server)
    text, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, usages) == ("Hel", [])
    assert isinstance(error, StreamProtocolError) and "not a string" in error.message


@pytest.mark.parametrize("url", ["localhost:8080/v1", "ftp://h/v1", "http://", ""])
async def test_a_bad_url_fails_the_run_clearly(url):
    runner = Runner()
    [run] = await runner.run([server_spec("openai", url)], Request.chat("hi"))
    assert run.state == "failed" and run.error["title"] == "Bad server URL"


async def test_mid_stream_error_frame_carries_the_server_message(server):
    server.script = [
        piece("Hel"),
        sse({"error": {"message": "context size exceeded", "type": "server_error"}}),
        DONE,
    ]
    runner = Runner()
    [run] = await runner.run([server_spec("openai", server.base)], Request.chat("hi"))
    await runner.pool.close()
    assert (run.state, run.text) == ("failed", "Hel")
    assert run.error["type"] == "BackendError"
    assert "context size exceeded" in run.error["message"]


async def test_event_error_frame_is_an_error(server):
    server.script = [piece("a"), b'event: error\ndata: {"message": "overloaded"}\n\n']
    backend = backend_for(server)
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert isinstance(error, BackendError) and "overloaded" in error.message


async def test_keep_alives_alone_end_by_the_gap_timeout(server):
    server.script = [piece("Hel"), *[KEEP_ALIVE, 0.05] * 200]
    backend = backend_for(server, gap_timeout=0.5)
    started = time.monotonic()
    text, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert time.monotonic() - started < 3
    assert (text, usages) == ("Hel", [])
    assert isinstance(error, StreamTimeout) and "gap_timeout" in error.message


async def test_deadline_ends_a_slow_but_steady_stream(server):
    server.script = [step for _ in range(100) for step in (piece("."), 0.05)]
    backend = backend_for(server, gap_timeout=5.0, deadline=0.6)
    started = time.monotonic()
    text, usages, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert time.monotonic() - started < 3
    assert text.startswith("..") and usages == []
    assert isinstance(error, StreamTimeout) and "deadline" in error.message


async def test_server_error_status_names_status_and_message(server, no_backoff):
    server.answers = [(500, {}, {"error": {"message": "model crashed"}})] * 3
    backend = backend_for(server)
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert isinstance(error, BackendError)
    assert "HTTP 500" in error.message and "model crashed" in error.message
    assert len(server.posts) == 3  # the first try and two retries


async def test_a_5xx_before_the_first_byte_is_retried(server, no_backoff):
    server.answers = [(503, {}, {"error": {"message": "busy"}})]
    backend = backend_for(server)
    text, [_], error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, error) == ("Hello!", None)
    assert len(server.posts) == 2


async def test_429_waits_for_retry_after_then_succeeds(server):
    server.answers = [(429, {"Retry-After": "1"}, {"error": {"message": "slow down"}})]
    backend = backend_for(server)
    started = time.monotonic()
    text, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert (text, error) == ("Hello!", None)
    assert time.monotonic() - started >= 0.95
    assert len(server.posts) == 2


async def test_429_with_a_long_retry_after_is_reported_not_waited_for(server):
    server.answers = [(429, {"Retry-After": "3600"}, {"error": {"message": "quota"}})]
    backend = backend_for(server)
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert isinstance(error, BackendError)
    assert "HTTP 429" in error.message and "3600" in error.message
    assert len(server.posts) == 1


async def test_non_json_error_body_is_shown_short(server, no_backoff):
    server.answers = [(400, {}, "<html>" + "x" * 5000 + "</html>")]
    backend = backend_for(server)
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert "HTTP 400" in error.message and len(error.message) < 600


async def test_cancel_ends_a_stalled_stream_without_usage(server):
    server.script = [piece("Hel"), 30.0]
    backend = backend_for(server)
    received: list[str] = []

    async def consume():
        async for chunk in backend.stream(Request.chat("hi")):
            received.append(type(chunk).__name__)

    task = asyncio.create_task(consume())
    while not received:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await backend.cancel()
    await asyncio.wait_for(task, 2)
    await backend.close()
    assert received == ["TextChunk"]
    assert time.monotonic() - started < 1


async def test_cancel_before_the_answer_head_arrives(server):
    server.head_delay = 30.0
    backend = backend_for(server)
    task = asyncio.create_task(collect(backend.stream(Request.chat("hi"))))
    while not server.posts:
        await asyncio.sleep(0.01)
    await backend.cancel()
    text, usages, error = await asyncio.wait_for(task, 2)
    await backend.close()
    assert (text, usages, error) == ("", [], None)


async def test_runner_cancel_marks_the_run_cancelled(server):
    server.script = [piece("Hel"), 30.0]
    runner = Runner()
    spec = server_spec("openai", server.base)
    running = asyncio.create_task(runner.run([spec], Request.chat("hi")))
    while not server.posts:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await runner.cancel("m")
    [run] = await asyncio.wait_for(running, 3)
    await runner.pool.close()
    assert (run.state, run.text) == ("cancelled", "Hel")


async def test_api_key_is_sent_and_never_shown(server, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    server.key = secret
    monkeypatch.setenv("WB_TEST_KEY", secret)
    backend = backend_for(server, api_key_env="WB_TEST_KEY")
    text, _, error = await collect(backend.stream(Request.chat("hi")))
    assert (text, error) == ("Hello!", None)
    assert server.posts[0].headers["authorization"] == f"Bearer {secret}"

    server.key = "another-key"  # now the server refuses it, echoing what it got
    with pytest.raises(BackendError) as refused:
        await backend.load(lambda p: None)
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    for message in (refused.value.message, error.message):
        assert secret not in message and "***" in message
    assert "WB_TEST_KEY" in refused.value.message


async def test_missing_key_variable_is_named(server, monkeypatch):
    monkeypatch.delenv("WB_MISSING_KEY", raising=False)
    backend = backend_for(server, api_key_env="WB_MISSING_KEY")
    with pytest.raises(BackendError, match="WB_MISSING_KEY") as missing:
        await backend.load(lambda p: None)
    assert missing.value.title == "API key missing"
    _, _, error = await collect(backend.stream(Request.chat("hi")))
    await backend.close()
    assert "WB_MISSING_KEY" in error.message and server.posts == []


async def test_list_models(server, no_backoff):
    assert await list_models(server.base) == ["fake-model"]
    with pytest.raises(ConnectError):
        await list_models(f"http://127.0.0.1:{closed_port()}/v1")
