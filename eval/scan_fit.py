"""`rag eval calibrate-scan`: the one threshold of the judged report scan (rag/answering/scan.py), fitted on
the complete cross-report dev questions of two corpora for a stated precision.

Rows. For every complete aggregate/who question of the dev sets whose plan scans the reports, the scanner
judges every allowed report's candidate sentences with the evidence judge (judge.py) and keeps each report's
best probability (``ReportScanner.judged_mentions``, no bar). A report is labelled 1 when the gold lists
it. The rows (ids, report keys, probabilities; no text) go to ``eval/judge/scan-<corpus>.jsonl.gz``.

Threshold. At a threshold t a question lists the reports whose best probability reaches t; its recall and
precision are read as the eval reads them (eval/answers.py: a question listing nothing has no precision).
The threshold is the lowest t at which the mean precision of each corpus's questions, the two corpora
weighted equally, reaches the stated precision (``--precision``, default 0.90): the most recall the
precision allows. Reported first: the threshold chosen on one corpus and the figures on the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.answers import report_key
from eval.calibrate import read_pairs
from eval.check_gold import read_gold
from eval.provenance import git_state
from rag.answering.plan import read_plan
from rag.answering.scan import SCAN_FEATURES, ReportScanner, ScanCalibration, dump_calibration

JUDGE_DIR = Path(__file__).with_name("judge")
# Sentences judged per report: the nearest to the question by the sentence vectors (plus those holding the
# subject's words). Set a priori: enough for a report's one sentence on the subject to be among them when
# the vectors rank it anywhere near the top of its report, few enough to judge every report in well under
# the table's second.
PER_REPORT = 6


@dataclass(frozen=True)
class ScanSpec:
    name: str
    folder: Path
    gold: tuple[Path, ...]


def collect(spec: ScanSpec, service, per_report: int = PER_REPORT, progress: bool = True) -> list[dict]:
    """One row per (question, report judged) with its candidate sentences' features, and one per gold
    report never judged (no sentences)."""
    provisional = ScanCalibration(threshold=0.0, per_report=per_report, target_precision=0.0)
    scanner = ReportScanner(service.retriever, service.corpus.reports, service.scope, service.config,
                            service.judge, provisional)
    items = [it for g in spec.gold for it in read_gold(g) if it.complete and it.type in ("aggregate", "who")]
    rows = []
    for item in tqdm(items, desc=f"scan {spec.name}", unit="q", disable=not progress):
        plan = read_plan(item.question)
        gold = {report_key(s.file, s.report_title) for s in item.sources}
        head = {"corpus": spec.name, "id": item.id, "scanned": plan.scans_reports}
        seen = set()
        for report, _, feats in scanner.candidates(plan) if plan.scans_reports else []:
            key = report_key(report.source_file, report.title)
            seen.add(key)
            rows.append({**head, "report": key, "label": int(key in gold),
                         "sentences": np.round(feats, 5).tolist()})
        rows.extend({**head, "report": key, "label": 1, "sentences": []} for key in sorted(gold - seen))
    return rows


def scores(rows: Sequence[dict], model: ScanCalibration) -> list[float]:
    """Each report's score: its best sentence's probability under ``model`` (0 without sentences)."""
    return [float(model.probabilities(np.asarray(r["sentences"])).max()) if r["sentences"] else 0.0
            for r in rows]


def figures(rows: Sequence[dict], score: Sequence[float], threshold: float) -> dict[str, float | None]:
    """Mean report recall and precision over the questions of ``rows`` at ``threshold``."""
    by_q: dict[str, list[tuple[int, float]]] = {}
    for r, p in zip(rows, score, strict=True):
        by_q.setdefault(r["id"], []).append((r["label"], p))
    recalls, precisions = [], []
    for q in by_q.values():
        gold = sum(label for label, _ in q)
        listed = [label for label, p in q if p > 0 and p >= threshold]
        recalls.append(sum(listed) / gold if gold else 0.0)
        if listed:
            precisions.append(sum(listed) / len(listed))
    return {"recall": round(float(np.mean(recalls)), 3) if recalls else None,
            "precision": round(float(np.mean(precisions)), 3) if precisions else None,
            "questions": len(by_q)}


def choose(rows_by_corpus: Mapping[str, Sequence[dict]], model: ScanCalibration, target: float) -> float:
    """The lowest threshold whose precision, averaged over the corpora, reaches ``target``."""
    scored = {n: scores(rows, model) for n, rows in rows_by_corpus.items()}
    grid = sorted({p for ps in scored.values() for p in ps if p > 0})
    for t in grid:
        precisions = [figures(rows, scored[n], t)["precision"] or 0.0 for n, rows in rows_by_corpus.items()]
        if float(np.mean(precisions)) >= target:
            return t
    return grid[-1] if grid else 1.0


def fit(rows: Sequence[dict], per_report: int) -> ScanCalibration:
    """A logistic regression over the features of each report's best sentence, labelled by whether the gold
    lists the report. Which sentence is a report's best depends on the model: first the judge's, then the
    fitted model's, refitted once (a report is as good as its best sentence)."""
    from sklearn.linear_model import LogisticRegression

    judged = [r for r in rows if r["sentences"]]
    model = ScanCalibration(threshold=0.0, per_report=per_report, target_precision=0.0)
    for _ in range(2):
        best = [np.asarray(r["sentences"]) for r in judged]
        x = np.array([b[int(np.argmax(model.probabilities(b)))] for b in best])
        y = np.array([r["label"] for r in judged])
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-6] = 1.0  # a constant feature (its std is float noise) carries nothing
        lr = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
        model = ScanCalibration(threshold=0.0, per_report=per_report, target_precision=0.0,
                                features=list(SCAN_FEATURES), mean=mean.round(6).tolist(),
                                scale=scale.round(6).tolist(), coef=lr.coef_[0].round(6).tolist(),
                                intercept=round(float(lr.intercept_[0]), 6))
    return model


