"""The worker process that holds one llama.cpp model.

Run as ``python -m workbench.models.backends.llamacpp_worker``; speaks JSON lines:
commands on stdin, events on a private copy of stdout. llama.cpp's own output
(fd 1 and 2) goes to the stderr the parent chose, so it never reaches the
terminal Textual draws on, and a llama.cpp abort kills only this process.

Commands: ``load``, ``generate``, ``cancel``, ``threads``, ``ping``.
Events: ``progress``, ``ready``, ``text`` (pieces with monotonic stamps),
``done`` (exact counts, perf counters), ``error``, ``pong``.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import random
import sys
import threading
import time
from typing import Any

#: Test-only switch: the warm-up decode crashes (SIGSEGV) while repacking is on, as
#: llama.cpp's repacked AMX kernels do on some Xeons; the fallback test sets it.
CRASH_ON_REPACK_ENV = "WORKBENCH_TEST_CRASH_ON_REPACK"
#: Marks where a prefilled assistant message ends in the rendered chat prompt.
_PREFILL_MARK = "\u241eworkbench-prefill\u241e"


class Channel:
    """Events out on a private fd; llama.cpp's stdout is redirected away from it."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)  # anything llama.cpp prints on stdout now goes to stderr
        self._lock = threading.Lock()  # the main thread and Control's both send

    def send(self, event: str, **data: Any) -> None:
        line = json.dumps({"ev": event, **data}, ensure_ascii=False) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


