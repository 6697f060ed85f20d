"""The judged report scan's fitted decision (eval/scan_fit.py, rag/answering/scan.py): the figures it is
chosen by, the fit over each report's best sentence, and the denial rule that needs no model."""

from __future__ import annotations

import numpy as np
import pytest

from eval.scan_fit import choose, figures, fit, scores
from rag.answering.scan import SCAN_FEATURES, ScanCalibration, negates
from rag.text.bigrams import bigrams


def _row(qid: str, report: str, label: int, sentences: list[list[float]], corpus: str = "a") -> dict:
    return {"corpus": corpus, "id": qid, "scanned": True, "report": report, "label": label,
            "sentences": sentences}


def _sentence(judge: float, cover: float) -> list[float]:
    """A sentence's features: the judge's logit and the subject's cover carry the signal here."""
    return [judge, 0.0, cover, 0.3]


def test_figures_read_recall_and_precision_per_question_as_the_eval_does():
    rows = [_row("q1", "r1", 1, []), _row("q1", "r2", 1, []), _row("q1", "r3", 0, []),
            _row("q2", "r1", 1, []), _row("q2", "r2", 0, [])]
    got = figures(rows, [0.9, 0.2, 0.8, 0.1, 0.05], 0.5)
    # q1 lists r1 and r3 (recall 1/2, precision 1/2); q2 lists nothing (recall 0, no precision)
    assert got == {"recall": 0.25, "precision": 0.5, "questions": 2}


def test_fit_separates_the_reports_that_state_the_subject_and_the_threshold_meets_the_precision():
    rng = np.random.default_rng(0)
    rows = []
    for q in range(12):
        for r in range(10):
            label = int(r < 3)
            cover = (0.7 if label else 0.1) + rng.normal(0, 0.1)
            # a report's other sentences are noise: the fit must read its best one
            rows.append(_row(f"q{q}", f"r{r}", label, [_sentence(-6 + 2 * label, cover),
                                                      _sentence(-8, rng.uniform(0, 0.2))]))
    model = fit(rows, per_report=6)
    assert model.features == list(SCAN_FEATURES)
    assert model.coef[SCAN_FEATURES.index("subject_cover")] > 0
    t = choose({"a": rows}, model, 0.9)
    got = figures(rows, scores(rows, model), t)
    assert got["precision"] >= 0.9 and got["recall"] >= 0.9


def test_without_coefficients_the_score_is_the_judges_probability():
    model = ScanCalibration(threshold=0.1, per_report=6, target_precision=0.9)
    p = model.probabilities(np.array([_sentence(0.0, 0.0), _sentence(np.log(3), 0.0)]))
    assert p == pytest.approx([0.5, 0.75])


@pytest.mark.parametrize(("sentence", "denied"), [
    ("无高血压、糖尿病、冠心病等慢性病史。", True),
    ("2.贫血：血常规未见相应变化，否定贫血。", True),
    ("已完成国家计划免疫接种，并无对青霉素过敏。", True),
    ("患者有高血压病史15年，长期服用降压药物。", False),
    ("过敏史：对青霉素过敏。", False),
])
def test_a_sentence_that_denies_the_subject_is_marked(sentence, denied):
    subject = {g: 1.0 for g in bigrams("高血压") | bigrams("贫血") | bigrams("青霉素过敏")}
    assert negates(sentence, [subject]) is denied


def test_a_negation_inside_the_subject_is_no_denial():
    subject = {g: 1.0 for g in bigrams("无烟") | bigrams("评比活动")}
    assert not negates("积极开展无烟单位创建评比活动。", [subject])
    assert negates("本年度未开展评比活动。", [subject])
