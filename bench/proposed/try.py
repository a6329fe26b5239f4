"""Run one benchmark with proposed fixes patched in, to measure their effect.

    python bench/proposed/try.py PATCHES BENCHMARK [its arguments]
    python bench/proposed/try.py pane-classes,session-save,streamed-view tui_absorb --rounds 3
    python bench/proposed/try.py gap-timer,sse-decoder fanout
    python bench/proposed/try.py none fanout          # the same harness, nothing patched

PATCHES is a comma-separated list of the names in patch_tui.py and patch_http.py
("none" for none). The benchmark then runs as it does from bench/run, in this
process, and reports as usual (its JSON file name says which patches were on).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    patches, name, *rest = sys.argv[1:]
    names = [] if patches == "none" else [p for p in patches.split(",") if p]
    sys.path[:0] = [str(HERE), str(BENCH)]
    import patch_http
    import patch_tui

    known = set(patch_http.NAMES) | set(patch_tui.NAMES)
    unknown = set(names) - known
    if unknown:
        raise SystemExit(f"unknown patch(es) {sorted(unknown)}; known: {', '.join(sorted(known))}")
    patch_http.apply([n for n in names if n in patch_http.NAMES])
    patch_tui.apply([n for n in names if n in patch_tui.NAMES])
    import _common

    original = _common.report
    label = "+".join(names) or "none"

    def report(benchmark: str, rows, raw=None) -> None:
        original(f"{benchmark}-proposed-{label}", rows, raw)

    _common.report = report
    script = BENCH / f"{name}.py"
    if not script.is_file():
        raise SystemExit(f"no benchmark {script}")
    sys.argv = [str(script), *rest]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
