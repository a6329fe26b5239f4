"""A corpus of broken SSE and NDJSON streams, served by the loopback fakes, through the runner.

Whatever the bytes, the run ends: done with the exact text, or failed with a typed
error and a short message, keeping the text received before. Never a crash, never
an "Unexpected error".
"""

from __future__ import annotations

import json
import random
import time

import pytest
from backend_helpers import server_spec
from fake_openai import DONE, DROP, KEEP_ALIVE, piece, sse
from reliability_helpers import current_test, figure
from reliability_servers import fake_for, url_for

from workbench.core.runner import Runner
from workbench.models.backends.openai import OpenAIBackend
from workbench.models.request import Request
from workbench.store.comparison import run_comparison

TEN_MB = 10 * 1024 * 1024
OK = "done"


def ndjson(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def line(text: str, **extra) -> bytes:
    """One Ollama chat line."""
    return ndjson({"model": "llama3.2", "message": {"content": text}, "done": False} | extra)


LAST = ndjson(
    {"model": "llama3.2", "message": {"content": ""}, "done": True, "done_reason": "stop"}
    | {"prompt_eval_count": 3, "eval_count": 2}
)
GOOD_SSE = [piece(None), piece("Hel"), piece("lo"), piece(None, finish="stop"), DONE]
GOOD_NDJSON = [line("Hel"), line("lo"), LAST]
GARBAGE = bytes(random.Random(7).randrange(256) for _ in range(4096))
DEEP = b"[" * 100_000 + b"]" * 100_000

# name -> (steps the server sends, expected outcome, words the message holds, text kept)
# Steps of 10 MB are made when their test runs (a function), not held all session long.
# The outcome is "done" or the error's type; the text kept is what the run ends with.
SSE = {
    "empty-events": (
        [b"data:\n\n", b"data: \n\n", b"\n\n\n", b"event: message\n\n", KEEP_ALIVE],
        "BackendError",
        ["closed the stream before it was complete"],
        "",
    ),
    "error-field": (
        [piece("Hel"), b"error: overloaded\n\n"],
        "BackendError",
        ["overloaded"],
        "Hel",
    ),
    "event-error": (
        [piece("Hel"), b'event: error\ndata: {"message": "busy"}\n\n'],
        "BackendError",
        ["busy"],
        "Hel",
    ),
    "error-object-mid-stream": (
        [piece("Hel"), sse({"error": {"message": "context overflow", "code": 500}}), DONE],
        "BackendError",
        ["context overflow"],
        "Hel",
    ),
    "error-string-mid-stream": (
        [piece("Hel"), sse({"error": "worker crashed"})],
        "BackendError",
        ["worker crashed"],
        "Hel",
    ),
    "truncated-json-at-end": (
        [piece("Hel"), b'data: {"choices": [{"delta": {"content": "lo'],
        "StreamProtocolError",
        ["not valid JSON"],
        "Hel",
    ),
    "truncated-json-then-dropped": (
        [piece("Hel"), b'data: {"choices": [{"delta": {"content": "lo', DROP],
        "BackendError",
        ["lost mid-stream", "text so far is kept"],
        "Hel",
    ),
    "truncated-json-event": (
        [piece("Hel"), b'data: {"choices": [{"delta": \n\n', DONE],
        "StreamProtocolError",
        ["not valid JSON"],
        "Hel",
    ),
    "invalid-utf8": (
        [piece("Hel"), b'data: {"choices": [{"delta": {"content": "\xff\xfe"}}]}\n\n'],
        "StreamProtocolError",
        ["not valid UTF-8"],
        "Hel",
    ),
    "utf8-cut-mid-character": (
        [piece("Hel"), b'data: {"x": "\xe2\x9c"}\n\n'],
        "StreamProtocolError",
        ["not valid UTF-8"],
        "Hel",
    ),
    "10-mb-line": (
        lambda: [piece("Hel"), b"data: " + b"x" * TEN_MB + b"\n\n", DONE],
        "StreamProtocolError",
        ["longer than 1024 KiB"],
        "Hel",
    ),
    "10-mb-text-in-one-event": (
        lambda: [piece("Hel"), piece("x" * TEN_MB), DONE],
        "StreamProtocolError",
        ["longer than 1024 KiB"],
        "Hel",
    ),
    "10-mb-without-newline": (
        lambda: [piece("Hel"), b"data: " + b"y" * TEN_MB],
        "StreamProtocolError",
        ["longer than 1024 KiB"],
        "Hel",
    ),
    "json-not-an-object": (
        [piece("Hel"), b"data: [1, 2, 3]\n\n"],
        "StreamProtocolError",
        ["not an object"],
        "Hel",
    ),
    "choices-not-a-list": (
        [piece("Hel"), sse({"choices": 5})],
        "StreamProtocolError",
        ["malformed choices"],
        "Hel",
    ),
    "content-not-a-string": (
        [piece("Hel"), sse({"choices": [{"delta": {"content": {"a": 1}}}]})],
        "StreamProtocolError",
        ["not a string"],
        "Hel",
    ),
    "nul-bytes": ([piece("Hel"), b"data: \x00\x00\n\n"], "StreamProtocolError", ["JSON"], "Hel"),
    "nesting-100000-deep": (
        [piece("Hel"), b"data: " + DEEP + b"\n\n"],
        "StreamProtocolError",
        ["nested too deeply"],
        "Hel",
    ),
    "random-bytes": ([piece("Hel"), GARBAGE], "StreamProtocolError", ["UTF-8"], "Hel"),
    "lone-surrogate-escape": (
        [piece("Hel"), b'data: {"choices": [{"delta": {"content": "\\ud83d"}}]}\n\n', DONE],
        "StreamProtocolError",
        ["not valid Unicode"],
        "Hel",
    ),
    "surrogate-pair-escape": (
        [
            piece("Hel"),
            b'data: {"choices": [{"delta": {"content": "\\ud83d\\ude00"}}]}\n\n',
            piece(None, finish="stop"),
            DONE,
        ],
        OK,
        [],
        "Hel\U0001f600",
    ),
    "html-error-page": (
        [b"<html><body>502 Bad Gateway</body></html>\n"],
        "BackendError",
        ["closed the stream before it was complete"],
        "",
    ),
    "no-done-no-finish": (
        [piece("Hel")],
        "BackendError",
        ["closed the stream before it was complete"],
        "Hel",
    ),
    "garbage-after-done": ([*GOOD_SSE, b"\xff\xfe garbage\n\n"], OK, [], "Hello"),
    "bom-and-cr-line-endings": (
        [b"\xef\xbb\xbf" + b"".join(GOOD_SSE).replace(b"\n", b"\r")],
        OK,
        [],
        "Hello",
    ),
    "usage-of-wrong-types": (
        [piece("Hel"), piece(None, finish="stop", usage={"prompt_tokens": "x"}), DONE],
        OK,
        [],
        "Hel",
    ),
    "one-byte-per-read": ([bytes([b]) for b in b"".join(GOOD_SSE)], OK, [], "Hello"),
}

NDJSON = {
    "blank-lines-only": (
        [b"\n", b"\r\n", b"   \n"],
        "BackendError",
        ['closed the stream before its last line ("done": true)'],
        "",
    ),
    "error-line-mid-stream": (
        [line("Hel"), ndjson({"error": "llama runner process has terminated"})],
        "BackendError",
        ["llama runner process has terminated"],
        "Hel",
    ),
    "error-object-mid-stream": (
        [line("Hel"), ndjson({"error": {"message": "out of memory"}})],
        "BackendError",
        ["out of memory"],
        "Hel",
    ),
    "truncated-json-at-end": (
        [line("Hel"), b'{"model": "x", "message": {"content": "lo'],
        "StreamProtocolError",
        ["not valid JSON"],
        "Hel",
    ),
    "truncated-json-then-dropped": (
        [line("Hel"), b'{"model": "x", "message": {"content": "lo', DROP],
        "BackendError",
        ["lost mid-stream", "text so far is kept"],
        "Hel",
    ),
    "invalid-utf8": (
        [line("Hel"), b'{"message": {"content": "\xc3\x28"}}\n'],
        "StreamProtocolError",
        ["not valid UTF-8"],
        "Hel",
    ),
    "10-mb-line": (
        lambda: [line("Hel"), b'{"message": {"content": "' + b"x" * TEN_MB + b'"}}\n', LAST],
        "StreamProtocolError",
        ["longer than 1024 KiB"],
        "Hel",
    ),
    "10-mb-without-newline": (
        lambda: [line("Hel"), b"z" * TEN_MB],
        "StreamProtocolError",
        ["longer than 1024 KiB"],
        "Hel",
    ),
    "json-not-an-object": (
        [line("Hel"), b"[1]\n"],
        "StreamProtocolError",
        ["not an object"],
        "Hel",
    ),
    "json-null": ([line("Hel"), b"null\n"], "StreamProtocolError", ["not an object"], "Hel"),
    "content-not-a-string": (
        [line("Hel"), ndjson({"message": {"content": 5}, "done": False})],
        "StreamProtocolError",
        ["not a string"],
        "Hel",
    ),
    "nesting-100000-deep": (
        [line("Hel"), DEEP + b"\n"],
        "StreamProtocolError",
        ["nested too deeply"],
        "Hel",
    ),
    "sse-sent-to-ndjson": (
        [piece("Hel")],
        "StreamProtocolError",
        ["not valid JSON"],
        "",
    ),
    "random-bytes": ([line("Hel"), GARBAGE], "StreamProtocolError", ["UTF-8"], "Hel"),
    "lone-surrogate-escape": (
        [line("Hel"), b'{"message": {"content": "\\udc00"}, "done": false}\n', LAST],
        "StreamProtocolError",
        ["not valid Unicode"],
        "Hel",
    ),
    "no-done-line": (
        [line("Hel"), line("lo")],
        "BackendError",
        ['closed the stream before its last line ("done": true)'],
        "Hello",
    ),
    "counts-of-wrong-types": (
        [line("Hel"), LAST.replace(b'"eval_count": 2', b'"eval_count": "many"')],
        OK,
        [],
        "Hel",
    ),
    "one-byte-per-read": ([bytes([b]) for b in b"".join(GOOD_NDJSON)], OK, [], "Hello"),
}

CORPUS = [("openai", name, *case) for name, case in SSE.items()] + [
    ("ollama", name, *case) for name, case in NDJSON.items()
]


@pytest.mark.parametrize(
    ("kind", "name", "steps", "outcome", "words", "kept"),
    CORPUS,
    ids=[f"{'sse' if kind == 'openai' else 'ndjson'}-{name}" for kind, name, *_ in CORPUS],
)
async def test_malformed_stream(kind, name, steps, outcome, words, kept, tmp_sessions):
    async with fake_for(kind) as server:
        server.script = steps() if callable(steps) else steps
        model = "fake-model" if kind == "openai" else "llama3.2"
        spec = server_spec(kind, url_for(kind, server.url), model=model, gap_timeout=5.0)
        runner = Runner()
        started = time.monotonic()
        try:
            recorder = await run_comparison(runner, tmp_sessions, [spec], Request.chat("hi"))
        finally:
            await runner.pool.close()
        elapsed = time.monotonic() - started
    [run] = recorder.session.runs
    assert run.text == kept
    # The session was saved through it all, and holds what the pane showed.
    assert recorder.save_error is None
    [saved] = tmp_sessions.load(recorder.path).runs
    assert (saved.state, saved.text, saved.error) == (run.state, run.text, run.error)
    if outcome == OK:
        assert run.state == "done", run.error
        figure(current_test(), f"done, text {run.text!r}, {elapsed:.2f} s")
        return
    assert run.state == "failed"
    assert run.error["type"] == outcome, run.error
    assert run.error["title"] != "Unexpected error"
    message = run.error["message"]
    for word in words:
        assert word in message, (word, message)
    assert len(message) < 700, len(message)  # a 10 MB line is never quoted whole
    figure(current_test(), f"{run.error['type']} after {elapsed:.2f} s: {message[:90]}")


# --- events split at every byte boundary ---------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_a_stream_split_at_every_byte_boundary(kind):
    """Every two-read split of a good stream and of one with an error frame gives the same
    result as the whole: the text, or the same error."""
    if kind == "openai":
        good = b"".join([piece("Hé"), piece("l✓lo"), piece(None, finish="stop"), DONE])
        bad = piece("Hé") + sse({"error": {"message": "split error"}})
    else:
        good = b"".join([line("Hé"), line("l✓lo"), LAST])
        bad = line("Hé") + ndjson({"error": "split error"})
    results = {"good": set(), "bad": set()}
    started = time.monotonic()
    async with fake_for(kind) as server:
        model = "fake-model" if kind == "openai" else "llama3.2"
        spec = server_spec(kind, url_for(kind, server.url), model=model)
        backend = OpenAIBackend(spec) if kind == "openai" else None
        if backend is None:
            from workbench.models.backends.ollama import OllamaBackend

            backend = OllamaBackend(spec)
        try:
            for label, whole in (("good", good), ("bad", bad)):
                for cut in range(1, len(whole)):
                    server.script = [whole[:cut], whole[cut:]]
                    text, error = "", None
                    try:
                        async for chunk in backend.stream(Request.chat("hi")):
                            text += getattr(chunk, "text", "")
                    except Exception as exc:
                        error = f"{type(exc).__name__}: {exc}"
                    results[label].add((text, error))
        finally:
            await backend.close()
    assert results["good"] == {("Hél✓lo", None)}
    assert results["bad"] == {("Hé", "BackendError: The server reported an error: split error")}
    splits = len(good) - 1 + len(bad) - 1
    figure(
        current_test(),
        f"{splits} splits ({len(good)} B good, {len(bad)} B with an error frame): one result "
        f"each, {time.monotonic() - started:.2f} s",
    )
