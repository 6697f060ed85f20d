"""Would the local LLM, asked "does this sentence answer the question?", refuse better than the judge?

    .venv/bin/python -m bench.llm_verifier [--model qwen2.5-coder-1.5b-instruct] [--second DIR]

For the judge's tuning questions of both corpora (the bundled gold + held-out sets, and
eval/dragonball/tune.jsonl on the corpus folder ``--second``), takes the judge's best sentence, asks the
GGUF model for 是/否 (one token, its log-probabilities), and prints the area under the ROC curve of
answerable against unanswerable questions for the judge's best probability, for the model's P(是), and for
the sum of their logits. An experiment behind issue 27's note, not a test: it decides nothing at run time.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from eval.calibrate import SINGLE_REPORT_TYPES, auc
from eval.check_gold import read_gold
from eval.commands import eval_service
from rag import app
from rag.config import PROJECT_ROOT, Settings

SYSTEM = ("你是核对员。判断给出的原文句子是否直接回答了问题（问的对象、时间、事项都要对上）。"
          "只回答“是”或“否”。")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--second", type=Path, default=PROJECT_ROOT.parent / "shared/corpora/dragonball-zh")
    args = parser.parse_args()
    from llama_cpp import Llama

    settings = Settings()
    llm = Llama(model_path=str(settings.model_copy(update={"llm_model": args.model}).llm_model_path()),
                n_ctx=1024, n_threads=2, verbose=False, logits_all=True)

    def p_yes(question: str, title: str, sentence: str) -> float:
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"问题：{question}\n原文（《{title}》）：{sentence}\n"
                                                "这句原文是否直接回答了问题？"}]
        out = llm.create_chat_completion(messages, max_tokens=1, logprobs=True, top_logprobs=20,  # type: ignore[arg-type]
                                         temperature=0)
        top = out["choices"][0]["logprobs"]["content"][0]["top_logprobs"]  # type: ignore[index]
        lp = {t["token"]: t["logprob"] for t in top}
        yes, no = math.exp(lp.get("是", -30.0)), math.exp(lp.get("否", -30.0))
        return yes / (yes + no)

    encoder = app.open_encoder(settings)
    sets = {"bundled": (Path(settings.data_dir), ["eval/gold.jsonl", "eval/holdout.jsonl"]),
            "dragonball": (args.second, ["eval/dragonball/tune.jsonl"])}
    for name, (folder, golds) in sets.items():
        service = eval_service(settings, folder, encoder)
        judged, verified, answerable = [], [], []
        for gold in golds:
            for item in read_gold(PROJECT_ROOT / gold):
                if item.type not in SINGLE_REPORT_TYPES or item.expected == "withheld":
                    continue
                j = service.context(item.question).judgement
                best = max(range(len(j.candidates)), key=lambda i: j.probabilities[i], default=None)
                judged.append(j.probabilities[best] if best is not None else 0.0)
                verified.append(p_yes(item.question, j.candidates[best].hit.report_title,
                                      j.candidates[best].text) if best is not None else 0.0)
                answerable.append(int(item.answerable))
        y, jp, vp = np.array(answerable), np.clip(judged, 1e-6, 1 - 1e-6), np.clip(verified, 1e-6, 1 - 1e-6)
        both = np.log(jp / (1 - jp)) + np.log(vp / (1 - vp))
        print(f"{name}: {len(y)} questions ({int((y == 0).sum())} unanswerable) · "
              f"AUC judge {auc(jp, y):.3f} · AUC {args.model} {auc(vp, y):.3f} · "
              f"AUC of the sum of logits {auc(both, y):.3f}")


if __name__ == "__main__":
    main()
