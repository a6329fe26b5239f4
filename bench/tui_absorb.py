"""TUI absorb: four panes streaming fast in the real app, versus the headless runner.

A synthetic backend ("paced") yields one ``TextChunk`` per token on a precise
schedule (``--rate`` tokens/s from the moment its stream starts, caught up at
every wake-up, at least every ``--batch-ms``), then one ``Usage``. The same
models run

- headless: ``Runner.run`` alone, no UI (the baseline);
- in the real ``WorkbenchApp`` (``App.run_test``, headless driver, 200x50): the
  prompt is sent with the app's own key, the panes stream, the session is saved.

The headless driver writes nothing, so the app here also turns every screen
update into the terminal's escape sequences (what a real terminal driver does
before its writer thread) and throws them away: that cost is counted.

Throughput is tokens per second of wall time, from the first model's start to
the moment the last pane shows all its text and its final figures (the first
frame drawn after every pane has finalized). Both sides are paced at the same
fixed rate, so the headless figure is that pace (less the runner's small lag):
the row measures whether the app keeps up with a fixed rate, not how fast it
could go. Goal: the app keeps ≥ 0.95 of the headless throughput.

Key presses: a thread plays the terminal's input thread and types "x" into the
prompt editor every 70–130 ms (through the driver, as a real key would
arrive). The latency of a press is the time until the first frame drawn after
the editor's text holds it. Goal: p95 ≤ 50 ms while streaming; the same app
idle is printed beside it as the baseline.

Saving: the same app with the session recorder writing on the event loop (as it
did before it had a writer thread: the lock, the write and two fsyncs once a
second, on the loop) is the baseline of a third row; the key p95 while
streaming must not get worse with the saves off the loop.

    python bench/tui_absorb.py [--rounds 3] [--seconds 3] [--rate 2000] [--panes 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

from _common import median, report
from textual import events

import workbench.store.recorder
import workbench.ui.app
from workbench.core.events import Event, Finished, Started
from workbench.core.runner import BackendPool, Runner
from workbench.models.backends.base import register_backend
from workbench.models.config import Config, ModelSpec
from workbench.models.request import Chunk, Request, Sampling, TextChunk, Usage
from workbench.ui.app import WorkbenchApp

PROMPT = "Write a Python function that merges two sorted lists, with tests."

#: One answer as a chat model writes it: prose, a list, code; repeated to length.
ANSWER = """Here is a function that merges two sorted lists in linear time. It walks \
both lists with two indices and always takes the smaller head, so the result \
stays sorted.

```python
def merge(left: list[int], right: list[int]) -> list[int]:
    \"\"\"Merge two sorted lists into one sorted list.\"\"\"
    result = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            result.append(left[i])
            i += 1
        else:
            result.append(right[j])
            j += 1
    result.extend(left[i:])
    result.extend(right[j:])
    return result
```

How it works:

1. **Two indices** start at the front of each list.
2. The *smaller* head goes to the result; ties take the left one, so the merge is stable.
3. When one list runs out, the rest of the other is appended as it is.

And some tests with `pytest`:

```python
import pytest

@pytest.mark.parametrize("a, b", [([], []), ([1], []), ([1, 3], [2, 4])])
def test_merge(a, b):
    assert merge(a, b) == sorted(a + b)
```

