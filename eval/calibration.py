"""Latency against a yardstick measured in the same run, so `rag eval --check` holds on any CPU.

First-token latency is mostly prompt evaluation, whose speed differs about 2× between CPUs (AVX2 only vs
AVX-512) with the same code. Before an LLM condition's questions, the model evaluates a fixed reference
prompt that shares no prefix with anything cached (best of three): ``reference_ms``. A condition's latency
is checked as a multiple of it (``first_token_p50_calibrated`` = first_token_ms_p50 / reference_ms); the
absolute figures are reported beside the CPU they were measured on (provenance ``machine``).
"""

from __future__ import annotations

import time

from rag.answering.generation import ChatMessage, GenerationParams, Generator, Usage

# A passage of the kind the prompts carry (about 300 tokens for the Qwen tokenizer): the yardstick's size
# is close to a question's new prompt tokens, so a ratio near 1–3 reads as "a few reference prompts".
REFERENCE_PROMPT = (
    "下半年，县水利局将围绕防汛抗旱、水利工程建设和河湖长制三项重点工作，进一步压实责任、强化监管。"
    "一是加强资金管理，严格执行项目资金专款专用制度，对中央和省级补助资金实行台账管理，每季度开展一次"
    "专项检查，确保资金使用规范、安全、高效。二是加快工程进度，全力推进中型灌区续建配套与节水改造项目，"
    "年底前完成渠道衬砌12公里、新建泵站3座，同步做好农村饮水安全巩固提升工程的验收和移交。三是落实"
    "河湖长制，组织各乡镇开展河道“清四乱”专项行动，全年巡河不少于4次，发现问题建立清单、限期整改。"
    "四是做好防汛准备，修订完善防汛应急预案，储备编织袋2万条、救生衣500件，汛期实行24小时值班制度。"
    "五是加强队伍建设，深入开展廉政教育，健全内部控制制度，提升依法行政水平。"
)


def prompt_speed(generator: Generator, repeats: int = 3) -> dict:
    """The model's prompt speed on this machine, now: seconds to the first token of the reference prompt
    under a system message of its own (so no cached prefix is reused), the best of ``repeats``."""
    best_s, tokens = float("inf"), 0
    for i in range(repeats):
        messages = [ChatMessage(role="system", content=f"第{i + 1}次校准：复述下文的第一个字。"),
                    ChatMessage(role="user", content=REFERENCE_PROMPT)]
        usage = Usage()
        t0 = time.perf_counter()
        for _ in generator.stream(messages, GenerationParams(max_tokens=1), usage):
            pass
        best_s = min(best_s, time.perf_counter() - t0)
        tokens = usage.prompt_tokens
    return {"reference_prompt_tokens": tokens, "reference_ms": round(best_s * 1000, 1),
            "prompt_tokens_per_s": round(tokens / best_s, 1) if best_s > 0 else None}


def calibrated(summary: dict, calibration: dict) -> dict:
    """First-token percentiles as multiples of the reference prompt's time (None without a figure)."""
    ref = calibration.get("reference_ms")
    out = {}
    for q in ("p50", "p95"):
        value = summary.get(f"first_token_ms_{q}")
        out[f"first_token_{q}_calibrated"] = round(value / ref, 3) if value and ref else None
    return out
