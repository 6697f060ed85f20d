"""LlamaCppGenerator._align_cache: how much of the previous prompt's KV cache a new prompt may reuse, and
where its evaluation is split. (The real model's side — the same messages get the same answer whatever
came before — is in tests/test_real_models.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.generation import LlamaCppGenerator


class _FakeLlama:
    """One character per token (its code point); records what is evaluated."""

    n_batch = 4

    def __init__(self, cached: str):
        self.input_ids = np.zeros(256, dtype=np.intc)
        self.n_tokens = 0
        self.evaluated: list[str] = []
        self.eval(_tokens(cached))
        self.evaluated.clear()

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(map(chr, tokens)).encode("utf-8")

    def eval(self, tokens: list[int]) -> None:
        self.input_ids[self.n_tokens:self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self.evaluated.append("".join(map(chr, tokens)))


def _tokens(text: str) -> list[int]:
    return [ord(c) for c in text]


def _generator(cached: str, canonical: int | None = None, anchor: int = 0,
               system: str = "") -> LlamaCppGenerator:
    gen = LlamaCppGenerator.__new__(LlamaCppGenerator)  # no model: only the cache bookkeeping
    gen.llm = _FakeLlama(cached)
    gen._canonical = len(cached) if canonical is None else canonical
    gen._canonical_anchor, gen._pending, gen._system = anchor, (0, 0), system
    return gen


PROMPT = "0123456789"  # 10 tokens, all evaluated as a prompt; steps of 4


@pytest.mark.parametrize("prompt, canonical, kept", [
    ("012345678xyz", None, 8),  # 9 in common: whole 4-token steps only
    (PROMPT, None, 8),  # the same prompt again: its last token is evaluated anew, so 9, then 8
    (PROMPT + "abcd", None, 8),  # a longer prompt: the partial last step [8, 10) is not reused
    ("012xxxxxxx", None, 0),  # less than one step in common: nothing
    (PROMPT + "abcd", 6, 4),  # only [0, 6) were a prompt (then generated tokens): at most that
    (PROMPT + "ab", 0, 0),  # the last call failed before its prompt was evaluated: nothing
])
def test_without_a_system_message_whole_steps_of_an_evaluated_prompt_are_kept(prompt, canonical, kept):
    gen = _generator(PROMPT, canonical)
    gen._align_cache(_tokens(prompt))
    assert gen.llm.n_tokens == kept and gen.llm.evaluated == []
    assert gen._canonical == 0 and gen._pending == (len(prompt), 0)  # canonical again once evaluated


SYSTEM = "RULES"
ASKED = "<s>RULES</s><u>what was done</u>"  # the system message ends at 8


def test_a_fresh_prompt_is_evaluated_up_to_the_end_of_its_system_message_first():
    gen = _generator("", system=SYSTEM)
    gen._align_cache(_tokens(ASKED))
    assert gen.llm.evaluated == ["<s>RULES"] and gen._pending == (len(ASKED), 8)


def test_the_same_system_message_is_reused_whole_and_then_whole_steps_after_it():
    gen = _generator(ASKED, anchor=8, system=SYSTEM)
    gen._align_cache(_tokens("<s>RULES</s><u>what is planned</u>"))  # 20 in common: 8 + 3 steps of 4
    assert gen.llm.n_tokens == 20 and gen.llm.evaluated == []
    gen = _generator(ASKED, anchor=8, system=SYSTEM)
    gen._align_cache(_tokens("<s>RULES</s><u>how</u>"))  # 15 in common: 8 + 1 step
    assert gen.llm.n_tokens == 12 and gen.llm.evaluated == []


def test_another_system_message_keeps_only_the_steps_below_both_ends():
    gen = _generator("<s>RULES AND MORE</s><u>x</u>", anchor=17, system="RULES AND MORE")
    gen._align_cache(_tokens(ASKED))  # 8 in common, and 8 is where this system message ends
    assert gen.llm.n_tokens == 8 and gen.llm.evaluated == []
    gen = _generator("<s>RULES</s><u>x</u>", anchor=8, system=SYSTEM)
    gen._system = "RULES, LONGER"
    gen._align_cache(_tokens("<s>RULES, LONGER</s><u>x</u>"))  # 8 kept, then up to its own end at 16
    assert gen.llm.n_tokens == 16 and gen.llm.evaluated == [", LONGER"]
