"""Sessions: one JSON file per run of a prompt, saved atomically as it goes.

A session is saved when its run starts, about every second while it streams,
and when it ends, so a crash loses at most the last second. Loading is strict
(a file that does not parse or has an unknown ``schema_version`` is an error
naming the file) and forgiving (the store lists the good files and reports the
bad ones). A small index makes listing thousands of sessions fast; it can
always be rebuilt from the files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.core.record import ModelRun
from workbench.errors import SessionError, UsageError
from workbench.models.machine import session_facts
from workbench.models.request import Request
from workbench.store.locks import remove_if_free, session_lock

SCHEMA_VERSION = 1
INDEX_NAME = ".index.json"
INDEX_VERSION = 1
#: A recorder encodes the new chunks this many times between two saves (``encode_ahead``).
#: Sessions bigger than this are refused rather than read into memory.
MAX_SESSION_BYTES = 64 * 1024 * 1024
#: A temporary file this old belongs to no live save: its writer died (crash, kill).
STALE_TEMPORARY_S = 3600


def new_session_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class Session:
    id: str
    created: str
    mode: str
    prompt: str
    system: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    schedule: str = "parallel"
    runs: list[ModelRun] = field(default_factory=list)
    #: The session whose conversation this turn continues.
    parent: str | None = None
    #: The session this one re-ran.
    rerun_of: str | None = None
    turn: int = 1
    ratings: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"scores": [], "votes": []}
    )
    tags: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    complete: bool = False

    @classmethod
    def start(
        cls,
        request: Request,
        *,
        schedule: str,
        runs: list[ModelRun],
        parent: Session | None = None,
        rerun_of: str | None = None,
    ) -> Session:
        system = next((m.content for m in request.messages if m.role == "system"), None)
        return cls(
            id=new_session_id(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            mode=request.mode,
            prompt=request.last_user_text,
            system=system,
            sampling=request.sampling.to_dict(),
            schedule=schedule,
            runs=runs,
            parent=parent.id if parent else None,
            rerun_of=rerun_of,
            turn=parent.turn + 1 if parent else 1,
            # CPU, features, llama.cpp build: figures from other hardware never mix silently.
            machine=dict(session_facts()),
        )

    def run(self, model: str) -> ModelRun:
        for run in self.runs:
            if run.model == model:
                return run
        names = ", ".join(r.model for r in self.runs)
        raise UsageError(f"Session {self.id} has no model {model!r} (it has: {names}).")

    @property
    def rated(self) -> bool:
        return bool(self.ratings.get("scores") or self.ratings.get("votes"))

    def to_dict(self, *, chunks: bool = True) -> dict[str, Any]:
        """The session file's content (``chunks=False``: the runs' timelines left empty)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "created": self.created,
            "mode": self.mode,
            "prompt": self.prompt,
            "system": self.system,
            "sampling": self.sampling,
            "schedule": self.schedule,
            "parent": self.parent,
            "rerun_of": self.rerun_of,
            "turn": self.turn,
            "complete": self.complete,
            "machine": self.machine,
            "tags": self.tags,
            "ratings": self.ratings,
            "runs": [run_dict(run, chunks=chunks) for run in self.runs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild a saved session; a field of the wrong type raises ``TypeError``."""
        ratings = data.get("ratings") or {}
        if not isinstance(ratings, dict):
            raise TypeError("'ratings' must be an object")
        scores = ratings.get("scores") or []
        votes = ratings.get("votes") or []
        if not all(
            isinstance(x, list) and all(isinstance(i, dict) for i in x) for x in (scores, votes)
        ):
            raise TypeError("ratings must be lists of objects")
        for vote in votes:
            _check_vote(vote)
        for score in scores:
            _check_score(score)
        runs = data.get("runs") or []
        if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
            raise TypeError("'runs' must be a list of objects")
        tags = data.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise TypeError("'tags' must be a list of strings")
        for key in ("id", "created", "mode", "prompt", "schedule"):
            if key in data and not isinstance(data[key], str):
                raise TypeError(f"{key!r} must be a string")
        system = data.get("system")
        if system is not None and not isinstance(system, str):
            raise TypeError("'system' must be a string")
        return cls(
            id=data["id"],
            created=data["created"],
            mode=data.get("mode", "chat"),
            prompt=data.get("prompt", ""),
            system=system,
            sampling=dict(data.get("sampling") or {}),
            schedule=data.get("schedule", "parallel"),
            runs=[ModelRun.from_dict(run) for run in runs],
            parent=data.get("parent"),
            rerun_of=data.get("rerun_of"),
            turn=int(data.get("turn", 1)),
            ratings={"scores": list(scores), "votes": list(votes)},
            tags=list(tags),
            machine=dict(data.get("machine") or {}),
            complete=bool(data.get("complete", True)),
        )


def _check_rating(item: dict[str, Any], kind: str) -> None:
    """The fields every vote and score has; the leaderboard and exports read them all."""
    if not isinstance(item.get("id", ""), str):
        raise TypeError(f"a {kind}'s 'id' must be a string")
    at = item.get("at", 0.0)
    if isinstance(at, bool) or not isinstance(at, int | float) or at != at:
        raise TypeError(f"a {kind}'s 'at' must be a time in seconds")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"a {kind}'s 'tags' must be a list of strings")


def _check_vote(vote: dict[str, Any]) -> None:
    from workbench.store.leaderboard import OUTCOMES

    _check_rating(vote, "vote")
    a, b = vote.get("a"), vote.get("b")
    if not (isinstance(a, str) and isinstance(b, str) and a != b):
        raise TypeError("a vote's 'a' and 'b' must be the names of two models")
    if vote.get("outcome") not in OUTCOMES:
        raise TypeError(f"a vote's 'outcome' must be one of {', '.join(OUTCOMES)}")


def _check_score(score: dict[str, Any]) -> None:
    _check_rating(score, "score")
    if not isinstance(score.get("model"), str):
        raise TypeError("a score's 'model' must be a model's name")
    value = score.get("score")
    if isinstance(value, bool) or value not in (1, 2, 3, 4, 5):
        raise TypeError("a score's 'score' must be a whole number from 1 to 5")
    if not isinstance(score.get("note", ""), str):
        raise TypeError("a score's 'note' must be a string")


# Upgrades from older schema versions: version -> function to the next version.
_UPGRADES: dict[int, Any] = {}


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _encodable(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def parse_session(raw: bytes, name: str) -> Session:
    """Parse a session file's bytes; any problem is a ``SessionError`` naming ``name``."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SessionError(f"{name}: not valid UTF-8.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SessionError(f"{name}: not valid JSON ({str(exc)[:120]}).") from None
    if not isinstance(data, dict):
        raise SessionError(f"{name}: expected a JSON object at the top.")
    if _SURROGATE_ESCAPE.search(raw) and not _encodable(data):
        # JSON can escape half of a UTF-16 pair; such text cannot be saved or shown.
        raise SessionError(f"{name}: holds text that is not valid Unicode (a lone surrogate).")
    version = data.get("schema_version")
    if version is None:
        raise SessionError(f"{name}: no schema_version.")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SessionError(f"{name}: schema_version must be a whole number, not {version!r:.40}.")
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{name}: schema_version {version} is newer than this workbench "
            f"understands ({SCHEMA_VERSION}); upgrade workbench to open it."
        )
    while version < SCHEMA_VERSION:
        if version not in _UPGRADES:
            raise SessionError(f"{name}: unknown schema_version {version}.")
        data = _UPGRADES[version](data)
        version += 1
    try:
        return Session.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise SessionError(f"{name}: a field is missing or has the wrong type ({exc}).") from None


