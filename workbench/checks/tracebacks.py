"""Where a Python program failed, read from the traceback it printed on stderr."""

from __future__ import annotations

import os
import re

_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::|$)")


def parse_traceback(stderr: str) -> tuple[str | None, str | None, str | None]:
    """(exception line, "file:line in function", source line) of the last traceback in
    ``stderr``; Nones where there is none. Handles the header-less SyntaxError format."""
    lines = stderr.splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith("Traceback (")), default=-1)
    frame: re.Match[str] | None = None
    source: str | None = None
    error: str | None = None
    i = start + 1 if start >= 0 else 0
    while i < len(lines):
        line = lines[i]
        match = _FRAME.match(line)
        if match:
            frame, source = match, None
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if following.startswith("    ") and not _FRAME.match(following):
                source = following.strip()
                i += 1
            error = None  # a deeper frame: its exception line follows
        elif frame is not None and error is None and _EXCEPTION.match(line):
            error = line.strip()  # the first line only of a multi-line message
        i += 1
    if frame is None:
        return error, None, None
    where = f"{os.path.basename(frame['file'])}:{frame['line']}"
    if frame["func"] and frame["func"] != "<module>":
        where += f" in {frame['func']}"
    return error, where, source
