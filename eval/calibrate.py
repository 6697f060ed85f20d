"""`rag eval calibrate`: fit the evidence judge (rag/answering/judge.py) on labelled question–sentence pairs
from two corpora, report how it carries from one corpus to the other, and write its weights.

Pairs. For every question of the tuning sets that one report answers (fact, quantity, list, why_how, and the
unanswerable ones; tables across reports are judged elsewhere), the service's own retrieval gives the hits;
every sentence of the text hits is a candidate (judge.py ``Judge.candidates``) with its features. A candidate
is labelled 1 when it overlaps a gold source quote of the question (same file, at least half the quote or
10 characters in common), else 0: an unanswerable question's candidates are all 0. The pairs (numbers and
file offsets, no text) are written to ``eval/judge/pairs-<corpus>.jsonl.gz`` so a refit needs no retrieval.

Fit. Standardised features, scikit-learn's LogisticRegression (lbfgs, L2, C=1; deterministic), classes
unweighted so that the probability stays calibrated. Reported first: fitted on one corpus, tested on the
other (pair AUC; at the threshold chosen on the fitting corpus, the share of unanswerable questions refused
and of answerable ones refused). Then fitted on both; the weights go to rag/answering/judge.json with
their provenance (pair-file hashes, commit).

Threshold. A question is answered when the stages around the gate (scope, binding; recorded per question as
``refused_by_rules``) do not refuse it and its best candidate's probability reaches the threshold. The stated
risk: answering an unanswerable question costs ``--cost`` (default 1) times refusing an answerable one, each
corpus weighted equally; the threshold is the one of least expected cost on the tuning questions. The
risk–coverage curve (coverage: share of questions answered; risk: share of answered questions that are
unanswerable or whose best sentence is not a gold one) goes to ``eval/judge/calibration.json`` and the
README's table.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.answers import squash
from eval.check_gold import GoldItem, alternatives, read_gold
from eval.provenance import git_state
from rag.answering.judge import FEATURES, JudgeWeights, dump_weights
from rag.corpus import Corpus, read_source
from rag.corpus.reading import SourceText
from rag.storage import replace_file

JUDGE_DIR = Path(__file__).with_name("judge")
SINGLE_REPORT_TYPES = {"fact", "quantity", "list", "why_how", "unanswerable", "adversarial"}
# The stated risk: answering an unanswerable question (a claim the reports do not make) costs as much
# as refusing an answerable one (the user can still read the nearest sections).
DEFAULT_COST = 1.0


@dataclass(frozen=True)
class CorpusSpec:
    name: str  # a short label: bundled, dragonball
    folder: Path
    gold: tuple[Path, ...]  # the tuning sets


def _quote_spans(item: GoldItem, corpus: Corpus) -> list[tuple[str, int, int]]:
    """Absolute (file, start, end) of each gold quote."""
    out = []
    texts: dict[str, SourceText] = {}
    for src in item.sources:
        report = next((r for r in corpus.reports if r.source_file == src.file), None)
        if report is None:
            continue
        if src.file not in texts:
            texts[src.file] = read_source(corpus.source_path(report))
        st = texts[src.file]
        line_start = st.line_starts[src.line - 1]
        line_end = st.line_starts[src.line] if src.line < len(st.line_starts) else len(st.text)
        at = st.text.find(src.quote, line_start, line_end)
        if at >= 0:
            out.append((src.file, at, at + len(src.quote)))
    return out


def label(file: str, start: int, end: int, quotes: Sequence[tuple[str, int, int]]) -> int:
    """1 when the sentence [start, end) of ``file`` holds at least half of a gold quote (or 10 characters).
    (A sentence of a source's file that states a key fact is gold too: collect_pairs.)"""
    for f, a, b in quotes:
        common = min(end, b) - max(start, a)
        if f == file and common >= min(10, (b - a) / 2):
            return 1
    return 0


def collect_pairs(spec: CorpusSpec, service, corpus: Corpus, progress: bool = True) -> list[dict]:
    """The labelled candidate sentences of every eligible tuning question of one corpus."""
    rows = []
    items = [(g, it) for g in spec.gold for it in read_gold(g) if it.type in SINGLE_REPORT_TYPES
             and it.expected != "withheld"]
    for gold, item in tqdm(items, desc=f"pairs {spec.name}", unit="q", disable=not progress):
        ctx = service.context(item.question)
        j = ctx.judgement
        quotes = _quote_spans(item, corpus) if item.answerable else []
        facts = [squash(a) for f in item.key_facts for a in alternatives(f) if len(squash(a)) >= 2]
        files = {s.file for s in item.sources}
        head = {"corpus": spec.name, "set": gold.stem, "id": item.id, "answerable": item.answerable,
                "refused_by_rules": service.refused_by_rules(ctx)}
        for c, feats in zip(j.candidates, j.features, strict=True):
            gold_sentence = label(c.hit.source_file, c.start, c.end, quotes) or int(
                c.hit.source_file in files and any(f in squash(c.text) for f in facts))
            rows.append({**head, "label": gold_sentence, "file": c.hit.source_file, "start": c.start,
                         "end": c.end, "features": [round(x, 5) for x in feats]})
        if not j.candidates:  # nothing retrieved: the question still counts (refused by any threshold)
            rows.append({**head, "label": 0, "file": "", "start": 0, "end": 0, "features": None})
    return rows


def write_pairs(rows: list[dict], path: Path) -> None:
    """JSON lines, gzip-compressed (mtime 0: the same pairs give the same bytes, and the same hash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    replace_file(path, gzip.compress(data, mtime=0))


def read_pairs(path: Path) -> list[dict]:
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- fitting -----------------------------------------------------------------------------------------------


def fit(rows: Sequence[dict]) -> JudgeWeights:
    """Logistic regression on standardised features (deterministic: lbfgs from zero)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([r["features"] for r in rows if r["features"] is not None], dtype=np.float64)
    y = np.array([r["label"] for r in rows if r["features"] is not None])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    # unweighted: the probability is read against a threshold, so it must be calibrated, not rebalanced
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / scale, y)
    return JudgeWeights(features=list(FEATURES), mean=mean.round(6).tolist(), scale=scale.round(6).tolist(),
                        coef=model.coef_[0].round(6).tolist(), intercept=round(float(model.intercept_[0]), 6),
                        threshold=0.5)