def encode_session(
    data: dict[str, Any], *, compact: bool = False, rows: list[list[str]] | None = None
) -> bytes:
    """A session's JSON: indented for people and diffs, or ``compact`` (while streaming).

    Each chunk of a timeline is written on one line of its own, by the C string
    encoder: ``json.dumps`` with ``indent`` is the pure-Python encoder, several
    times slower, and a long answer has tens of thousands of chunks. ``rows`` are
    the runs' chunk rows encoded already (``chunk_row``); else ``data``'s are used.
    """
    runs = data.get("runs")
    if rows is None:
        if not isinstance(runs, list) or not all(
            isinstance(run, dict) and isinstance(run.get("chunks"), list) for run in runs
        ):
            return json.dumps(data, ensure_ascii=False, indent=None if compact else 1).encode()
        rows = [[_row(chunk) for chunk in run["chunks"]] for run in runs]
    runs = runs if isinstance(runs, list) else []
    token = secrets.token_hex(8)
    marks = [f"\x00chunks-{index}-{token}" for index in range(len(runs))]
    skeleton = {
        **data,
        "runs": [{**run, "chunks": mark} for run, mark in zip(runs, marks, strict=True)],
    }
    if compact:
        text = json.dumps(skeleton, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(skeleton, ensure_ascii=False, indent=1)
    for mark, run_rows in zip(marks, rows, strict=True):
        if compact:
            body = "[" + ",".join(run_rows) + "]"
        else:
            body = "[\n    " + ",\n    ".join(run_rows) + "\n   ]" if run_rows else "[]"
        text = text.replace(json.dumps(mark), body, 1)
    return text.encode("utf-8")


def chunk_row(t: float, text: str) -> str:
    """One chunk of a timeline as ``ModelRun.to_dict`` writes it, encoded: ``[t,"text"]``."""
    return _row([round(t, 6), text])


def _row(chunk: Any) -> str:
    if isinstance(chunk, list) and len(chunk) == 2:
        t, text = chunk
        if type(t) is float and math.isfinite(t) and type(text) is str:
            # What json.dumps writes (float repr, the C string encoder), without its overhead.
            return f"[{t!r},{_string(text)}]"
    return json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))


