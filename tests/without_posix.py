"""What Windows lacks, taken away from a Linux interpreter (put ``BLOCKER`` first in a
``python -c`` script): the POSIX-only modules cannot be imported, and the POSIX-only
signals and ``os`` functions are gone. ``os.getuid`` stays: on Linux, platformdirs'
unix module imports it (on Windows platformdirs uses its windows module).

``WITH_FILELOCK`` imports filelock first, while fcntl is still there: on Windows
filelock has its own primitive (LockFileEx), which a Linux interpreter lacks, so it
keeps the one it has here; workbench itself still cannot import fcntl."""

from __future__ import annotations

BLOCKER = """
import os, signal, sys
class NoPosix:
    '''Importing these fails, as it would on Windows.'''
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"fcntl", "termios", "resource", "pwd", "grp"}:
            raise ModuleNotFoundError(f"No module named {name!r} (simulated Windows)")
        return None
sys.meta_path.insert(0, NoPosix())
for name in {"fcntl", "termios", "resource", "pwd", "grp"}:
    sys.modules.pop(name, None)
WINDOWS_SIGNALS = {"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM"}
for name in dir(signal):
    if name.startswith("SIG") and not name.startswith("SIG_") and name not in WINDOWS_SIGNALS:
        delattr(signal, name)
for name in ("fork", "geteuid", "getgid", "killpg", "setsid", "sched_getaffinity",
             "getloadavg", "nice", "O_PATH", "setgroups", "memfd_create", "WIFSIGNALED"):
    if hasattr(os, name):
        delattr(os, name)
# Windows' event loop has no signal handlers.
import asyncio.unix_events
def _no_signals(self, *args, **kwargs):
    raise NotImplementedError
asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = _no_signals
asyncio.unix_events._UnixSelectorEventLoop.remove_signal_handler = _no_signals
"""

WITH_FILELOCK = "import filelock\n" + BLOCKER
