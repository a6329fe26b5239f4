"""HumanEval: the full suite on both bundled models, and the sandbox's checks per second.

- **Checks per second**: HumanEval's canonical solutions (the first ``--checks``
  tasks), each program checked by workbench's sandbox (``check_program``: namespaces,
  limits, the harness) and, alternating round by round, by a plain
  ``subprocess.run([python, "-c", program])`` of the same program with the task's
  ``check`` call appended. Reported: checks/s of each and the ratio.
- **The suite**: ``workbench suite humaneval -m smollm2 -m gemma3`` (greedy
  pass@1, protocol auto: chat for SmolLM2-Instruct, completion for Gemma 3 270M)
  in a process of its own, with a fresh session folder (``--sessions DIR`` keeps
  them, and a later run resumes there): wall time, where the time
  went (generation vs checks, as the suite counts them) and pass@1 per model with
  its Wilson 95 % interval. ``--limit N`` runs the first N tasks only.

    python bench/humaneval.py [--limit 164] [--checks 40] [--rounds 3]

On a shared machine the wall time is the machine's as much as workbench's: the
benchmark prints the load average beside it (bench/results keeps the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, median, report


def _programs(count: int) -> list[tuple[str, str]]:
    from workbench.checks.humaneval import builtin_path, read_jsonl_text

    tasks = [json.loads(line) for line in read_jsonl_text(builtin_path()).splitlines()][:count]
    programs = []
    for task in tasks:
        tests = f"{task['test']}\ncheck({task['entry_point']})\n"
        programs.append((task["prompt"] + task["canonical_solution"], tests))
    return programs


def checks_per_second(count: int, rounds: int) -> dict:
    from workbench.checks.codecheck import check_program

    programs = _programs(count)
    sandbox, plain = [], []
    isolation = set()
    for _ in range(rounds):
        start = time.perf_counter()
        for code, tests in programs:
            result = check_program(code, tests, timeout=20)
            assert result.passed, result.message
            if result.sandbox is not None:
                isolation.add(result.sandbox.isolation)
        sandbox.append(len(programs) / (time.perf_counter() - start))
        start = time.perf_counter()
        for code, tests in programs:
            done = subprocess.run(
                [sys.executable, "-c", f"{code}\n\n{tests}"], capture_output=True, check=False
            )
            assert done.returncode == 0, done.stderr
        plain.append(len(programs) / (time.perf_counter() - start))
    return {
        "sandbox": sandbox,
        "plain": plain,
        "isolation": sorted(isolation),
        "programs": len(programs),
    }


def full_suite(limit: int, sessions: str | None) -> dict:
    """The suite in a process of its own; ``sessions``: a folder kept (and resumed) across
    runs of the benchmark, else a fresh temporary one."""
    workbench = Path(sys.executable).with_name("workbench")
    command = [str(workbench) if workbench.exists() else "workbench", "suite", "humaneval"]
    command += ["-m", "smollm2", "-m", "gemma3", "--json", "--quiet"]
    if limit < 164:
        command += ["--limit", str(limit)]
    with tempfile.TemporaryDirectory(prefix="bench-humaneval-") as folder:
        start = time.perf_counter()
        load_before = os.getloadavg()[0]
        done = subprocess.run(
            [*command, "--sessions", sessions or str(Path(folder) / "sessions")],
            capture_output=True,
            text=True,
            check=False,
            cwd=folder,
        )
        wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"workbench suite failed ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(done.stdout)
    data["wall_s"] = wall
    data["load_before"] = load_before
    data["load_after"] = os.getloadavg()[0]
    return data


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=164, help="HumanEval tasks of the suite")
    parser.add_argument("--checks", type=int, default=40, help="programs per checks round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument(
        "--sessions", metavar="DIR", help="keep the suite's sessions here (a rerun resumes)"
    )
    args = parser.parse_args()

    rows = []
    speed = checks_per_second(args.checks, args.rounds)
    sandbox, plain = median(speed["sandbox"]), median(speed["plain"])
    rows.append(
        {
            "measure": f"checks/s, {speed['programs']} canonical HumanEval programs, one at a time",
            "baseline": f"{plain:.1f}/s plain subprocess.run",
            "workbench": f"{sandbox:.1f}/s sandbox ({', '.join(speed['isolation'])})",
            "ratio": f"{sandbox / plain:.2f}",
            "goal": "",
            "met": "",
        }
    )
    raw = {"checks": speed}
    if not args.skip_suite:
        suite = full_suite(args.limit, args.sessions)
        raw["suite"] = suite
        tasks = len(suite["models"][0]["tasks"])
        rows.append(
            {
                "measure": f"HumanEval {tasks} tasks × 2 models, greedy, wall time",
                "baseline": f"load {suite['load_before']:.1f} → {suite['load_after']:.1f}",
                "workbench": f"{suite['wall_s']:.0f} s",
                "ratio": "",
                "goal": "",
                "met": "",
            }
        )
        generation, checks = suite["generation_s"], suite["check_s"]
        rows.append(
            {
                "measure": "where the time goes: generation / checks",
                "baseline": "",
                "workbench": f"{generation:.0f} s / {checks:.1f} s",
                "ratio": f"{checks / max(generation + checks, 1e-9):.3f} in checks",
                "goal": "",
                "met": "",
            }
        )
        for model in suite["models"]:
            low, high = model["interval"]["1"] or (None, None)
            passed = f"{_pct(model['pass_at']['1'])} ({model['passed']}/{model['runs']})"
            rows.append(
                {
                    "measure": f"pass@1 {model['model']} ({model['protocol']})",
                    "baseline": "",
                    "workbench": passed,
                    "ratio": f"Wilson 95% {_pct(low)}–{_pct(high)}",
                    "goal": "",
                    "met": "",
                }
            )
    raw["machine"] = machine()
    report("humaneval", rows, raw)


if __name__ == "__main__":
    main()