_string = json.encoder.encode_basestring  # the C function when there is one (ensure_ascii=False)


class _Timeline:
    """One run's chunks encoded as JSON rows, kept between saves of a streaming session:
    the runner only appends to a timeline, so a save encodes only the new chunks."""

    __slots__ = ("chunks", "rows")

    def __init__(self) -> None:
        self.chunks: list | None = None
        self.rows: list[str] = []

    def update(self, chunks: list[tuple[float, str]]) -> list[str]:
        if chunks is not self.chunks or len(chunks) < len(self.rows):
            self.chunks, self.rows = chunks, []
        rows = self.rows
        rows += [chunk_row(t, text) for t, text in chunks[len(rows) :]]
        return rows


def run_dict(run: ModelRun, *, chunks: bool = True) -> dict[str, Any]:
    """``run.to_dict()``; with ``chunks=False``, its timeline left empty (but its figures
    still computed from the whole timeline), which is much cheaper for a long answer."""
    if chunks or not run.chunks:
        return run.to_dict()
    from workbench.core import metrics

    light = copy.copy(run)
    light.chunks = []
    data = light.to_dict()
    data["figures"] = metrics.figures(run).to_dict()
    return data


def atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the new, never half.

    Temporary file in the same folder, flush, fsync, ``os.replace``, then fsync
    the folder so the rename itself survives a power cut.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass(frozen=True)
class SessionSummary:
    """One line of the sessions list: enough to show and filter without opening the file."""

    id: str
    path: str
    created: str
    mode: str
    first_line: str
    models: tuple[str, ...]
    states: tuple[str, ...]
    rated: bool
    tags: tuple[str, ...]

    @classmethod
    def of(cls, session: Session, path: Path) -> SessionSummary:
        first_line = next((line for line in session.prompt.splitlines() if line.strip()), "")
        return cls(
            id=session.id,
            path=str(path),
            created=session.created,
            mode=session.mode,
            first_line=first_line[:200],
            models=tuple(run.model for run in session.runs),
            states=tuple(run.state for run in session.runs),
            rated=session.rated,
            tags=tuple(session.tags),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "created": self.created,
            "mode": self.mode,
            "first_line": self.first_line,
            "models": list(self.models),
            "states": list(self.states),
            "rated": self.rated,
            "tags": list(self.tags),
        }


