"""Retrieval evaluation at quote level, our retriever beside naive baselines.

A hit is relevant to a gold source when it comes from the same file, its line span contains the
source line, and its text contains the gold quote. Per question: the rank of the first relevant hit
(recall@k = some source found in the top k; MRR) and, for questions with several sources (compare,
aggregate), the share of sources found in the top 10.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embeddings.protocol import Encoder
from eval.check_gold import GoldItem, Source, clean, read_gold
from rag.retrieval.retriever import Hit

KS = (1, 5, 10)
_WS = re.compile(r"\s+")


class QueryMemo:
    """Wraps an encoder so each distinct query is embedded once, however often it is searched (passages go
    straight to the wrapped encoder). For runs that repeat questions and time nothing: a sweep over
    constants, the test of the `ci` conditions. Not for `rag eval`, whose latencies include the query."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.memo: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        for q in queries:
            if q not in self.memo:
                self.memo[q] = self.encoder.encode_queries([q])[0]
        return np.stack([self.memo[q] for q in queries])

    def document_inputs(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
        return self.encoder.document_inputs(texts, titles)

    def encode_inputs(self, inputs: Sequence[str], progress: bool = False) -> np.ndarray:
        return self.encoder.encode_inputs(inputs, progress)

    def encode_documents(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                         progress: bool = False) -> np.ndarray:
        return self.encoder.encode_documents(texts, titles, progress)


def _squash(text: str) -> str:
    return _WS.sub("", clean(text)).replace("\u3000", "")


def load_gold(path: Path) -> list[GoldItem]:
    """The gold items; a bad file raises ``GoldFormatError`` naming the file, line and field of each
    problem (never a pydantic traceback)."""
    return read_gold(path)


def relevant(hit: Hit, src: Source) -> bool:
    return (hit.source_file == src.file and hit.line_start <= src.line <= hit.line_end
            and _squash(src.quote) in _squash(hit.text))


@dataclass
class QuestionResult:
    id: str
    type: str
    first_rank: int | None  # 1-based rank of the first relevant hit within the top 10
    sources_found_at_10: float
    latency_ms: float
    top: list[str] = field(default_factory=list)


def evaluate(search: Callable[[str], list[Hit]], items: Sequence[GoldItem], desc: str = "") -> dict:
    results: list[QuestionResult] = []
    for item in tqdm(items, desc=desc or "questions", unit="q", leave=False):
        t0 = time.perf_counter()
        hits = search(item.question)[: max(KS)]
        ms = (time.perf_counter() - t0) * 1000
        first = next((h.rank for h in hits if any(relevant(h, s) for s in item.sources)), None)
        found = sum(any(relevant(h, s) for h in hits) for s in item.sources) / len(item.sources)
        results.append(QuestionResult(item.id, item.type, first, found, ms,
                                      [f"{h.source_file}:{h.line_start}-{h.line_end}" for h in hits[:3]]))
    return summarise(results)


def _metrics(rs: Sequence[QuestionResult]) -> dict[str, float]:
    n = len(rs)
    out = {f"recall@{k}": sum(r.first_rank is not None and r.first_rank <= k for r in rs) / n for k in KS}
    out["mrr"] = sum(1 / r.first_rank for r in rs if r.first_rank) / n
    out["ndcg@10"] = sum(1 / np.log2(r.first_rank + 1) for r in rs if r.first_rank) / n
    out["all_sources@10"] = sum(r.sources_found_at_10 for r in rs) / n
    out["n"] = n
    return out


def summarise(results: list[QuestionResult]) -> dict:
    lat = sorted(r.latency_ms for r in results)
    by_type: dict[str, list[QuestionResult]] = {}
    for r in results:
        by_type.setdefault(r.type, []).append(r)
    return {
        "overall": _metrics(results),
        "by_type": {t: _metrics(rs) for t, rs in sorted(by_type.items())},
        "latency_ms": {"p50": statistics.median(lat), "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))]},
        "questions": [r.__dict__ for r in results],
    }


def format_table(report: dict[str, dict]) -> str:
    cols = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "all_sources@10"]
    lines = [f"{'condition':26} " + " ".join(f"{c:>14}" for c in cols) + f" {'p50 ms':>8} {'p95 ms':>8}"]
    for name, res in report.items():
        m = res["overall"]
        lines.append(f"{name:26} " + " ".join(f"{m[c]:14.3f}" for c in cols)
                     + f" {res['latency_ms']['p50']:8.1f} {res['latency_ms']['p95']:8.1f}")
    return "\n".join(lines)


def format_by_type(name: str, res: dict) -> str:
    lines = [f"{name} by question type:"]
    for t, m in res["by_type"].items():
        lines.append(f"  {t:12} n={m['n']:3}  r@1 {m['recall@1']:.3f}  r@5 {m['recall@5']:.3f}  "
                     f"r@10 {m['recall@10']:.3f}  mrr {m['mrr']:.3f}  all@10 {m['all_sources@10']:.3f}")
    return "\n".join(lines)


def write_json(path: Path, data: dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
