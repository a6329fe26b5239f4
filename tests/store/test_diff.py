"""Code-block extraction and the line/word diff (workbench.store.diff)."""

from __future__ import annotations

import difflib
import random
import time

import pytest

from workbench.store.diff import (
    CodeBlock,
    Segment,
    code_of,
    diff_lines,
    diff_words,
    extract_code_blocks,
    split_lines,
)

# --- code blocks -----------------------------------------------------------------------


def test_block_with_language_tag():
    md = "Here:\n```python\nprint(1)\nx = 2\n```\nDone."
    assert extract_code_blocks(md) == [CodeBlock("python", "print(1)\nx = 2", 2, 4)]


def test_block_without_language_and_info_words():
    md = "```\nplain\n```\n```rust ignore title=x\nfn main() {}\n```\n"
    blocks = extract_code_blocks(md)
    assert [(b.language, b.code) for b in blocks] == [(None, "plain"), ("rust", "fn main() {}")]


def test_tilde_fences_and_backticks_inside():
    md = "~~~js\nconst s = `a`;\n```\nstill code\n~~~\n"
    assert extract_code_blocks(md) == [CodeBlock("js", "const s = `a`;\n```\nstill code", 1, 4)]


def test_nested_backticks_close_only_on_a_fence_as_long():
    md = "````markdown\nExample:\n```python\nx = 1\n```\n````\nafter\n```\ny\n```"
    blocks = extract_code_blocks(md)
    assert blocks[0] == CodeBlock("markdown", "Example:\n```python\nx = 1\n```", 1, 5)
    assert blocks[1].code == "y" and blocks[1].language is None
    assert len(blocks) == 2


def test_longer_closing_fence_closes_and_other_char_does_not():
    assert extract_code_blocks("```\na\n~~~\nb\n`````\nc")[0].code == "a\n~~~\nb"


def test_fence_with_text_after_it_does_not_close():
    assert extract_code_blocks("```\na\n``` not a close\nb\n```")[0].code == "a\n``` not a close\nb"


def test_indented_fence_strips_its_indent_from_content():
    md = "1. step\n\n   ```sh\n   make\n     --jobs 2\n  x\n   ```\n"
    assert extract_code_blocks(md) == [CodeBlock("sh", "make\n  --jobs 2\nx", 3, 6)]


def test_four_space_indent_and_inline_triple_backticks_are_not_fences():
    assert extract_code_blocks("    ```\n    code\n    ```") == []
    assert extract_code_blocks("Use ```x``` inline.\nand ```js `y` here") == []


def test_unclosed_final_fence_runs_to_the_end():
    md = "text\n```python\ndef f():\n    return 1\n"
    assert extract_code_blocks(md) == [CodeBlock("python", "def f():\n    return 1", 2, 4)]
    assert extract_code_blocks("```")[0] == CodeBlock(None, "", 1, 1)


def test_no_code_at_all():
    assert extract_code_blocks("") == []
    assert extract_code_blocks("Just prose.\n\nNo code ``here``.") == []


def test_crlf_line_ends():
    assert extract_code_blocks("```c\r\nint x;\r\n```\r\n")[0].code == "int x;"


def test_code_of_modes():
    md = "Intro\n```py\na = 1\n```\nmid\n~~~\nb = 2\n~~~\n"
    assert code_of(md, "completion") == md
    assert code_of(md, "chat") == "a = 1\n\nb = 2"
    assert code_of("no code here", "chat") == ""
    with pytest.raises(ValueError):
        code_of(md, "poem")


def test_split_lines_keeps_form_feeds():
    assert split_lines("a\fb\nc\r\nd\re\n") == ["a\fb", "c", "d", "e"]
    assert split_lines("") == []
    assert split_lines("\n") == [""]


# --- line diff -------------------------------------------------------------------------


def _check_cover(d):
    """Hunks tile both texts in order, and equal hunks hold equal lines."""
    i = j = 0
    for h in d.hunks:
        assert (h.a_start, h.b_start) == (i, j)
        if h.op == "equal":
            assert d.a_lines[h.a_start : h.a_end] == d.b_lines[h.b_start : h.b_end]
        i, j = h.a_end, h.b_end
    assert (i, j) == (len(d.a_lines), len(d.b_lines))