class Control:
    """Reads stdin in a thread so ``cancel`` and ``threads`` arrive mid-generation, and
    ``ping`` is answered even while the model is busy."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()
        # The id of the generation to stop; a cancel may arrive before its
        # generate command is read, never applies to a later one.
        self.cancel_id = -1
        # (generation id, threads): a change may arrive before its generate command is
        # read, and must neither be lost nor reach a later generation.
        self._threads: tuple[int, int] | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except ValueError:
                continue
            if command.get("op") == "cancel":
                self.cancel_id = int(command.get("id", -1))
            elif command.get("op") == "threads":
                self._threads = (int(command.get("id", -1)), int(command["n"]))
            elif command.get("op") == "ping":
                self.channel.send("pong")
            else:
                self.commands.put(command)
        os._exit(0)  # the parent is gone: nothing left to answer

    def take_threads(self, generation: int) -> int | None:
        """A thread count sent for ``generation`` that is not applied yet, else ``None``
        (one sent for an earlier generation is dropped, one for a later kept)."""
        pending = self._threads
        if pending is None or pending[0] > generation:
            return None
        self._threads = None
        return pending[1] if pending[0] == generation else None


class LlamaLog:
    """llama.cpp's last log lines, so that a model that fails to load can say why.

    llama-cpp-python prints them only when verbose and hides stderr while a
    model loads, so the reason ("unknown model architecture", "tensor … has
    wrong shape", "data is not within the file bounds") would be lost.
    """

    def __init__(self) -> None:
        import ctypes

        import llama_cpp

        from workbench.models.backends.llama_params import settings_line

        self.lines: collections.deque[str] = collections.deque(maxlen=64)
        #: The lines that tell effective settings (flash attention resolved, …).
        self.settings: list[str] = []

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: Any) -> None:
            line = text.decode("utf-8", "replace")
            self.lines.append(line)
            if settings_line(line) and len(self.settings) < 256:
                self.settings.append(line)

        self._callback = callback  # llama.cpp keeps a pointer to it
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def reason(self) -> str | None:
        """What llama.cpp said went wrong with the model it just tried to load."""
        said = next(
            (
                after.strip()
                for line in self.lines
                for _, found, after in [line.partition("error loading model: ")]
                if found and after.strip()
            ),
            None,
        )
        # A damaged header is told by the GGUF reader; the loader only says it failed.
        header = next((ln.strip() for ln in self.lines if ln.startswith("gguf_")), None)
        if header and (said is None or "failed to load model from" in said):
            return header
        return said


class Model:
    def __init__(self, channel: Channel, control: Control) -> None:
        self.channel = channel
        self.control = control
        self.log: LlamaLog | None = None
        self.llm: Any = None
        self.template: Any = None
        self.stop_ids: frozenset[int] = frozenset()
        self.stop_texts: tuple[str, ...] = ()
        self.info: dict[str, Any] = {}
        #: The generate path's state (llamacpp_decode.Decoder: the KV cache's tokens).
        self.decoder: Any = None

    def load(self, command: dict[str, Any]) -> None:
        path = command["path"]
        _warm_page_cache(path, lambda p: self.channel.send("progress", p=round(p * 0.8, 3)))
        from llama_cpp import Llama

        from workbench.models.backends import llama_params
        from workbench.models.llama_settings import LlamaSettings
        from workbench.models.templates import chat_template

        cores = int(command.get("threads") or os.cpu_count() or 1)
        settings = command.get("llama") or LlamaSettings().to_dict()
        repack = bool(command.get("repack", True))
        self.log = self.log or LlamaLog()
        self.log.lines.clear()
        self.log.settings.clear()
        kwargs = llama_params.llama_kwargs(
            settings, n_ctx=int(command.get("n_ctx") or 4096), threads=cores
        )
        try:
            with llama_params.params_hook(repack=repack, flash_attn=settings["flash_attn"]) as seen:
                self.llm = Llama(model_path=path, **kwargs)
        except ValueError as exc:
            reason = self.log.reason()
            if reason is None:
                raise
            raise ValueError(f"llama.cpp cannot load it: {reason}") from exc
        warmup_ms = self._warm_up(repack)
        metadata = dict(self.llm.metadata)
        self.info = {
            "architecture": metadata.get("general.architecture"),
            "gguf_name": metadata.get("general.name"),
            "size_label": metadata.get("general.size_label"),
            "file_type": metadata.get("general.file_type"),
            "file": os.path.basename(path),
            "file_bytes": os.path.getsize(path),
            "n_ctx": self.llm.n_ctx(),
            "llama": llama_params.effective(self.llm, seen, self.log.settings),
            "warmup_ms": round(warmup_ms, 2),
        }
        try:
            self.template = chat_template(
                metadata, command.get("chat_template"), filename=os.path.basename(path)
            )
            self.info["template"] = self.template.source
            self.info["preset"] = self.template.preset.name if self.template.preset else None
        except Exception as exc:  # no template: completion mode still works
            self.template = None
            self.info["template"] = f"none ({getattr(exc, 'message', exc)})"
            self.template_error = exc
        self.stop_ids, self.stop_texts = self._resolve_stops(tuple(command.get("stop") or ()))
        self.channel.send("ready", info=self.info)

    def _warm_up(self, repack: bool) -> float:
        """One decode before the first prompt (as llama-server does): the first matrix
        multiply's one-time costs stay out of TTFT, and a CPU whose repacked kernels
        crash crashes here, during the load, where the parent retries without them.
        Returns its milliseconds."""
        import llama_cpp

        llm = self.llm
        started = time.perf_counter()
        if repack and os.environ.get(CRASH_ON_REPACK_ENV):
            import signal

            os.kill(os.getpid(), signal.SIGSEGV)
        token = llm.token_bos() if llm.token_bos() != -1 else llm.token_eos()
        llm.eval([max(token, 0)])
        # Wait for it: llama.cpp counts queued tokens into its perf counters only at a
        # synchronize, so an unsynchronized warm-up would count in the first prompt's.
        llama_cpp.llama_synchronize(llm.ctx)
        # As llama-server: the next prompt starts from an empty KV cache at position 0.
        llm.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
        llama_cpp.llama_perf_context_reset(llm.ctx)
        return (time.perf_counter() - started) * 1000

    def _resolve_stops(self, extra: tuple[str, ...]) -> tuple[frozenset[int], tuple[str, ...]]:
        """The preset's token stops by id (Llama 3's <|eot_id|> decodes to ""); its text
        stops and config's ``stop`` as text (DeepSeek's <|EOT|> is not an EOG token)."""
        from workbench.models.templates import resolve_stops

        template = self.template
        return resolve_stops(
            lambda text: self.llm.tokenize(text.encode(), add_bos=False, special=True),
            self.llm.detokenize,
            template.stop_tokens if template else (),
            extra + (template.stop_texts if template else ()),
        )

    def prompt_tokens(self, command: dict[str, Any]) -> list[int]:
        import llama_cpp

        from workbench.models.templates import render_chat, single_bos

        llm = self.llm
        if command["mode"] == "completion":
            text = command["prompt"]
        else:
            if self.template is None:
                raise self.template_error
            bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() != -1 else ""
            eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() != -1 else ""
            messages = [dict(m) for m in command["messages"]]
            prefill = messages[-1]["role"] == "assistant" if messages else False
            if prefill:
                # Continue the assistant's message: render it with a marker, cut there
                # (how EvalPlus prefills its response prefix).
                messages[-1]["content"] += _PREFILL_MARK
            text = render_chat(self.template.template, messages, bos_token=bos, eos_token=eos)
            if prefill:
                text = text.split(_PREFILL_MARK)[0]
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        # The vocab says whether it wants a BOS (a missing add_bos_token key is not "true":
        # Qwen's does not); a prompt or template that already starts with one keeps one.
        add_bos = llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)
        return single_bos(tokens, llm.token_bos(), add_bos)

    def generate(self, command: dict[str, Any]) -> None:
        import llama_cpp

        from workbench.models.backends import llamacpp_decode

        llm = self.llm
        control = self.control
        generation = int(command.get("id", 0))
        tokens = self.prompt_tokens(command)
        n_ctx = llm.n_ctx()
        if len(tokens) >= n_ctx:
            raise ValueError(
                f"The prompt is {len(tokens)} tokens; the context holds {n_ctx}. "
                "Shorten it or raise n_ctx in workbench.toml."
            )
        sampling = command["sampling"]
        # The prompt's own stops (HumanEval's) join the model's for this answer only.
        stop_texts = self.stop_texts + tuple(command.get("stop") or ())
        max_tokens = min(int(sampling["max_tokens"]), n_ctx - len(tokens))
        threads = int(command.get("threads") or os.cpu_count() or 1)
        threads = control.take_threads(generation) or threads
        llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
        seed = sampling.get("seed")
        used = [threads]

        def between_tokens() -> bool:
            """Cancel, or apply a thread change, between two tokens (or prompt chunks)."""
            if control.cancel_id == generation:
                return True
            changed = control.take_threads(generation)
            if changed is not None:
                used[0] = changed
                llama_cpp.llama_set_n_threads(llm.ctx, changed, changed)
            return False

        decoder = self._decoder()
        if command.get("cold"):
            # --cold: reuse nothing of an earlier prompt, so the time to first token
            # includes the whole prompt's evaluation, as on a fresh load. With nothing
            # cached to keep, the decoder clears the KV cache itself.
            decoder.cached.clear()
        outcome = llamacpp_decode.generate(
            decoder,
            tokens,
            sampling,
            seed=seed if seed is not None else random.randrange(2**31),
            max_tokens=max_tokens,
            stop_ids=self.stop_ids,
            stop_texts=stop_texts,
            send=lambda pieces: self.channel.send("text", g=generation, p=pieces),
            between_tokens=between_tokens,
        )
        self.channel.send(
            "done",
            g=generation,
            prompt_tokens=len(tokens),
            # The rest of the prompt was already in the KV cache (a follow-up's turns).
            prompt_evaluated=outcome.prompt_evaluated,
            output_tokens=outcome.output_tokens,
            finish_reason=outcome.finish_reason,
            perf=outcome.perf,
            threads=used[0],
        )

    def _decoder(self) -> Any:
        """The decode loop's state for the loaded model (a new one after a reload)."""
        from workbench.models.backends.llamacpp_decode import Decoder

        if self.decoder is None or self.decoder.llm is not self.llm:
            if self.decoder is not None:
                self.decoder.close()
            self.decoder = Decoder(self.llm)
        return self.decoder


def _warm_page_cache(path: str, progress: Any) -> None:
    """Read the file once so loading shows real progress (and mmap then finds it cached).

    Skipped for files larger than half the available memory, where it would
    only evict other things.
    """
    size = os.path.getsize(path)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        available = 0
    if not size or size > available // 2:
        progress(0.0)
        return
    done = 0
    step = max(size // 20, 1)
    next_report = 0
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(8 << 20):
            done += len(chunk)
            if done >= next_report:
                progress(done / size)
                next_report += step
    progress(1.0)


def main() -> None:
    channel = Channel()
    control = Control(channel)
    model = Model(channel, control)
    while True:
        command = control.commands.get()
        try:
            if command["op"] == "load":
                model.load(command)
            elif command["op"] == "generate":
                model.generate(command)
        except Exception as exc:
            channel.send(
                "error",
                # Which prompt failed (a load has none): the parent skips stale events.
                g=int(command.get("id", 0)) if command["op"] == "generate" else None,
                type=type(exc).__name__,
                title=getattr(exc, "title", "Model error"),
                message=getattr(exc, "message", None) or str(exc) or type(exc).__name__,
            )


if __name__ == "__main__":
    main()
