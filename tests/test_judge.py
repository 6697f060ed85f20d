"""The evidence judge and its calibration: sentence spans, features, labels, the fit and the threshold.

The fitted weights in rag/answering/judge.json are checked for what they must be (fitted on both corpora's
pair files as they are now, on the judge's features); the end-to-end figures are the eval's
(eval/README.md, `rag eval calibrate`).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from eval.calibrate import (
    JUDGE_DIR,
    QuestionScore,
    auc,
    choose_threshold,
    fit,
    label,
    per_question,
    predict,
    read_pairs,
    refusal_rates,
)
from rag.answering.judge import FEATURES, WEIGHTS_PATH, JudgeWeights, load_weights, period_fits
from rag.answering.scope import place_name, place_names
from rag.corpus.metadata import body_from_title
from rag.corpus.parser import name_parts, title_text
from rag.retrieval.chunking import Chunk
from rag.retrieval.sentences import SENTENCE_DIM, chunk_sentences, matryoshka
from rag.text.lexicon import SELF_REFERENCES


def _chunk(text: str, chunk_type: str = "text") -> Chunk:
    return Chunk(chunk_id="c1", report_id="r1", report_title="t", source_file="f.txt", section_id="s",
                 section_path=[], text=text, line_start=1, line_end=1, char_start=100,
                 char_end=100 + len(text), embed_title="t", search_text=text, chunk_type=chunk_type)


def test_sentences_are_spans_of_the_chunk_text_without_scraps():
    text = "  公司的二氧化碳排放量为120万吨。一是\n本院认为，被告人构成交通肇事罪；"
    spans = chunk_sentences(_chunk(text))
    assert [text[a:b] for a, b in spans] == ["公司的二氧化碳排放量为120万吨。",
                                             "本院认为，被告人构成交通肇事罪；"]
    assert chunk_sentences(_chunk(text, "outline")) == []


def test_matryoshka_cuts_and_renormalises():
    v = np.random.default_rng(0).normal(size=(3, 768)).astype(np.float32)
    cut = matryoshka(v)
    assert cut.shape == (3, SENTENCE_DIM)
    assert np.allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-5)
    assert np.allclose(cut[0], v[0, :SENTENCE_DIM] / np.linalg.norm(v[0, :SENTENCE_DIM]), atol=1e-5)


@pytest.mark.parametrize(("text", "self_ref"), [
    ("本院认为，被告人宋某的行为构成交通肇事罪", True),
    ("报告期内，公司的二氧化碳排放量为120万吨", True),
    ("我局全年共受理投诉35件", True),
    ("该院于2023年5月收治患者", True),
    ("星河物流有限公司2019年营业收入30亿元", False),  # a company's own name, not a self-reference
    ("配合市公安局开展专项行动", False),
])
def test_self_references_are_words_a_document_names_its_author_by(text, self_ref):
    assert bool(re.search(SELF_REFERENCES, text)) is self_ref


@pytest.mark.parametrize(("title", "body"), [
    ("彩虹市桐城区人民法院刑事判决书", "彩虹市桐城区人民法院"),
    ("刑事判决书", None),
    ("患者住院病历", None),
    ("暮光市人民医院住院病历", "暮光市人民医院"),
])
def test_a_document_kind_is_not_its_author(title, body):
    assert body_from_title(title) == body


def test_titles_lose_markdown_and_file_names_their_numbering():
    assert title_text("# 刑事判决书") == "刑事判决书"
    assert title_text("**金丝市樟树区人民法院刑事判决书**") == "金丝市樟树区人民法院刑事判决书"
    assert name_parts("med_140_霜叶市第一人民医院_喻某某.txt") == ["霜叶市第一人民医院", "喻某某"]
    assert name_parts("000_dffbd2b9ae2d443c.txt") == []


def test_a_sentence_is_gold_when_it_holds_the_quote():
    quotes = [("a.txt", 100, 130)]
    assert label("a.txt", 95, 140, quotes) == 1  # holds it all
    assert label("a.txt", 120, 160, quotes) == 1  # holds 10 characters of it
    assert label("a.txt", 125, 160, quotes) == 0  # 5 characters: a neighbour sentence
    assert label("b.txt", 95, 140, quotes) == 0  # another file


def test_auc_is_the_chance_a_positive_outranks_a_negative():
    assert auc(np.array([0.9, 0.8, 0.1]), np.array([1, 1, 0])) == 1.0
    assert auc(np.array([0.1, 0.9]), np.array([1, 0])) == 0.0
    assert auc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5


def test_threshold_has_the_least_expected_cost_and_counts_what_the_rules_refuse():
    una = [QuestionScore(f"u{i}", "c", False, p, False) for i, p in enumerate([0.9, 0.6, 0.4, 0.3, 0.2])]
    ans = [QuestionScore(f"a{i}", "c", True, p, True) for i, p in enumerate([0.95, 0.8, 0.7, 0.5, 0.45])]
    t = choose_threshold(una + ans, cost=1.0)
    rates = refusal_rates(una + ans, t)
    # refusing below 0.45 misses 3 of 5 unanswerable; at 0.5+ the 0.45 answer goes too: 0.4 wins at cost 1
    assert (rates["unanswerable_refused"], rates["answerable_refused"]) == (0.6, 0.0)
    assert choose_threshold(una + ans, cost=3.0) > t  # answering the unanswerable costs more: refuse more
    ruled = [QuestionScore("u9", "c", False, 0.99, False, refused_by_rules=True)]
    assert refusal_rates(una + ans + ruled, t)["unanswerable_refused"] == round(4 / 6, 3)


def test_fit_separates_labelled_pairs_and_is_deterministic():
    rng = np.random.default_rng(1)
    rows = []
    for i in range(200):
        y = i % 3 == 0
        x = rng.normal(size=len(FEATURES)) + (1.5 if y else 0.0) * np.eye(len(FEATURES))[0]
        rows.append({"corpus": "c", "id": f"q{i // 4}", "answerable": True, "label": int(y),
                     "features": x.tolist()})
    w1, w2 = fit(rows), fit(rows)
    assert w1 == w2
    probs = predict(w1, rows)
    assert auc(probs, np.array([r["label"] for r in rows])) > 0.8
    assert w1.coef[0] == max(w1.coef)  # the informative feature carries the weight
    assert len(per_question(rows, probs)) == 50


def test_the_shipped_weights_are_fitted_on_the_pair_files_in_the_repository():
    w = load_weights(WEIGHTS_PATH)
    assert isinstance(w, JudgeWeights) and w.features == list(FEATURES)
    assert 0.0 < w.threshold < 1.0 and w.risk
    pairs = w.provenance["pairs"]
    assert set(pairs) == {"bundled", "dragonball"}
    for name, meta in pairs.items():
        path = JUDGE_DIR / f"pairs-{name}.jsonl.gz"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["sha256"], \
            f"{path} changed since the fit: run `rag eval calibrate --refit`"
    # the refit from those files gives these weights (one command, deterministic)
    rows = [r for name in pairs for r in read_pairs(JUDGE_DIR / f"pairs-{name}.jsonl.gz")]
    again = fit(rows)
    assert np.allclose(again.coef, w.coef, atol=1e-4) and abs(again.intercept - w.intercept) < 1e-4


@pytest.mark.parametrize(("asked", "periods", "fits"), [
    ("2023年上半年", ["2023年上半年"], True),
    ("2023年上半年", ["2023年"], True),  # a year's report covers its halves
    ("2023年上半年", ["2023年下半年"], False),
    ("2022年下半年", ["2023年下半年"], False),
    ("上半年", ["2023年上半年"], True),
    ("2023年", ["2023年下半年"], True),
    ("2023年", [], False),  # a report of no stated period: nothing says it covers the year
])
def test_a_report_covers_the_asked_period_by_year_and_half(asked, periods, fits):
    assert period_fits(asked, periods) is fits


def test_place_names_are_what_a_body_or_place_is_checked_by_in_a_report():
    assert place_names("德安县水利局") == ["德安"]
    assert place_names("县水利局") == [] and place_names("XX区民政局") == []
    assert place_name("枫香塘村") == "枫香塘" and place_name("X村") == "X村"
