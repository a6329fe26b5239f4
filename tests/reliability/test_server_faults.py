"""Servers that fail: a connection killed among 8 streams, stalls, and every way a request
can fail before its answer. Each ends as a typed error in that model's run, never a crash.

The backend tests check each fault on one backend; these run them through the
runner on both server backends and measure what a user would see.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from backend_helpers import server_spec
from fake_openai import DONE, DROP, KEEP_ALIVE, FakeOpenAI, piece
from loopback import Received, Reply, closed_port
from reliability_helpers import current_test, figure
from reliability_servers import (
    FaultServer,
    RedirectLoop,
    fake_for,
    plain_tcp_server,
    play,
    url_for,
)

from workbench.core.runner import Runner
from workbench.models.config import Config
from workbench.models.request import Request

KINDS = ("openai", "ollama")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without their backoff pause (Retry-After is still honoured)."""
    monkeypatch.setattr("workbench.models.backends.http.BACKOFF_S", 0.0)


def model_for(kind: str) -> str:
    return "fake-model" if kind == "openai" else "llama3.2"


async def run_one(spec, request=None, timeout=60.0):
    runner = Runner()
    started = time.monotonic()
    try:
        [run] = await asyncio.wait_for(runner.run([spec], request or Request.chat("hi")), timeout)
    finally:
        await runner.pool.close()
    return run, time.monotonic() - started


# --- 8 streams at once, one connection killed --------------------------------------------

STREAMS = 8
KILLED = 3
PIECES = 150


def pieces_of(index: int) -> list[str]:
    # Multi-byte characters, so a byte lost or doubled anywhere changes the text.
    return [f"{index}:{n}·é✓ " + ("\n" if n % 10 == 9 else "") for n in range(PIECES)]


class EightStreams(FakeOpenAI):
    """Each model (``m0`` … ``m7``) gets its own text; ``m3``'s connection is cut mid-stream."""

    async def handle(self, request: Received, reply: Reply) -> None:
        if request.method != "POST":
            await super().handle(request, reply)
            return
        index = int(request.json["model"][1:])
        steps = []
        for n, text in enumerate(pieces_of(index)):
            steps += [piece(text), 0.001]
            if index == KILLED and n == PIECES // 2:
                steps.append(DROP)
                break
        steps += [piece(None, finish="stop"), DONE]
        await reply.start()
        await play(reply, steps)  # this request's own script: the eight run at once


async def test_eight_streams_one_connection_killed_the_others_complete_byte_for_byte():
    async with EightStreams() as server:
        specs = [
            server_spec("openai", server.base, name=f"m{i}", model=f"m{i}") for i in range(STREAMS)
        ]
        runner = Runner()
        started = time.monotonic()
        try:
            runs = await asyncio.wait_for(runner.run(specs, Request.chat("go")), 60)
        finally:
            await runner.pool.close()
        elapsed = time.monotonic() - started
    complete = 0
    for index, run in enumerate(runs):
        expected = "".join(pieces_of(index))
        if index == KILLED:
            assert run.state == "failed"
            assert run.error["type"] == "BackendError" and run.error["title"] == "Connection lost"
            assert "the text so far is kept" in run.error["message"]
            assert run.text and expected.startswith(run.text)
            continue
        assert run.state == "done", (run.model, run.error)
        assert run.text.encode() == expected.encode(), run.model
        assert "".join(text for _, text in run.chunks) == run.text
        assert run.finish_reason == "stop"
        complete += 1
    assert complete == STREAMS - 1
    killed = runs[KILLED]
    figure(
        current_test(),
        f"{complete}/{STREAMS - 1} streams byte-exact ({len(''.join(pieces_of(0)).encode())} B "
        f"each); the killed one kept {len(killed.text.encode())} B, 'Connection lost'; "
        f"{elapsed:.2f} s",
    )


# --- a stream that sends only keep-alives ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "limit", "gap", "deadline"),
    [
        ("openai", "gap", 1.5, 30.0),
        ("openai", "deadline", 30.0, 2.0),
        ("ollama", "gap", 1.5, 30.0),
        ("ollama", "deadline", 30.0, 2.0),
    ],
)
async def test_keep_alives_alone_are_marked_stalled_on_time(kind, limit, gap, deadline):
    async with fake_for(kind) as server:
        # A first piece, then only keep-alives (SSE comments; blank NDJSON lines) for 60 s.
        if kind == "openai":
            server.script = [piece("Hel"), *[KEEP_ALIVE, 0.1] * 600]
        else:
            first = {"model": "llama3.2", "message": {"content": "Hel"}, "done": False}
            server.script = [json.dumps(first).encode() + b"\n", *[b"\n", 0.1] * 600]
        spec = server_spec(
            kind,
            url_for(kind, server.url),
            model=model_for(kind),
            gap_timeout=gap,
            deadline=deadline,
        )
        run, elapsed = await run_one(spec)
    expected = gap if limit == "gap" else deadline
    assert run.state == "failed"
    assert run.error["type"] == "StreamTimeout"
    assert ("gap_timeout" if limit == "gap" else "deadline") in run.error["message"]
    assert run.text == "Hel"  # kept
    # Marked stalled by its limit, give or take a second.
    assert abs(elapsed - expected) <= 1.0, elapsed
    figure(
        current_test(),
        f"{kind} {limit} {expected:g} s: marked stalled after {elapsed:.2f} s "
        f"(off by {elapsed - expected:+.2f} s)",
    )


