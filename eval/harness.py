"""`rag eval`: run named conditions (eval/conditions.yaml) on a gold set, check them, report and diff.

A condition is a configuration of the system — chunking, retriever, answer mode, model — with the scores
we measured for it and the tolerance a rerun may deviate by. ``--check`` turns the file into a regression
gate: a metric beyond its tolerance prints FAIL and the command exits non-zero.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from eval.check_gold import GoldItem
from rag.config import PROJECT_ROOT, Settings

CONDITIONS_FILE = PROJECT_ROOT / "eval" / "conditions.yaml"
RESULTS_DIR = PROJECT_ROOT / "eval" / "results"


class Expectation(BaseModel):
    value: float
    tolerance: float = Field(ge=0)
    # "min": a score that must not fall below value - tolerance; "max": a cost (latency, false refusals)
    # that must not rise above value + tolerance.
    direction: Literal["min", "max"] = "min"

    def ok(self, measured: float | None) -> bool:
        if measured is None:
            return False
        if self.direction == "min":
            return measured >= self.value - self.tolerance - 1e-9
        return measured <= self.value + self.tolerance + 1e-9


class Condition(BaseModel):
    name: str = ""
    description: str = ""
    kind: Literal["retrieval", "answers"]
    chunks: Literal["structure", "fixed"] = "structure"
    retriever: Literal["hybrid", "dense", "bm25"] = "hybrid"
    mode: Literal["llm", "extractive"] = "extractive"
    llm_model: str | None = None
    prompt: Literal["brief", "verbatim"] | None = None
    ci: bool = Field(False, description="Part of the fast subset `make test` checks.")
    gold: str | None = Field(None, description="Question set of its own (path from the project root), "
                             "instead of the one `rag eval --gold` names: the held-out set.")
    expected: dict[str, Expectation] = Field(default_factory=dict)


def load_conditions(path: Path = CONDITIONS_FILE) -> dict[str, Condition]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {name: Condition.model_validate({**spec, "name": name})
            for name, spec in (raw.get("conditions") or {}).items()}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Runner:
    """Runs conditions on one corpus, loading each component once and sharing it between conditions."""

    def __init__(self, settings: Settings, progress: bool = True):
        self.settings = settings
        self.progress = progress
        self._corpus = self._encoder = self._index = None
        self._services: dict[str | None, object] = {}

    def corpus(self):
        if self._corpus is None:
            from rag.corpus import load_corpus

            self._corpus = load_corpus(self.settings.data_dir)
        return self._corpus

    def encoder(self):
        if self._encoder is None:
            from rag.app import open_encoder

            self._encoder = open_encoder(self.settings)
            self._encoder.encode_queries(["预热"])  # one-off setup is not a query latency
        return self._encoder

    def index(self):
        if self._index is None:
            from rag.app import open_index

            self._index, _ = open_index(self.settings, corpus=self.corpus(), encoder=self.encoder(),
                                        progress=self.progress)
        return self._index

    def retriever(self, cond: Condition):
        from rag.retrieval.retriever import Retriever

        if cond.chunks == "structure":
            return Retriever(self.index(), self.encoder())
        import numpy as np

        from rag.retrieval.chunking import fixed_chunks
        from rag.retrieval.index import memory_index

        chunks = fixed_chunks(self.corpus(), 400)
        if cond.retriever == "bm25":  # no vectors needed: BM25 alone never reads them
            vectors = np.zeros((len(chunks), 1), dtype=np.float32)
        else:
            from embeddings.cache import EmbeddingCache
            from rag.retrieval.index import embed_chunks

            cache = EmbeddingCache(self.settings.cache_dir / "embeddings.sqlite")
            vectors, _ = embed_chunks(chunks, self.encoder(), cache, progress=self.progress)
            cache.close()
        # the naive baseline: fusion only, no lexical rerank
        return Retriever(memory_index(chunks, vectors, label="baseline-fixed-400"), self.encoder(),
                         rerank_weight=0.0)

    def service(self, cond: Condition):
        from rag.answering.service import AnswerConfig, AnswerService
        from rag.app import open_generator

        key = cond.llm_model if cond.mode == "llm" else None
        if key not in self._services:
            generator = None
            if cond.mode == "llm":
                settings = self.settings.model_copy(update={"llm_model": cond.llm_model}) if cond.llm_model \
                    else self.settings
                generator = open_generator(settings)
            self._services[key] = AnswerService(self.retriever(cond), self.corpus(), generator,
                                                AnswerConfig(timeout_s=self.settings.llm_timeout_s))
        svc = self._services[key]
        svc.config.prompt = cond.prompt or AnswerConfig.model_fields["prompt"].default
        svc.warm_up()
        return svc

    def run(self, cond: Condition, items: Sequence[GoldItem]) -> dict:
        t0 = time.perf_counter()
        if cond.kind == "retrieval":
            from eval.retrieval import evaluate

            retriever = self.retriever(cond)
            answerable = [i for i in items if i.answerable and i.sources]
            res = evaluate(lambda q: retriever.search(q, k=10, mode=cond.retriever), answerable,
                           desc=cond.name)
            summary = {k: round(v, 4) for k, v in res["overall"].items()}
            summary |= {"query_ms_p50": round(res["latency_ms"]["p50"], 1),
                        "query_ms_p95": round(res["latency_ms"]["p95"], 1)}
            by_type = res["by_type"]
            records = res["questions"]
        else:
            from eval.answers import by_type as answers_by_type
            from eval.answers import run as run_answers
            from eval.answers import summarize

            recs = run_answers(self.service(cond), items, cond.mode, desc=cond.name)
            summary = summarize(recs)
            by_type = answers_by_type(recs)
            records = [r.model_dump() for r in recs]
        summary["peak_rss_mb"] = peak_rss_mb()
        return {"condition": cond.name, "description": cond.description, "spec": cond.model_dump(),
                "n": len(records), "seconds": round(time.perf_counter() - t0, 1),
                "run_at": time.strftime("%Y-%m-%d %H:%M"), "summary": summary, "by_type": by_type,
                "records": records}


def check(cond: Condition, summary: dict) -> list[tuple[str, Expectation, float | None, bool]]:
    """Each expected metric with its measured value and whether it is within tolerance."""
    return [(metric, exp, summary.get(metric), exp.ok(summary.get(metric)))
            for metric, exp in cond.expected.items()]


def format_check(cond: Condition, rows) -> str:
    lines = []
    for metric, exp, got, ok in rows:
        bound = (f"≥ {exp.value - exp.tolerance:.3f}" if exp.direction == "min"
                 else f"≤ {exp.value + exp.tolerance:.3f}")
        shown = "missing" if got is None else f"{got:.3f}"
        lines.append(f"  {'OK  ' if ok else 'FAIL'} {cond.name:22} {metric:22} {shown:>10}  "
                     f"(expected {exp.value:.3f}, {bound})")
    return "\n".join(lines)


# -- report -------------------------------------------------------------------------------------------------

REPORT_METRICS = {
    "retrieval": ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "query_ms_p50"],
    "answers": ["key_fact_recall", "citation_precision", "citation_recall", "citation_needed",
                "number_accuracy", "refused_unanswerable", "refused_answerable", "first_token_ms_p50",
                "first_token_ms_p95", "total_ms_p50", "tokens_per_s", "peak_rss_mb"],
}


def write_report(results: dict[str, dict], out_dir: Path) -> Path:
    """eval/results/report.md with tables per kind and matplotlib plots beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Evaluation report", "",
             "Generated by `rag eval` from the result files in this folder (one per condition). Each "
             "condition is defined in `eval/conditions.yaml`.", ""]
    for kind, metrics in REPORT_METRICS.items():
        rows = {n: r for n, r in results.items() if r["spec"]["kind"] == kind}
        if not rows:
            continue
        lines += [f"## {kind.capitalize()}", "", "| condition | n | " + " | ".join(metrics) + " | run at |",
                  "|---|---|" + "---|" * len(metrics) + "---|"]
        for name, r in rows.items():
            vals = [r["summary"].get(m) for m in metrics]
            cells = ["–" if v is None else (f"{v:.3f}" if isinstance(v, float) and v <= 1.0 else f"{v:g}")
                     for v in vals]
            lines.append(f"| {name} | {r['n']} | " + " | ".join(cells) + f" | {r['run_at']} |")
        lines.append("")
        bar_metrics = [m for m in metrics if "ms" not in m and m not in ("tokens_per_s", "peak_rss_mb")]
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(bar_metrics)), 3.6))
        width = 0.8 / max(len(rows), 1)
        for i, (name, r) in enumerate(rows.items()):
            ax.bar([j + i * width for j in range(len(bar_metrics))],
                   [r["summary"].get(m) or 0 for m in bar_metrics], width, label=name)
        ax.set_xticks([j + width * (len(rows) - 1) / 2 for j in range(len(bar_metrics))], bar_metrics,
                      fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7)
        ax.set_title(f"{kind}: metrics per condition")
        fig.tight_layout()
        png = out_dir / f"{kind}-metrics.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        lines += [f"![{kind} metrics]({png.name})", ""]
    answer_rows = {n: r for n, r in results.items()
                   if r["spec"]["kind"] == "answers" and r["spec"]["mode"] == "llm"}
    if answer_rows:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        for name, r in answer_rows.items():
            firsts = [x["first_token_ms"] / 1000 for x in r["records"] if x.get("first_token_ms")]
            if firsts:
                ax.hist(firsts, bins=20, alpha=0.6, label=f"{name} first token")
        ax.set_xlabel("seconds")
        ax.set_ylabel("questions")
        ax.legend(fontsize=7)
        ax.set_title("latency to the first answer token")
        fig.tight_layout()
        fig.savefig(out_dir / "latency.png", dpi=110)
        plt.close(fig)
        lines += ["## Latency", "", "![first-token latency](latency.png)", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


# -- diff ---------------------------------------------------------------------------------------------------


def _score_of(record: dict) -> tuple[float, str] | None:
    if "first_rank" in record:
        r = record["first_rank"]
        return (1 / r if r else 0.0), f"rank {r or '>10'}"
    if "key_fact_recall" in record:
        if record["expected"] == "refuse":
            return float(record["refused"]), "refused" if record["refused"] else "answered"
        kfr = record["key_fact_recall"] if record["key_fact_recall"] is not None else 1.0
        score = 0.0 if record["refused"] else kfr
        return score, "refused" if record["refused"] else f"key facts {kfr:.2f}"
    return None


def diff(a: dict, b: dict) -> tuple[list[str], list[str]]:
    """Questions that got better and worse from result file ``a`` to ``b``."""
    recs_a = {r["id"]: r for r in a["records"]}
    better, worse = [], []
    for rb in b["records"]:
        ra = recs_a.get(rb["id"])
        if ra is None:
            continue
        sa, sb = _score_of(ra), _score_of(rb)
        if sa is None or sb is None or abs(sa[0] - sb[0]) < 1e-9:
            continue
        line = f"{rb['id']} [{rb.get('type', '')}] {sa[1]} → {sb[1]}  {rb.get('question', '')[:50]}"
        (better if sb[0] > sa[0] else worse).append(line)
    return better, worse


def load_result(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_result(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def run_conditions(runner: Runner, conds: Sequence[Condition], items: Sequence[GoldItem], out_dir: Path,
                   do_check: bool, echo: Callable[[str], None] = print, limit: int | None = None) -> int:
    """Run, save, print; with ``do_check`` compare with expectations. Returns the number of failures."""
    from eval.answers import format_summary
    from eval.retrieval import load_gold

    failures = 0
    for cond in conds:
        own = load_gold(PROJECT_ROOT / cond.gold)[:limit] if cond.gold else None
        result = runner.run(cond, own if own is not None else items)
        write_result(out_dir / f"{cond.name}.json", result)
        s = result["summary"]
        if cond.kind == "answers":
            echo(format_summary(cond.name, s))
        else:
            echo(f"{cond.name}: " + " · ".join(f"{k} {v:.3f}" for k, v in s.items() if isinstance(v, float)))
        if do_check:
            rows = check(cond, s)
            echo(format_check(cond, rows))
            failures += sum(not ok for *_, ok in rows)
    return failures