class SessionStore:
    """The folder of session files and its index."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        #: The encoded timelines of sessions being recorded (until saved complete).
        self._timelines: dict[str, list[_Timeline]] = {}

    def path_for(self, session_id: str) -> Path:
        return self.root / f"{session_id}.json"

    def save(self, session: Session) -> Path:
        """Write ``session`` atomically: compact while its run streams (saved every
        second or so), indented for people and diffs once it is complete."""
        path = self.path_for(session.id)
        rows = self.encode_ahead(session)
        payload = encode_session(
            session.to_dict(chunks=False), compact=not session.complete, rows=rows
        )
        atomic_write(path, payload)
        return path

    def encode_ahead(self, session: Session) -> list[list[str]]:
        """Encode the chunks ``session``'s runs gained since the last call (or save); return
        every run's rows. A save then encodes only what came after: called between saves
        of a streaming session, this spreads the encoding over small steps."""
        timelines = self._timelines.get(session.id)
        if timelines is None or len(timelines) != len(session.runs):
            timelines = self._timelines[session.id] = [_Timeline() for _ in session.runs]
        rows = [line.update(run.chunks) for line, run in zip(timelines, session.runs, strict=True)]
        if session.complete:
            del self._timelines[session.id]  # a complete session no longer grows
        return rows

    def resolve(self, ref: str) -> Path:
        """A session file's path from a path or an id (or a unique prefix of one)."""
        candidate = Path(ref)
        if candidate.suffix == ".json" and candidate.is_file():
            return candidate
        exact = self.path_for(ref)
        if exact.is_file():
            return exact
        matches = sorted(self.root.glob(f"{ref}*.json")) if self.root.is_dir() else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"{ref!r} matches {len(matches)} sessions; give more of the id.")
        raise UsageError(f"No session {ref!r} in {self.root}.")

    def load(self, ref: str | Path) -> Session:
        path = self.resolve(str(ref))
        try:
            if path.stat().st_size > MAX_SESSION_BYTES:
                raise SessionError(f"{path.name}: larger than {MAX_SESSION_BYTES >> 20} MiB.")
            raw = path.read_bytes()
        except OSError as exc:
            raise SessionError(f"{path.name}: cannot read ({exc.strerror}).") from None
        return parse_session(raw, path.name)

    def locked(self, session_id: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock on one session, across processes (two windows rating at once);
        it leaves no file in the store (``workbench.store.locks``)."""
        return session_lock(self.root, session_id)

    def update(self, ref: str, change: Callable[[Session], None]) -> Session:
        """Load, change and save a session under its lock, so no concurrent change is lost."""
        session_id = self.load(ref).id
        with self.locked(session_id):
            session = self.load(session_id)
            change(session)
            self.save(session)
        return session

    def delete(self, session_id: str) -> None:
        path = self.resolve(session_id)
        with self.locked(path.stem):  # the lock's file goes with it
            path.unlink()

    def files(self) -> Iterator[os.DirEntry[str]]:
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    yield entry

    def list(self) -> tuple[list[SessionSummary], list[SessionError]]:
        """All sessions newest first, and one error per file that could not be read.

        Files unchanged since the index was written (same size and mtime) are
        not opened again; the index is rewritten when anything changed.
        """
        self._sweep_temporaries()
        index_path = self.root / INDEX_NAME
        old = self._read_index(index_path)
        fresh: dict[str, dict[str, Any]] = {}
        summaries: list[SessionSummary] = []
        errors: list[SessionError] = []
        changed = False
        for entry in self.files():
            stat = entry.stat()
            key = [stat.st_size, stat.st_mtime_ns]
            cached = _cached_entry(old.get(entry.name), key, entry.path)
            if cached is not None:
                if isinstance(cached, SessionError):
                    fresh[entry.name] = {"key": key, "error": cached.message}
                    errors.append(cached)
                else:
                    fresh[entry.name] = {"key": key, "summary": cached.to_dict()}
                    summaries.append(cached)
                continue
            changed = True
            try:
                session = self.load(entry.path)
            except SessionError as exc:
                fresh[entry.name] = {"key": key, "error": exc.message}
                errors.append(exc)
                continue
            summary = SessionSummary.of(session, Path(entry.path))
            fresh[entry.name] = {"key": key, "summary": summary.to_dict()}
            summaries.append(summary)
        if changed or set(old) != set(fresh):
            with contextlib.suppress(OSError):
                payload = {"version": INDEX_VERSION, "files": fresh}
                atomic_write(index_path, json.dumps(payload, separators=(",", ":")).encode())
        summaries.sort(key=lambda s: (s.created, s.id), reverse=True)
        return summaries, errors

    def _sweep_temporaries(self) -> None:
        """Remove the temporary files of saves whose writer died before its rename, and
        the lock files earlier versions left behind (when nobody holds them)."""
        if not self.root.is_dir():
            return
        old = time.time() - STALE_TEMPORARY_S
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        if entry.stat().st_mtime < old:
                            os.unlink(entry.path)
                elif entry.name.startswith(".") and entry.name.endswith(".lock"):
                    remove_if_free(Path(entry.path))

    def _read_index(self, path: Path) -> dict[str, dict[str, Any]]:
        """The index's entries, or nothing when it is missing, stale or broken."""
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}


