"""Bad files: generated session, index and config files that are truncated, of the wrong
types, of unknown versions, nested 100,000 deep, huge or not UTF-8.

Promises: loading raises only ``SessionError`` or ``ConfigError`` (never another
exception), with one short message that names the file; a session that does load
is safe to list, export and save; and a bad file takes no longer to refuse than
a good file of the same size takes to load (a generous factor), well under a second.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from bad_file_strategies import CONFIG, JSON_VALUES, damaged_bytes, mutated, toml_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import current_test, figure

import workbench.models.presets  # noqa: F401 - imported on a config's first model: not a load's time
from workbench.core.record import ModelRun
from workbench.errors import ConfigError, SessionError
from workbench.models.config import load_config, parse_config
from workbench.models.request import Request, Sampling, ServerTimings
from workbench.store.export import FORMATS, export
from workbench.store.sessions import (
    INDEX_NAME,
    MAX_SESSION_BYTES,
    Session,
    SessionStore,
    SessionSummary,
    parse_session,
)

EXAMPLES = settings(
    max_examples=300,
    database=None,  # nothing written into the work tree
    deadline=None,  # timed by the tests themselves, against a good file
    derandomize=True,  # the same examples in CI as here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: A bad file may take this many times a good file of its size, plus a fixed allowance
#: for the noise of a busy machine (2 cores shared with other test runs); and a file of an
#: ordinary size never a second.
FACTOR, ALLOWANCE_S, CEILING_S = 20.0, 0.2, 1.0
MESSAGE_MAX = 600


def good_session(prompt: str = "Write a Python function is_prime(n).") -> Session:
    runs = []
    for model in ("smollm2", "gemma3"):
        runs.append(
            ModelRun(
                model=model,
                identity={"name": model, "backend": "llamacpp", "package": f"pkg-{model}"},
                state="done",
                conversation=[{"role": "user", "content": prompt}],
                text="def is_prime(n):\n    return n > 1  # ✓\n",
                chunks=[(0.1, "def is_prime(n):\n"), (0.2, "    return n > 1  # ✓\n")],
                first_token_s=0.1,
                last_token_s=0.2,
                total_s=0.25,
                load_s=1.0,
                threads=1,
                prompt_tokens=12,
                output_tokens=9,
                usage_source="llama.cpp tokenizer",
                finish_reason="stop",
                timings=ServerTimings("llama.cpp perf", 12, 5.0, 8, 40.0),
                info={"threads_changed": [[0.1, 2]], "template": "gguf"},
            )
        )
    session = Session.start(
        Request.chat(prompt, sampling=Sampling(max_tokens=16)), schedule="parallel", runs=runs
    )
    session.ratings["votes"].append(
        {"id": "v1", "a": "smollm2", "b": "gemma3", "outcome": "a", "tags": [], "at": 1.0}
    )
    session.ratings["scores"].append(
        {"id": "s1", "model": "gemma3", "score": 4, "tags": ["py"], "note": "", "at": 1.0}
    )
    session.tags = ["demo"]
    session.complete = True
    return session


GOOD = good_session().to_dict()
GOOD_BYTES = json.dumps(GOOD, ensure_ascii=False, indent=1).encode()


class Clock:
    """Times against a good file of the same size (measured once per power-of-two size)."""

    def __init__(self, good_file, load) -> None:
        self._good_file, self._load = good_file, load
        self._good: dict[int, float] = {}
        self.checked = 0
        #: (ratio to a good file, which file, the ratio its bound allowed)
        self.worst = (0.0, "", 0.0)

    def good_time(self, size: int) -> float:
        bucket = 1 << max(size, 1024).bit_length()  # the next power of two
        if bucket not in self._good:
            good = self._good_file(bucket)
            self._good[bucket] = min(_timed(self._load, good)[1] for _ in range(3))
        return self._good[bucket]

    def check(self, elapsed: float, size: int, what: str) -> None:
        good = self.good_time(size)
        bound = FACTOR * good + ALLOWANCE_S
        if good < ALLOWANCE_S:  # a file of an ordinary size: well under a second, too
            bound = min(bound, CEILING_S)
        assert elapsed <= bound, (what, elapsed, good)
        self.checked += 1
        if good >= 0.001 and elapsed / good > self.worst[0]:  # timer noise below that
            self.worst = (elapsed / good, what, bound / good)


def _good_session_file(size: int) -> bytes:
    return json.dumps(good_session("x" * max(size - len(GOOD_BYTES), 0)).to_dict()).encode()


def _timed(function, *args):
    started = time.perf_counter()
    try:
        return function(*args), time.perf_counter() - started
    except BaseException as exc:
        exc.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
        raise


SESSION_CLOCK = Clock(_good_session_file, lambda raw: parse_session(raw, "good.json"))


def load_session(raw: bytes, name: str = "bad.json") -> tuple[Session | None, float]:
    """Parse ``raw``: a Session that is safe to use, or None after one clear SessionError;
    and the time it took."""
    try:
        session, elapsed = _timed(parse_session, raw, name)
    except SessionError as exc:
        SESSION_CLOCK.check(exc.elapsed, len(raw), name)  # type: ignore[attr-defined]
        assert name in exc.message
        assert len(exc.message) < MESSAGE_MAX, exc.message[:200]
        return None, exc.elapsed  # type: ignore[attr-defined]
    SESSION_CLOCK.check(elapsed, len(raw), name)
    # What loads must be safe to show, list, export and save again.
    SessionSummary.of(session, Path(name))
    for fmt in FORMATS:
        export([session], fmt)
    again = json.dumps(session.to_dict(), ensure_ascii=False).encode("utf-8")
    assert parse_session(again, name).id == session.id
    return session, elapsed


# --- session files ------------------------------------------------------------------------


@EXAMPLES
@given(mutated(GOOD))
def test_session_with_fields_of_the_wrong_type_or_missing(document):
    load_session(json.dumps(document, ensure_ascii=False).encode())


@EXAMPLES
@given(damaged_bytes(GOOD_BYTES))
def test_session_truncated_flipped_or_not_utf8(raw):
    load_session(raw)


@EXAMPLES
@given(JSON_VALUES)
def test_session_that_is_any_json_value(value):
    load_session(json.dumps(value).encode())


@EXAMPLES
@given(
    st.one_of(
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=False),
        st.text(max_size=5),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_session_of_an_unknown_schema_version(version):
    document = dict(GOOD, schema_version=version)
    session, _ = load_session(json.dumps(document).encode(), "version.json")
    assert (session is not None) == (type(version) is int and version == 1)


DEEP = 100_000


def made(value):
    """A file's content; the 10 MB ones are made when their test runs, not at import."""
    return value() if callable(value) else value


