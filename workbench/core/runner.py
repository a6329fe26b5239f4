"""Fan one prompt out to N models at once, time every chunk, share the CPU fairly.

The runner owns the clock (``time.monotonic``), the thread budget for local
models and the events. A failure or a cancel of one model never stops the
others: each model runs in its own task, and every exception ends as that
model's ``Failed`` event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from workbench.core.admission import Admission, Residents, plan_memory
from workbench.core.cpu import CoreWatch, available_cores
from workbench.core.events import (
    Cancelled,
    Delta,
    Event,
    Failed,
    Finished,
    Loading,
    Notice,
    Queued,
    Started,
    Thinking,
    ThreadsChanged,
)
from workbench.core.record import ModelRun
from workbench.errors import BackendError, WorkbenchError
from workbench.models.backends.base import Backend, create_backend
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling, TextChunk, ThinkingChunk, Usage
from workbench.models.settings import preset_name, resolve

Listener = Callable[[Event], None]


def split_threads(cores: int, count: int) -> list[int]:
    """Split ``cores`` among ``count`` models as evenly as possible (each gets ≥ 1)."""
    if count <= 0:
        return []
    base, extra = divmod(cores, count)
    return [max(1, base + (1 if i < extra else 0)) for i in range(count)]


class ThreadBudget:
    """Never more busy llama.cpp threads than cores.

    At most ``cores`` local models generate at once and the cores are split
    among them. Models of one run start together: the gate opens once every
    local model has loaded (or failed), so nobody starts with all the cores
    and then has to share them in the middle of a prompt (a prompt cannot
    change threads until it is evaluated, and spinning ggml threads make
    oversubscription several times slower). When a model finishes, the others
    get its cores at their next token. ``measure``, when given, says at the
    first admission how many cores are free now (see ``workbench.core.cpu``).
    """

    def __init__(
        self,
        cores: int,
        emit: Listener,
        expected: int = 0,
        measure: Callable[[], int] | None = None,
    ) -> None:
        self.cores = max(1, cores)
        self._measure = measure
        self._expected = expected
        self._arrived = 0
        self._waiting: list[tuple[str, Backend]] = []
        self._active: dict[str, Backend] = {}
        self._shares: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._emit = emit

    async def acquire(self, name: str, backend: Backend) -> int:
        async with self._changed:
            self._arrived += 1
            self._waiting.append((name, backend))
            self._changed.notify_all()
            # Whoever finds the gate open admits the waiting models in arrival
            # order, which may not include itself: then it waits again.
            while name not in self._active:
                await self._changed.wait_for(lambda: name in self._active or self._can_admit())
                if name not in self._active:
                    if self._measure is not None:
                        self.cores, self._measure = max(1, self._measure()), None
                    while self._waiting and len(self._active) < self.cores:
                        waiting_name, waiting_backend = self._waiting.pop(0)
                        self._active[waiting_name] = waiting_backend
                    await self._rebalance()
                    self._changed.notify_all()
            return self._shares[name]

    def _can_admit(self) -> bool:
        return self._arrived >= self._expected and len(self._active) < self.cores

    async def skip(self) -> None:
        """A local model of this run that will never ask (it failed or was cancelled)."""
        async with self._changed:
            self._arrived += 1
            self._changed.notify_all()

    async def release(self, name: str) -> None:
        async with self._changed:
            self._waiting = [(n, b) for n, b in self._waiting if n != name]
            if self._active.pop(name, None) is not None:
                self._shares.pop(name, None)
                await self._rebalance()
            self._changed.notify_all()

    async def _rebalance(self) -> None:
        names = list(self._active)
        for name, share in zip(names, split_threads(self.cores, len(names)), strict=True):
            previous = self._shares.get(name)
            if previous == share:
                continue
            self._shares[name] = share
            if previous is None:
                continue  # it starts with this share in its request
            try:
                await self._active[name].set_threads(share)
            except WorkbenchError:
                continue  # that model is failing; its own task reports it
            self._emit(ThreadsChanged(name, share))


class BackendPool:
    """Backends kept loaded between prompts, one per model name."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}
        self._specs: dict[str, ModelSpec] = {}
        self._closing: set[asyncio.Task[None]] = set()
        #: Loaded local models and their estimated memory, least recently used first.
        self.residents = Residents()

    def get(self, spec: ModelSpec) -> Backend:
        if self._specs.get(spec.name) != spec:
            stale = self._backends.pop(spec.name, None)
            self.residents.drop(spec.name)
            if stale is not None:
                # The spec changed (config edited): free the old model in the background.
                task = asyncio.ensure_future(stale.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            self._backends[spec.name] = create_backend(spec)
            self._specs[spec.name] = spec
        return self._backends[spec.name]

    def loaded(self, name: str) -> Backend | None:
        return self._backends.get(name)

    async def unload(self, name: str) -> None:
        """Free one model (its worker ends); the next run that wants it loads it again."""
        self.residents.drop(name)
        self._specs.pop(name, None)
        backend = self._backends.pop(name, None)
        if backend is not None:
            await backend.close()

    async def close(self) -> None:
        backends, self._backends = list(self._backends.values()), {}
        self._specs.clear()
        self.residents.held.clear()
        await asyncio.gather(*(b.close() for b in backends), return_exceptions=True)


class Runner:
    """Runs one request per model, concurrently or one after another."""

    def __init__(
        self,
        pool: BackendPool | None = None,
        cores: int | None = None,
        defaults: Sampling | None = None,
        memory: int | None = None,
        cold: bool = False,
    ) -> None:
        self.pool = pool or BackendPool()
        #: ``[defaults] memory``: bytes the local models may take together; None: what is free.
        self.memory = memory
        self._admission = Admission([], {}, 0, self.pool.residents, self.pool.unload)
        #: The config's ``[defaults.sampling]``: one layer of every run's settings.
        self.defaults = defaults or Sampling()
        #: ``--cold``: every request reuses nothing of an earlier prompt (fair TTFT).
        self.cold = cold
        self.cores = cores or available_cores()
        # Given no core count, leave out the cores other processes keep busy.
        self._watch = CoreWatch(self.cores) if cores is None else None
        self._listeners: list[Listener] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        #: Models whose task has taken its first step (and so will tell the budget).
        self._started: set[str] = set()
        #: While a run plans its memory (before its tasks exist): its models, and those
        #: cancelled meanwhile, which start cancelled.
        self._planning: set[str] = set()
        self._cancelled_early: set[str] = set()
        self._runs: dict[str, ModelRun] = {}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        if isinstance(event, ThreadsChanged) and event.model in self._runs:
            # The session keeps when a model's share of the cores changed.
            run = self._runs[event.model]
            offset = time.monotonic() - run.t_sent if run.t_sent is not None else 0.0
            run.info.setdefault("threads_changed", []).append([round(offset, 4), event.threads])
        for listener in self._listeners:
            listener(event)

    async def run(
        self,
        specs: Iterable[ModelSpec],
        requests: dict[str, Request] | Request,
        schedule: str = "parallel",
        runs: dict[str, ModelRun] | None = None,
        listener: Listener | None = None,
    ) -> list[ModelRun]:
        """Run every model; return their records once all have ended.

        ``requests`` is one Request for all, or one per model name (follow-up
        turns, where each model continues its own conversation).
        """
        specs = list(specs)
        if listener is not None:
            self._listeners.append(listener)
        try:
            return await self._run(specs, requests, schedule, runs or {})
        finally:
            if listener is not None:
                self._listeners.remove(listener)

    async def _run(
        self,
        specs: list[ModelSpec],
        requests: dict[str, Request] | Request,
        schedule: str,
        runs: dict[str, ModelRun],
    ) -> list[ModelRun]:
        self._runs = runs
        local = sum(1 for spec in specs if self._is_local(spec))
        measure = self._watch.free if self._watch is not None else None
        one_at_a_time = asyncio.Semaphore(1) if schedule == "sequential" else None
        for spec in specs:
            request = requests if isinstance(requests, Request) else requests[spec.name]
            runs.setdefault(spec.name, new_run(spec, request))
            self._emit(Queued(spec.name))
        self._planning, self._cancelled_early = {spec.name for spec in specs}, set()
        try:
            self._admission, notice = await plan_memory(self.pool, specs, self.memory)
        finally:
            self._planning = set()
        if notice:
            self._emit(Notice("", notice))
        # Models that load together share the cores: one thread budget per memory group.
        group_of = {s.name: self._admission.group_of(s.name) or 0 for s in specs}
        budgets = {
            group: ThreadBudget(
                self.cores,
                self._emit,
                sum(1 for s in specs if group_of[s.name] == group and self._is_local(s))
                if schedule == "parallel"
                else 0,
                measure,
            )
            for group in set(group_of.values())
        }
        self._cancelled.clear()
        self._cancelled.update(self._cancelled_early)
        self._started.clear()
        self._tasks = {
            spec.name: asyncio.create_task(
                self._run_one(
                    spec, runs[spec.name], requests, budgets[group_of[spec.name]], one_at_a_time
                ),
                name=f"workbench:{spec.name}",
            )
            for spec in specs
        }
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks = {}
        if self._watch is not None and local:
            self._watch.rest()  # only runs that used the cores move the mark
        return [runs[spec.name] for spec in specs]

    def _is_local(self, spec: ModelSpec) -> bool:
        try:
            return self.pool.get(spec).local
        except Exception:
            return False  # its own task reports the error

    async def cancel(self, name: str | None = None) -> None:
        """Cancel one model's run, or all of them."""
        if self._planning:  # no tasks yet: they start cancelled
            self._cancelled_early.update({name} & self._planning if name else self._planning)
        names = [name] if name else list(self._tasks)
        for each in names:
            if each not in self._tasks or self._tasks[each].done():
                continue
            self._cancelled.add(each)
            backend = self.pool.loaded(each)
            if backend is not None:
                await backend.cancel()
            # A task still waiting (queued or loading) is cancelled outright;
            # a streaming one ends at its next token through backend.cancel().
            task = self._tasks[each]
            run_state = getattr(task, "workbench_state", "queued")
            # A task that has not taken its first step would never run its cleanup, and
            # the thread budget would wait for it forever: it sees the cancel at its start.
            if run_state != "streaming" and each in self._started:
                task.cancel()

    async def _run_one(
        self,
        spec: ModelSpec,
        run: ModelRun,
        requests: dict[str, Request] | Request,
        budget: ThreadBudget,
        one_at_a_time: asyncio.Semaphore | None,
    ) -> None:
        request = requests if isinstance(requests, Request) else requests[spec.name]
        task = asyncio.current_task()
        acquired = in_turn = offloaded = False
        backend: Backend | None = None
        self._started.add(spec.name)
        try:
            backend = self.pool.get(spec)
            if spec.name in self._cancelled:
                raise asyncio.CancelledError  # cancelled before it started
            await self._admission.enter(spec.name)  # its memory group's turn, room made
            if one_at_a_time is not None:
                await one_at_a_time.acquire()
                in_turn = True
            run.state = "loading"
            load_started = time.monotonic()
            self._emit(Loading(spec.name, 0.0))
            await backend.load(lambda p: self._emit(Loading(spec.name, p)))
            run.load_s = time.monotonic() - load_started
            settings = (getattr(backend, "info", None) or {}).get("llama")
            if settings:  # kept even when the answer then fails (an OOM, a crash)
                run.info["llama"] = settings
            self._admission.loaded(spec.name)
            if backend.local and fully_offloaded(backend):
                # Every layer on a GPU: one host thread feeds it; no share of the cores.
                offloaded = True
                await budget.skip()
                request = replace(request, threads=1)
                run.threads = 1
            elif backend.local:
                acquired = True
                request = replace(request, threads=await budget.acquire(spec.name, backend))
                run.threads = request.threads
                if self._watch is not None and self._watch.busy is not None:
                    # Why a model may get fewer threads than there are cores.
                    run.info["cores_busy_elsewhere"] = round(self._watch.busy, 2)
            request = self._settle_sampling(spec, backend, request, run)
            await self._stream(spec, backend, request, run, task)
        except asyncio.CancelledError:
            run.state = "cancelled"
            self._emit(Cancelled(spec.name, run))
        except Exception as exc:  # one model's failure is that model's alone
            error = exc if isinstance(exc, WorkbenchError) else _unexpected(exc)
            run.state = "failed"
            run.error = error.to_dict()
            if run.t_sent is not None and run.total_s is None:
                run.total_s = time.monotonic() - run.t_sent
            self._emit(Failed(spec.name, run, run.error))
        finally:
            if acquired:
                await budget.release(spec.name)
            elif backend is not None and backend.local and not offloaded:
                await budget.skip()
            if in_turn:
                one_at_a_time.release()
            await self._admission.leave(spec.name)

    def _settle_sampling(
        self, spec: ModelSpec, backend: Backend, request: Request, run: ModelRun
    ) -> Request:
        """The request with every sampling value explicit (a seed drawn if none was
        given), recorded in the run so that it can be repeated."""
        effective = resolve(
            request.sampling,
            model=spec.sampling,
            defaults=self.defaults,
            preset=preset_name(spec, getattr(backend, "info", None)),
            kind=backend.kind,
        )
        run.sampling = effective.sampling.to_dict()
        run.info["sampling_sources"] = effective.sources
        return replace(request, sampling=effective.sampling, cold=request.cold or self.cold)

    async def _stream(
        self,
        spec: ModelSpec,
        backend: Backend,
        request: Request,
        run: ModelRun,
        task: asyncio.Task | None,
    ) -> None:
        run.state = "streaming"
        if task is not None:
            task.workbench_state = "streaming"  # type: ignore[attr-defined]
        self._emit(Started(spec.name, request.threads))
        # Which a figure came from: a cold prompt reused nothing of an earlier one.
        run.info["prompt_cache"] = "cold" if request.cold else "warm"
        sent = run.t_sent = time.monotonic()
        usage: Usage | None = None
        # Once per token: names bound once, and the listeners called directly.
        name, listeners, monotonic = spec.name, self._listeners, time.monotonic
        async for chunk in backend.stream(request):
            if not isinstance(chunk, TextChunk):
                if isinstance(chunk, Usage):
                    usage = chunk
                elif isinstance(chunk, ThinkingChunk) and chunk.text:
                    self._think(run, chunk, sent)
                continue
            text = chunk.text
            if not text:
                continue
            offset = (monotonic() if chunk.t is None else chunk.t) - sent
            if run.first_token_s is None:
                run.first_token_s = offset
            run.last_token_s = offset
            run.chunks.append((offset, text))
            run.append_text(text)
            delta = Delta(name, text, offset)
            for listener in listeners:
                listener(delta)
        run.total_s = time.monotonic() - sent
        if spec.name in self._cancelled or usage is None:
            if spec.name in self._cancelled:
                run.state = "cancelled"
                self._emit(Cancelled(spec.name, run))
                return
            raise BackendError("The stream ended without its final usage report.")
        run.prompt_tokens = usage.prompt_tokens
        run.output_tokens = usage.output_tokens
        run.cached_prompt_tokens = usage.cached_prompt_tokens
        run.thinking_tokens = usage.thinking_tokens
        run.usage_source = usage.source
        run.finish_reason = usage.finish_reason
        run.timings = usage.timings
        run.info.update(usage.info)
        run.state = "done"
        self._emit(Finished(spec.name, run))

    def _think(self, run: ModelRun, chunk: ThinkingChunk, sent: float) -> None:
        """Keep a thinking piece apart from the answer. Its tokens are output tokens, so
        the first and last token times (and the generation rate) span it too."""
        offset = (time.monotonic() if chunk.t is None else chunk.t) - sent
        if run.first_token_s is None:
            run.first_token_s = offset
        run.last_token_s = offset
        run.thinking_chunks.append((offset, chunk.text))
        run.thinking += chunk.text
        self._emit(Thinking(run.model, chunk.text, offset))


def fully_offloaded(backend: Backend) -> bool:
    """Whether every layer of a local model runs on a GPU (its worker's report after load)."""
    info = getattr(backend, "info", None) or {}
    return (info.get("llama") or {}).get("offload") == "full"


def new_run(spec: ModelSpec, request: Request) -> ModelRun:
    return ModelRun(
        model=spec.name,
        identity=spec.identity(),
        conversation=[{"role": m.role, "content": m.content} for m in request.messages],
        prompt=request.prompt,
    )


def _unexpected(exc: BaseException) -> WorkbenchError:
    return BackendError(f"Unexpected {type(exc).__name__}: {exc}", title="Unexpected error")
