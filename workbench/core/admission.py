"""More models than memory: which local models may be loaded together, and in what order.

Before a run the runner asks each local model's need (``workbench.models.memory``)
and the memory it may use: the ``[defaults] memory`` cap, or what is free now
plus what its own loaded workers hold (those can be unloaded). Models that fit
together run together; otherwise ``plan_groups`` splits them into groups that
fit, run one after another, and the runner says so before it starts. Loaded
workers stay loaded between prompts and are unloaded least recently used first
when the next group needs their memory. Servers take no local memory.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.config import ModelSpec
from workbench.models.gguf import GGUFInfo, read_gguf
from workbench.models.memory import (
    MemoryEstimate,
    available_memory,
    estimate_for,
    format_bytes,
)

#: Of the memory free when no cap is set, what workbench plans to use: the rest is
#: headroom for the page cache, the app itself and estimates that run short.
AUTO_SHARE = 0.9


class NotEnoughMemory(WorkbenchError):
    title = "Not enough memory"


def plan_groups(needs: dict[str, int], budget: int) -> tuple[list[list[str]], list[str]]:
    """Split models into groups whose needs fit ``budget`` together, in their order.

    First fit: each model joins the first group with room, so the groups stay few
    and the user's order is kept within each. Returns the groups and the models
    that do not fit even alone.
    """
    groups: list[list[str]] = []
    room: list[int] = []
    too_big: list[str] = []
    for name, need in needs.items():
        if need > budget:
            too_big.append(name)
            continue
        for index, left in enumerate(room):
            if need <= left:
                groups[index].append(name)
                room[index] -= need
                break
        else:
            groups.append([name])
            room.append(budget - need)
    return groups, too_big


def plan_notice(needs: dict[str, int], budget: int, groups: list[list[str]], capped: bool) -> str:
    """``4 models need ≈ 31 GB, 22 GB free: 2 at a time (a, b | c, d), unloading between``."""
    total = sum(needs[name] for group in groups for name in group)
    where = "allowed by [defaults] memory" if capped else "free"
    sizes = {len(group) for group in groups}
    pace = f"{sizes.pop()} at a time" if len(sizes) == 1 else f"in {len(groups)} groups"
    order = " | ".join(", ".join(group) for group in groups)
    return (
        f"{sum(map(len, groups))} models need ≈ {format_bytes(total)}, "
        f"{format_bytes(budget)} {where}: {pace} ({order}), unloading between groups."
    )


def too_big_error(name: str, need: MemoryEstimate, budget: int, capped: bool) -> NotEnoughMemory:
    where = (
        "workbench may use (the [defaults] memory cap in workbench.toml)"
        if capped
        else "is free now"
    )
    return NotEnoughMemory(
        f"{name} needs {need.describe()}, more than the {format_bytes(budget)} that {where}. "
        "It was not loaded. Lower its n_ctx, use a smaller quantization or cache_type_k/v = "
        '"q8_0", close other programs, or raise memory.'
    )


@dataclass
class Residents:
    """Loaded local models and their estimated memory, least recently used first."""

    held: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def use(self, name: str, need: int) -> None:
        self.held[name] = need
        self.held.move_to_end(name)

    def drop(self, name: str) -> None:
        self.held.pop(name, None)

    def total(self, exclude: set[str] | frozenset[str] = frozenset()) -> int:
        return sum(need for name, need in self.held.items() if name not in exclude)


class Admission:
    """One run's groups: each waits for the one before it to end, then makes room.

    ``unload(name)`` frees a loaded model (the pool closes its worker). Models
    outside every group (servers, models whose need is unknown) never wait.
    """

    def __init__(
        self,
        groups: list[list[str]],
        needs: dict[str, int],
        budget: int,
        residents: Residents,
        unload: Callable[[str], Awaitable[None]],
        errors: dict[str, NotEnoughMemory] | None = None,
    ) -> None:
        self.groups = groups
        self.needs = needs
        self.budget = budget
        self.residents = residents
        self._unload = unload
        self._group_of = {name: i for i, group in enumerate(groups) for name in group}
        self._left = [len(group) for group in groups]
        self._current = 0
        self._changed = asyncio.Condition()
        self._room_made = -1
        #: Models that do not fit even alone: they fail before loading.
        self.errors = errors or {}

    def group_of(self, name: str) -> int | None:
        return self._group_of.get(name)

    async def enter(self, name: str) -> None:
        """Wait for this model's group, then unload others (LRU first) until it fits.

        Raises ``NotEnoughMemory`` for a model that does not fit even alone.
        """
        if name in self.errors:
            raise self.errors[name]
        index = self._group_of.get(name)
        if index is None:
            return
        async with self._changed:
            await self._changed.wait_for(lambda: self._current >= index)
            if self._room_made < index:
                self._room_made = index
                await self._make_room(set(self.groups[index]))

    async def _make_room(self, group: set[str]) -> None:
        need = sum(self.needs[name] for name in group)
        for victim in list(self.residents.held):
            if self.residents.total(exclude=group) + need <= self.budget:
                return
            if victim in group:
                continue
            self.residents.drop(victim)
            await self._unload(victim)

    def loaded(self, name: str) -> None:
        """This model is loaded (or used again): it is now the most recently used."""
        if name in self.needs:
            self.residents.use(name, self.needs[name])

    async def leave(self, name: str) -> None:
        """This model's run ended (done, failed or cancelled): the next group may start."""
        index = self._group_of.pop(name, None)
        if index is None:
            return
        async with self._changed:
            self._left[index] -= 1
            while self._current < len(self._left) and self._left[self._current] == 0:
                self._current += 1
            self._changed.notify_all()