def deep(opening: str, closing: str, inner: str = "1") -> str:
    return opening * DEEP + inner + closing * DEEP


EXPLICIT = {
    "top-level-lists": deep("[", "]").encode(),
    "top-level-objects": deep('{"a":', "}").encode(),
    "deep-in-run-info": json.dumps(GOOD)
    .replace('"info": {', '"info": {"deep": ' + deep("[", "]") + ",", 1)
    .encode(),
    "deep-in-ratings": json.dumps(GOOD)
    .replace('"votes": [', '"votes": [' + deep('{"a":', "}") + ",", 1)
    .encode(),
    "deep-but-within-the-parser": json.dumps(GOOD)
    .replace('"info": {', '"info": {"deep": ' + "[" * 900 + "]" * 900 + ",", 1)
    .encode(),
    "10-mb-prompt-truncated": lambda: json.dumps(good_session("p" * 10_000_000).to_dict()).encode()[
        :-50
    ],
    "10-mb-of-opening-brackets": lambda: b"[" * 10_000_000,
    "10-mb-string-of-the-wrong-type": lambda: json.dumps(
        dict(
            GOOD,
            runs=[
                dict(GOOD["runs"][0], output_tokens=None, usage={"output_tokens": "9" * 10_000_000})
            ],
        )
    ).encode(),
    "invalid-utf8-in-the-middle": GOOD_BYTES.replace("✓".encode(), b"\xe2\x9c"),
    "utf16": json.dumps(GOOD).encode("utf-16"),
    "lone-surrogate-escape": json.dumps(GOOD).replace("is_prime", "is_\\ud800prime", 1).encode(),
    "nul-bytes": b"\x00" * 1000,
    "empty": b"",
    "turn-of-infinity": json.dumps(dict(GOOD, turn=float("inf"))).encode(),
}


@pytest.mark.parametrize("name", list(EXPLICIT))
def test_session_explicit_bad_file(name):
    raw = made(EXPLICIT[name])
    session, elapsed = load_session(raw, f"{name}.json")
    figure(
        current_test(),
        f"{len(raw):,} B: {'loaded' if session else 'SessionError'} in {elapsed * 1000:.1f} ms "
        f"(a good file of that size: {SESSION_CLOCK.good_time(len(raw)) * 1000:.1f} ms)",
    )


