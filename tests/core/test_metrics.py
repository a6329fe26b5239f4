"""The figures of a run: pure functions over stamped chunks and the backend's usage."""

from __future__ import annotations

import pytest

from workbench.core.metrics import figures, first_text_offset, generation_rate, live_rate
from workbench.core.record import ModelRun
from workbench.models.request import ServerTimings

# --- generation_rate -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "first", "last", "expected"),
    [
        (11, 1.0, 3.0, 5.0),  # 10 intervals in 2 s
        (2, 0.5, 0.75, 4.0),
        (101, 0.2, 10.2, 10.0),
        (5, 0.0, 0.5, 8.0),  # a first token at offset 0 is still a time
    ],
)
def test_generation_rate_is_tokens_minus_one_over_the_span(tokens, first, last, expected):
    assert generation_rate(tokens, first, last) == pytest.approx(expected)


def test_generation_rate_excludes_the_first_token():
    # Not n / (last - first), and not n / last: the first token belongs to the prompt.
    rate = generation_rate(10, 1.0, 2.0)
    assert rate == pytest.approx(9.0)
    assert rate != pytest.approx(10.0)


@pytest.mark.parametrize(
    ("tokens", "first", "last"),
    [
        (0, 1.0, 2.0),
        (1, 1.0, 2.0),  # one token has no span
        (5, 1.0, 1.0),  # zero span
        (5, 2.0, 1.0),  # negative span
        (None, 1.0, 2.0),
        (5, None, 2.0),
        (5, 1.0, None),
    ],
)
def test_generation_rate_is_none_when_it_cannot_be_measured(tokens, first, last):
    assert generation_rate(tokens, first, last) is None


# --- first_text_offset -----------------------------------------------------------------


def test_first_text_offset_skips_empty_chunks():
    assert first_text_offset([(0.1, ""), (0.2, ""), (0.35, "x"), (0.5, "y")]) == 0.35


def test_first_text_offset_counts_whitespace_as_text():
    assert first_text_offset([(0.1, ""), (0.2, "\n"), (0.3, "x")]) == 0.2


def test_first_text_offset_of_nothing():
    assert first_text_offset([]) is None
    assert first_text_offset([(0.1, ""), (0.2, "")]) is None


# --- figures ---------------------------------------------------------------------------


def run_with(**fields) -> ModelRun:
    base = {
        "model": "m",
        "chunks": [(0.5, "a"), (0.7, "b"), (1.0, "c"), (1.5, "d")],
        "first_token_s": 0.5,
        "last_token_s": 1.5,
        "total_s": 1.6,
        "prompt_tokens": 12,
        "output_tokens": 6,
        "state": "done",
    }
    return ModelRun(**(base | fields))


def test_figures_without_server_timings():
    fig = figures(run_with())
    assert fig.ttft_s == 0.5
    assert fig.total_s == 1.6
    assert fig.prompt_tokens == 12
    assert fig.output_tokens == 6
    # Backend truth (6 tokens), not the 4 chunks: (6 - 1) / (1.5 - 0.5).
    assert fig.gen_tokens_per_s == pytest.approx(5.0)
    assert fig.prompt_tokens_per_s is None
    assert fig.server_source is None
    assert fig.server_gen_tokens_per_s is None
    assert fig.server_prompt_tokens_per_s is None


def test_figures_with_server_timings_are_kept_beside_the_client_clock():
    timings = ServerTimings(
        source="llama.cpp perf",
        prompt_tokens=12,
        prompt_ms=240.0,
        output_tokens=5,
        generation_ms=1250.0,
    )
    fig = figures(run_with(timings=timings))
    assert fig.gen_tokens_per_s == pytest.approx(5.0)  # the client's clock
    assert fig.server_source == "llama.cpp perf"
    assert fig.server_gen_tokens_per_s == pytest.approx(4.0)  # 5 / 1.25 s
    assert fig.server_prompt_tokens_per_s == pytest.approx(50.0)  # 12 / 0.24 s
    assert fig.prompt_tokens_per_s == pytest.approx(50.0)


def test_server_timings_with_gaps():
    timings = ServerTimings(source="ollama", output_tokens=10, generation_ms=0.0)
    fig = figures(run_with(timings=timings))
    assert fig.server_source == "ollama"
    assert fig.server_gen_tokens_per_s is None
    assert fig.server_prompt_tokens_per_s is None


def test_figures_fall_back_to_the_chunk_timeline():
    run = run_with(
        first_token_s=None, last_token_s=None, chunks=[(0.2, ""), (0.4, "a"), (0.9, "b")]
    )
    fig = figures(run)
    assert fig.ttft_s == 0.4
    assert fig.gen_tokens_per_s == pytest.approx(5 / 0.5)


def test_figures_of_a_run_without_usage():
    fig = figures(run_with(prompt_tokens=None, output_tokens=None, state="failed"))
    assert fig.ttft_s == 0.5
    assert fig.output_tokens is None
    assert fig.gen_tokens_per_s is None


def test_figures_of_a_single_token_answer():
    fig = figures(run_with(output_tokens=1, chunks=[(0.5, "a")], last_token_s=0.5))
    assert fig.ttft_s == 0.5
    assert fig.gen_tokens_per_s is None


def test_figures_of_an_empty_run():
    fig = figures(ModelRun(model="m"))
    assert fig.ttft_s is None
    assert fig.total_s is None
    assert fig.gen_tokens_per_s is None


def test_figures_to_dict_has_every_field():
    data = figures(run_with()).to_dict()
    assert data["gen_tokens_per_s"] == pytest.approx(5.0)
    assert {"ttft_s", "total_s", "prompt_tokens", "output_tokens", "server_source"} <= set(data)


def test_live_rate():
    assert live_rate(11, 1.0, 3.0) == pytest.approx(5.0)
    assert live_rate(1, 1.0, 3.0) is None
    assert live_rate(5, None, 3.0) is None
    assert live_rate(5, 3.0, 3.0) is None