"""


def tokens_of(text: str) -> list[str]:
    """Token-sized pieces (about four characters) that join back to ``text``."""
    pieces: list[str] = []
    word = ""
    for char in text:
        if char in " \n" and word.strip():
            pieces.append(word)
            word = ""
        word += char
        if len(word) >= 6 and word.strip():
            pieces.append(word[:4])
            word = word[4:]
    if word:
        pieces.append(word)
    return pieces


def answer_tokens(count: int) -> list[str]:
    one = tokens_of(ANSWER)
    return [one[i % len(one)] for i in range(count)]


class Script:
    """What every paced backend streams next: set before each round."""

    def __init__(self, rate: float, batch_s: float) -> None:
        self.rate = rate
        self.batch_s = batch_s
        self.tokens: list[str] = []


class PacedBackend:
    """Yields the script's tokens one ``TextChunk`` each, token i at ``i / rate`` s after
    its stream started (late wake-ups catch up at once), then one ``Usage``."""

    kind: ClassVar[str] = "paced"
    local: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, script: Script) -> None:
        self.spec = spec
        self.script = script
        self._cancelled = False

    async def load(self, progress) -> None:
        progress(1.0)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        self._cancelled = False
        tokens, rate, batch_s = self.script.tokens, self.script.rate, self.script.batch_s
        total = len(tokens)
        start = time.monotonic()
        sent = 0
        while sent < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            while sent < due:
                yield TextChunk(tokens[sent])
                sent += 1
            if self._cancelled:
                return
            if sent < total:
                wait = start + sent / rate - time.monotonic()
                await asyncio.sleep(max(wait, batch_s))
        yield Usage(len(request.last_user_text.split()), total, "length", source="synthetic")

    async def set_threads(self, threads: int) -> None:
        return None

    async def cancel(self) -> None:
        self._cancelled = True

    async def close(self) -> None:
        return None


SCRIPT = Script(rate=2000.0, batch_s=0.005)
register_backend("paced", lambda spec: PacedBackend(spec, SCRIPT))


def model_specs(panes: int) -> list[ModelSpec]:
    return [ModelSpec(name=f"paced-{i + 1}", backend="paced") for i in range(panes)]


class Clock:
    """Stamps of the runner's events (first start, last finish)."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.finished: list[float] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self.started.append(time.perf_counter())
        elif isinstance(event, Finished):
            self.finished.append(time.perf_counter())


# --- headless ------------------------------------------------------------------------


async def headless_round(specs: list[ModelSpec], tokens: int) -> dict[str, Any]:
    SCRIPT.tokens = answer_tokens(tokens)
    runner = Runner(BackendPool())
    clock = Clock()
    request = Request.chat(PROMPT, sampling=Sampling(max_tokens=tokens))
    runs = await runner.run(specs, request, "parallel", listener=clock)
    end = time.perf_counter()
    delivered = sum(len(run.chunks) for run in runs)
    if delivered != tokens * len(specs) or any(run.state != "done" for run in runs):
        raise SystemExit(f"headless run delivered {delivered} of {tokens * len(specs)} tokens")
    wall = end - min(clock.started)
    return {"tokens": delivered, "wall_s": wall, "tokens_per_s": delivered / wall}


# --- the app -------------------------------------------------------------------------


class Presses:
    """Key presses sent from a thread (as a terminal driver's input thread does)."""

    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.pending: deque[tuple[float, int]] = deque()
        self.latencies: list[float] = []
        self.sent = 0
        self.base = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, base_length: int, every_s: float) -> None:
        self.base, self.sent = base_length, 0
        self.pending.clear()
        self.latencies = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, every_s: float) -> None:
        rng = random.Random(7)
        driver = self.app._driver
        while not self._stop.wait(rng.uniform(0.7, 1.3) * every_s):
            self.sent += 1
            self.pending.append((time.perf_counter(), self.base + self.sent))
            driver.process_message(events.Key("x", "x"))

    def frame(self, now: float, text_length: int) -> None:
        """A frame was drawn: the presses whose text it shows are done."""
        while self.pending and text_length >= self.pending[0][1]:
            t0, _ = self.pending.popleft()
            self.latencies.append(now - t0)


class BenchApp(WorkbenchApp):
    """The real app, which also renders every update to escape sequences and timestamps it."""

    # Textual reads CSS_PATH relative to the subclass's module: point it back at the app's.
    CSS_PATH: ClassVar[list[str]] = [
        str(Path(workbench.ui.app.__file__).with_name(str(name)))
        for name in (
            [WorkbenchApp.CSS_PATH]
            if isinstance(WorkbenchApp.CSS_PATH, str | Path)
            else WorkbenchApp.CSS_PATH
        )
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.presses = Presses(self)
        self.frames = 0
        self.all_shown: float | None = None
        self.watch_panes = False

    def _display(self, screen, renderable) -> None:
        super()._display(screen, renderable)
        if renderable is None or self._batch_count or not hasattr(renderable, "render_segments"):
            return
        # What a terminal driver would write (its writer thread does the writing).
        renderable.render_segments(self.console)
        now = time.perf_counter()
        self.frames += 1
        compare = self.compare
        if compare is None:
            return
        self.presses.frame(now, len(compare.prompt.text))
        shown = self.watch_panes and self.all_shown is None and compare.panes
        if shown and all(not pane.active for pane in compare.panes.values()):
            self.all_shown = now

    @property
    def compare(self):
        from workbench.ui.screens.compare import CompareScreen

        for screen in self.screen_stack:
            if isinstance(screen, CompareScreen):
                return screen
        return None


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)


