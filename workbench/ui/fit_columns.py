"""Tables on narrow terminals: which low-value columns to leave out so the rest fit.

Pure arithmetic (no Textual): a table drops whole columns, least useful first,
before anything would wrap or scroll sideways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def columns_to_drop(
    widths: Mapping[str, int], drop_order: Sequence[str], available: int
) -> list[str]:
    """The columns (by name) to leave out, in ``drop_order``, until the others' ``widths``
    sum to at most ``available`` cells. Columns not in ``drop_order`` always stay."""
    total = sum(widths.values())
    dropped: list[str] = []
    for name in drop_order:
        if total <= available:
            break
        if name in widths and name not in dropped:
            total -= widths[name]
            dropped.append(name)
    return dropped


def empty_columns(rows: Sequence[Sequence[str]], names: Sequence[str]) -> list[str]:
    """The columns whose every cell is blank or ``–`` (nothing to lose when left out)."""
    return [
        name
        for index, name in enumerate(names)
        if rows and all(str(row[index]).strip() in ("", "–") for row in rows)
    ]