def test_identical_texts():
    text = "def f(x):\n    return x\n"
    d = diff_lines(text, text)
    assert d.similarity == 1.0
    assert not d.changed and d.hunk_rows == [] and d.unified() == []
    assert [r.kind for r in d.side_by_side()] == ["equal", "equal"]


def test_empty_texts():
    assert diff_lines("", "").similarity == 1.0
    d = diff_lines("", "a\nb")
    assert [h.op for h in d.hunks] == ["insert"] and d.similarity == 0.0
    assert [(r.kind, r.left, r.right) for r in d.side_by_side()] == [
        ("insert", None, "a"),
        ("insert", None, "b"),
    ]


def test_disjoint_texts():
    d = diff_lines("aaa\nbbb\nccc", "xyz\nqrs")
    assert d.similarity == 0.0
    assert [(h.op, h.a_start, h.a_end, h.b_start, h.b_end) for h in d.hunks] == [
        ("replace", 0, 3, 0, 2)
    ]
    assert [r.kind for r in d.side_by_side()] == ["replace", "replace", "delete"]
    # Lines with nothing in common are shown whole rather than as confetti.
    assert d.side_by_side()[0].left_segments == (Segment("delete", "aaa"),)


def test_replace_pairs_carry_a_word_diff():
    d = diff_lines("a = 1\ndef f(x):\n    return x\n", "a = 1\ndef f(y):\n    return y\n")
    rows = d.side_by_side()
    assert [r.kind for r in rows] == ["equal", "replace", "replace"]
    left, right = rows[1].left_segments, rows[1].right_segments
    assert "".join(s.text for s in left) == "def f(x):"
    assert "".join(s.text for s in right) == "def f(y):"
    assert [s for s in left if s.kind != "equal"] == [Segment("delete", "x")]
    assert [s for s in right if s.kind != "equal"] == [Segment("insert", "y")]
    assert (rows[1].left_no, rows[1].right_no) == (1, 1)
    assert 0.8 < d.similarity < 1.0


def test_similar_lines_share_a_row_in_a_replace_hunk():
    a = "head\n    pivot = items[0]\n    left = [x for x in items[1:] if x < pivot]\nend"
    b = "head\n\n    pivot = items[len(items) // 2]\n    left = [x for x in items if x < pivot]\n"
    b += "    middle = [x for x in items if x == pivot]\nend"
    rows = diff_lines(a, b).side_by_side()
    assert [(r.kind, r.left_no, r.right_no) for r in rows] == [
        ("equal", 0, 0),
        ("insert", None, 1),
        ("replace", 1, 2),
        ("replace", 2, 3),
        ("insert", None, 4),
        ("equal", 3, 5),
    ]
    assert [s for s in rows[2].right_segments if s.kind == "insert"] == [
        Segment("insert", "len(items) // 2")
    ]


def test_repetitive_text_without_unique_lines():
    # No line is unique, so the gap goes to Myers (or, past its edit budget, one replace).
    for n in (30, 400, 2000):
        a, b = "\n".join(["x", "y", ""] * n), "\n".join(["y", "x", ""] * n)
        d = diff_lines(a, b)
        _check_cover(d)
        assert d.changed


def test_similarity_is_over_characters():
    # One changed word in a long line keeps the similarity high.
    d = diff_lines("the quick brown fox jumps", "the quick brown cat jumps")
    assert d.similarity == pytest.approx(2 * 22 / 52)


def test_whitespace_insensitive_mode_shows_original_text():
    a = "def f(x):\n    return x+1\n"
    b = "def f( x ):\n\treturn x + 1   \n"
    assert diff_lines(a, b).changed
    d = diff_lines(a, b, ignore_whitespace=True)
    assert not d.changed
    rows = d.side_by_side()
    assert (rows[1].left, rows[1].right) == ("    return x+1", "\treturn x + 1   ")
    assert diff_lines("x = 1", "x = 2", ignore_whitespace=True).changed


