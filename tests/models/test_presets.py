"""Presets without a tokenizer: matching, template choice, rendering, FIM, stop and BOS rules."""

from __future__ import annotations

import pytest

from workbench.errors import TemplateError
from workbench.models.presets import (
    DEEPSEEK_CODER_SYSTEM,
    PRESETS,
    find_preset,
    match_preset,
    preset,
)
from workbench.models.templates import (
    chat_template,
    fim_prompt,
    render_chat,
    resolve_stops,
    single_bos,
)

CONVERSATION = [
    {"role": "system", "content": "SYSTEM-TEXT"},
    {"role": "user", "content": "FIRST-QUESTION"},
    {"role": "assistant", "content": "FIRST-ANSWER"},
    {"role": "user", "content": "SECOND-QUESTION"},
]


def render(name: str, messages=CONVERSATION, bos: str = "<BOS>", eos: str = "<EOS>") -> str:
    return render_chat(PRESETS[name].template, messages, bos_token=bos, eos_token=eos)


# --- matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("codestral:22b", "codestral"),
        ("codestral-latest", "codestral"),
        ("deepseek-coder:6.7b-instruct", "deepseek-coder"),
        ("deepseek-coder:33b-instruct-q4_K_M", "deepseek-coder"),
        ("codeqwen:7b-chat", "codeqwen"),
        ("llama3:70b-instruct", "llama3"),
        ("llama3.1:8b", "llama3"),
        ("someone/autocoder:33b", "autocoder"),
        ("gemma3:270m", "gemma"),
        ("qwen2.5-coder:7b", "chatml"),
        # Other formats must not be taken for a seed model.
        ("deepseek-coder-v2:16b", None),
        ("deepseek-coder:7b-instruct-v1.5", None),
        ("codellama:34b", None),
        ("llama2:13b", None),
        ("mistral:7b", None),
    ],
)
def test_ollama_tags(tag: str, expected: str | None) -> None:
    found = match_preset({}, None, tag)
    assert (found.name if found else None) == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("Meta-Llama-3-70B-Instruct-Q4_K_M.gguf", "llama3"),
        ("Codestral-22B-v0.1-Q5_K_M.gguf", "codestral"),
        ("deepseek-coder-6.7b-instruct.Q4_K_M.gguf", "deepseek-coder"),
        ("deepseek-coder-1.3b-instruct.Q8_0.gguf", "deepseek-coder"),
        ("codeqwen-1_5-7b-chat-q4_k_m.gguf", "codeqwen"),
        ("AutoCoder-Q4_K_M.gguf", "autocoder"),
        ("AutoCoder_S_6.7B.Q8_0.gguf", "autocoder"),
        ("AutoCoder_QW_7B-Q4_K_M.gguf", None),  # CodeQwen based: its own (ChatML) template
        ("Mamba-Codestral-7B-v0.1-Q8_0.gguf", None),
        ("llama-30b.Q4_0.gguf", None),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", None),
    ],
)
def test_file_names(filename: str, expected: str | None) -> None:
    found = match_preset({}, f"/somewhere/{filename}", None)
    assert (found.name if found else None) == expected


def test_metadata_names_and_tokenizer() -> None:
    codeqwen = {"general.name": "CodeQwen1.5-7B-Chat", "general.architecture": "qwen2"}
    assert match_preset(codeqwen).name == "codeqwen"
    assert match_preset({"general.name": "Codestral-22B-v0.1"}).name == "codestral"
    by_pre = find_preset({"general.architecture": "llama", "tokenizer.ggml.pre": "llama-bpe"})
    assert by_pre and by_pre.preset.name == "llama3"
    assert by_pre.evidence == "tokenizer.ggml.pre 'llama-bpe'"
    by_arch = find_preset({"general.architecture": "gemma3"})
    assert by_arch and by_arch.preset.name == "gemma"
    # Llama architecture alone says nothing (SmolLM2, TinyLlama, … are "llama" too).
    assert match_preset({"general.architecture": "llama", "tokenizer.ggml.pre": "smollm"}) is None


def test_autocoder_is_not_taken_for_deepseek_coder() -> None:
    """AutoCoder has DeepSeek Coder's tokenizer; its name must win over the pre-tokenizer."""
    metadata = {"general.architecture": "llama", "tokenizer.ggml.pre": "deepseek-coder"}
    assert match_preset(metadata).name == "deepseek-coder"
    assert match_preset(metadata, "/m/AutoCoder.Q4_K_M.gguf").name == "autocoder"
    assert match_preset({**metadata, "general.name": "AutoCoder"}).name == "autocoder"