async def test_the_app_answers_keys_while_a_stream_stalls(tmp_path: Path):
    """The UI keeps answering keys during a stall that only the deadline ends."""
    from ui_helpers import compare_screen, send, wait_for

    from workbench.ui.app import WorkbenchApp

    deadline = 3.0
    async with FakeOpenAI() as server:
        server.script = [piece("Hel"), *[KEEP_ALIVE, 0.1] * 600]
        spec = server_spec(
            "openai", server.base, name="stalled", gap_timeout=30.0, deadline=deadline
        )
        app = WorkbenchApp(
            Config(models=(spec,)),
            sessions_dir=tmp_path / "sessions",
            state_path=tmp_path / "state.json",
            test_mode=True,
            save_dir=tmp_path,
        )
        latencies = []
        async with app.run_test(size=(160, 48)) as pilot:
            screen = compare_screen(app)
            await send(pilot, "hi")
            started = time.monotonic()  # the request leaves now; its deadline counts from here
            await wait_for(pilot, lambda: "stalled" in screen.panes)
            pane = screen.panes["stalled"]
            await wait_for(pilot, lambda: pane.state == "streaming")
            while time.monotonic() - started < deadline - 0.5:
                mode = screen.settings.mode
                pressed = time.monotonic()
                await pilot.press("ctrl+o")  # chat / completion: a key with a visible effect
                await wait_for(pilot, lambda mode=mode: screen.settings.mode != mode, 2.0)
                latencies.append(time.monotonic() - pressed)
                await pilot.pause(0.2)
            await wait_for(pilot, lambda: pane.state == "failed", deadline + 5)
            stalled_after = time.monotonic() - started
            assert pane.error["type"] == "StreamTimeout"
            assert "deadline" in pane.error["message"]
    assert len(latencies) >= 3
    assert max(latencies) < 1.0  # generous: 2 busy cores; measured ~0.15 s
    assert abs(stalled_after - deadline) <= 1.0
    figure(
        current_test(),
        f"{len(latencies)} key presses during the stall, slowest answered in "
        f"{max(latencies) * 1000:.0f} ms; pane failed after {stalled_after:.2f} s "
        f"(deadline {deadline:g} s)",
    )


# --- failures before the answer ----------------------------------------------------------------


async def _fault_case(kind: str, case: str):
    """(run, elapsed, requests made) for ``case`` on a ``kind`` server."""
    if case in ("http-500", "http-503", "http-429-retry-after"):
        status = {"http-500": 500, "http-503": 503, "http-429-retry-after": 429}[case]
        headers = {"Retry-After": "1"} if status == 429 else {}
        body = {"error": {"message": f"fault {status} from the test server"}}
        if kind == "ollama":
            body = {"error": f"fault {status} from the test server"}
        async with fake_for(kind) as inner, FaultServer(inner, (status, headers, body)) as server:
            spec = server_spec(kind, url_for(kind, server.url), model=model_for(kind))
            run, elapsed = await run_one(spec)
            return run, elapsed, len(server.streams)
    if case == "redirect-loop":
        async with RedirectLoop() as server:
            spec = server_spec(kind, url_for(kind, server.url), model=model_for(kind))
            run, elapsed = await run_one(spec)
            return run, elapsed, len(server.received)
    if case == "tls":
        async with plain_tcp_server() as port:
            url = url_for(kind, f"https://127.0.0.1:{port}")
            run, elapsed = await run_one(server_spec(kind, url, model=model_for(kind)))
            return run, elapsed, None
    if case == "dns":
        # .invalid never resolves (RFC 6761): no server anywhere is asked.
        url = url_for(kind, "http://workbench-reliability.invalid")
        run, elapsed = await run_one(server_spec(kind, url, model=model_for(kind)))
        return run, elapsed, None
    assert case == "refused"
    url = url_for(kind, f"http://127.0.0.1:{closed_port()}")
    run, elapsed = await run_one(server_spec(kind, url, model=model_for(kind)))
    return run, elapsed, None


# case -> (error type, title, words the message must hold)
FAULTS = {
    "http-500": ("BackendError", "HTTP 500", ["HTTP 500", "fault 500 from the test server"]),
    "http-503": ("BackendError", "HTTP 503", ["HTTP 503", "fault 503 from the test server"]),
    "http-429-retry-after": ("BackendError", "HTTP 429", ["HTTP 429", "retry after 1"]),
    "refused": ("ConnectError", "Cannot connect", ["Is the server running"]),
    "tls": ("ConnectError", "TLS failed", ["TLS handshake", "http:// URL"]),
    "dns": ("ConnectError", "Unknown host", ["workbench-reliability.invalid", "Check the URL"]),
    "redirect-loop": ("BackendError", "HTTP 302", ["HTTP 302", "redirects to"]),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(FAULTS))
async def test_a_failing_server_is_a_typed_error_never_a_crash(kind, case, no_backoff):
    run, elapsed, requests = await _fault_case(kind, case)
    error_type, title, words = FAULTS[case]
    assert run.state == "failed"
    assert run.error["type"] == error_type, run.error
    assert run.error["title"] == title, run.error
    for word in words:
        assert word in run.error["message"], (word, run.error["message"])
    assert len(run.error["message"]) < 500
    if case.startswith("http-"):
        # Retried before the first byte (twice), never more; Retry-After is honoured.
        assert requests == 3
        if case == "http-429-retry-after":
            assert elapsed >= 2.0
    if case == "redirect-loop":
        assert requests <= 2  # the loop is not followed
    figure(
        current_test(),
        f"{run.error['type']} '{run.error['title']}' after {elapsed:.2f} s"
        + (f", {requests} requests" if requests is not None else ""),
    )
