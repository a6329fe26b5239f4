"""The free-core estimate: /proc arithmetic on a written /proc, and the real one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.core.cpu import CpuSample, busy_elsewhere, free_cores, sample

SPIN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def write_proc(root: Path, busy_ticks: int, child_ticks: int) -> None:
    """A /proc with every allowed CPU at ``busy_ticks`` and one worker child."""
    lines = ["cpu  1 1 1 1 1 1 1 1 0 0"]
    for n in sorted(os.sched_getaffinity(0)):
        # user nice system idle iowait irq softirq steal: idle and iowait are not busy
        lines.append(f"cpu{n} {busy_ticks} 0 0 5000 7000 0 0 0 0 0")
    lines.append("cpu999 100000 0 0 0 0 0 0 0 0 0")  # not ours to use: ignored
    root.mkdir(exist_ok=True)
    (root / "stat").write_text("\n".join(lines) + "\n")
    child = root / "4242"
    child.mkdir(exist_ok=True)
    fields = ["S", str(os.getpid())] + ["0"] * 9 + [str(child_ticks), "0"] + ["0"] * 30
    (child / "stat").write_text(f"4242 (python (worker)) {' '.join(fields)}\n")
    other = root / "4343"
    other.mkdir(exist_ok=True)  # someone else's process: not ours
    (other / "stat").write_text(f"4343 (x) S 1 {' '.join(['0'] * 9)} 900 900 0\n")
    (root / "self").mkdir(exist_ok=True)  # not a pid: skipped


def test_sample_reads_allowed_cpus_and_our_children(tmp_path: Path) -> None:
    tick = os.sysconf("SC_CLK_TCK")
    write_proc(tmp_path, busy_ticks=300, child_ticks=50)
    got = sample(tmp_path)
    assert got is not None
    assert got.busy == pytest.approx(300 * len(os.sched_getaffinity(0)) / tick)
    own = os.times()
    assert got.ours == pytest.approx(own.user + own.system + 50 / tick, abs=0.05)


def test_sample_without_proc_is_none(tmp_path: Path) -> None:
    assert sample(tmp_path / "missing") is None


def test_busy_elsewhere_leaves_out_our_own_time() -> None:
    before = CpuSample(at=10.0, busy=100.0, ours=5.0)
    # 1 s later: 1.6 CPU-seconds busy, 0.6 of them ours -> 1 core busy elsewhere
    after = CpuSample(at=11.0, busy=101.6, ours=5.6)
    assert busy_elsewhere(before, after) == pytest.approx(1.0)
    # our own work alone is no load elsewhere, and jitter never goes negative
    assert busy_elsewhere(before, CpuSample(11.0, 101.0, 6.1)) == 0.0


def test_busy_elsewhere_needs_a_window_and_samples() -> None:
    before = CpuSample(at=10.0, busy=100.0, ours=5.0)
    assert busy_elsewhere(before, CpuSample(10.05, 100.1, 5.0)) is None
    assert busy_elsewhere(None, before) is None
    assert busy_elsewhere(before, None) is None


@pytest.mark.parametrize(
    ("cores", "busy", "free"),
    [(2, None, 2), (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.9, 1), (2, 5.0, 1), (8, 2.2, 6)],
)
def test_free_cores(cores: int, busy: float | None, free: int) -> None:
    assert free_cores(cores, busy) == free


def spin(seconds: float, *, via_shell: bool) -> subprocess.Popen:
    code = [sys.executable, "-c", SPIN.format(s=seconds)]
    if via_shell:  # a grandchild: someone else's load as far as we can tell
        return subprocess.Popen(["sh", "-c", '"$0" -c "$1"; true', *code[0:1], code[2]])
    return subprocess.Popen(code)


@pytest.mark.parametrize("via_shell", [False, True], ids=["child", "grandchild"])
def test_real_proc_counts_a_child_as_ours(via_shell: bool) -> None:
    """A spinning worker child is our own time; a process that is not our child is not."""
    before = sample()
    if before is None:
        pytest.skip("no /proc/stat here")
    proc = spin(1.0, via_shell=via_shell)
    time.sleep(0.8)  # sample while it still runs: a child's time counts while it lives
    after = sample()
    proc.wait()
    assert after is not None
    spent_ours = after.ours - before.ours
    spent_all = after.busy - before.busy
    assert spent_all >= 0.2  # it got some CPU, whatever else the machine does
    if via_shell:
        assert spent_ours < 0.15
    else:
        assert spent_ours >= 0.2