def predict(w: JudgeWeights, rows: Sequence[dict]) -> np.ndarray:
    out = np.zeros(len(rows))
    idx = [i for i, r in enumerate(rows) if r["features"] is not None]
    if idx:
        x = (np.array([rows[i]["features"] for i in idx]) - np.array(w.mean)) / np.array(w.scale)
        out[idx] = 1.0 / (1.0 + np.exp(-(x @ np.array(w.coef) + w.intercept)))
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (the probability a positive outranks a negative; ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks over ties
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@dataclass(frozen=True)
class QuestionScore:
    id: str
    corpus: str
    answerable: bool
    best: float  # the best candidate's probability
    best_is_gold: bool  # the best candidate is labelled 1
    refused_by_rules: bool = False  # refused by the stages around the gate, whatever the threshold

    def refused(self, threshold: float) -> bool:
        return self.refused_by_rules or self.best < threshold


def per_question(rows: Sequence[dict], probs: np.ndarray) -> list[QuestionScore]:
    best: dict[tuple[str, str], tuple[float, bool, bool, bool]] = {}
    for r, p in zip(rows, probs, strict=True):
        key = (r["corpus"], r["id"])
        if key not in best or p > best[key][0]:
            best[key] = (float(p), bool(r["label"]), bool(r["answerable"]), bool(r.get("refused_by_rules")))
    return [QuestionScore(i, c, a, p, g, ruled) for (c, i), (p, g, a, ruled) in best.items()]


def refusal_rates(qs: Sequence[QuestionScore], threshold: float) -> dict:
    ans = [q for q in qs if q.answerable]
    una = [q for q in qs if not q.answerable]
    answered = [q for q in qs if not q.refused(threshold)]
    wrong = [q for q in answered if not q.answerable or not q.best_is_gold]
    return {
        "unanswerable_refused": round(sum(q.refused(threshold) for q in una) / max(len(una), 1), 3),
        "answerable_refused": round(sum(q.refused(threshold) for q in ans) / max(len(ans), 1), 3),
        "coverage": round(len(answered) / max(len(qs), 1), 3),
        "risk": round(len(wrong) / max(len(answered), 1), 3),
        "n_answerable": len(ans), "n_unanswerable": len(una),
    }


def choose_threshold(qs: Sequence[QuestionScore], cost: float = DEFAULT_COST) -> float:
    """The threshold with the least expected cost, each corpus weighted equally: answering an unanswerable
    question costs ``cost`` times refusing an answerable one (rates per corpus, so a corpus with more
    questions does not decide alone). Candidates: every question's best probability (and 0)."""
    corpora = sorted({q.corpus for q in qs})
    if not any(not q.answerable for q in qs):
        return 0.0

    def expected(t: float) -> float:
        total = 0.0
        for c in corpora:
            r = refusal_rates([q for q in qs if q.corpus == c], t)
            total += cost * (1.0 - r["unanswerable_refused"]) * bool(r["n_unanswerable"]) \
                + r["answerable_refused"]
        return total / len(corpora)

    options = sorted({0.0, *(round(q.best + 1e-6, 6) for q in qs)})
    return float(min(options, key=lambda t: (expected(t), t)))


def risk_coverage(qs: Sequence[QuestionScore], steps: int = 19) -> list[dict]:
    return [{"threshold": round(t, 2), **refusal_rates(qs, t)} for t in np.linspace(0.05, 0.95, steps)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibrate(pair_files: dict[str, Path], cost: float = DEFAULT_COST, write: bool = True,
              weights_path: Path | None = None) -> dict:
    """Cross-corpus figures, then the fit on all pairs; writes judge.json and calibration.json."""
    data = {name: read_pairs(p) for name, p in pair_files.items()}
    report: dict = {"risk": f"least expected cost, answering an unanswerable question costing {cost:g}x "
                            "refusing an answerable one, each corpus weighted equally",
                    "features": list(FEATURES), "cross": {}, "pairs": {}}
    for name, rows in data.items():
        report["pairs"][name] = {"pairs": len(rows), "positives": sum(r["label"] for r in rows),
                                 "questions": len({r["id"] for r in rows})}
    names = list(data)
    if len(names) == 2:
        for fit_on, test_on in (names, names[::-1]):
            w = fit(data[fit_on])
            qs_fit = per_question(data[fit_on], predict(w, data[fit_on]))
            t = choose_threshold(qs_fit, cost)
            probs = predict(w, data[test_on])
            labels = np.array([r["label"] for r in data[test_on]])
            report["cross"][f"{fit_on}->{test_on}"] = {
                "threshold": round(t, 4), "pair_auc": round(auc(probs, labels), 3),
                "fit_corpus": refusal_rates(qs_fit, t),
                "test_corpus": refusal_rates(per_question(data[test_on], probs), t)}
    pooled = [r for rows in data.values() for r in rows]
    w = fit(pooled)
    probs = predict(w, pooled)
    qs = per_question(pooled, probs)
    w.threshold = round(choose_threshold(qs, cost), 4)
    w.risk = report["risk"] + " (pooled over " + ", ".join(names) + ")"
    report["threshold"] = w.threshold
    report["pooled"] = {"pair_auc": round(auc(probs, np.array([r["label"] for r in pooled])), 3),
                        **refusal_rates(qs, w.threshold)}
    report["per_corpus"] = {n: refusal_rates([q for q in qs if q.corpus == n], w.threshold) for n in names}
    report["risk_coverage"] = {n: risk_coverage([q for q in qs if q.corpus == n]) for n in names}
    report["coefficients"] = dict(zip(FEATURES, w.coef, strict=True))
    git = git_state()
    w.provenance = {"pairs": {n: {"file": str(p), "sha256": _sha256(p)} for n, p in pair_files.items()},
                    "commit": git.get("commit"), "dirty": git.get("dirty"),
                    "fitted_by": "rag eval calibrate", "model": "sklearn LogisticRegression(C=1)"}
    if write:
        if weights_path is None:
            dump_weights(w)
        else:
            dump_weights(w, weights_path)
        out = JUDGE_DIR / "calibration.json"
        replace_file(out, json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    return report


def print_report(report: dict, file=sys.stdout) -> None:
    print(f"risk: {report['risk']}; threshold {report['threshold']}", file=file)
    for name, p in report["pairs"].items():
        print(f"  {name}: {p['questions']} questions, {p['pairs']} pairs, {p['positives']} gold", file=file)
    for k, v in report["cross"].items():
        t = v["test_corpus"]
        print(f"  fit {k}: pair AUC {v['pair_auc']}, threshold {v['threshold']}: unanswerable refused "
              f"{t['unanswerable_refused']}, answerable refused {t['answerable_refused']}", file=file)
    for name, v in report["per_corpus"].items():
        print(f"  both -> {name}: unanswerable refused {v['unanswerable_refused']}, answerable refused "
              f"{v['answerable_refused']}, risk {v['risk']} at coverage {v['coverage']}", file=file)