def test_a_session_file_too_big_is_refused_without_reading_it(tmp_sessions):
    tmp_sessions.root.mkdir(parents=True)
    path = tmp_sessions.root / "20260101-000000-000000.json"
    with open(path, "wb") as handle:
        handle.truncate(MAX_SESSION_BYTES + 1)  # sparse: nothing to read, only a size
    started = time.perf_counter()
    with pytest.raises(SessionError, match="larger than 64 MiB"):
        tmp_sessions.load(path.stem)
    assert time.perf_counter() - started < 0.1


def test_a_folder_of_bad_files_gives_one_message_each(tmp_sessions):
    tmp_sessions.root.mkdir(parents=True)
    good = [good_session(f"prompt {n}") for n in range(2)]
    for session in good:
        tmp_sessions.save(session)
    for name, raw in EXPLICIT.items():
        (tmp_sessions.root / f"{name}.json").write_bytes(made(raw))
    started = time.perf_counter()
    summaries, errors = tmp_sessions.list()
    elapsed = time.perf_counter() - started
    loaded = {s.id for s in summaries}
    assert {s.id for s in good} <= loaded
    bad_names = {f"{n}.json" for n in EXPLICIT}
    named = [next(n for n in bad_names if n in e.message) for e in errors]
    assert len(named) == len(set(named))  # one message per file
    assert set(named) | {f"{s.path.rsplit('/', 1)[-1]}" for s in summaries} >= bad_names
    # Listing again reads nothing: the index says the same.
    again, errors_again = tmp_sessions.list()
    assert [s.id for s in again] == [s.id for s in summaries]
    assert [e.message for e in errors_again] == [e.message for e in errors]
    figure(
        current_test(),
        f"{len(EXPLICIT)} broken or odd files among 2 good: {len(errors)} unreadable, "
        f"{len(errors)} messages (one per file, each naming it); "
        f"listed in {elapsed * 1000:.0f} ms",
    )


# --- the index ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[SessionStore, dict]:
    """A store with two good files and a bad one, and the index it wrote."""
    store = SessionStore(tmp_path_factory.mktemp("indexed") / "sessions")
    for n in range(2):
        store.save(good_session(f"prompt {n}"))
    (store.root / "broken.json").write_bytes(GOOD_BYTES[:100])
    store.list()
    return store, json.loads((store.root / INDEX_NAME).read_bytes())


@EXAMPLES
@given(st.data())
def test_index_damaged_in_any_way_is_rebuilt(indexed, data):
    store, index = indexed
    kind = data.draw(st.sampled_from(["mutated", "bytes", "value"]))
    if kind == "mutated":
        raw = json.dumps(data.draw(mutated(index))).encode()
    elif kind == "bytes":
        raw = data.draw(damaged_bytes(json.dumps(index).encode()))
    else:
        raw = json.dumps(data.draw(JSON_VALUES)).encode()
    (store.root / INDEX_NAME).write_bytes(raw)
    started = time.perf_counter()
    summaries, errors = store.list()
    elapsed = time.perf_counter() - started
    assert elapsed < CEILING_S
    expected = {store.path_for(s.id).name for s in summaries}
    assert len(summaries) == 2 and all(Path(s.path).name in expected for s in summaries)
    assert all(Path(s.path).parent == store.root for s in summaries)
    assert len(errors) == 1 and "broken.json" in errors[0].message
    assert len(errors[0].message) < MESSAGE_MAX


def test_index_nested_100000_deep_is_rebuilt(indexed):
    store, _ = indexed
    (store.root / INDEX_NAME).write_bytes(deep('{"files":', "}").encode())
    summaries, errors = store.list()
    assert len(summaries) == 2 and len(errors) == 1


# --- config files -------------------------------------------------------------------------


def check_config(text: str, path: str = "workbench.toml") -> tuple[str, float]:
    """Parse ``text``: "loaded", or one clear ConfigError's message; and the time it took,
    checked against a good file of the same size."""
    started = time.perf_counter()
    try:
        parse_config(text, path)
        outcome = "loaded"
    except ConfigError as exc:
        assert exc.message.startswith(path), exc.message[:200]
        assert len(exc.message) < MESSAGE_MAX, exc.message[:200]
        outcome = f"ConfigError: {exc.message[:70]}"
    elapsed = time.perf_counter() - started
    CONFIG_CLOCK.check(elapsed, len(text.encode()), path)
    return outcome, elapsed


