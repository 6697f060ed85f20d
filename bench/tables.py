"""Cost of cross-report tables as the corpus grows: time to the first row and to the whole table.

    .venv/bin/python -m bench.tables [--scales 1 2 5 10] [--gold eval/cross-dev.jsonl]

The machine's real index and encoder (no LLM: tables do not use it). The questions are the cross-report
dev set's: its aggregate / who questions for the reports table, its comparisons for the aspect table. Each
question runs through ``AnswerService.stream`` in process, as the API's worker runs it; a first untimed
pass warms caches.

Scale s > 1 is a synthetic corpus of s × 79 reports: the bundled reports plus s − 1 copies of each under
new titles and issuing bodies (a made-up place name in front: 「东川区民政局2023年…」), with new report and
chunk ids. The copies' BM25 documents are tokenised afresh (their titles differ); their dense vectors are
the originals' (re-embedding 9 × 6k chunks would take hours on this CPU and would change the vectors only
through the title slot), and so are their sentence vectors. So the search work — BM25 over every chunk,
a dense scan over every chunk and sentence vector, every report's candidate sentences judged — is what a
real archive of that size costs; the rows found are the originals' repeated, which is the worst case for
the table's length.

Writes eval/results/tables-cost.json (the points, and the command, commit and CPU they were measured with)
and tables-cost.png (cost against the number of reports).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.check_gold import GoldItem, read_gold
from eval.provenance import bench_provenance
from eval.retrieval import write_json
from rag.answering.service import AnswerService
from rag.config import PROJECT_ROOT, Settings
from rag.contracts import AnswerEvent, RowEvent
from rag.corpus import Corpus
from rag.retrieval.index import memory_index
from rag.retrieval.retriever import Retriever
from rag.retrieval.sentences import SentenceVectors

RESULTS = PROJECT_ROOT / "eval" / "results"
# Made-up place names for the copies' titles: none is a place in the bundled corpus.
PLACES = ["东川", "西岭", "南湖", "北塘", "青崖", "白沙", "金溪", "玉泉", "石门", "云台", "松林", "柳营"]


def scaled(service: AnswerService, copies: int) -> tuple[AnswerService, float]:
    """The service over the corpus plus ``copies`` renamed copies of every report, and the build time."""
    if copies == 0:
        return service, 0.0
    t0 = time.perf_counter()
    corpus = service.corpus
    index = service.retriever.index
    flat = index.dense.index  # IndexFlatIP: the vectors can be read back
    original = flat.reconstruct_n(0, flat.ntotal)
    files, chunks, vectors = list(corpus.files), list(index.chunks), [original]
    for k in range(1, copies + 1):
        place = PLACES[(k - 1) % len(PLACES)] + ("" if k <= len(PLACES) else str(k))
        renamed = {}
        for f in corpus.files:
            reports = []
            for r in f.reports:
                body = place + r.issuing_body if r.issuing_body else None
                new = r.model_copy(update={"id": f"{r.id}-x{k}", "title": place + r.title,
                                           "search_title": place + r.search_title, "issuing_body": body})
                renamed[r.id] = new
                reports.append(new)
            files.append(f.model_copy(update={"reports": reports}))
        for c in index.chunks:
            r = renamed[c.report_id]
            chunks.append(c.model_copy(update={
                "chunk_id": f"{c.chunk_id}-x{k}", "report_id": r.id, "report_title": r.title,
                "embed_title": place + c.embed_title, "context": place + c.context,
                "issuing_body": r.issuing_body, "section_id": f"{c.section_id}-x{k}"}))
        vectors.append(original)
    big = Corpus(data_dir=corpus.data_dir, parser_version=corpus.parser_version,
                 content_hash=f"{corpus.content_hash}-x{copies}", files=files)
    big_index = memory_index(chunks, np.vstack(vectors), label=f"x{copies + 1}")
    if index.sentences is not None:  # the judged scan reads sentence vectors: the copies reuse theirs too
        big_index.sentences = SentenceVectors.build(index.sentences.spans * (copies + 1),
                                                    np.vstack([index.sentences.matrix] * (copies + 1)))
    old = service.retriever
    svc = AnswerService(Retriever(big_index, old.encoder, old.config), big, None, service.config)
    return svc, time.perf_counter() - t0


def timed(service: AnswerService, item: GoldItem) -> dict:
    t0 = time.perf_counter()
    first = None
    rows = 0
    answer = None
    for event in service.stream(item.question, mode="extractive"):
        if isinstance(event, RowEvent):
            rows += 1
            if first is None:
                first = time.perf_counter() - t0
        elif isinstance(event, AnswerEvent):
            answer = event.answer
    total = time.perf_counter() - t0
    assert answer is not None
    return {"id": item.id, "kind": answer.table.kind if answer.table else None, "rows": rows,
            "first_row_s": first, "total_s": total}


def p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(values, q)), 3)


def summary(runs: list[dict], kind: str) -> dict:
    mine = [r for r in runs if r["kind"] == kind]
    firsts = [r["first_row_s"] for r in mine if r["first_row_s"] is not None]
    totals = [r["total_s"] for r in mine]
    return {"questions": len(mine), "first_row_p50_s": p(firsts, 50), "first_row_p95_s": p(firsts, 95),
            "total_p50_s": p(totals, 50), "total_p95_s": p(totals, 95),
            "rows_median": statistics.median([r["rows"] for r in mine]) if mine else None}


def plot(points: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    x = [pt["reports"] for pt in points]
    for key, label, style in [("reports_table.first_row_p50_s", "reports table: first row p50", "o-"),
                              ("reports_table.total_p50_s", "reports table: whole p50", "s-"),
                              ("reports_table.total_p95_s", "reports table: whole p95", "s--"),
                              ("compare.total_p50_s", "comparison: whole p50", "^-"),
                              ("compare.total_p95_s", "comparison: whole p95", "^--")]:
        group, field = key.split(".")
        ax.plot(x, [pt[group][field] for pt in points], style, label=label)
    ax.axhline(3.0, color="grey", lw=0.8, ls=":")
    ax.axhline(6.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("reports in the corpus")
    ax.set_ylabel("seconds (2-core CPU)")
    ax.set_title("Cross-report tables: cost against corpus size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--gold", type=Path, default=PROJECT_ROOT / "eval" / "cross-dev.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "tables-cost.json")
    args = parser.parse_args(argv)
    from rag.app import open_answer_service

    provenance = bench_provenance(sys.argv[1:] if argv is None else argv)

    items = [i for i in read_gold(args.gold) if i.type in ("aggregate", "compare")]
    base = open_answer_service(Settings(), with_llm=False)
    base.warm_up()
    points = []
    for scale in args.scales:
        service, build_s = scaled(base, scale - 1)
        for item in items[:5]:  # warm: the first questions pay one-off costs (jieba, numpy)
            timed(service, item)
        runs = [timed(service, item) for item in tqdm(items, desc=f"{scale}x", file=sys.stderr)]
        point = {"scale": scale, "reports": len(service.corpus.reports),
                 "chunks": len(service.retriever.index.chunks), "build_s": round(build_s, 1),
                 "reports_table": summary(runs, "reports"), "compare": summary(runs, "compare"), "runs": runs}
        points.append(point)
        print(f"{point['reports']} reports, {point['chunks']} chunks: reports table {point['reports_table']}"
              f" · comparison {point['compare']}", flush=True)
    write_json(args.out, {"provenance": provenance, "points": points})
    plot(points, args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
