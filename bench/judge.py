"""What the evidence judge (rag/answering/judge.py) costs per question beside retrieval, bundled corpus.

    .venv/bin/python -m bench.judge [--questions 100]

Loads the real encoder and the index (with its sentence vectors), then for the first N questions of
eval/dev.jsonl times the hybrid search and the judge (candidates, features, probabilities) apart, and prints
p50/p95 of each, the candidates per question, the sentence matrix's size in memory and the CPU. Not a test:
times depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from rag import app
from rag.answering.plan import read_plan
from rag.answering.service import AnswerService
from rag.config import DEFAULTS, PROJECT_ROOT, Settings
from rag.corpus import load_corpus
from rag.retrieval.retriever import Retriever


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    settings = Settings()
    encoder = app.open_encoder(settings)
    corpus = load_corpus(settings.data_dir)
    index, _ = app.open_index(settings, corpus=corpus, encoder=encoder)
    service = AnswerService(Retriever(index, encoder), corpus, None, DEFAULTS.answer.model_copy())
    service.warm_up()
    lines = (PROJECT_ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.questions]
    search_ms, judge_ms, candidates = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        hits = service.retriever.search(q, k=service.config.k)
        t1 = time.perf_counter()
        judgement = service.judge.judge(q, read_plan(q), hits)
        t2 = time.perf_counter()
        search_ms.append((t1 - t0) * 1000)
        judge_ms.append((t2 - t1) * 1000)
        candidates.append(len(judgement.candidates))

    def p95(x: list[float]) -> float:
        return sorted(x)[max(0, int(0.95 * len(x)) - 1)]

    with open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   "unknown CPU")
    sentences = index.sentences
    print(f"{len(questions)} questions · search p50 {statistics.median(search_ms):.1f} ms, p95 "
          f"{p95(search_ms):.1f} · judge p50 {statistics.median(judge_ms):.1f} ms, p95 {p95(judge_ms):.1f} · "
          f"candidates p50 {statistics.median(candidates):.0f}")
    if sentences is not None:
        print(f"sentence vectors: {len(sentences)} × {sentences.matrix.shape[1]}, "
              f"{sentences.matrix.nbytes / 2**20:.1f} MB in memory")
    print(cpu)


if __name__ == "__main__":
    main()
