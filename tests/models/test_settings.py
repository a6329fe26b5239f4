"""The one sampling resolver: preset < config defaults < model config < the prompt."""

from __future__ import annotations

import random

from workbench.models.config import ModelSpec
from workbench.models.request import Sampling
from workbench.models.settings import BASELINE, preset_name, resolve


def test_each_layer_wins_over_the_ones_below_it():
    effective = resolve(
        Sampling(max_tokens=10),
        model=Sampling(temperature=0.9, max_tokens=50),
        defaults=Sampling(temperature=0.5, top_p=0.8, seed=3),
        preset="llama3",  # 0.6 / 0.9
    )
    s = effective.sampling
    assert (s.max_tokens, s.temperature, s.top_p, s.seed) == (10, 0.9, 0.8, 3)
    assert effective.sources["max_tokens"] == "prompt"
    assert effective.sources["temperature"] == "model config"
    assert effective.sources["top_p"] == "config defaults"


def test_the_preset_applies_when_nothing_above_it_is_set():
    effective = resolve(Sampling(), preset="deepseek-coder")
    assert effective.sampling.temperature == 0.0
    assert effective.sources["temperature"] == "preset deepseek-coder"
    assert effective.sampling.max_tokens == BASELINE["max_tokens"]
    assert effective.sources["max_tokens"] == "workbench default"


def test_every_value_is_explicit_and_a_missing_seed_is_drawn():
    effective = resolve(Sampling(), rng=random.Random(5))
    assert all(v is not None for v in effective.sampling.to_dict().values())
    assert effective.sources["seed"] == "drawn"
    assert effective.sampling.seed == random.Random(5).randrange(2**31)
    # Resolving the resolved settings again changes nothing (backends do it too).
    again = resolve(effective.sampling)
    assert again.sampling == effective.sampling


def test_an_openai_server_gets_no_baseline_for_settings_the_api_lacks():
    effective = resolve(Sampling(), kind="openai")
    names = set(effective.sampling.to_dict())
    for name in names - {"temperature", "top_p", "max_tokens", "seed"}:
        assert getattr(effective.sampling, name) is None
        assert effective.sources[name] == "server default (not sent)"
    assert effective.sampling.temperature == BASELINE["temperature"]


def test_a_server_model_finds_its_preset_by_id_or_chat_template():
    server = ModelSpec(name="x", backend="ollama", url="http://h", model="codeqwen:7b")
    assert preset_name(server) == "codeqwen"
    named = ModelSpec(
        name="y", backend="openai", url="http://h", model="m", chat_template="deepseek"
    )
    assert preset_name(named) == "deepseek-coder"
    # A loaded local model says which preset its template came from (None: the GGUF's own).
    local = ModelSpec(name="deepseek-coder", backend="llamacpp", path="/m.gguf")
    assert preset_name(local, {"preset": None}) is None


def test_the_settings_line_shows_what_was_used():
    from workbench.core.format import settings_line

    effective = resolve(Sampling(seed=7), preset="deepseek-coder")
    line = settings_line(effective.sampling.to_dict())
    assert line == "temp 0.0 · top-p 0.95 · top-k 40 · min-p 0.05 · repeat 1.0 · max 256 · seed 7"
    assert settings_line({}) is None
