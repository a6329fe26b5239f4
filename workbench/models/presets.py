"""Presets: the chat templates of the seed code models and how a model is matched to one.

A preset is one model family's template, stops, sampling defaults and FIM layout.
It is chosen from what the model says about itself (GGUF metadata, its file name,
the tag a server lists it under) or named in config with
``chat_template = "<preset name>"``. Specific models are matched before generic
formats (gemma, chatml). The templates are tested against the real tokenizers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import TemplateError
from workbench.models.request import Sampling

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
