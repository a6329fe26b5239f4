"""The GGUF header reader: a file's metadata and tensor index, without its weights.

``read_gguf`` parses the key/value metadata and the tensor index and stops
before the tensor data, so a 40 GB file costs a few kilobytes of reading. Long
arrays (token lists, merges) are summarised, not kept. A file that is not a
GGUF, is truncated or corrupt raises ``GGUFError`` with a message that says
what is wrong with it.
"""

from __future__ import annotations

import math
import mmap
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError


class GGUFError(WorkbenchError):
    title = "Unreadable GGUF"


GGUF_MAGIC = b"GGUF"
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
#: Arrays longer than this (token lists, merges) are summarised, not kept.
KEEP_ARRAY_ITEMS = 64
#: Far beyond any real vocabulary or model: a header claiming more is corrupt (and
#: skipping it item by item could take minutes on a large garbage file).
MAX_ITEMS = 16_000_000

#: ggml tensor type -> (block size, bytes per block), for the file-size check.
GGML_TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}  # fmt: skip

#: general.file_type -> the quantization name llama.cpp's quantize tool uses.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}  # fmt: skip


@dataclass(frozen=True)
class ArrayInfo:
    """A long metadata array, summarised: its item type and length."""

    item_type: int
    count: int


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


class _Cursor:
    def __init__(self, buf: Any, size: int, order: str) -> None:
        self.buf, self.size, self.order, self.pos = buf, size, order, 0
        self.wide = True  # GGUF v1 used 32-bit lengths and counts

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated

    def scalar(self, code: str) -> Any:
        n = struct.calcsize(code)
        self.need(n)
        (value,) = struct.unpack_from(self.order + code, self.buf, self.pos)
        self.pos += n
        return value

    def count(self) -> int:
        return self.scalar("Q" if self.wide else "I")

    def string(self) -> str:
        n = self.count()
        self.need(n)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise _Corrupt(f"unknown value type {kind} at byte {self.pos}")
        item, count = self.scalar("I"), self.count()
        if count > MAX_ITEMS:
            raise _Corrupt(f"an array of {count} items")
        if item in _SCALARS:
            width = struct.calcsize(_SCALARS[item])
            self.need(count * width)
            if count > KEEP_ARRAY_ITEMS:
                self.pos += count * width
                return ArrayInfo(item, count)
            return [self.scalar(_SCALARS[item]) for _ in range(count)]
        if item == _STRING:
            self.need(count * (8 if self.wide else 4))  # every item has at least a length
            if count > KEEP_ARRAY_ITEMS:
                for _ in range(count):  # skipping still needs every length
                    n = self.count()
                    self.need(n)
                    self.pos += n
                return ArrayInfo(item, count)
            return [self.string() for _ in range(count)]
        if item == _ARRAY:  # nested arrays: rare, kept only in summary
            for _ in range(count):
                self.value(_ARRAY)
            return ArrayInfo(item, count)
        raise _Corrupt(f"unknown array item type {item} at byte {self.pos}")


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about itself, read from its header only."""

    path: Path
    size_bytes: int
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    #: Sum of the tensors' element counts (None without tensors or for a split's part).
    parameters: int | None = None
    #: Bytes of tensor data (the weights), from the tensor index; None without tensors.
    tensor_bytes: int | None = None

    @property
    def architecture(self) -> str | None:
        return _str(self.metadata.get("general.architecture"))

    @property
    def name(self) -> str | None:
        return _str(self.metadata.get("general.name"))

    @property
    def size_label(self) -> str | None:
        label = _str(self.metadata.get("general.size_label"))
        return label or (size_label(self.parameters) if self.parameters else None)

    @property
    def quantization(self) -> str | None:
        kind = self.metadata.get("general.file_type")
        if isinstance(kind, int):
            return FILE_TYPES.get(kind, f"file_type {kind}")
        return None

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return value if isinstance(value, int) else None

    @property
    def has_template(self) -> bool:
        return bool(self.metadata.get("tokenizer.chat_template"))

    @property
    def kind(self) -> str | None:
        """``general.type``: "model", "adapter", "mmproj", … (None when unset)."""
        return _str(self.metadata.get("general.type"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def size_label(parameters: int) -> str:
    """``6738415616`` -> ``"6.7B"``, as model names write it."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if parameters >= scale:
            return f"{parameters / scale:.1f}".removesuffix(".0") + unit
    return str(parameters)


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Describe a GGUF from its header (metadata and tensor index); the weights are not read.

    Raises ``GGUFError`` with a message that says what is wrong with the file.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            kind = "a folder" if path.is_dir() else "not a regular file"
            raise GGUFError(f"{path.name}: {kind}, not a GGUF file.")
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 24:
                head = handle.read(8)
                if size == 0:
                    raise GGUFError(f"{path.name}: the file is empty.")
                if not head.startswith(GGUF_MAGIC):
                    raise _not_gguf(path, head)
                raise GGUFError(
                    f"{path.name}: truncated: only {size} bytes (an interrupted copy?)."
                )
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size)
    except PermissionError:
        raise GGUFError(f"{path.name}: permission denied.") from None
    except OSError as exc:
        raise GGUFError(f"{path.name}: cannot read: {exc.strerror or exc}.") from None