def _cached_entry(entry: Any, key: list[int], path: str) -> SessionSummary | SessionError | None:
    """An index entry for a file unchanged since (same ``key``), or ``None`` to read the file.

    The index is only a cache: an entry of the wrong shape (another version, a
    sync tool's merge, a hand edit) means reading the file again, never a crash.
    The path is the file's own: a folder copied with its index keeps no stale path.
    """
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    error = entry.get("error")
    if isinstance(error, str) and error.startswith(f"{os.path.basename(path)}: "):
        return SessionError(error)
    data = entry.get("summary")
    text = ("id", "path", "created", "mode", "first_line")
    lists = ("models", "states", "tags")
    if (
        not isinstance(data, dict)
        or set(data) != {*text, *lists, "rated"}
        or not all(isinstance(data[name], str) for name in text)
        or not isinstance(data["rated"], bool)
        or not all(
            isinstance(data[name], list) and all(isinstance(item, str) for item in data[name])
            for name in lists
        )
        # A file is named after its session's id; an entry that says otherwise
        # was damaged (or the file was renamed): read the file itself.
        or f"{data['id']}.json" != os.path.basename(path)
    ):
        return None
    return SessionSummary(**{**data, **{name: tuple(data[name]) for name in lists}, "path": path})


def filter_summaries(
    summaries: list[SessionSummary],
    text: str = "",
    *,
    model: str | None = None,
    tag: str | None = None,
) -> list[SessionSummary]:
    """The summaries whose prompt or id contains every word of ``text`` (any case).

    Words of the form ``model:NAME``, ``tag:NAME`` and ``rated:yes|no`` filter
    on those fields, so one search box does it all.
    """
    words = []
    rated: bool | None = None
    for word in text.lower().split():
        key, _, value = word.partition(":")
        if key == "model" and value:
            model = value
        elif key == "tag" and value:
            tag = value
        elif key == "rated" and value in ("yes", "no"):
            rated = value == "yes"
        else:
            words.append(word)
    model = model.lower() if model else None
    tag = tag.lower() if tag else None
    result = []
    for s in summaries:
        haystack = f"{s.first_line} {s.id}".lower()
        if any(word not in haystack for word in words):
            continue
        if model and not any(model in m.lower() for m in s.models):
            continue
        if tag and tag not in (t.lower() for t in s.tags):
            continue
        if rated is not None and s.rated != rated:
            continue
        result.append(s)
    return result
