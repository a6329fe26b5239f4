"""Unit tests of the stream parsers and timeout helpers, without any network."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest
from stream_adapters import iter_lines, iter_ndjson, iter_sse

from workbench.errors import BackendError, StreamProtocolError, StreamTimeout
from workbench.models.backends.api_keys import api_key, scrub
from workbench.models.backends.clock import StreamClock, Timeouts
from workbench.models.backends.http import retry_after
from workbench.models.backends.http_errors import describe_error
from workbench.models.backends.streams import SSEEvent, SSEJson


async def feed(*parts: bytes, pause: float = 0.0):
    for part in parts:
        if pause:
            await asyncio.sleep(pause)
        yield part


async def drain(iterator) -> list:
    return [item async for item in iterator]


async def lines(*parts: bytes, **kw) -> list[str]:
    return await drain(iter_lines(feed(*parts), **kw))


async def sse(*parts: bytes) -> list[SSEEvent]:
    return await drain(iter_sse(iter_lines(feed(*parts))))


async def sse_json(*parts: bytes) -> tuple[list[dict], bool]:
    reader = SSEJson()
    objects = await drain(reader.parse(feed(*parts)))
    return objects, reader.done


# --- lines ---------------------------------------------------------------------------


async def test_lines_end_in_lf_crlf_or_cr():
    assert await lines(b"a\nb\r\nc\rd") == ["a", "b", "c", "d"]


async def test_crlf_split_across_reads_is_one_ending():
    assert await lines(b"a\r", b"\nb\r", b"", b"\n") == ["a", "b"]


async def test_trailing_cr_at_end_of_stream_ends_the_line():
    assert await lines(b"a\r") == ["a"]


async def test_multibyte_character_split_across_reads():
    data = "héllo → wörld\n".encode()
    assert await lines(*(data[i : i + 1] for i in range(len(data)))) == ["héllo → wörld"]


async def test_byte_order_mark_is_dropped():
    assert await lines(b"\xef\xbb\xbfdata: x\n") == ["data: x"]


async def test_invalid_utf8_is_a_protocol_error():
    with pytest.raises(StreamProtocolError, match="not valid UTF-8"):
        await lines(b"ok\n", b"bad \xff\xfe here\n")


async def test_endless_line_is_stopped_at_the_cap():
    with pytest.raises(StreamProtocolError, match="longer than"):
        await lines(*[b"x" * 1024] * 100, max_line=16 * 1024)


async def test_huge_line_in_one_read_is_stopped_too():
    with pytest.raises(StreamProtocolError, match="longer than"):
        await lines(b"x" * (64 * 1024) + b"\n", max_line=16 * 1024)


async def test_default_cap_is_one_mebibyte():
    big = b"data: " + b"x" * (1 << 20) + b"\n"
    with pytest.raises(StreamProtocolError):
        await lines(big)
    assert len((await lines(b"y" * 500_000 + b"\n"))[0]) == 500_000


# --- SSE -----------------------------------------------------------------------------


async def test_keep_alive_comments_and_empty_events_are_skipped():
    events = await sse(b": keep-alive\n\n", b":\n\n", b"\n\n", b"data: 1\n\n", b": ping\n")
    assert events == [SSEEvent("1")]


async def test_event_split_across_reads():
    events = await sse(b"da", b'ta: {"a"', b": 1}", b"\n", b"\n", b"data: 2\n\n")
    assert [e.data for e in events] == ['{"a": 1}', "2"]


async def test_multi_line_data_is_joined_with_newlines():
    assert await sse(b"data: one\ndata:two\ndata\n\n") == [SSEEvent("one\ntwo\n")]


async def test_event_type_and_id_are_kept():
    [event] = await sse(b"event: error\nid: 7\nretry: 10\ndata: boom\n\n")
    assert (event.event, event.id, event.data) == ("error", "7", "boom")


async def test_bare_error_field_makes_an_error_event():
    [event] = await sse(b"error: quota exceeded\n\n")
    assert (event.event, event.data) == ("error", "quota exceeded")


async def test_last_event_without_blank_line_is_delivered():
    assert await sse(b"data: 1\n\ndata: 2") == [SSEEvent("1"), SSEEvent("2")]


async def test_sse_json_stops_at_done():
    objects, done = await sse_json(b'data: {"a": 1}\n\n', b"data: [DONE]\n\n", b"data: {}\n\n")
    assert (objects, done) == ([{"a": 1}], True)


async def test_sse_json_without_done_says_so():
    assert await sse_json(b'data: {"a": 1}\n\n') == ([{"a": 1}], False)


async def test_sse_json_error_frame():
    with pytest.raises(BackendError, match="out of memory"):
        await sse_json(b'data: {"a": 1}\n\n', b'data: {"error": {"message": "out of memory"}}\n\n')


async def test_sse_json_event_error():
    with pytest.raises(BackendError, match="overloaded"):
        await sse_json(b"event: error\ndata: overloaded\n\n")


async def test_sse_json_truncated_json_quotes_the_text():
    with pytest.raises(StreamProtocolError, match=r"not valid JSON.*choices"):
        await sse_json(b'data: {"choices": [{"delta": \n\n')


async def test_sse_json_must_be_objects():
    with pytest.raises(StreamProtocolError, match="not an object"):
        await sse_json(b"data: [1, 2]\n\n")


# --- NDJSON --------------------------------------------------------------------------


async def test_ndjson_lines_split_across_reads_and_blank_lines():
    objects = await drain(iter_ndjson(feed(b'{"a":', b" 1}\n\n", b'{"b": 2}\r\n', b'{"c": 3}')))
    assert objects == [{"a": 1}, {"b": 2}, {"c": 3}]


async def test_ndjson_error_line():
    with pytest.raises(BackendError, match="model not found"):
        await drain(iter_ndjson(feed(b'{"a": 1}\n{"error": "model not found"}\n')))


async def test_ndjson_malformed_line():
    with pytest.raises(StreamProtocolError, match="not valid JSON"):
        await drain(iter_ndjson(feed(b'{"a": 1}\n{"a": \n')))


async def test_ndjson_invalid_utf8():
    with pytest.raises(StreamProtocolError, match="UTF-8"):
        await drain(iter_ndjson(feed(b'{"a": "\xc3"}\n')))


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"message": "bad model", "type": "x"}}', "bad model"),
        (b'{"error": "model not found"}', "model not found"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b"<html>\n  <body>502</body></html>", "<html> <body>502</body></html>"),
        (b"", "(no details)"),
    ],
)
def test_describe_error_shapes(body, expected):
    assert describe_error(body) == expected


def test_describe_error_is_short():
    assert len(describe_error(b"x" * 10_000)) < 400


def test_api_key_missing_names_the_variable_only(monkeypatch):
    monkeypatch.delenv("WB_NOPE", raising=False)
    with pytest.raises(BackendError, match=r"WB_NOPE is not set"):
        api_key("WB_NOPE", "http://h")
    monkeypatch.setenv("WB_YES", "  secret-value ")
    key = api_key("WB_YES", "http://h")
    assert key.reveal() == "secret-value" and "secret-value" not in repr(key)
    assert api_key(None, "http://h") is None


def test_scrub_removes_the_secret():
    error = scrub(BackendError("rejected key sk-123 for you"), "sk-123")
    assert str(error) == "rejected key *** for you" and error.args == (str(error),)


# --- timeouts and retries ------------------------------------------------------------


async def test_gap_timeout_is_not_fooled_by_keep_alives():
    keep_alives = feed(*[b": keep-alive\n\n"] * 1000, pause=0.02)
    clock = StreamClock(Timeouts(gap=0.2, deadline=10), "http://h")
    started = time.monotonic()
    with pytest.raises(StreamTimeout, match=r"sent nothing for 0\.2 s"):
        await drain(clock.paced(SSEJson().parse(keep_alives)))
    assert time.monotonic() - started < 1


async def test_deadline_ends_a_steady_stream():
    steady = feed(*[b'data: {"a": 1}\n\n'] * 1000, pause=0.02)
    clock = StreamClock(Timeouts(gap=5, deadline=0.3), "http://h")
    with pytest.raises(StreamTimeout, match=r"deadline of 0\.3 s"):
        await drain(clock.paced(SSEJson().parse(steady)))


async def test_deadline_already_passed_fails_at_once():
    now = [100.0]
    clock = StreamClock(Timeouts(deadline=5), "http://h", now=lambda: now[0])
    now[0] = 106.0

    async def never() -> None:  # pragma: no cover - closed unawaited
        await asyncio.sleep(10)

    with pytest.raises(StreamTimeout, match="deadline"):
        await clock.wait(never())


async def test_timeout_error_from_inside_is_not_mistaken_for_ours():
    async def fails() -> None:
        raise TimeoutError("inner")

    with pytest.raises(TimeoutError, match="inner"):
        await StreamClock(Timeouts(), "http://h").wait(fails())


def test_retry_after_values():
    assert retry_after(None, 0.25) == 0.25
    assert retry_after("2", 0.25) == 2.0
    assert retry_after("0", 0.25) == 0.0
    assert retry_after("3600", 0.25) is None
    assert retry_after("soon", 0.25) == 0.25
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    assert 1.0 < retry_after(when, 0.25) <= 3.0
