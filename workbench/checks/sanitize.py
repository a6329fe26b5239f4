"""The code in a chat answer, cut down to what the entry point needs (EvalPlus's way).

EvalPlus post-processes a chat model's answer in two steps, and so do we (our own
code, on Python's ``ast`` where EvalPlus uses tree-sitter):

1. **extract**: the answer's code. The fenced Python blocks when there are any (all
   of them when they parse together, else the longest one that parses); without
   fences, the longest run of lines that parses as Python (EvalPlus's
   ``code_extract``), so prose around bare code is dropped.
2. **sanitize**: keep the top-level imports, then the definitions (functions,
   classes, assignments to a plain name) that the entry point reaches through the
   names it uses, in their order in the answer. The first definition of a name
   wins, as in EvalPlus, and a function without a ``return`` is not a definition
   (a stub). Everything else goes: top-level tests, ``print`` calls, ``input()``
   demos, ``if __name__ == "__main__":`` blocks.
"""

from __future__ import annotations

import ast
import re

#: A fence opening a block: ```python, ```py, ``` (a language other than Python is skipped).
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)
_PYTHON = {"", "python", "py", "python3", "py3"}
#: Spans longer than this many lines are not searched line by line (quadratic).
_MAX_SEARCH_LINES = 400


def parses(code: str) -> bool:
    """Whether ``code`` is Python that compiles to a syntax tree."""
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def fenced_blocks(text: str) -> list[str]:
    """The Python blocks of a Markdown answer; a last block left open counts (the
    model was stopped at its closing fence)."""
    return [m.group(2) for m in _FENCE.finditer(text) if m.group(1).lower() in _PYTHON]


def longest_parsing_span(text: str) -> str:
    """The longest run of lines that parses (counted in non-blank lines), or ""."""
    lines = text.split("\n")[:_MAX_SEARCH_LINES]
    best, best_size = "", 0
    for start in range(len(lines)):
        if not lines[start].strip() or lines[start][0] in " \t":
            continue  # a span starts at a top-level line
        for end in range(len(lines), start, -1):
            size = sum(1 for line in lines[start:end] if line.strip())
            if size <= best_size:
                break
            chunk = "\n".join(lines[start:end])
            if parses(chunk):
                best, best_size = chunk, size
                break
    return best


def extract_code(text: str) -> str:
    """The code of an answer (step 1 above); "" when there is none."""
    blocks = [block for block in fenced_blocks(text) if block.strip()]
    if blocks:
        joined = "\n\n".join(blocks)
        if parses(joined) and _has_code(joined):
            return joined
        parsing = [block for block in blocks if parses(block) and _has_code(block)]
        if parsing:
            return max(parsing, key=len)
    # No fence holds code (prose inside a prefilled fence shifts every fence after it):
    # the longest run of lines that parses, fence lines never do.
    if parses(text) and not blocks:
        return text
    return longest_parsing_span(text)


def _has_code(block: str) -> bool:
    """A block with a statement in it (prose that happens to parse is rare, but a lone
    word is a valid expression)."""
    try:
        tree = ast.parse(block)
    except (SyntaxError, ValueError):
        return False
    return any(not isinstance(node, ast.Expr) for node in tree.body)


def _names_used(node: ast.AST) -> set[str]:
    """Every plain name a definition mentions (calls, references, attribute bases)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _has_return(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def _segment(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def sanitize(code: str, entry_point: str | None = None) -> str:
    """Imports and the definitions ``entry_point`` reaches (step 2 above); with no
    entry point, every definition. Code that does not parse is extracted first."""
    if not parses(code):
        code = extract_code(code)
    if not code.strip():
        return ""
    tree = ast.parse(code)
    lines = code.split("\n")
    imports: list[ast.stmt] = []
    definitions: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = node.name if _has_return(node) else None
        elif isinstance(node, ast.ClassDef):
            name = node.name
        else:
            name = _assigned_name(node)
        if name is not None and name not in definitions:
            definitions[name] = node
    wanted = _reachable(entry_point, definitions) if entry_point else set(definitions)
    kept = imports + [node for name, node in definitions.items() if name in wanted]
    kept.sort(key=lambda node: node.lineno)
    return "\n".join(_segment(lines, node) for node in kept)


def _reachable(entry_point: str, definitions: dict[str, ast.stmt]) -> set[str]:
    seen, queue = {entry_point}, [entry_point]
    while queue:
        node = definitions.get(queue.pop())
        if node is None:
            continue
        for name in _names_used(node) & definitions.keys():
            if name not in seen:
                seen.add(name)
                queue.append(name)
    return seen
