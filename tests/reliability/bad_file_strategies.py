"""Hypothesis strategies for broken session, index and config files, and a TOML writer."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

# Text as files hold it: any character but lone surrogates, which UTF-8 cannot carry.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
KEYS = st.sampled_from(
    [
        "schema_version", "id", "created", "mode", "prompt", "system", "sampling", "schedule",
        "parent", "rerun_of", "turn", "complete", "machine", "tags", "ratings", "runs", "model",
        "identity", "state", "conversation", "text", "chunks", "first_token_s", "last_token_s",
        "total_s", "load_s", "threads", "usage", "prompt_tokens", "output_tokens", "source",
        "finish_reason", "timings", "error", "info", "figures", "scores", "votes", "title",
        "message", "type", "a", "b", "outcome", "score", "at", "version", "files", "key",
        "summary", "path", "first_line", "models", "states", "rated",
    ]
) | TEXT  # fmt: skip

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and Infinity too: Python's json reads and writes them
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw, document: Any) -> Any:
    """``document`` with one to three changes deep inside: a value replaced by any JSON
    value, a key removed, or an unknown key added."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        node = document
        parent, key = None, None
        while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if parent is None:
            if action == "replace" or not isinstance(document, dict):
                document = draw(JSON_VALUES)
            elif action == "remove" and document:
                document.pop(draw(st.sampled_from(list(document))))
            else:
                document[draw(KEYS)] = draw(JSON_VALUES)
        elif action == "remove" and isinstance(parent, dict):
            parent.pop(key)
        elif action == "add" and isinstance(node, dict):
            node[draw(KEYS)] = draw(JSON_VALUES)
        else:
            parent[key] = draw(JSON_VALUES)
    return document


@st.composite
def damaged_bytes(draw, good: bytes) -> bytes:
    """``good`` cut short, with bytes flipped, or with invalid UTF-8 spliced in."""
    kind = draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if kind == "truncate":
        return good[: draw(st.integers(0, max(len(good) - 1, 0)))]
    if kind == "random":
        return draw(st.binary(max_size=2000))
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        else:
            data[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]))
    return bytes(data)


# --- config files ------------------------------------------------------------------------

SAMPLING = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(-1, 6, allow_nan=False) | st.integers(-2, 7) | TEXT,
        "top_p": st.floats(-1, 2, allow_nan=False) | TEXT | st.booleans(),
        "max_tokens": st.integers(-5, 2 * 10**6) | st.floats(allow_nan=False) | TEXT,
        "seed": st.integers(-(2**40), 2**40) | TEXT,
        "tempreature": st.floats(0, 1),
    },
)
ANY_TOML = st.recursive(
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
MODEL = st.fixed_dictionaries(
    {},
    optional={
        "name": TEXT | st.integers(),
        "backend": st.sampled_from(["llamacpp", "openai", "ollama", "llama.cpp", ""]) | ANY_TOML,
        "path": TEXT,
        "package": TEXT,
        "n_ctx": st.integers(-10, 10**7) | TEXT,
        "chat_template": st.sampled_from(["chatml", "gguf", "{{ x }}", "nope", "{% for %}"]),
        "url": st.sampled_from(["http://127.0.0.1:1/v1", "ftp://x", "", "http://"]) | TEXT,
        "model": TEXT,
        "api_key_env": TEXT,
        "connect_timeout": st.floats(allow_nan=True, allow_infinity=True) | st.integers(),
        "gap_timeout": st.floats(allow_nan=True, allow_infinity=True) | TEXT,
        "deadline": st.floats(allow_nan=True, allow_infinity=True) | st.booleans(),
        "stop": st.lists(TEXT | st.integers(), max_size=3) | TEXT,
        "sampling": SAMPLING | ANY_TOML,
        "unknwon": ANY_TOML,
    },
)
CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "models": st.lists(MODEL, max_size=4) | ANY_TOML,
        "defaults": st.fixed_dictionaries(
            {},
            optional={
                "schedule": st.sampled_from(["parallel", "sequential", "both"]) | ANY_TOML,
                "sessions_dir": TEXT | st.integers(),
                "sampling": SAMPLING,
            },
        )
        | ANY_TOML,
        "ui": st.dictionaries(st.sampled_from(["theme", "colour"]), ANY_TOML, max_size=2),
        "keys": st.dictionaries(TEXT, TEXT | st.integers(), max_size=3),
        "discovery": st.fixed_dictionaries(
            {},
            optional={
                "folders": st.lists(TEXT | st.integers(), max_size=2) | TEXT,
                "servers": st.lists(
                    st.dictionaries(
                        st.sampled_from(["backend", "url", "api_key_env", "x"]),
                        TEXT | st.sampled_from(["openai", "ollama"]),
                        max_size=4,
                    )
                    | ANY_TOML,
                    max_size=2,
                ),
            },
        ),
        "extra": ANY_TOML,
    },
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    """``data`` as TOML, with the tables and arrays of tables written as headers."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.extend((f"[{key}]", item) for item in value)
        else:
            lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    for name, table in tables:  # "[models]" for an array of tables becomes [[models]]
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in table.items():
            lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"
