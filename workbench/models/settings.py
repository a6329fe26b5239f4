"""Effective sampling settings: the one resolver the app, the CLI, suites, samples and
every backend share.

Layers, lowest first:

1. workbench's own baseline (``BASELINE``), so that nothing is left to a server's or a
   library's unstated default;
2. the model family's preset (DeepSeek Coder greedy, Llama 3 0.6/0.9, Gemma 1.0/0.95);
3. the config's ``[defaults.sampling]``;
4. the model's own ``[models.sampling]``;
5. the prompt's settings (what was typed in the app, ``--temperature`` and friends,
   a sample's seed).

The runner resolves every request after the model has loaded (a local model's preset
is known only then) and records the values and where each came from. A seed that no
layer gives is drawn here, recorded and sent, so every run can be repeated.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.models.request import Sampling

if TYPE_CHECKING:
    from workbench.models.config import ModelSpec

#: The values nothing else set. A low temperature suits code; llama.cpp's own
#: sampler defaults for the rest (top-k 40, min-p 0.05, no repeat penalty).
BASELINE: dict[str, Any] = {
    "temperature": 0.2,
    "top_p": 0.95,
    "max_tokens": 256,
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.0,
}

#: Settings the OpenAI API itself knows. The others (top-k, min-p, repeat penalty) are
#: sent to an OpenAI-compatible server only when a layer asks for them: a hosted API
#: rejects unknown fields, and llama-server's defaults for them are the baseline's.
OPENAI_KEYS = frozenset({"temperature", "top_p", "max_tokens", "seed"})

#: Where a value came from, as recorded in a run's ``info["sampling_sources"]``.
PROMPT, MODEL, DEFAULTS, DRAWN, WORKBENCH = (
    "prompt",
    "model config",
    "config defaults",
    "drawn",
    "workbench default",
)
#: A value the backend's server chooses (recorded as ``None``).
SERVER = "server default (not sent)"

#: The largest seed drawn: every backend takes a 31-bit seed.
SEED_RANGE = 2**31


@dataclass(frozen=True)
class Effective:
    """The settings a run used, every one explicit, and the layer each came from."""

    sampling: Sampling
    sources: dict[str, str]


def sampling_names() -> list[str]:
    """The fields of ``Sampling`` (the list grows as backends learn more settings)."""
    return [f.name for f in fields(Sampling)]


def resolve(
    prompt: Sampling,
    *,
    model: Sampling | None = None,
    defaults: Sampling | None = None,
    preset: str | None = None,
    kind: str = "llamacpp",
    draw_seed: bool = True,
    rng: random.Random | None = None,
) -> Effective:
    """Every sampling value for one run: preset < config defaults < model config < prompt.

    ``preset`` names the model's preset (``preset_name`` finds it). ``kind`` is the
    backend's: an ``openai`` server gets no baseline for the settings the OpenAI API
    lacks. With ``draw_seed``, a missing seed is drawn (and marked ``drawn``).
    """
    from workbench.models.presets import PRESETS

    preset_sampling = PRESETS[preset].sampling if preset in PRESETS else Sampling()
    layers = (
        (PROMPT, prompt),
        (MODEL, model or Sampling()),
        (DEFAULTS, defaults or Sampling()),
        (f"preset {preset}", preset_sampling),
    )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in sampling_names():
        for source, layer in layers:
            value = getattr(layer, name)
            if value is not None:
                values[name], sources[name] = value, source
                break
        else:
            if name == "seed":
                if draw_seed:
                    values[name] = (rng or random).randrange(SEED_RANGE)
                    sources[name] = DRAWN
                continue
            if kind == "openai" and name not in OPENAI_KEYS:
                sources[name] = SERVER
                continue
            if name in BASELINE:
                values[name], sources[name] = BASELINE[name], WORKBENCH
    return Effective(replace(Sampling(), **values), sources)


def preset_name(spec: ModelSpec, info: Mapping[str, Any] | None = None) -> str | None:
    """The preset whose sampling defaults apply to ``spec``.

    A loaded local model says which preset its template came from (``info["preset"]``,
    ``None`` for the GGUF's own template). A server model is matched by the preset named
    in its ``chat_template``, else by its model id or file name, as a GGUF would be.
    """
    from workbench.models.presets import PRESET_ALIASES, PRESETS, match_preset

    if info is not None and "preset" in info:
        found = info["preset"]
        return found if found in PRESETS else None
    template = spec.chat_template
    if template and "{" not in template:
        name = PRESET_ALIASES.get(template, template)
        return name if name in PRESETS else None
    filename = Path(spec.path).name if spec.path else None
    matched = match_preset({}, filename=filename, ollama_tag=spec.model or spec.name)
    return matched.name if matched else None


def describe(effective: Effective) -> str:
    """``temperature 0.0 (preset deepseek-coder) · seed 1234 (drawn) · …`` for a log line."""
    parts = []
    for name in sampling_names():
        value = getattr(effective.sampling, name)
        source = effective.sources.get(name, "")
        parts.append(f"{name.replace('_', ' ')} {'–' if value is None else value} ({source})")
    return " · ".join(parts)
