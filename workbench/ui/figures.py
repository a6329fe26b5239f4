"""The figures line of an answer pane, as text: live while a model streams, final after.

Pure functions of a ``ModelRun`` and a clock, so the words are tested without a
terminal. ``mask=True`` replaces every measured time and rate by a placeholder:
snapshot tests use it so that a screenshot never depends on the machine's speed.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

from workbench.core import metrics
from workbench.core.record import FINAL_STATES, ModelRun

#: Panes narrower than this (cells of text) show one compact line of figures: the full
#: first line (``TTFT 0.35s · 32.2 tok/s · 120 out / 40 in tok · total 4.06s``) fits above.
FULL_WIDTH = 60
#: What a masked duration and rate look like.
MASKED_TIME = "#.##s"
MASKED_RATE = "##.#"


def seconds(value: float | None, mask: bool = False) -> str:
    if value is None:
        return "–"
    if mask:
        return MASKED_TIME
    if value < 60:
        return f"{value:.2f}s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)}m{rest:04.1f}s"


def rate(value: float | None, mask: bool = False) -> str:
    if value is None:
        return "–"
    if mask:
        return MASKED_RATE
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def schedule_label(schedule: str, threads: list[int] | int | None) -> str:
    """The conditions that produced the figures: ``parallel · 1→2 threads``.

    ``threads`` lists the CPU threads a local model had, in order: the runner
    gives a model more when the others finish.
    """
    seen = [threads] if isinstance(threads, int) else list(threads or [])
    if not seen:
        return schedule
    shown = "→".join(str(n) for n in seen)
    return f"{schedule} · {shown} thread{'s' if seen != [1] else ''}"


def live(run: ModelRun, now: float, *, mask: bool = False) -> str:
    """One line while the run is queued, loading or streaming.

    Chunks are not tokens: while streaming, the count and the rate are of
    chunks and marked ``≈``; the exact token counts come with the final line.
    """
    if run.t_sent is None:
        return "waiting for the model…" if run.state == "queued" else "loading…"
    elapsed = now - run.t_sent
    if run.first_token_s is None:
        return f"prompt sent · {seconds(elapsed, mask)}"
    pieces = len(run.chunks)
    speed = metrics.live_rate(pieces, run.first_token_s, elapsed)
    return (
        f"TTFT {seconds(run.first_token_s, mask)} · ≈{rate(speed, mask)} tok/s · "
        f"≈{pieces} tok · {seconds(elapsed, mask)}"
    )


def final(
    run: ModelRun, schedule: str, *, threads: list[int] | None = None, mask: bool = False
) -> list[str]:
    """The lines of a finished, failed or cancelled run: client figures, then the server's."""
    fig = metrics.figures(run)
    # Always the same segments in the same order, so panes side by side line up.
    speed = f"{rate(fig.gen_tokens_per_s, mask)} tok/s"
    if fig.rate_span != "answer":
        speed += f" ({fig.rate_span})"  # thinking tokens are output tokens too
    first = [f"TTFT {seconds(fig.ttft_s, mask)}", speed]
    if fig.output_tokens is not None:
        tokens = f"{fig.output_tokens} out"
        if fig.prompt_tokens is not None:
            tokens += f" / {fig.prompt_tokens} in"
            if fig.cached_prompt_tokens:
                tokens += f", {fig.cached_prompt_tokens} cached"
        first.append(tokens + " tok")
    elif run.chunks:
        first.append(f"≈{len(run.chunks)} tok")
    first.append(f"total {seconds(fig.total_s, mask)}")
    second = []
    if fig.server_source:
        server = [f"{fig.server_source}:"]
        if fig.server_gen_tokens_per_s is not None:
            server.append(f"{rate(fig.server_gen_tokens_per_s, mask)} tok/s gen")
        if fig.server_prompt_tokens_per_s is not None:
            server.append(f"{rate(fig.server_prompt_tokens_per_s, mask)} tok/s prompt")
        second.append(" ".join(server))
    # A load that took no time (the model was already loaded) is noise; masked, the
    # threshold itself would make a snapshot depend on the machine's speed.
    if run.load_s is not None and run.load_s >= 0.05 and not mask:
        second.append(f"load {seconds(run.load_s, mask)}")
    if run.finish_reason and run.finish_reason != "stop":
        second.append(f"finish: {run.finish_reason}")
    second.append(schedule_label(schedule, threads or run.threads))
    lines = [" · ".join(first), " · ".join(second)]
    if run.info.get("notice"):  # said once: a load that fell back (no weight repacking)
        lines.append(str(run.info["notice"]))
    return lines


def compact(run: ModelRun, state: str, now: float, width: int, *, mask: bool = False) -> str:
    """One line of at most ``width`` cells: TTFT · tok/s · tokens · state.

    For narrow panes (the full figures stay in the pane's details). While the
    run streams the rate and count are of chunks and marked ``≈``, as in ``live``.
    """
    # A saved run has no t_sent (a clock of the process that ran it): only live rates need it.
    live_without_clock = state not in FINAL_STATES and run.t_sent is None
    if run.first_token_s is None or live_without_clock:
        early = f"no answer · {state}" if state in FINAL_STATES else live(run, now, mask=mask)
        return fit_line(early, width)
    if state in ("queued", "loading", "streaming"):
        pieces = len(run.chunks)
        speed = metrics.live_rate(pieces, run.first_token_s, now - run.t_sent)
        tps, tokens = f"≈{rate(speed, mask)}", f"≈{pieces}"
    else:
        fig = metrics.figures(run)
        tps = rate(fig.gen_tokens_per_s, mask)
        exact = fig.output_tokens
        tokens = str(exact) if exact is not None else f"≈{len(run.chunks)}"
    ttft = seconds(run.first_token_s, mask)
    tries = (
        f"TTFT {ttft} · {tps} tok/s · {tokens} tok · {state}",
        f"TTFT {ttft}·{tps} tok/s·{tokens} tok·{state}",
        f"{ttft}·{tps} tok/s·{tokens} tok·{state}",
        f"{ttft}·{tps}t/s·{tokens}t·{state}",
    )
    return fit_line(next((t for t in tries if cell_len(t) <= width), tries[-1]), width)


def fit_line(text: str, width: int) -> str:
    """``text`` cut with ``…`` to ``width`` cells (a line that never wraps)."""
    if width <= 0 or cell_len(text) <= width:
        return text
    return set_cell_size(text, max(width - 1, 0)) + "…"


def fitted(
    run: ModelRun,
    state: str,
    schedule: str,
    now: float,
    width: int,
    *,
    threads: list[int] | None = None,
    mask: bool = False,
) -> str:
    """The pane's figures for a content ``width``: the full lines in a wide pane, one
    compact line in a narrow one (``width`` 0: not laid out yet, the full lines).

    The cut is a width, not whether this pane's own text fits: panes side by side
    have the same width, so they always show the same kind of line.
    """
    if 0 < width < FULL_WIDTH:
        return compact(run, state, now, width, mask=mask)
    if state in FINAL_STATES:
        return "\n".join(final(run, schedule, threads=threads, mask=mask))
    return live(run, now, mask=mask)