# -- one run's plan ---------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _header(path: str, mtime_ns: int, size: int) -> GGUFInfo:
    return read_gguf(path)  # the stat in the key makes an edited file read again


def model_estimate(backend: Any, spec: ModelSpec) -> MemoryEstimate | None:
    """A local model's need, or None when it cannot be told (its load then says why)."""
    try:
        path = backend.model_path()
        stat = os.stat(path)
        info = _header(str(path), stat.st_mtime_ns, stat.st_size)
        return estimate_for(info, spec.n_ctx, getattr(spec, "llama", None))
    except Exception:  # a file we cannot read or a header we cannot follow
        return None  # must not stop the run: loading it says what is wrong


async def plan_memory(
    pool: Any, specs: list[ModelSpec], cap: int | None
) -> tuple[Admission, str | None]:
    """The run's admission (groups, errors for models too big alone) and its notice.

    ``pool`` is the runner's ``BackendPool`` (``get``, ``residents``, ``unload``).
    """
    estimates: dict[str, MemoryEstimate] = {}
    for spec in specs:
        try:
            backend = pool.get(spec)
        except Exception:
            continue  # its own task reports the error
        if getattr(backend, "local", False) and hasattr(backend, "model_path"):
            found = await asyncio.to_thread(model_estimate, backend, spec)
            if found is not None:
                estimates[spec.name] = found
    residents: Residents = pool.residents
    free = available_memory()
    room = int((free + residents.total()) * AUTO_SHARE) if free is not None else None
    if cap is None and room is None:
        budget, capped = None, False  # nothing to go by: every model at once, as before
    elif cap is not None and (room is None or cap <= room):
        budget, capped = cap, True
    else:
        budget, capped = room, False
    needs = {name: est.total for name, est in estimates.items()}
    if budget is None or not needs:
        return Admission([], {}, 0, residents, pool.unload), None
    groups, too_big = plan_groups(needs, budget)
    errors = {name: too_big_error(name, estimates[name], budget, capped) for name in too_big}
    notice = plan_notice(needs, budget, groups, capped) if len(groups) > 1 else None
    admission = Admission(groups, needs, budget, residents, pool.unload, errors=errors)
    return admission, notice
