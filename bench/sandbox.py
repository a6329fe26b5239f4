"""The cost of the sandbox: checks per second in each isolation mode that works here.

Each mode runs the same small check (a function and an assert, like a HumanEval test)
through ``run_python``; the baseline, measured in the same rounds and alternating
with them, is a plain ``subprocess.run`` of the same program (the file written to a
fresh folder, ``python -I main.py``), with the same interpreter, as the same account.
The ratio is sandboxed / plain checks per second: the price of the safety.

As root it measures root's modes and then, unless ``--no-user``, an ordinary
account's (``nobody``, in a worker process of its own that measures its own baseline):
the user-namespace and bubblewrap modes are what ordinary users get.

Run: ``python bench/sandbox.py [--rounds 5] [--checks 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from _common import median, report  # noqa: E402

from workbench.checks.sandbox import run_python  # noqa: E402
from workbench.checks.supervisor import SandboxError  # noqa: E402

PROGRAM = "def add(a, b):\n    return a + b\n\n\nassert add(2, 3) == 5\nprint('ok')\n"
MODES = ("namespaces", "bwrap", "basic")
#: The account that stands for an ordinary user, and an interpreter it can read.
USER = 65534
SYSTEM_PYTHON = "/usr/bin/python3"


def plain_once(python: str) -> None:
    folder = tempfile.mkdtemp(prefix="wb-bench-plain-")
    try:
        Path(folder, "main.py").write_text(PROGRAM)
        done = subprocess.run(
            [python, "-I", "main.py"], cwd=folder, capture_output=True, timeout=10
        )
        assert done.stdout == b"ok\n", done
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sandboxed_once(mode: str, python: str) -> None:
    result = run_python(PROGRAM, isolation=mode, python=python, timeout=10)
    assert result.passed and result.isolation == mode, result


def working_modes(python: str) -> tuple[list[str], dict[str, str]]:
    """The modes that run here, and why the others do not."""
    works, why = [], {}
    for mode in MODES:
        try:
            sandboxed_once(mode, python)
            works.append(mode)
        except (SandboxError, AssertionError) as exc:
            why[mode] = str(exc)[:200]
    return works, why


def measure(rounds: int, checks: int, python: str) -> dict:
    """Checks per second of each round, per kind ("plain" and each working mode)."""
    modes, skipped = working_modes(python)
    kinds = ["plain", *modes]
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_ in range(rounds):
        order = kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]  # alternate
        for kind in order:
            started = time.perf_counter()
            for _ in range(checks):
                if kind == "plain":
                    plain_once(python)
                else:
                    sandboxed_once(kind, python)
            rates[kind].append(checks / (time.perf_counter() - started))
    return {"uid": os.geteuid(), "python": python, "rates": rates, "skipped": skipped}


def as_user(rounds: int, checks: int) -> dict | None:
    """The same measurement as an ordinary account, in a worker process of its own."""
    if os.geteuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK):
        return None
    worker_args = ("--rounds", str(rounds), "--checks", str(checks))
    home = tempfile.mkdtemp(prefix="wb-bench-user-")
    os.chown(home, USER, USER)
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-I", __file__, "--worker", *worker_args],
            user=USER,
            group=USER,
            extra_groups=[],
            cwd=home,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=3600,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0:
        print(f"as uid {USER}: failed: {done.stderr[-500:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.splitlines()[-1])


def rows_of(who: str, data: dict) -> list[dict]:
    plain = median(data["rates"]["plain"])
    rows = []
    for mode, rates in data["rates"].items():
        if mode == "plain":
            continue
        rate = median(rates)
        rows.append(
            {
                "measure": f"checks/s as {who}: {mode}",
                "baseline": f"{plain:.1f}/s plain subprocess.run",
                "workbench": f"{rate:.1f}/s",
                "ratio": f"{rate / plain:.2f}",
                "goal": "cost shown",
                "met": "-",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checks", type=int, default=20, help="checks per kind and round")
    parser.add_argument("--no-user", action="store_true", help="as root: skip the account")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Root's basic mode drops to a fresh uid, which cannot read an interpreter under
    # /root: every side uses the system's where there is one.
    python = SYSTEM_PYTHON if os.access(SYSTEM_PYTHON, os.X_OK) else sys.executable
    data = measure(args.rounds, args.checks, os.path.realpath(python))
    if args.worker:
        print(json.dumps(data))
        return
    who = "root" if data["uid"] == 0 else f"uid {data['uid']}"
    rows = rows_of(who, data)
    raw = {who: data}
    user = None if args.no_user else as_user(args.rounds, args.checks)
    if user is not None:
        rows += rows_of(f"uid {USER}", user)
        raw[f"uid {USER}"] = user
    for name, part in raw.items():
        for mode, why in part["skipped"].items():
            print(f"{name}: {mode} skipped: {why}", file=sys.stderr)
    report("sandbox", rows, raw)


if __name__ == "__main__":
    main()