def test_unified_matches_difflib():
    a = [f"line {i}" for i in range(30)]
    b = list(a)
    b[3] = "changed 3"
    del b[15]
    b.insert(25, "new")
    b += ["tail"]
    d = diff_lines("\n".join(a), "\n".join(b))
    for context in (0, 1, 3, 5):
        expected = list(difflib.unified_diff(a, b, "a", "b", lineterm="", n=context))
        assert d.unified(context) == expected


def test_hunk_navigation():
    a = "\n".join(f"l{i}" for i in range(20))
    b = a.replace("l2\n", "L2\n").replace("l10\n", "").replace("l15", "l15\nnew")
    d = diff_lines(a, b)
    rows = d.side_by_side()
    assert d.hunk_rows == [2, 10, 16]
    assert [rows[r].kind for r in d.hunk_rows] == ["replace", "delete", "insert"]
    assert d.next_hunk(0) == 2 and d.next_hunk(2) == 10 and d.next_hunk(15) == 16
    assert d.next_hunk(16) is None
    assert d.next_hunk(10, backward=True) == 2 and d.next_hunk(2, backward=True) is None
    assert (rows[10].left, rows[10].right, rows[10].left_no) == ("l10", None, 10)
    assert (rows[16].kind, rows[16].left, rows[16].right, rows[16].right_no) == (
        "insert",
        None,
        "new",
        15,
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_edits_tile_both_texts(seed):
    rng = random.Random(seed)
    # A small alphabet makes many repeated lines, the hard case for matching.
    a = [rng.choice(["", "}", "x", "y = 1", "return"]) for _ in range(rng.randrange(200))]
    a += [f"unique {i}" for i in range(rng.randrange(100))]
    rng.shuffle(a)
    b = list(a)
    for _ in range(rng.randrange(12)):
        i = rng.randrange(len(b) + 1)
        if rng.random() < 0.5 and i < len(b):
            del b[i]
        else:
            b.insert(i, rng.choice(["}", "new", f"z {i}"]))
    d = diff_lines("\n".join(a) + "\n", "\n".join(b) + "\n")
    _check_cover(d)
    rows = d.side_by_side()
    assert [r.left for r in rows if r.left is not None] == d.a_lines
    assert [r.right for r in rows if r.right is not None] == d.b_lines


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_short_texts_get_a_minimal_diff():
    # Short gaps go to Myers' algorithm: as many equal lines as the longest common subsequence.
    rng = random.Random(3)
    for _ in range(300):
        a = [rng.choice("xyz") for _ in range(rng.randrange(1, 20))]
        b = [rng.choice("xyz") for _ in range(rng.randrange(1, 20))]
        d = diff_lines("\n".join(a), "\n".join(b))
        _check_cover(d)
        assert sum(h.a_end - h.a_start for h in d.hunks if h.op == "equal") == _lcs(a, b)


def test_word_diff_of_whole_texts():
    segs = diff_words("print(total, end='')", "print(count, end='')")
    assert Segment("delete", "total") in segs and Segment("insert", "count") in segs
    assert "".join(s.text for s in segs if s.kind != "insert") == "print(total, end='')"
    assert "".join(s.text for s in segs if s.kind != "delete") == "print(count, end='')"
    assert diff_words("same", "same") == [Segment("equal", "same")]
    assert diff_words("", "") == []


def _best_of(f, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def test_large_inputs_scale_near_linearly():
    """Timing as a ratio (n versus 4n lines), never an absolute time: a quadratic
    matcher would give ~16, ours about 4."""
    rng = random.Random(7)

    def pair(n):
        common = ["", "}", "    return x", "else:"]
        a = [
            rng.choice(common) if rng.random() < 0.25 else f"v{rng.randrange(n)} = f({i})"
            for i in range(n)
        ]
        b = list(a)
        for k in range(n // 50):
            b[rng.randrange(len(b))] += f" # edit {k}"
        return "\n".join(a), "\n".join(b)

    small, large = pair(1000), pair(4000)
    t_small = _best_of(lambda: diff_lines(*small).side_by_side())
    t_large = _best_of(lambda: diff_lines(*large).side_by_side())
    assert t_large / t_small < 10