def test_specific_names_beat_generic_ones() -> None:
    """A generic name match (qwen -> chatml) yields to a specific one found elsewhere."""
    found = find_preset({"general.name": "Qwen 7B"}, "/m/codeqwen-1_5-7b-chat-q4_k_m.gguf")
    assert found and found.preset.name == "codeqwen"
    assert found.evidence == "file name 'codeqwen-1_5-7b-chat-q4_k_m.gguf'"


# --- which template a model uses ----------------------------------------------------------

LLAMA3_GGUF = {
    "general.architecture": "llama",
    "general.name": "Meta Llama 3 70B Instruct",
    "tokenizer.chat_template": "{{ bos_token }}<|start_header_id|>…",
}


def test_seed_preset_wins_over_a_gguf_template_of_its_family() -> None:
    chosen = chat_template(LLAMA3_GGUF)
    assert chosen.preset is PRESETS["llama3"]
    assert chosen.source == "preset:llama3 (by general.name 'Meta Llama 3 70B Instruct')"
    assert chosen.stop == ("<|eot_id|>",)
    assert chosen.stop_tokens == ("<|eot_id|>",) and chosen.stop_texts == ()
    assert chosen.sampling.temperature == 0.6


def test_a_fine_tune_in_another_format_keeps_its_own_template() -> None:
    """Hermes 2 Pro Llama 3 speaks ChatML: the Llama 3 preset must not replace it."""
    chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}…{% endfor %}"
    metadata = {**LLAMA3_GGUF, "general.name": "Hermes 2 Pro Llama 3 8B"}
    chosen = chat_template({**metadata, "tokenizer.chat_template": chatml})
    assert chosen.template == chatml
    assert chosen.preset is None
    assert chosen.source == "gguf (not llama3's format)"


def test_generic_presets_only_fill_in() -> None:
    own = "{% for m in messages %}<|im_start|>…{% endfor %}"
    qwen = {"general.architecture": "qwen2", "general.name": "Qwen2.5 Coder 7B Instruct"}
    assert chat_template({**qwen, "tokenizer.chat_template": own}).source == "gguf"
    filled = chat_template({"general.architecture": "gemma3", "general.name": "Gemma 3 270m"})
    assert filled.preset is PRESETS["gemma"]
    assert filled.source == "preset:gemma (by general.name 'Gemma 3 270m')"


def test_a_seed_model_without_a_gguf_template_gets_its_preset() -> None:
    chosen = chat_template({"general.architecture": "llama"}, filename="/m/codestral-22b.gguf")
    assert chosen.preset is PRESETS["codestral"]


def test_config_overrides() -> None:
    own = {**LLAMA3_GGUF}
    assert chat_template(own, "deepseek-coder").preset is PRESETS["deepseek-coder"]
    assert chat_template(own, "deepseek-coder").source == "preset:deepseek-coder (config)"
    assert chat_template(own, "mistral").preset is PRESETS["codestral"]  # an alias
    assert chat_template(own, "gguf").template == own["tokenizer.chat_template"]
    jinja = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert chat_template(own, jinja).source == "config"
    with pytest.raises(TemplateError, match="Did you mean 'deepseek-coder'"):
        chat_template(own, "deepseek_coder")
    with pytest.raises(TemplateError, match="carries no chat template"):
        chat_template({"general.architecture": "llama"}, "gguf")
    assert preset("llama-3") is PRESETS["llama3"]


def test_nothing_known_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match="completion mode"):
        chat_template({"general.architecture": "rwkv6"})


# --- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_renders_every_shape(name: str) -> None:
    for messages in (
        CONVERSATION,
        CONVERSATION[1:],
        [{"role": "user", "content": "ONLY"}],
    ):
        text = render(name, messages)
        for message in messages:
            assert text.count(message["content"]) == 1, (name, message)
        assert "FIRST-ANSWER" not in text or text.index("FIRST-QUESTION") < text.index(
            "FIRST-ANSWER"
        )


@pytest.mark.parametrize("name", ["codestral", "gemma"])
def test_no_system_role_folds_system_into_the_first_user_turn(name: str) -> None:
    assert not PRESETS[name].system_role
    text = render(name)
    assert "system" not in text
    assert text.index("SYSTEM-TEXT") < text.index("FIRST-QUESTION") < text.index("FIRST-ANSWER")
    second_turn = text[text.index("FIRST-ANSWER") :]
    assert "SYSTEM-TEXT" not in second_turn


