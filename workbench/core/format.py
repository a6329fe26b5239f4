"""Plain-text formatting of figures, shared by the CLI and the TUI."""

from __future__ import annotations

from workbench.core.metrics import Figures


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}/s"


def count(value: int | None) -> str:
    return "–" if value is None else str(value)


def percent(value: float | None, digits: int = 0) -> str:
    """A share such as pass@k: ``67%``, ``66.7%`` with ``digits=1``, ``–`` when unknown."""
    return "–" if value is None else f"{value:.{digits}%}"


def short(text: str, width: int = 70) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def figures_line(fig: Figures) -> str:
    """One line: TTFT, total, tokens in/out, generation and prompt rates."""
    parts = [
        f"TTFT {seconds(fig.ttft_s)}",
        f"total {seconds(fig.total_s)}",
        f"in {prompt_count(fig)} out {count(fig.output_tokens)} tok",
        f"gen {rate(fig.gen_tokens_per_s)}" + span_note(fig),
    ]
    if fig.prompt_tokens_per_s is not None:
        parts.append(f"prompt {rate(fig.prompt_tokens_per_s)}")
    return " · ".join(parts)


def prompt_count(fig: Figures) -> str:
    """``40``, or ``40 (38 cached)`` when part of the prompt came from the cache."""
    if fig.cached_prompt_tokens:
        return f"{count(fig.prompt_tokens)} ({fig.cached_prompt_tokens} cached)"
    return count(fig.prompt_tokens)


def span_note(fig: Figures) -> str:
    """`` (thinking + answer)`` when the rate counts thinking tokens too."""
    return "" if fig.rate_span == "answer" else f" ({fig.rate_span})"


#: Short names of the sampling settings, in the order ``settings_line`` shows them.
SETTING_LABELS = {
    "temperature": "temp",
    "top_p": "top-p",
    "top_k": "top-k",
    "min_p": "min-p",
    "repeat_penalty": "repeat",
    "max_tokens": "max",
    "seed": "seed",
}


def settings_line(sampling: dict[str, object]) -> str | None:
    """The settings a run used: ``temp 0.2 · top-p 0.95 · … · seed 1234`` (a value the
    server chose is left out); ``None`` for a run that recorded none."""
    parts = [
        f"{label} {sampling[name]}"
        for name, label in SETTING_LABELS.items()
        if sampling.get(name) is not None
    ]
    return " · ".join(parts) or None


def server_line(fig: Figures) -> str | None:
    """The model side's own figures, labelled with their source, when there are any."""
    if fig.server_source is None:
        return None
    return (
        f"{fig.server_source}: gen {rate(fig.server_gen_tokens_per_s)}"
        f" · prompt {rate(fig.server_prompt_tokens_per_s)}"
    )
