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
        f"in {count(fig.prompt_tokens)} out {count(fig.output_tokens)} tok",
        f"gen {rate(fig.gen_tokens_per_s)}",
    ]
    if fig.prompt_tokens_per_s is not None:
        parts.append(f"prompt {rate(fig.prompt_tokens_per_s)}")
    return " · ".join(parts)


def server_line(fig: Figures) -> str | None:
    """The model side's own figures, labelled with their source, when there are any."""
    if fig.server_source is None:
        return None
    return (
        f"{fig.server_source}: gen {rate(fig.server_gen_tokens_per_s)}"
        f" · prompt {rate(fig.server_prompt_tokens_per_s)}"
    )