@EXAMPLES
@given(CONFIG)
def test_config_of_wrong_types_and_unknown_keys(data):
    check_config(toml_document(data))


@EXAMPLES
@given(st.text(max_size=300))
def test_config_that_is_any_text(text):
    check_config(text)


GOOD_CONFIG = """\
[defaults]
schedule = "parallel"
[defaults.sampling]
temperature = 0.2
max_tokens = 64

[[models]]
name = "local"
backend = "llamacpp"
path = "models/x.gguf"
[models.sampling]
temperature = 0.1

[[models]]
name = "hosted"
backend = "openai"
url = "http://127.0.0.1:8080/v1"
model = "m"
api_key_env = "MY_KEY"
"""


CONFIG_CLOCK = Clock(
    lambda size: GOOD_CONFIG.replace('model = "m"', 'model = "' + "m" * size + '"'),
    lambda text: parse_config(text, "good.toml"),
)


@EXAMPLES
@given(damaged_bytes(GOOD_CONFIG.encode()))
def test_config_file_truncated_flipped_or_not_utf8(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("config") / "workbench.toml"
    path.write_bytes(raw)
    started = time.perf_counter()
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in exc.message and len(exc.message) < MESSAGE_MAX
    CONFIG_CLOCK.check(time.perf_counter() - started, len(raw), "damaged workbench.toml")


CONFIG_EXPLICIT = {
    "arrays-100000-deep": "x = " + deep("[", "]"),
    "inline-tables-100000-deep": "x = " + deep("{a = ", "}"),
    "10-mb-string-unknown-key": lambda: 'x = "' + "y" * 10_000_000 + '"',
    "10-mb-string-wrong-type": lambda: (
        '[[models]]\nname = "m"\nbackend = "openai"\nn_ctx = "' + "9" * 10_000_000 + '"'
    ),
    "10-mb-model-name-good": lambda: (
        '[[models]]\nname = "'
        + "m" * 10_000_000
        + '"\nbackend = "openai"\nurl = "http://h/v1"\nmodel = "x"\n'
    ),
    "2000-models": "".join(
        f'[[models]]\nname = "m{i}"\nbackend = "ollama"\nurl = "http://h"\nmodel = "x"\n'
        for i in range(2000)
    ),
}


@pytest.mark.parametrize("name", list(CONFIG_EXPLICIT))
def test_config_explicit_bad_file(name):
    text = made(CONFIG_EXPLICIT[name])
    outcome, elapsed = check_config(text)
    good = CONFIG_CLOCK.good_time(len(text.encode()))
    figure(
        current_test(),
        f"{len(text):,} chars: {outcome} in {elapsed * 1000:.0f} ms (a good file of that "
        f"size: {good * 1000:.0f} ms)",
    )


def test_bad_file_timing_summary():
    """The worst ratio of a bad file's load to a good file's of its size is within the
    bound, for sessions and configs; it names those files. It loads the bad files of
    ordinary size itself, so it holds whether or not the tests above ran first."""
    for name, maker in EXPLICIT.items():
        if not callable(maker):  # the 10 MB ones (made by a function) have their own tests
            load_session(maker, f"{name}.json")
    for maker in CONFIG_EXPLICIT.values():
        if not callable(maker):
            check_config(maker)
    assert SESSION_CLOCK.checked >= sum(not callable(m) for m in EXPLICIT.values())
    assert CONFIG_CLOCK.checked >= sum(not callable(m) for m in CONFIG_EXPLICIT.values())
    session_ratio, session_file, _ = SESSION_CLOCK.worst
    config_ratio, config_file, _ = CONFIG_CLOCK.worst
    for ratio, file, allowed in (SESSION_CLOCK.worst, CONFIG_CLOCK.worst):
        assert ratio <= allowed, (file, ratio, allowed)
        assert file or ratio == 0.0  # a ratio is always of a named file
    figure(
        current_test(),
        f"slowest load against a good file of its size (1 ms or more to load): sessions "
        f"{session_ratio:.1f}x "
        f"({session_file}), configs {config_ratio:.1f}x ({config_file}); bound {FACTOR:g}x "
        f"+ {ALLOWANCE_S * 1000:.0f} ms, and under {CEILING_S:g} s for files of ordinary size",
    )
