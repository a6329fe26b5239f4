"""How a model is prompted: the chat template, stops and FIM prompt it uses.

The template comes from config, from a preset (see ``workbench.models.presets``) or from
the GGUF itself: presets of the seed code models win over a GGUF's own template
when that template is of the same family; generic formats (gemma, chatml) only
fill in for a GGUF that carries no template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import TemplateError
from workbench.models.presets import (
    GGUF_TEMPLATE,
    PRESETS,
    Preset,
    find_preset,
    preset,
)
from workbench.models.request import Sampling

__all__ = [
    "ChatTemplate",
    "chat_template",
    "fim_prompt",
    "render_chat",
    "resolve_stops",
    "single_bos",
]

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
    import jinja2
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    # The formatter renders in Jinja's immutable sandbox: a template that reaches
    # for Python internals (to run code) fails with SecurityError instead.
    try:
        formatter = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token)
        return formatter(messages=[dict(m) for m in messages]).prompt
    except ValueError as exc:  # the template's raise_exception()
        raise TemplateError(f"The chat template refused these messages: {exc}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(
            f"The chat template tried an unsafe operation and was stopped: {exc}",
            title="Unsafe chat template",
        ) from None
    except jinja2.exceptions.TemplateError as exc:
        raise TemplateError(f"The chat template is broken: {exc}") from None


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