class SavesOnTheLoop:
    """The baseline of the saving row: every recorder writes on the caller's thread (the
    event loop), its final save too, as before the recorder had a writer thread."""

    def __init__(self) -> None:
        self.recorder = workbench.store.recorder.SessionRecorder
        self.saved = (self.recorder.__init__, self.recorder.save_async)

    def __enter__(self) -> None:
        real_init = self.saved[0]

        def init(recorder, *args: Any, **kwargs: Any) -> None:
            real_init(recorder, *args, **kwargs)
            recorder.background = False

        async def save_async(recorder, *, complete: bool | None = None) -> None:
            recorder.save(complete=complete)

        self.recorder.__init__ = init
        self.recorder.save_async = save_async

    def __exit__(self, *exc: object) -> None:
        self.recorder.__init__, self.recorder.save_async = self.saved


async def app_round(
    specs: list[ModelSpec],
    tokens: int,
    args: argparse.Namespace,
    folder: Path,
    *,
    saves_on_loop: bool = False,
) -> dict[str, Any]:
    if saves_on_loop:
        with SavesOnTheLoop():
            return await app_round(specs, tokens, args, folder)
    SCRIPT.tokens = answer_tokens(tokens)
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / "state.json"
    state.write_text(json.dumps({"version": 1, "models": [s.name for s in specs]}))
    app = BenchApp(
        Config(models=tuple(specs)),
        sessions_dir=folder / "sessions",
        state_path=state,
        save_dir=folder,
        discover=False,
    )
    width, height = (int(v) for v in args.size.split("x"))
    every = args.press_every_ms / 1000
    clock = Clock()
    app.runner.subscribe(clock)
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        compare = app.compare
        assert compare is not None and compare.picker.chosen == [s.name for s in specs]
        prompt = compare.prompt
        prompt.focus()
        await pilot.pause()
        # Idle: the same presses with nothing streaming (the baseline of the latency).
        app.presses.start(len(prompt.text), every)
        await asyncio.sleep(args.idle_seconds)
        app.presses.stop()
        await wait_until(lambda: not app.presses.pending, 5, "the idle key presses")
        idle = list(app.presses.latencies)
        prompt.load_text(PROMPT)
        # As a terminal would send it: Pilot.press waits for the app to go idle, which
        # would hide the start of the stream from the key presses.
        app._driver.process_message(events.Key(app.keys["send"], None))
        await wait_until(lambda: len(clock.started) == len(specs), 10, "the models to start")
        prompt.focus()
        app.watch_panes = True
        app.presses.start(len(prompt.text), every)
        await wait_until(
            lambda: len(clock.finished) == len(specs), 60 + 4 * args.seconds, "the runs to end"
        )
        app.presses.stop()
        await wait_until(
            lambda: app.all_shown is not None, 60 + 10 * args.seconds, "the panes to show all text"
        )
        await wait_until(lambda: not app.presses.pending, 5, "the key presses")
        busy = list(app.presses.latencies)
        typed = prompt.text.count("x")
        if typed != app.presses.sent:
            raise SystemExit(f"{app.presses.sent} keys sent, {typed} reached the editor")
        shown = {name: pane.answer for name, pane in compare.panes.items()}
        await app.action_quit()
    expected = "".join(answer_tokens(tokens))
    if any(text != expected for text in shown.values()):
        raise SystemExit("a pane's answer differs from the text the backend sent")
    delivered = tokens * len(specs)
    start = min(clock.started)
    wall = app.all_shown - start
    return {
        "tokens": delivered,
        "wall_s": wall,
        "tokens_per_s": delivered / wall,
        "delivered_wall_s": max(clock.finished) - start,
        "frames": app.frames,
        "idle_latencies_ms": [round(x * 1000, 2) for x in idle],
        "stream_latencies_ms": [round(x * 1000, 2) for x in busy],
    }


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between ranks; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def main_async(args: argparse.Namespace) -> None:
    tokens = int(args.seconds * args.rate)
    SCRIPT.rate, SCRIPT.batch_s = args.rate, args.batch_ms / 1000
    specs = model_specs(args.panes)
    headless, app, on_loop = [], [], []
    # Sessions go to the real disk (the temporary folder's; not a RAM disk when it is /tmp
    # on a disk), so an fsync costs what it costs a user.
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_warmup:  # imports, stylesheets, the first render
            await headless_round(specs, min(tokens, 200))
            await app_round(specs, min(tokens, 200), args, Path(tmp) / "warm")
        kinds = ["headless", "app", "on-loop"]
        for index in range(args.rounds):
            # Each round starts with another kind, so none always runs first.
            order = kinds[index % 3 :] + kinds[: index % 3]
            for kind in order:
                folder = Path(tmp) / f"round-{index}-{kind}"
                if kind == "headless":
                    headless.append(await headless_round(specs, tokens))
                elif kind == "app":
                    app.append(await app_round(specs, tokens, args, folder))
                else:
                    on_loop.append(await app_round(specs, tokens, args, folder, saves_on_loop=True))
    base = median([r["tokens_per_s"] for r in headless])
    ours = median([r["tokens_per_s"] for r in app])
    ratio = ours / base
    idle = [x for r in app for x in r["idle_latencies_ms"]]
    busy = [x for r in app for x in r["stream_latencies_ms"]]
    p50, p95 = percentile(busy, 50), percentile(busy, 95)
    idle50, idle95 = percentile(idle, 50), percentile(idle, 95)
    before = [x for r in on_loop for x in r["stream_latencies_ms"]]
    before95 = percentile(before, 95)
    label = f"{args.panes} panes x {args.rate:,.0f} tok/s, {tokens:,} tokens each"
    pace = args.panes * args.rate
    rows = [
        {
            "measure": f"keeping up with a fixed rate: {label}, tokens/s to screen",
            "baseline": f"{base:,.0f} (headless runner; the pace is {pace:,.0f})",
            "workbench": f"{ours:,.0f} (app, {args.size})",
            "ratio": f"{ratio:.3f}",
            "goal": ">= 0.95",
            "met": ratio >= 0.95,
        },
        {
            "measure": f"key press -> screen while streaming, p50/p95 ms ({len(busy)} presses)",
            "baseline": f"{idle50:.1f}/{idle95:.1f} (idle app)",
            "workbench": f"{p50:.1f}/{p95:.1f}",
            "ratio": f"{p95 / idle95:.2f}" if idle95 else "–",
            "goal": "p95 <= 50 ms",
            "met": p95 <= 50,
        },
        {
            "measure": f"key p95 ms while streaming: saves off the loop ({len(busy)} presses)",
            "baseline": f"{before95:.1f} (saves on the loop, {len(before)} presses)",
            "workbench": f"{p95:.1f}",
            "ratio": f"{p95 / before95:.2f}" if before95 else "–",
            "goal": "<= 1.00 (not worse)",
            "met": p95 <= before95,
        },
    ]
    raw = {
        "tokens_per_pane": tokens,
        "args": vars(args),
        "headless": headless,
        "app": app,
        "app_saves_on_loop": on_loop,
    }
    report("tui_absorb", rows, raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="stream length at --rate")
    parser.add_argument("--rate", type=float, default=2000.0, help="tokens/s of each pane")
    parser.add_argument("--panes", type=int, default=4)
    parser.add_argument("--batch-ms", type=float, default=5.0, help="longest wait of a backend")
    parser.add_argument("--size", default="200x50")
    parser.add_argument("--press-every-ms", type=float, default=100.0)
    parser.add_argument("--idle-seconds", type=float, default=2.0)
    parser.add_argument(
        "--no-warmup", action="store_true", help="skip the warm-up rounds (smoke test)"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
