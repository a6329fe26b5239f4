"""The synchronous stream decoders give what the stacked async generators gave.

``reference_streams.py`` keeps the generators as they were. Every stream here,
good or broken, is split into reads in many ways (one read per frame, which
takes the decoders' fast path, random cuts, one byte per read), and the
decoders must yield the same objects, then the same error with the same
message, and agree on whether ``[DONE]`` arrived.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import reference_streams as old
import stream_adapters as adapters
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbench.models.backends import lines as new_lines
from workbench.models.backends import streams as new

SHORT_LINE = 120  # a cap that the frames with 60 z cross, and the others do not


def sse(obj: Any, *, end: bytes = b"\n") -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + end + end


def piece(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


SSE_FRAMES = [
    sse(piece("Hé")),
    sse(piece("l✓lo")),
    sse(piece("x"), end=b"\r\n"),
    sse(piece("y"), end=b"\r"),
    sse({"choices": [], "usage": {"prompt_tokens": 3}}),
    sse(piece("z" * 60)),  # longer than SHORT_LINE
    b"data: [DONE]\n\n",
    b"data:[DONE]\r\n\r\n",
    b": keep-alive\n\n",
    b":\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"\xef\xbb\xbf",
    b"data: {}\n\n",
    b'data:{"a":1}\n\n',
    b'data:  {"a": 2}  \n\n',
    b'data: {"a":\ndata: 3}\n\n',
    b"data: \n\n",
    b"data\n\n",
    b"id: 7\n",
    b"retry: 10\n",
    b"event: message\n",
    b"event: error\ndata: busy\n\n",
    b"error: overloaded\n\n",
    b'data: {"error": {"message": "out of memory"}}\n\n',
    b'data: {"error": "worker crashed"}\n\n',
    b"data: [1, 2]\n\n",
    b"data: null\n\n",
    b'data: {"a": \n\n',
    b'data: {"a": 1} x\n\n',
    b'data: {"t": "\\ud83d"}\n\n',
    b'data: {"t": "\\ud83d\\ude00"}\n\n',
    b"data: \xff\xfe\n\n",
    b'data: {"t": "\xe2\x9c"}\n\n',
    b"data: " + b"[" * 3000 + b"]" * 3000 + b"\n\n",
]

NDJSON_LINES = [
    b'{"message": {"content": "H\xc3\xa9"}, "done": false}\n',
    b'{"message": {"content": "l\xe2\x9c\x93lo"}, "done": false}\r\n',
    b'{"a": 1}\r',
    b'{"done": true, "eval_count": 2}\n',
    b'{"z": "' + b"z" * 130 + b'"}\n',
    b"\n",
    b"   \n",
    b"\r\n",
    b"\xef\xbb\xbf",
    b'  {"a": 2}  \n',
    b'{"error": "model not found"}\n',
    b'{"error": {"message": "out of memory"}}\n',
    b"[1]\n",
    b"null\n",
    b'{"a": \n',
    b'{"a": 1}{"b": 2}\n',
    b'{"t": "\\udc00"}\n',
    b'{"a": "\xc3\x28"}\n',
    b"\xff\n",
    b"[" * 3000 + b"]" * 3000 + b"\n",
    b"data: {}\n\n",
]


def reads_of(stream: bytes, mode: str, cuts: list[int], frames: list[bytes]) -> list[bytes]:
    """``stream`` cut into network reads."""
    if mode == "frames":
        return frames
    if mode == "bytes":
        return [stream[i : i + 1] for i in range(len(stream))]
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@st.composite
def split_streams(draw, vocabulary: list[bytes]) -> tuple[list[bytes], int]:
    frames = draw(st.lists(st.sampled_from(vocabulary) | st.binary(max_size=6), max_size=10))
    stream = b"".join(frames)
    mode = draw(st.sampled_from(["frames", "cuts", "bytes"]))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
    max_line = draw(st.sampled_from([new_lines.MAX_LINE, SHORT_LINE]))
    return reads_of(stream, mode, cuts, frames), max_line


async def feed(reads: list[bytes]) -> AsyncIterator[bytes]:
    for read in reads:
        yield read


def outcome(items: AsyncIterator[Any], convert=lambda item: item) -> tuple[list[Any], Any]:
    """What an async iterator that never really waits yields, then how it ends."""
    got: list[Any] = []

    async def drain() -> None:
        async for item in items:
            got.append(convert(item))

    coroutine = drain()
    try:
        coroutine.send(None)
    except StopIteration:
        return got, None
    except Exception as exc:
        return got, (type(exc).__name__, str(exc))
    coroutine.close()
    raise AssertionError("the iterator waited for something")


def fed(decoder: new.Decoder, reads: list[bytes]) -> tuple[list[Any], Any]:
    """The decoder driven as ``StreamingClient.stream`` drives it."""
    got: list[Any] = []
    for read in reads:
        got += decoder.feed(read)
        if decoder.error is not None:
            return got, (type(decoder.error).__name__, str(decoder.error))
        if decoder.done:
            return got, None
    got += decoder.close()
    if decoder.error is not None:
        return got, (type(decoder.error).__name__, str(decoder.error))
    return got, None


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OK_STREAM = [sse(piece("Hé")), sse(piece("l✓lo")), b"data: [DONE]\n\n"]


@SETTINGS
@given(split_streams(SSE_FRAMES))
@example((OK_STREAM, new_lines.MAX_LINE))
@example(([b"\xef\xbb\xbf" + b"".join(OK_STREAM).replace(b"\n", b"\r")], new_lines.MAX_LINE))
@example(([sse(piece("Hé")) + b"error: overloaded\n\n"], new_lines.MAX_LINE))
@example(([sse(piece("Hé")), b"data: [DONE]\n\n\xff\xfe garbage\n\n"], new_lines.MAX_LINE))
@example(([sse(piece("Hé")), sse(piece("z" * 60))], SHORT_LINE))
def test_sse_json_decoder_matches_the_generators(case):
    reads, max_line = case
    reference = old.OldSSEJson(max_line=max_line)
    expected = outcome(reference.parse(feed(reads)))
    wrapped = new.SSEJson(max_line=max_line)
    assert outcome(wrapped.parse(feed(reads))) == expected
    assert wrapped.done == reference.done
    decoder = new.SSEJson(max_line=max_line)
    assert fed(decoder, reads) == expected
    assert decoder.done == reference.done


@SETTINGS
@given(split_streams(NDJSON_LINES))
@example(([b'{"a": 1}\n{"error": "model not found"}\n'], new_lines.MAX_LINE))
def test_ndjson_decoder_matches_the_generator(case):
    reads, max_line = case
    expected = outcome(old.iter_ndjson(feed(reads), max_line=max_line))
    assert outcome(adapters.iter_ndjson(feed(reads), max_line=max_line)) == expected
    assert fed(new.NDJSON(max_line=max_line), reads) == expected


@SETTINGS
@given(split_streams(SSE_FRAMES + NDJSON_LINES))
def test_lines_and_events_match_the_generators(case):
    reads, max_line = case
    assert outcome(adapters.iter_lines(feed(reads), max_line=max_line)) == outcome(
        old.iter_lines(feed(reads), max_line=max_line)
    )

    def event(e: Any) -> tuple[str, str, str | None]:
        return (e.data, e.event, e.id)

    expected = outcome(old.iter_sse(old.iter_lines(feed(reads), max_line=max_line)), event)
    got = outcome(adapters.iter_sse(adapters.iter_lines(feed(reads), max_line=max_line)), event)
    assert got == expected


def test_text_before_a_bad_frame_in_the_same_read_is_kept():
    decoder = new.SSEJson()
    objects = decoder.feed(sse(piece("Hel")) + b"data: {bad\n\n" + sse(piece("lo")))
    assert objects == [piece("Hel")]
    assert type(decoder.error).__name__ == "StreamProtocolError"
    assert decoder.feed(sse(piece("more"))) == []  # nothing is read after an error


def test_nothing_after_done_is_decoded():
    decoder = new.SSEJson()
    assert decoder.feed(b"data: [DONE]\n\n\xff\xfe\n\n" + b"x" * 100) == []
    assert (decoder.done, decoder.error) == (True, None)
    assert decoder.close() == [] and decoder.error is None
