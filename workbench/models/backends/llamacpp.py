"""Local GGUF models through llama-cpp-python, each in a worker process of its own.

The worker keeps the model loaded between prompts. A llama.cpp abort (a bad
GGUF, GGML_ASSERT, out of memory) or a SIGKILL ends only that worker: the
stream fails with a clear error, partial text stays with the runner, and the
next prompt starts a new worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

from workbench.errors import BackendError, ModelLoadError, TemplateError, WorkerDied
from workbench.models.backends import repack as repack_memory
from workbench.models.backends.base import ProgressCallback
from workbench.models.config import ModelSpec
from workbench.models.request import (
    Chunk,
    Request,
    ServerTimings,
    TextChunk,
    Usage,
)
from workbench.models.settings import preset_name, resolve

# How long a cancelled generation may take to stop before its worker is killed
# (a long prompt being evaluated cannot stop between tokens).
CANCEL_GRACE_S = 3.0
#: An idle worker that does not answer a ping this fast is taken for dead and replaced.
PING_TIMEOUT_S = 5.0
STDERR_TAIL_BYTES = 4000
#: How a worker dies when llama.cpp's repacked CPU kernels fault (AMX on some Xeons).
# Windows has no SIGBUS: only the signals this platform has.
CRASH_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGSEGV", "SIGILL", "SIGBUS") if hasattr(signal, name)
)
#: Names of environment variables that hold secrets (MISTRAL_API_KEY, HF_TOKEN, …).
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


class LlamaCppBackend:
    kind: ClassVar[str] = "llamacpp"
    local: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.info: dict[str, Any] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_path: Path | None = None
        self._lock = asyncio.Lock()
        self._streaming = False
        self._cancel_requested = False
        self._generation = 0
        self._kill_timer: asyncio.TimerHandle | None = None
        #: Said once, with the first answer after a load that fell back (repacking).
        self._notice: str | None = None
        #: The worker said ``ready``. A load cancelled half-way (esc) leaves a worker
        #: that is still loading: the next load starts again rather than take it as loaded.
        self._ready = False

    # -- lifecycle ---------------------------------------------------------

    def model_path(self) -> Path:
        from workbench.models.packages import gguf_for_package
        from workbench.paths import user_cache_dir

        if self.spec.path:
            path = Path(self.spec.path).expanduser()
            if not path.is_file():
                raise ModelLoadError(f"Model file not found: {path}")
            return path
        return gguf_for_package(self.spec.package or "", user_cache_dir() / "models")

    async def load(self, progress: ProgressCallback) -> None:
        async with self._lock:
            if self._proc is not None and self._proc.returncode is None:
                if self._ready:
                    progress(1.0)
                    return
                # Its load was cancelled half-way: without "ready" it has no template or
                # preset, and the rest of its load would count in the next TTFT.
                await self._kill()
            path = await asyncio.to_thread(self.model_path)
            setting = self.spec.llama.repack
            repack = await asyncio.to_thread(repack_memory.resolve, setting)
            try:
                await self._load_worker(path, repack, progress)
            except _RepackCrash as crash:
                if setting is True:
                    raise ModelLoadError(
                        f"llama.cpp could not load {path.name}; its worker process died: "
                        f"{crash.note}. Weight repacking is on (repack = true in "
                        'workbench.toml): set repack = "auto" or false to load without it.'
                    ) from None
                # Repacked kernels crash on some CPUs (AMX): load again without them,
                # say so once, and remember it for this CPU and llama.cpp build.
                await asyncio.to_thread(repack_memory.remember_crash, crash.note)
                self._notice = repack_memory.notice()
                await self._load_worker(path, False, progress)

    async def _load_worker(self, path: Path, repack: bool, progress: ProgressCallback) -> None:
        """Start a worker and load ``path`` in it (the load ends with a warm-up decode)."""
        await self._start_worker()
        await self._send(
            {
                "op": "load",
                "path": str(path),
                "n_ctx": self.spec.n_ctx,
                "chat_template": self.spec.chat_template,
                "stop": list(self.spec.stop),
                "llama": self.spec.llama.to_dict(),
                "repack": repack,
            }
        )
        while True:
            event = await self._receive()
            if event is None:
                code = self._proc.returncode if self._proc is not None else None
                if repack and code is not None and -code in CRASH_SIGNALS:
                    raise _RepackCrash(self._death_note())
                raise ModelLoadError(
                    f"llama.cpp could not load {path.name}; its worker process died: "
                    f"{self._death_note()}"
                )
            if event["ev"] == "progress":
                progress(float(event["p"]))
            elif event["ev"] == "ready":
                self.info = dict(event["info"])
                self._ready = True
                progress(1.0)
                return
            elif event["ev"] == "error":
                await self._kill()
                raise ModelLoadError(f"{path.name}: {event['message']}")

    async def _start_worker(self) -> None:
        if self._stderr_path is not None:  # a dead worker's log: its last words are told
            with contextlib.suppress(OSError):
                self._stderr_path.unlink()
        fd, name = tempfile.mkstemp(prefix=f"workbench-{self.spec.name}-", suffix=".log")
        self._stderr_path = Path(name)
        # The worker parses model files from anywhere: it gets no API keys or tokens.
        env = {name: value for name, value in os.environ.items() if not _SECRET.search(name)}
        env.setdefault("PYTHONUNBUFFERED", "1")
        # On an abort, ggml would run gdb for a backtrace: slow, and its output buries
        # the GGML_ASSERT line that the death note quotes.
        env.setdefault("GGML_NO_BACKTRACE", "1")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "workbench.models.backends.llamacpp_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=fd,
                env=env,
                limit=64 << 20,
                start_new_session=True,  # a Ctrl-C in the terminal is the app's to handle
            )
        finally:
            os.close(fd)

    async def close(self) -> None:
        await self._kill()
        if self._stderr_path is not None:
            with contextlib.suppress(OSError):
                self._stderr_path.unlink()

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        self._ready = False
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()

    # -- generation --------------------------------------------------------

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        self._cancel_requested = False
        self._generation += 1
        self._streaming = True  # from here a cancel counts, even while a worker restarts
        try:
            if self._proc is not None and self._proc.returncode is None and not await self._alive():
                await self._kill()  # it died idle, so recently that its exit is not seen yet
            if self._proc is None or self._proc.returncode is not None or not self._ready:
                await self.load(lambda _p: None)  # a dead worker restarts for the next prompt
        except BaseException:
            self._streaming = False
            raise
        if self._cancel_requested:
            self._streaming = False
            return
        # The runner sends every value resolved; a direct caller gets the same rules.
        sampling = resolve(
            request.sampling,
            model=self.spec.sampling,
            preset=preset_name(self.spec, self.info),
            draw_seed=False,  # the runner draws (and records) a missing seed
        ).sampling
        command = {
            "op": "generate",
            "id": self._generation,
            "mode": request.mode,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "prompt": request.prompt,
            "sampling": sampling.to_dict(),
            "threads": request.threads,
            "stop": list(request.stop),
            "cold": request.cold,
        }
        async with self._lock:
            ended = False
            try:
                await self._send(command)
                async for chunk in self._events(self._generation):
                    yield chunk
                ended = True
            finally:
                if not ended and not self._cancel_requested:
                    # Abandoned (the reader stopped): the worker need not go on.
                    with contextlib.suppress(BackendError):
                        await self._send({"op": "cancel", "id": self._generation})
                self._streaming = False
                if self._kill_timer is not None:
                    self._kill_timer.cancel()
                    self._kill_timer = None

    async def _events(self, generation: int) -> AsyncIterator[Chunk]:
        while True:
            event = await self._receive()
            if event is None:
                if self._cancel_requested:
                    return  # killed after the grace period of a cancel: still a cancel
                raise WorkerDied(f"The model's worker process ended: {self._death_note()}")
            kind = event["ev"]
            if event.get("g") not in (None, generation):
                continue  # the rest of an earlier prompt that was abandoned
            if kind == "text":
                for text, stamp in event["p"]:
                    yield TextChunk(text, stamp)
            elif kind == "done":
                if event["finish_reason"] == "cancelled":
                    return
                yield self._usage(event)
                return
            elif kind == "error":
                error_type = TemplateError if event["type"] == "TemplateError" else BackendError
                raise error_type(event["message"], title=event.get("title"))

    def _usage(self, event: dict[str, Any]) -> Usage:
        perf = event["perf"]
        info = dict(self.info)
        if self._notice:
            info["notice"], self._notice = self._notice, None
        if event["output_tokens"] == 0:
            info["warning"] = (
                "The model ended at once without any text. "
                f"Template: {self.info.get('template')}. Try completion mode, or set "
                "chat_template in workbench.toml."
            )
        if event.get("threads") is not None:
            info["worker_threads"] = event["threads"]  # what it ended with
        return Usage(
            prompt_tokens=event["prompt_tokens"],
            output_tokens=event["output_tokens"],
            finish_reason=event["finish_reason"],
            source="llama.cpp tokenizer",
            timings=ServerTimings(source="llama.cpp perf", **perf),
            info=info,
            cached_prompt_tokens=_cached(event),
        )

    async def _alive(self) -> bool:
        """Whether the idle worker still answers a ping.

        A worker killed while idle (by the user, out of memory) is only seen dead
        once the event loop learns of its exit, some milliseconds later; a prompt
        sent in between would fail instead of starting a new worker.
        """
        async with self._lock:
            try:
                await self._send({"op": "ping"})
                while True:
                    event = await asyncio.wait_for(self._receive(), PING_TIMEOUT_S)
                    if event is None:
                        return False
                    if event["ev"] == "pong":
                        return True
            except (WorkerDied, TimeoutError):
                return False

    async def set_threads(self, threads: int) -> None:
        if self._streaming:
            with contextlib.suppress(BackendError):
                # Tagged: it may reach the worker before this generation's command.
                await self._send({"op": "threads", "n": threads, "id": self._generation})

    async def cancel(self) -> None:
        if not self._streaming:
            return
        self._cancel_requested = True
        with contextlib.suppress(BackendError):
            await self._send({"op": "cancel", "id": self._generation})
        # A long prompt evaluation cannot stop between tokens: kill the worker then.
        # The timer belongs to this generation and is cancelled when it ends.
        if self._kill_timer is None:
            loop = asyncio.get_running_loop()
            self._kill_timer = loop.call_later(CANCEL_GRACE_S, self._kill_if_still_streaming)

    def _kill_if_still_streaming(self) -> None:
        self._kill_timer = None
        if self._streaming and self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()  # SIGKILL; TerminateProcess on Windows

    # -- pipe --------------------------------------------------------------

    async def _send(self, command: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise WorkerDied(f"The model's worker process is not running: {self._death_note()}")
        try:
            proc.stdin.write((json.dumps(command) + "\n").encode())
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            # The pipe broke as the worker died; its exit status says how.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
            raise WorkerDied(f"The model's worker process ended: {self._death_note()}") from None

    async def _receive(self) -> dict[str, Any] | None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        line = await proc.stdout.readline()
        if not line:
            await proc.wait()
            return None
        return json.loads(line)

    def _death_note(self) -> str:
        proc = self._proc
        code = proc.returncode if proc is not None else None
        if code is None:
            reason = "it is not running"
        elif code < 0:
            reason = f"killed by signal {signal.Signals(-code).name}"
        else:
            reason = f"exit status {code}"
        tail = ""
        if self._stderr_path is not None:
            with contextlib.suppress(OSError):
                data = self._stderr_path.read_bytes()[-STDERR_TAIL_BYTES:]
                lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
                tail = " | ".join(lines[-3:])
        return f"{reason}" + (f" (last words: {tail})" if tail else "")


class _RepackCrash(Exception):
    """The worker died by a crash signal while loading with weight repacking on."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


def _cached(event: dict[str, Any]) -> int | None:
    """Prompt tokens reused from the KV cache: the prompt less what was evaluated."""
    evaluated = event.get("prompt_evaluated")
    if not isinstance(evaluated, int) or not isinstance(event.get("prompt_tokens"), int):
        return None
    return max(0, event["prompt_tokens"] - evaluated)
