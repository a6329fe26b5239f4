"""The sandbox's namespaces and mounts, made by its bootstrap and init (Linux only).

Standard library only: it runs in ``python -I -S`` before the code starts, beside
``sandbox_child``. Everything here happens inside new namespaces, so nothing reaches
the host's mounts.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import os

from workbench.checks.layout import HIDDEN_DIRS, SCRATCH_DIRS, SCRATCH_MB

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
#: statvfs flags a bind remount must repeat (a user namespace may not clear them).
_KEPT_FLAGS = {2: _MS_NOSUID, 4: _MS_NODEV, 8: _MS_NOEXEC, 1024: 1024, 2048: 2048}
_ST_RELATIME, _MS_RELATIME = 4096, 1 << 21
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
_SYS_MOUNT_SETATTR, _AT_FDCWD, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 1
#: keyctl's system call number per machine (it predates the unified table).
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "i686": 288, "armv7l": 311}
_KEYCTL_JOIN_SESSION_KEYRING = 1


class _MountAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("set", "clr", "propagation", "userns")]


class Libc:
    """The few system calls Python's ``os`` lacks, raising ``OSError`` like it."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self.lib.unshare(flags), "unshare")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data=None):
        enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
        self._check(self.lib.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")

    def prctl(self, option: int, value: int) -> None:
        self._check(self.lib.prctl(option, value, 0, 0, 0), "prctl")

    def new_session_keyring(self) -> None:
        """Join a new, empty session keyring: the keys workbench's session holds (a
        Kerberos ticket, a secret a tool stored there) are no longer possessed."""
        number = _SYS_KEYCTL.get(os.uname().machine)
        if number is None:
            raise OSError(errnos.ENOSYS, "keyctl: unknown on this machine")
        self.lib.syscall.restype = ctypes.c_long
        result = self.lib.syscall(
            ctypes.c_long(number), ctypes.c_int(_KEYCTL_JOIN_SESSION_KEYRING), None
        )
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"keyctl: {os.strerror(errno)}")

    def read_only_tree(self, path: str) -> None:
        """Every mount at and below ``path`` read-only (``mount_setattr``, Linux 5.12)."""
        attr = _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
        self.lib.syscall.restype = ctypes.c_long
        result = self.lib.syscall(
            ctypes.c_long(_SYS_MOUNT_SETATTR),
            ctypes.c_int(_AT_FDCWD),
            path.encode(),
            ctypes.c_uint(_AT_RECURSIVE),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        )
        self._check(result, f"mount_setattr {path}")


def enter_user_namespace(libc: Libc, flags: int) -> None:
    """``unshare`` with a user namespace where the user's uid and gid map to themselves.

    Not to root: the creator of a user namespace holds every capability in it whatever
    its uid, which is enough for the mounts, and a non-zero uid loses them all at
    ``exec``, so the code holds none (mapped to root, it would keep them).
    """
    uid, gid = os.getuid(), os.getgid()
    libc.unshare(flags | CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def private_mounts(libc: Libc, workdir: str, workdir_mb: int, keep: list[str]) -> None:
    """The sandbox's view of the files: the host's read-only, home folders and ``/run``
    hidden (``keep`` shown again, read-only), private scratch folders and work folder,
    and a ``/proc`` of its own PID namespace. Called by init, inside the namespaces."""
    libc.mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # first: no propagation to the host
    safe = _MS_NOSUID | _MS_NODEV
    pins = {path: os.open(path, os.O_PATH) for path in keep if _under_hidden(path)}
    _read_only_everything(libc)
    for hidden in HIDDEN_DIRS:
        if not os.path.isdir(hidden) or os.path.islink(hidden):
            continue
        libc.mount("tmpfs", hidden, "tmpfs", safe, "size=1m,mode=0755")
        for path, pin in pins.items():
            if path.startswith(hidden + "/"):  # binds of a read-only tree stay read-only
                os.makedirs(path, exist_ok=True)
                libc.mount(f"/proc/self/fd/{pin}", path, None, _MS_BIND | _MS_REC)
        libc.mount(None, hidden, None, _MS_REMOUNT | _MS_RDONLY | safe, "size=1m,mode=0755")
    for pin in pins.values():
        os.close(pin)
    for scratch in SCRATCH_DIRS:
        if os.path.isdir(scratch) and not os.path.islink(scratch):
            libc.mount("tmpfs", scratch, "tmpfs", safe, f"size={SCRATCH_MB}m,mode=1777")
    os.makedirs(workdir, exist_ok=True)
    libc.mount("tmpfs", workdir, "tmpfs", safe, f"size={workdir_mb}m,mode=0700")
    libc.mount("proc", "/proc", "proc", safe | _MS_NOEXEC)  # this PID namespace's only


def _under_hidden(path: str) -> bool:
    return any(path.startswith(hidden + "/") for hidden in HIDDEN_DIRS)


def _read_only_everything(libc: Libc) -> None:
    try:
        libc.read_only_tree("/")
        return
    except OSError as exc:
        if exc.errno not in (errnos.ENOSYS, errnos.EINVAL):
            raise
    # Before Linux 5.12: remount each mount read-only, repeating the flags it has.
    for point in _mount_points():
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue  # under another mount, or gone
        extra = sum(ms for st, ms in _KEPT_FLAGS.items() if flags & st)
        extra |= _MS_RELATIME if flags & _ST_RELATIME else 0
        try:
            libc.mount(None, point, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | extra)
        except OSError:
            if not point.startswith(("/proc", "/sys", "/dev")):  # replaced or read-only anyway
                raise


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            raw = line.split()[4]
            points.append(_unescape(raw))
    return points


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code in ("040", "011", "012", "134"):
        text = text.replace("\\" + code, chr(int(code, 8)))
    return text
