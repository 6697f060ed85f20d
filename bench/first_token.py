"""First token, prompt size and generation speed of LLM answers, beside the CPU and llama.cpp's build.

    .venv/bin/python -m bench.first_token [--gold eval/holdout.jsonl ...] [--limit N] [--lookup 0 10]
        [--model qwen2.5-coder-0.5b-instruct] [--out FILE]

For each question of the gold sets that the service answers with the LLM (not refused before generation,
not a table), the first token's latency from the question (retrieval included), the prompt tokens the model
evaluated (the cached system prompt excluded) and the completion's tokens per second. ``--lookup`` runs the
questions once per value of prompt-lookup decoding (RAG_LLM_LOOKUP_TOKENS; 0 = off) with the same answers
expected (greedy decoding: the draft only changes the speed). The reference prompt of eval/calibration.py is
timed first, so a figure reads as "so many reference prompts" on any CPU.

To measure the code path of a CPU without AVX-512 on one that has it, build llama-cpp-python without it
into a folder and put that folder first on PYTHONPATH (eval/README.md, "Answers, not quote dumps"); the
report prints llama.cpp's own system info, which says which kernels ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from tqdm import tqdm

from eval.check_gold import read_gold
from eval.provenance import machine
from rag import app
from rag.config import PROJECT_ROOT, Settings
from rag.contracts import AnswerEvent, TokenEvent


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    vs = sorted(values)
    return vs[min(len(vs) - 1, round(q * (len(vs) - 1)))]


def run(settings: Settings, questions: list[str]) -> dict:
    from eval.calibration import prompt_speed

    service = app.open_answer_service(settings)
    service.warm_up()
    assert service.generator is not None
    reference = prompt_speed(service.generator)
    first, new, speed, answers = [], [], [], []
    for q in tqdm(questions, desc=f"lookup {settings.llm_lookup_tokens}", unit="q"):
        t0 = time.perf_counter()
        t_first = None
        for event in service.stream(q, mode="llm"):
            if isinstance(event, TokenEvent) and t_first is None:
                t_first = time.perf_counter() - t0
            if isinstance(event, AnswerEvent):
                a = event.answer
                answers.append(a.answer)
                if t_first is None or a.timings.completion_tokens < 2:
                    continue
                t_end = time.perf_counter() - t0
                first.append(t_first * 1000)
                new.append(a.timings.prompt_new_tokens)
                speed.append((a.timings.completion_tokens - 1) / max(t_end - t_first, 1e-6))
    return {
        "lookup_tokens": settings.llm_lookup_tokens, "answered_by_llm": len(first), **reference,
        "first_token_ms_p50": _pct(first, 0.5), "first_token_ms_p95": _pct(first, 0.95),
        "prompt_new_tokens_p50": _pct(new, 0.5), "prompt_new_tokens_p95": _pct(new, 0.95),
        "tokens_per_s_mean": round(statistics.fmean(speed), 1) if speed else None,
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", nargs="+", default=["eval/holdout.jsonl", "eval/dev.jsonl"])
    parser.add_argument("--limit", type=int, default=120, help="questions in all (the first of each set)")
    parser.add_argument("--lookup", type=int, nargs="+", default=[0])
    parser.add_argument("--model", default=None, help="llm_model (default: the service's)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from llama_cpp import llama_cpp

    questions: list[str] = []
    per_set = max(1, args.limit // len(args.gold))
    for gold in args.gold:
        questions += [item.question for item in read_gold(PROJECT_ROOT / gold)][:per_set]
    settings = Settings()
    if args.model:
        settings = settings.model_copy(update={"llm_model": args.model})
    runs = [run(settings.model_copy(update={"llm_lookup_tokens": n}), questions) for n in args.lookup]
    same = all(r["answers"] == runs[0]["answers"] for r in runs)
    report = {"machine": machine(), "llama_system_info": llama_cpp.llama_print_system_info().decode(),
              "model": settings.llm_model, "questions": len(questions), "gold": args.gold,
              "answers_identical_across_runs": same,
              "runs": [{k: v for k, v in r.items() if k != "answers"} for r in runs]}
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