def _not_gguf(path: Path, head: bytes) -> GGUFError:
    return GGUFError(f"{path.name}: not a GGUF file (it starts with {head[:4]!r}, not b'GGUF').")


def _parse(path: Path, buf: Any, size: int) -> GGUFInfo:
    if bytes(buf[:4]) != GGUF_MAGIC:
        raise _not_gguf(path, bytes(buf[:8]))
    (version,) = struct.unpack_from("<I", buf, 4)
    order = "<"
    if version & 0xFFFF == 0:  # a big-endian file reads as 0x03000000
        order, (version,) = ">", struct.unpack_from(">I", buf, 4)
    if version not in (1, 2, 3):
        raise GGUFError(f"{path.name}: GGUF version {version} is not one this reader knows (1-3).")
    cur = _Cursor(buf, size, order)
    cur.pos, cur.wide = 8, version >= 2
    where = "the header"
    try:
        tensor_count, kv_count = cur.count(), cur.count()
        # Every entry takes at least a few bytes: absurd counts mean a corrupt header.
        if (
            kv_count * 13 > size
            or tensor_count * 24 > size
            or max(kv_count, tensor_count) > MAX_ITEMS
        ):
            raise GGUFError(
                f"{path.name}: corrupt header (claims {kv_count} metadata keys and "
                f"{tensor_count} tensors in {size} bytes)."
            )
        metadata: dict[str, Any] = {}
        key = ""
        for _ in range(kv_count):
            where = f"the metadata key after {key!r}" if key else "the first metadata key"
            key = cur.string()
            where = f"the value of {key!r}"
            metadata[key] = cur.value(cur.scalar("I"))
        parameters, end_needed = 0, 0
        for index in range(tensor_count):
            where = f"tensor {index} of {tensor_count} in the tensor index"
            cur.string()
            dims = cur.scalar("I")
            if not 0 < dims <= 8:
                raise _Corrupt(f"{dims} dimensions")
            shape = [cur.count() for _ in range(dims)]
            kind, offset = cur.scalar("I"), cur.scalar("Q")
            elements = math.prod(shape)
            parameters += elements
            block, width = GGML_TYPE_SIZES.get(kind, (1, 0))  # unknown type: check its start
            end_needed = max(end_needed, offset + elements // block * width)
    except _Corrupt as exc:
        raise GGUFError(f"{path.name}: corrupt: {exc} in {where}.") from None
    except _Truncated:
        raise GGUFError(
            f"{path.name}: truncated: the file ends ({size} bytes) inside {where} "
            "(an interrupted download?)."
        ) from None
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0:
        alignment = 32
    data_start = -(-cur.pos // alignment) * alignment
    if tensor_count and data_start + end_needed > size:
        raise GGUFError(
            f"{path.name}: truncated: the tensors need {data_start + end_needed} bytes, "
            f"the file has {size} (an interrupted download?)."
        )
    split = metadata.get("split.count")
    partial = isinstance(split, int) and split > 1
    return GGUFInfo(
        path=path,
        size_bytes=size,
        version=version,
        tensor_count=tensor_count,
        metadata=metadata,
        parameters=parameters if tensor_count and not partial else None,
        tensor_bytes=end_needed if tensor_count else None,
    )
