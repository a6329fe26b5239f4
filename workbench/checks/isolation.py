"""Which sandbox a platform offers, and how to ask for a better one.

The sandbox (``workbench.checks.sandbox``) runs generated code in one of these modes,
best first:

- ``namespaces``: Linux namespaces made by workbench itself. As root: PID, network,
  mount, IPC and UTS namespaces and a fresh uid of its own. As an ordinary user: the
  same inside a user namespace (the user's uid maps to itself, so the code keeps no
  capability after ``exec``). Home folders and ``/run`` hidden, everything else
  read-only, private scratch folders, no network at all.
- ``bwrap``: the same made by bubblewrap, for machines where unprivileged user
  namespaces are refused to python but allowed to ``bwrap`` (Ubuntu 24.04's AppArmor
  rule), or where bwrap is setuid.
- ``sandbox-exec`` (macOS): ``basic`` plus a Seatbelt profile that denies the network
  and writes outside the work folder.
- ``basic``: a process group, rlimits, a timeout, a scrubbed environment and a
  temporary folder; the network is reachable and the code runs as the user.

On Windows there is no sandbox: checks are unavailable and say so. Pure functions
here (no probing): ``sandbox.isolation_report()`` tries the modes for real.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field

from workbench.checks.layout import HIDDEN_DIRS, SCRATCH_DIRS, SCRATCH_MB

#: Every mode, best first ("auto" picks the best that works).
MODES = ("namespaces", "bwrap", "sandbox-exec", "basic")
#: The setting that forces one (``auto`` when unset): ``WORKBENCH_ISOLATION=bwrap``.
ISOLATION_ENV = "WORKBENCH_ISOLATION"
SANDBOX_EXEC = "/usr/bin/sandbox-exec"

#: What each mode protects (README's table says the same, per platform).
PROTECTS = {
    "namespaces": "no network (not even 127.0.0.1), own PID/mount/IPC/UTS namespaces, "
    "home folders and /run hidden, the rest read-only, private /tmp, rlimits, timeout",
    "bwrap": "the same as namespaces, made by bubblewrap",
    "sandbox-exec": "rlimits, timeout, scrubbed environment, temporary folder; network "
    "and writes outside the work folder denied by sandbox-exec",
    "basic": "rlimits, timeout, process group, scrubbed environment, temporary folder "
    "only: the code can reach the network and write wherever you can",
    "unavailable": "nothing: checks do not run",
}


@dataclass(frozen=True)
class Candidate:
    """One mode tried on this machine: does it work, and if not, why."""

    mode: str
    works: bool
    why: str = ""


@dataclass(frozen=True)
class IsolationReport:
    """Which isolation checks get here and why (``workbench doctor`` prints it).

    ``mode`` is one of ``MODES`` or "unavailable" (Windows, or a forced mode that does
    not work); ``reason`` says why it is not a better one ("" when it is the best);
    ``hint`` is one line on how to get a better one ("" when there is none to get).
    """

    mode: str
    reason: str
    hint: str
    platform: str
    forced: bool = False
    tried: tuple[Candidate, ...] = field(default_factory=tuple)

    @property
    def protects(self) -> str:
        return PROTECTS.get(self.mode, "")

    @property
    def note(self) -> str:
        """The line every check result in a weaker mode carries: reason, then hint."""
        return " ".join(part for part in (self.reason, self.hint) if part)

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "reason": self.reason,
            "hint": self.hint,
            "platform": self.platform,
            "forced": self.forced,
            "protects": self.protects,
            "tried": [vars(c) for c in self.tried],
        }


def platform_name(platform: str | None = None) -> str:
    """ "linux", "macos", "windows" or the raw ``sys.platform`` of anything else."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return "linux"
    if platform == "darwin":
        return "macos"
    if platform in ("win32", "cygwin"):
        return "windows"
    return platform


def requested_mode(environ: dict[str, str] | None = None) -> str:
    """The mode asked for in ``WORKBENCH_ISOLATION`` ("auto" when unset); ValueError
    naming the variable for anything else."""
    value = (environ if environ is not None else os.environ).get(ISOLATION_ENV, "").strip()
    value = value.lower() or "auto"
    if value not in ("auto", *MODES):
        raise ValueError(
            f"{ISOLATION_ENV}={value!r}: expected auto, {', '.join(MODES[:-1])} or basic."
        )
    return value


def candidates(platform: str, root: bool) -> tuple[str, ...]:
    """The modes worth trying on ``platform``, best first."""
    if platform == "linux":
        return ("namespaces", "bwrap", "basic")
    if platform == "macos":
        return ("sandbox-exec", "basic")
    return ()


def unavailable_reason(platform: str) -> str:
    if platform == "windows":
        return (
            "Checks run generated code in a sandbox, and Windows has none that workbench "
            "can use; everything else works."
        )
    return f"Checks need Linux or macOS; this is {platform}."


