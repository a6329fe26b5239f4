"""``bench/run --smoke``: every benchmark runs and prints all its rows (a smoke test).

The smoke mode gives each script the least work that still runs it end to end
(one round, a handful of tokens, a hundred sessions): its figures mean nothing,
and the test does not look at them. It checks that the suite works: each
benchmark exits 0, reports the rows it should, and the combined table shows
them all, well inside CI's time on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def suite():
    """bench/run as a module (its file has no .py suffix)."""
    loader = SourceFileLoader("bench_run", str(BENCH / "run"))
    module = module_from_spec(spec_from_loader("bench_run", loader))
    sys.modules["bench_run"] = module  # its dataclasses look their module up
    loader.exec_module(module)
    return module


@pytest.mark.slow
def test_smoke_run_prints_every_row(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run"), "--smoke", "--results-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [combined] = tmp_path.glob("run-*.json")
    payload = json.loads(combined.read_text())
    benches = {bench.name: bench for bench in suite().BENCHES}
    assert payload["smoke"] and [b["benchmark"] for b in payload["benchmarks"]] == list(benches)
    table = proc.stdout
    for outcome in payload["benchmarks"]:
        assert "error" not in outcome, outcome
        rows = [row for report in outcome["reports"] for row in report["rows"]]
        assert len(rows) >= benches[outcome["benchmark"]].expected_rows("smoke")
        for row in rows:
            assert row["measure"] in table
            assert {"baseline", "workbench", "ratio", "goal", "met"} <= row.keys()
    # One line per row in the printed table, and no failed benchmark.
    assert "ERROR" not in table
    assert len(payload["table"]) == sum(
        len(report["rows"]) for o in payload["benchmarks"] for report in o["reports"]
    )
