"""Shared fixtures: a session store on tmp_path, scripted backends, the bundled models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workbench.models.backends import base
from workbench.models.backends.base import ProgressCallback, register_backend
from workbench.models.backends.scripted import ScriptedBackend
from workbench.models.config import Config, ModelSpec, load_config
from workbench.models.request import Chunk, Request
from workbench.store.sessions import SessionStore

DEFAULT_TEXT = "one two three four five six seven eight nine ten"


@pytest.fixture
def tmp_sessions(tmp_path: Path) -> SessionStore:
    """An empty session store in a fresh folder."""
    return SessionStore(tmp_path / "sessions")


# --- scripted backends -----------------------------------------------------------------


@dataclass
class Script:
    """How one scripted model behaves."""

    text: str = DEFAULT_TEXT
    #: Seconds before each piece (a piece is a word with its trailing space).
    delay: float = 0.0
    #: Raise the scripted BackendError after this many pieces.
    fail_after: int | None = None
    load_delay: float = 0.0
    #: Raised from ``load`` (e.g. a ModelLoadError).
    load_error: BaseException | None = None
    #: Raised from ``stream`` after ``error_after`` pieces (e.g. a RuntimeError).
    error: BaseException | None = None
    error_after: int = 0
    #: A fake local model: takes part in the runner's CPU thread budget.
    local: bool = False


@dataclass
class Activity:
    """What the scripted models did, across all of them, in order."""

    #: Threads of each model whose stream is running now (None for remote models).
    running: dict[str, int | None] = field(default_factory=dict)
    max_running: int = 0
    max_thread_sum: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)

    def start(self, name: str, threads: int | None) -> None:
        self.running[name] = threads
        self.log.append(("start", name))
        self._note()

    def end(self, name: str) -> None:
        self.running.pop(name, None)
        self.log.append(("end", name))

    def threads(self, name: str, threads: int) -> None:
        if name in self.running:
            self.running[name] = threads
            self._note()

    def _note(self) -> None:
        self.max_running = max(self.max_running, len(self.running))
        total = sum(t or 0 for t in self.running.values())
        self.max_thread_sum = max(self.max_thread_sum, total)


class RecordingScripted(ScriptedBackend):
    """The scripted backend plus fault injection and a record of what it was asked."""

    def __init__(self, spec: ModelSpec, script: Script, activity: Activity) -> None:
        super().__init__(
            spec,
            text=script.text,
            delay=script.delay,
            fail_after=script.fail_after,
            load_delay=script.load_delay,
        )
        self.script = script
        self.activity = activity
        self.requests: list[Request] = []
        self.threads_given: list[int | None] = []
        self.set_threads_calls: list[int] = []
        self.load_calls = 0

    async def load(self, progress: ProgressCallback) -> None:
        self.load_calls += 1
        if self.script.load_error is not None:
            progress(0.0)
            raise self.script.load_error
        await super().load(progress)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        self.threads_given.append(request.threads)
        self.activity.start(self.spec.name, request.threads)
        try:
            count = 0
            async for chunk in super().stream(request):
                if self.script.error is not None and count >= self.script.error_after:
                    raise self.script.error
                yield chunk
                count += 1
        finally:
            self.activity.end(self.spec.name)

    async def set_threads(self, threads: int) -> None:
        self.set_threads_calls.append(threads)
        self.activity.threads(self.spec.name, threads)


class FakeLocalScripted(RecordingScripted):
    """A scripted model that says it runs on this machine's CPU."""

    local = True


class ScriptedModels:
    """Makes specs of kind "scripted" and remembers the backend built for each."""

    default_text = DEFAULT_TEXT

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.backends: dict[str, RecordingScripted] = {}
        self.activity = Activity()

    def spec(self, name: str, **script: object) -> ModelSpec:
        """A model ``name`` that behaves as ``script`` says (see ``Script``)."""
        self.scripts[name] = Script(**script)  # type: ignore[arg-type]
        return ModelSpec(name=name, backend="scripted", origin="test")

    def factory(self, spec: ModelSpec) -> RecordingScripted:
        script = self.scripts.get(spec.name, Script())
        cls = FakeLocalScripted if script.local else RecordingScripted
        backend = cls(spec, script, self.activity)
        self.backends[spec.name] = backend
        return backend


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedModels:
    """Registers the "scripted" backend kind for this test only."""
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    models = ScriptedModels()
    register_backend("scripted", models.factory)
    return models


# --- the bundled models ----------------------------------------------------------------


@pytest.fixture(scope="session")
def model_cache(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Path]:
    """A cache folder for assembled GGUFs, shared by every test (and kept between runs)."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("workbench-models") if cache else tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_CACHE", str(folder))
        yield Path(folder)


@pytest.fixture
def bundled(model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The configuration with no file at all: the two bundled demo models."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return load_config(None, cwd=tmp_path)