def hint_for(platform: str, tried: tuple[Candidate, ...]) -> str:
    """One line on how to get a better mode than the first one that works."""
    if platform == "windows":
        return "Run workbench inside WSL 2 to check answers."
    if platform == "macos":
        if any(c.mode == "sandbox-exec" and c.works for c in tried):
            return "For namespaces, run the checks in a Linux VM or container."
        return "sandbox-exec is missing; the network is reachable from checks."
    if platform != "linux" or not tried or tried[0].works:
        return ""
    native = tried[0].why
    bwrap = next((c for c in tried if c.mode == "bwrap"), None)
    if bwrap is not None and bwrap.works:
        return ""
    if "apparmor" in native.lower() or _apparmor_restricts():
        return (
            "Install bubblewrap (apt-get install bubblewrap), which Ubuntu's AppArmor "
            "allows, or set kernel.apparmor_restrict_unprivileged_userns=0."
        )
    if bwrap is not None and "not installed" in bwrap.why:
        return (
            "Enable unprivileged user namespaces (sysctl user.max_user_namespaces=15000; "
            "in a container: allow CLONE_NEWUSER) or install bubblewrap."
        )
    return "Enable unprivileged user namespaces (sysctl user.max_user_namespaces=15000)."


def _apparmor_restricts() -> bool:
    try:
        with open("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") as handle:
            return handle.read().strip() == "1"
    except OSError:
        return False


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def under_hidden(path: str, *folders: str) -> bool:
    """Whether ``path`` is (under) one of ``folders``, by default the hidden ones."""
    return any(path == d or path.startswith(d + "/") for d in folders or HIDDEN_DIRS)


def under_scratch(path: str) -> str | None:
    """The scratch folder (``/tmp``, …) ``path`` lies under, or None."""
    return next((d for d in SCRATCH_DIRS if path.startswith(d + "/")), None)


def _parents_below(path: str, top: str) -> list[str]:
    """ "/root/a/b/c" below "/root" -> ["/root/a", "/root/a/b"]: the folders bwrap must
    make for it."""
    parts = path.strip("/").split("/")
    first = len(top.strip("/").split("/")) + 1
    return ["/" + "/".join(parts[:i]) for i in range(first, len(parts))]


def _bind_back(argv: list[str], paths: list[str], top_of) -> None:
    """Show ``paths`` again read-only inside the fresh folders mounted over them."""
    made: set[str] = set()
    for path in paths:
        # bwrap makes a bind's missing parents 0700: a dropped uid could not pass them.
        for parent in _parents_below(path, top_of(path)):
            if parent not in made:
                made.add(parent)
                argv += ["--perms", "0755", "--dir", parent]
        argv += ["--ro-bind", path, path]


def bwrap_argv(
    bwrap: str,
    *,
    workdir: str,
    workdir_mb: int,
    keep: tuple[str, ...],
    user_namespace: bool,
    command: list[str],
) -> list[str]:
    """bubblewrap's command line for the sandbox: the namespaces' layout, then
    ``command`` (our init) inside it. ``keep``: folders to show read-only even though
    they lie under a hidden one (the interpreter, the package)."""
    argv = [bwrap, "--die-with-parent"]
    if user_namespace:
        argv.append("--unshare-user")
    argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--ro-bind", "/", "/"]
    hidden = [d for d in HIDDEN_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    for folder in hidden:
        argv += ["--perms", "0755", "--size", str(1 << 20), "--tmpfs", folder]
    # Kept folders, less those inside another kept one.
    shown = [p for p in sorted(keep) if not any(p.startswith(k + "/") for k in keep)]
    hidden_kept = [p for p in shown if under_hidden(p)]
    _bind_back(argv, hidden_kept, lambda p: next(d for d in HIDDEN_DIRS if under_hidden(p, d)))
    for folder in hidden:
        argv += ["--remount-ro", folder]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    for folder in SCRATCH_DIRS:
        if folder == "/dev/shm" or (os.path.isdir(folder) and not os.path.islink(folder)):
            argv += ["--perms", "01777", "--size", str(SCRATCH_MB << 20), "--tmpfs", folder]
    # A clone or venv under /tmp: the fresh /tmp would hide it (and init's package).
    _bind_back(argv, [p for p in shown if under_scratch(p)], under_scratch)
    argv += ["--perms", "0700", "--size", str(workdir_mb << 20), "--tmpfs", workdir]
    return [*argv, "--chdir", workdir, "--", *command]


def seatbelt_profile(workdir: str) -> str:
    """macOS ``sandbox-exec`` profile: everything allowed but the network and writes
    outside the work folder (and the null and tty devices)."""
    quoted = workdir.replace("\\", "\\\\").replace('"', '\\"')
    return (
        "(version 1)(allow default)(deny network*)"
        "(deny file-write*)"
        f'(allow file-write* (subpath "{quoted}") (subpath "/private{quoted}")'
        ' (literal "/dev/null") (literal "/dev/zero") (regex #"^/dev/tty"))'
    )
