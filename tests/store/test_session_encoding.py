"""Session files written fast: compact while streaming, indented once complete, the
timeline encoded incrementally, and ratings merged from disk only when the file changed."""

from __future__ import annotations

import json
import random

from workbench.core.record import ModelRun
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session, SessionStore, encode_session


def _session(chunks: int = 50, seed: int = 1) -> Session:
    rng = random.Random(seed)
    pieces = ["tok ", 'q"uote', "back\\slash", "é ü 漢字", "\n", "\t", "\x00nul", "😀", ""]
    runs = []
    for name in ("a", "b"):
        timeline = [(rng.random() * 10, rng.choice(pieces)) for _ in range(chunks)]
        text = "".join(piece for _, piece in timeline)
        runs.append(ModelRun(model=name, text=text, chunks=timeline))
    return Session(id="20260101-000000-abcdef", created="now", mode="chat", prompt="p", runs=runs)


def _plain(session: Session) -> dict:
    return json.loads(json.dumps(session.to_dict(), ensure_ascii=False))


def test_encoding_equals_json_of_to_dict_both_forms():
    session = _session()
    for compact in (True, False):
        payload = encode_session(session.to_dict(), compact=compact)
        assert json.loads(payload) == _plain(session)
    indented = encode_session(session.to_dict()).decode()
    assert "\n    [" in indented  # one chunk a line, readable and diffable
    assert "\n" not in encode_session(session.to_dict(), compact=True).decode()


def test_store_writes_compact_while_streaming_then_indented(tmp_path):
    store = SessionStore(tmp_path)
    session = _session()
    path = store.save(session)
    assert json.loads(path.read_bytes()) == _plain(session)
    assert b"\n" not in path.read_bytes()
    for run in session.runs:  # the runner appends; a save encodes only the new chunks
        run.chunks.extend((20.0 + n, f"more {n}") for n in range(30))
    store.save(session)
    assert json.loads(path.read_bytes()) == _plain(session)
    session.runs[0].chunks = session.runs[0].chunks[:10]  # a new timeline: encoded again
    store.save(session)
    assert json.loads(path.read_bytes()) == _plain(session)
    session.complete = True
    store.save(session)
    assert json.loads(path.read_bytes()) == _plain(session)
    assert path.read_text().startswith("{\n")
    assert store.load(session.id).runs[1].text == session.runs[1].text


def test_recorder_reads_the_file_back_only_when_someone_else_changed_it(tmp_path, monkeypatch):
    store = SessionStore(tmp_path)
    recorder = SessionRecorder(store, _session())
    loads = []
    real_load = store.load
    monkeypatch.setattr(store, "load", lambda ref: loads.append(ref) or real_load(ref))
    recorder.save()
    recorder.save()
    assert loads == []  # the file is as this recorder wrote it
    score = {"id": "s1", "model": "a", "score": 4, "tags": [], "note": ""}
    on_disk = real_load(recorder.session.id)
    on_disk.ratings["scores"].append(score)
    store.save(on_disk)  # another window rates the answer meanwhile
    recorder.save(complete=True)
    assert len(loads) == 1
    assert real_load(recorder.session.id).ratings["scores"] == [score]


def test_recorder_encodes_new_chunks_between_saves(tmp_path, monkeypatch):
    """Between saves a recorder encodes the chunks that came (a little at a time, not
    all at the save); the file is the same as if the save had encoded them all."""
    import workbench.store.sessions as sessions
    from workbench.core.events import Delta

    clock = [0.0]
    monkeypatch.setattr(sessions.time, "monotonic", lambda: clock[0])
    store = SessionStore(tmp_path)
    session = _session()
    recorder = SessionRecorder(store, session, interval=10.0)
    ahead = []
    real = store.encode_ahead
    monkeypatch.setattr(store, "encode_ahead", lambda s: ahead.append(1) or real(s))
    for step in range(1, 10):  # nine tenths of the interval: encoded ahead, not saved
        clock[0] = float(step)
        for run in session.runs:
            run.chunks.append((30.0 + step, f"step {step}"))
        recorder(Delta("a", "x", 0.0))
    assert len(ahead) == 9
    assert json.loads(recorder.path.read_bytes()) != _plain(session)
    clock[0] = 10.0
    recorder(Delta("a", "x", 0.0))  # the interval since the last save: saved
    assert recorder.wait_written(timeout=60)
    assert json.loads(recorder.path.read_bytes()) == _plain(session)
    recorder.save(complete=True)
    assert json.loads(recorder.path.read_bytes()) == _plain(session)
    assert session.id not in store._timelines  # a complete session's rows are let go