def calibrate(files: dict[str, Path], target: float, per_report: int = PER_REPORT,
              write: bool = True) -> dict:
    rows = {name: read_pairs(path) for name, path in files.items()}
    judge_only = ScanCalibration(threshold=0.0, per_report=per_report, target_precision=target)
    report: dict = {"target_precision": target, "across": {}}
    t = choose(rows, judge_only, target)
    report["judge alone"] = {"threshold": t,
                             **{n: figures(r, scores(r, judge_only), t) for n, r in rows.items()}}
    for fit_on in rows:
        model = fit(rows[fit_on], per_report)
        t = choose({fit_on: rows[fit_on]}, model, target)
        report["across"][fit_on] = {"threshold": t,
                                    **{n: figures(r, scores(r, model), t) for n, r in rows.items()}}
    model = fit([r for rs in rows.values() for r in rs], per_report)
    t = choose(rows, model, target)
    report["threshold"] = t
    report["coef"] = dict(zip(SCAN_FEATURES, model.coef, strict=True))
    report["figures"] = {n: figures(r, scores(r, model), t) for n, r in rows.items()}
    report["unscanned"] = {n: sorted({r["id"] for r in rs if not r["scanned"]}) for n, rs in rows.items()}
    if write:
        provenance = {"commit": git_state().get("commit"),
                      "rows": {n: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for n, p in files.items()}}
        dump_calibration(model.model_copy(update={"threshold": t, "target_precision": target,
                                                  "figures": report["figures"], "provenance": provenance}))
    return report


def print_report(report: dict) -> None:
    print(f"stated precision {report['target_precision']:.2f}")
    j = report["judge alone"]
    print(f"  the judge's probability alone: threshold {j['threshold']:.3f} → " + "; ".join(
        f"{n} recall {f['recall']} precision {f['precision']}" for n, f in j.items() if n != "threshold"))
    for fit_on, r in report["across"].items():
        rest = "; ".join(f"{n} recall {f['recall']} precision {f['precision']}" for n, f in r.items()
                         if n != "threshold")
        print(f"  chosen on {fit_on}: threshold {r['threshold']:.3f} → {rest}")
    both = "; ".join(f"{n} recall {f['recall']} precision {f['precision']} ({f['questions']} q)"
                     for n, f in report["figures"].items())
    print(f"fitted on both: threshold {report['threshold']:.3f} → {both}")
    print("  coefficients: " + ", ".join(f"{k} {v:+.2f}" for k, v in report["coef"].items()))
    for n, ids in report["unscanned"].items():
        if ids:
            print(f"  {n}: not read as a scan by the plan: {', '.join(ids)}")