def test_llama_cpp_pythons_mistral_format_drops_the_system_text() -> None:
    """The trap the codestral preset exists for: the built-in format loses the system text."""
    from llama_cpp.llama_chat_format import format_mistral_instruct

    assert "SYSTEM-TEXT" not in format_mistral_instruct(messages=CONVERSATION).prompt
    assert "SYSTEM-TEXT" in render("codestral")


def test_codestral_layout() -> None:
    assert render("codestral") == (
        "<BOS>[INST] SYSTEM-TEXT\n\nFIRST-QUESTION[/INST] FIRST-ANSWER<EOS>"
        "[INST] SECOND-QUESTION[/INST]"
    )


def test_deepseek_coder_default_system_prompt() -> None:
    without = render("deepseek-coder", CONVERSATION[1:])
    assert without.startswith("<BOS>" + DEEPSEEK_CODER_SYSTEM + "\n### Instruction:\n")
    assert without.endswith("### Response:")
    assert "FIRST-ANSWER\n<|EOT|>\n" in without
    custom = render("deepseek-coder")
    assert DEEPSEEK_CODER_SYSTEM not in custom
    assert custom.startswith("<BOS>SYSTEM-TEXT\n### Instruction:\nFIRST-QUESTION\n")


def test_codeqwen_default_system_prompt() -> None:
    assert render("codeqwen", CONVERSATION[1:]).startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    )
    assert "helpful assistant" not in render("codeqwen")
    assert render("codeqwen").endswith("<|im_start|>assistant\n")


def test_autocoder_layout() -> None:
    assert render("autocoder") == (
        "<BOS>SYSTEM-TEXT\nHuman: FIRST-QUESTION\nAssistant: FIRST-ANSWER\n<|EOT|>\n"
        "Human: SECOND-QUESTION\nAssistant:"
    )


def test_llama3_layout() -> None:
    assert render("llama3", CONVERSATION[1:2]) == (
        "<BOS><|start_header_id|>user<|end_header_id|>\n\nFIRST-QUESTION<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_a_template_that_raises_is_a_template_error() -> None:
    refusing = "{{ raise_exception('Only user and assistant roles are supported!') }}"
    with pytest.raises(TemplateError, match="Only user and assistant"):
        render_chat(refusing, CONVERSATION, bos_token="", eos_token="")


# --- FIM, stops, BOS --------------------------------------------------------------------------


def test_fim_prompts() -> None:
    assert fim_prompt(PRESETS["codestral"], "def f(", "\n    return x") == (
        "[SUFFIX]\n    return x[PREFIX]def f("
    )
    assert fim_prompt(PRESETS["deepseek-coder"], "a{", "}b") == (
        "<｜fim▁begin｜>a{<｜fim▁hole｜>}b<｜fim▁end｜>"
    )
    assert fim_prompt(PRESETS["codeqwen"], "p", "s") == "<fim_prefix>p<fim_suffix>s<fim_middle>"
    with pytest.raises(TemplateError, match="no fill-in-the-middle"):
        fim_prompt(PRESETS["llama3"], "p", "s")


def test_resolve_stops_rules() -> None:
    vocab = {"<|eot_id|>": [9], "<|EOT|>": [7], "[INST]": [1, 2, 3], "</s>": [2]}
    pieces = {9: b"", 7: b"<|EOT|>", 2: b""}

    def tokenize(text: str) -> list[int]:
        return vocab.get(text, [0, 0])

    def detokenize(tokens: list[int]) -> bytes:
        return b"".join(pieces.get(t, b"?") for t in tokens)

    # Token stops: by id when they are one token, else as text.
    assert resolve_stops(tokenize, detokenize, ("<|eot_id|>", "[INST]")) == (
        frozenset({9}),
        ("[INST]",),
    )
    # Text stops: by text, unless one token that decodes to nothing (it could never match).
    assert resolve_stops(tokenize, detokenize, (), ("<|EOT|>", "</s>", "\nHuman:")) == (
        frozenset({2}),
        ("<|EOT|>", "\nHuman:"),
    )


@pytest.mark.parametrize(
    ("tokens", "add_bos", "expected"),
    [
        ([5, 6], True, [1, 5, 6]),
        ([1, 5], True, [1, 5]),
        ([1, 1, 5], True, [1, 5]),  # a BOS-prefixed raw prompt plus the template's BOS
        ([1, 1, 1], False, [1]),
        ([5, 6], False, [5, 6]),
        ([], True, [1]),
    ],
)
def test_single_bos(tokens: list[int], add_bos: bool, expected: list[int]) -> None:
    assert single_bos(tokens, 1, add_bos) == expected


def test_single_bos_without_a_bos_token() -> None:
    assert single_bos([5], -1, True) == [5]
