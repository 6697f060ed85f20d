"""`rag eval` runs end to end on a small corpus with the fake encoder (no model, seconds): provenance and the
resolved tuned values in every result file, where results and indexes go (never over eval/results/ unless it
is the full bundled run, for `rag eval retrieval|answers` too), what --check refuses, --skip-bad, and gold
files that cannot be read."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import eval.conditions as conditions
import eval.harness as harness
import eval.runner as runner
from embeddings.encoder import model_fingerprint
from eval.conditions import Condition
from eval.provenance import git_state, llm_fingerprint
from eval.runner import Runner
from models.fetch import Fetcher
from models.manifest import load_manifest
from rag.cli import main
from rag.config import DEFAULTS, PROJECT_ROOT, Settings
from rag.corpus import load_corpus
from rag.errors import RagError

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "corpus"
STUB_GIT = {"commit": "0" * 40, "dirty": False, "changed_files": 0}

GOLD = [
    {"id": "q001", "question": "XX区统计局2024年第一季度规上工业增加值同比增长多少？", "type": "fact",
     "answerable": True, "expected": "answer", "key_facts": [["5.6%", "百分之五点六"]],
     "sources": [{"file": "single_report.txt", "report_title": "XX区统计局2024年第一季度工作总结",
                  "section": ["（二）做好常规统计"], "line": 10, "quote": "规上工业增加值同比增长5.6%"}],
     "notes": "工业统计。"},
    {"id": "q002", "question": "XX县水利局2023年上半年汛前对排涝泵站做了什么？", "type": "fact",
     "answerable": True, "expected": "answer", "key_facts": ["隐患排查"],
     "sources": [{"file": "no_toc.txt", "report_title": "XX县水利局2023年上半年工作总结和下半年工作计划",
                  "section": ["一、2023年上半年工作总结", "（二）落实责任，提升防御能力"], "line": 14,
                  "quote": "汛前对全县排涝泵站开展全面检查"}],
     "notes": "隐患排查。"},
    {"id": "q003", "question": "XX区统计局2025年的工作计划是什么？", "type": "unanswerable",
     "answerable": False, "expected": "refuse", "key_facts": [], "sources": [],
     "notes": "没有2025年的报告。"},
]


def _write_gold(path: Path, items=GOLD) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def _conditions(path: Path, corpus: Path | None = None, gold: Path | None = None,
                recall1: float = 0.0) -> Path:
    head = (f"corpus: {corpus}\n" if corpus else "") + (f"gold: {gold}\n" if gold else "")
    path.write_text(head + f"""conditions:
  hybrid:
    kind: retrieval
    expected:
      recall@1: {{value: {recall1}, tolerance: 0.0}}
  fixed-bm25:
    kind: retrieval
    chunks: fixed
    retriever: bm25
  extractive:
    kind: answers
    mode: extractive
    expected:
      refused_answerable: {{value: 0.0, tolerance: 0.0, direction: max}}
""", encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path, monkeypatch, fake_encoder):
    """A project-like sandbox: caches and the index in tmp, the fake encoder, and eval/results/ redirected
    to ``committed/`` so that even a failing test cannot touch the real results (nor var/index/)."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no .env from the clone
    model = tmp_path / "embedder"
    model.mkdir()
    (model / "config.json").write_text('{"fake": true}', encoding="utf-8")
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", str(model))
    monkeypatch.setattr("rag.app.open_encoder", lambda settings: fake_encoder)
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "committed")
    monkeypatch.setattr(runner, "git_state", lambda: STUB_GIT)  # `git` is a subprocess: see the next test
    corpus = tmp_path / "reports"
    shutil.copytree(FIXTURES, corpus)
    return {"tmp": tmp_path, "corpus": corpus, "gold": _write_gold(tmp_path / "gold.jsonl"),
            "model": model, "committed": tmp_path / "committed", "cache": tmp_path / "cache"}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.integration  # runs `git rev-parse` / `git status`
def test_result_files_record_provenance_and_the_resolved_config(env, capsys, monkeypatch):
    monkeypatch.setattr(runner, "git_state", git_state)
    out = env["tmp"] / "out"
    code, _, err = _run(capsys, "--corpus", env["corpus"], "--gold", env["gold"], "--condition",
                        "hybrid,baseline-fixed-bm25,hybrid-extractive", "--out", out)
    assert code == 0, err
    corpus_hash = load_corpus(env["corpus"]).content_hash
    gold_sha = hashlib.sha256(env["gold"].read_bytes()).hexdigest()
    for name in ("hybrid", "baseline-fixed-bm25", "hybrid-extractive"):
        result = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert {"summary", "records", "spec", "by_type", "n", "run_at"} <= set(result)  # the old fields stay
        prov = result["provenance"]
        assert len(prov["git"]["commit"]) == 40 and prov["git"]["commit"] != STUB_GIT["commit"]
        assert isinstance(prov["git"]["dirty"], bool)
        assert prov["embedding_model"]["fingerprint"] == model_fingerprint(env["model"])
        assert prov["corpus"]["content_hash"] == corpus_hash and prov["corpus"]["files"] == 4
        assert prov["gold"]["sha256"] == gold_sha
        assert prov["llm"] is None  # no LLM condition here
        config = result["config"]
        assert config["kind"] == result["spec"]["kind"] and config["questions"] == result["n"]
    hybrid = json.loads((out / "hybrid.json").read_text(encoding="utf-8"))
    assert hybrid["config"]["retriever_params"]["rerank_weight"] > 0
    assert hybrid["config"]["tuned"] == DEFAULTS.model_dump()  # every tuned value the run resolved
    assert hybrid["config"]["chunking"] == {"kind": "structure", "max_chars": 400}
    assert hybrid["provenance"]["index"]["corpus_hash"] == corpus_hash
    bm25 = json.loads((out / "baseline-fixed-bm25.json").read_text(encoding="utf-8"))
    assert bm25["config"]["chunking"] == {"kind": "fixed", "chars": 400}
    assert bm25["config"]["retriever_params"]["rerank_weight"] == 0.0
    extractive = json.loads((out / "hybrid-extractive.json").read_text(encoding="utf-8"))
    assert extractive["config"]["answer_config"]["k"] >= 1 and extractive["config"]["mode"] == "extractive"
    # the key fact with alternatives was found through one of them
    assert extractive["records"][0]["facts_found"] == ["5.6%"]

    # `rag eval diff` reads an old result file without provenance beside a new one
    old = {k: v for k, v in hybrid.items() if k not in ("provenance", "config")}
    old_path = env["tmp"] / "old.json"
    old_path.write_text(json.dumps(old, ensure_ascii=False), encoding="utf-8")
    code, printed, _ = _run(capsys, "diff", old_path, out / "hybrid.json")
    assert code == 0 and "no provenance recorded" in printed and f"corpus {corpus_hash[:12]}" in printed
    assert "better (0)" in printed and "worse (0)" in printed


def test_outside_corpus_index_is_keyed_by_content_and_results_get_their_own_folder(env, capsys, monkeypatch):
    corpus_hash = load_corpus(env["corpus"]).content_hash
    monkeypatch.delenv("RAG_INDEX_DIR")
    # without RAG_INDEX_DIR: under the cache dir
    code, _, err = _run(capsys, "--corpus", env["corpus"], "--condition", "hybrid")
    assert code == 0, err
    index = env["cache"] / "eval-index" / corpus_hash[:16]
    assert (index / "CURRENT").is_file() and str(index) in err
    own = env["cache"] / "eval-results" / f"reports-{corpus_hash[:12]}"
    assert (own / "hybrid.json").is_file() and str(own) in err
    assert not env["committed"].exists()

    # with RAG_INDEX_DIR: under it; another folder name with the same files shares the index (by content)
    monkeypatch.setenv("RAG_INDEX_DIR", str(env["tmp"] / "idx"))
    same = env["tmp"] / "same-reports-elsewhere"
    shutil.copytree(env["corpus"], same)
    shared = env["tmp"] / "idx" / "eval-index" / corpus_hash[:16]
    for folder in (env["corpus"], same):
        code, _, err = _run(capsys, "--corpus", folder, "--condition", "hybrid", "--out", env["tmp"] / "o")
        assert code == 0, err
        assert f"index (built if missing or stale): {shared}" in err
    assert [p.name for p in (env["tmp"] / "idx" / "eval-index").iterdir()] == [corpus_hash[:16]]
    assert len(list((env["tmp"] / "idx" / "eval-index" / corpus_hash[:16]).glob("v-*"))) == 1  # built once
    # a changed file is another corpus, another index
    with open(same / "single_report.txt", "a", encoding="utf-8") as f:
        f.write("\n补充一段。\n")
    assert _run(capsys, "--corpus", same, "--condition", "hybrid", "--out", env["tmp"] / "o")[0] == 0
    assert len(list((env["tmp"] / "idx" / "eval-index").iterdir())) == 2


def test_limit_writes_to_a_scratch_folder_and_only_the_full_run_writes_results(env, capsys, monkeypatch):
    # the conditions file says its expectations are for this corpus and gold set: the "bundled" case
    conds = _conditions(env["tmp"] / "conds.yaml", env["corpus"], env["gold"])
    monkeypatch.setenv("RAG_DATA_DIR", str(env["corpus"]))
    code, _, err = _run(capsys, "--conditions-file", conds, "--gold", env["gold"], "--condition", "hybrid",
                        "--limit", "1")
    assert code == 0, err
    scratch = next((env["cache"] / "eval-scratch").iterdir())
    assert scratch.name.endswith("-gold-limit1")
    assert json.loads((scratch / "hybrid.json").read_text(encoding="utf-8"))["n"] == 1
    assert f"results: {scratch}/" in err and "--limit run: scratch folder" in err
    assert not env["committed"].exists()
    # nor with --out pointing at the committed results
    code, _, err = _run(capsys, "--conditions-file", conds, "--gold", env["gold"], "--condition", "hybrid",
                        "--limit", "1", "--out", env["committed"])
    assert code == 2 and "holds the committed results" in err and not env["committed"].exists()
    # the full run on that corpus and gold set is what goes to the results folder
    code, _, err = _run(capsys, "--conditions-file", conds, "--gold", env["gold"], "--condition", "hybrid")
    assert code == 0, err
    assert json.loads((env["committed"] / "hybrid.json").read_text(encoding="utf-8"))["n"] == 2


def test_retrieval_and_answers_subcommands_follow_the_same_rule(env, capsys, monkeypatch):
    """`rag eval retrieval|answers` with --limit (or --ids) write to the scratch folder and say so; only
    their full run on the expectations' corpus and gold set writes the results folder."""
    monkeypatch.setattr(conditions, "CONDITIONS_FILE",
                        _conditions(env["tmp"] / "conds.yaml", env["corpus"], env["gold"]))
    monkeypatch.setenv("RAG_DATA_DIR", str(env["corpus"]))
    gold = ("--gold", env["gold"])
    retrieval = ("retrieval", *gold, "--no-baselines", "--no-timings")
    answers = ("answers", *gold, "--mode", "extractive")
    for argv, name, tag in ((retrieval, "retrieval.json", "gold-limit1"),
                            (answers, "answers-extractive.json", "gold-limit1")):
        code, _, err = _run(capsys, *argv, "--limit", "1")
        assert code == 0, err
        written = next((env["cache"] / "eval-scratch").glob(f"*-{tag}/{name}"))
        assert json.loads(written.read_text(encoding="utf-8"))["limit"] == 1
        assert f"per-question results: {written} (a --limit run: scratch folder;" in err
        # --out into the committed results is refused for a subset
        code, _, err = _run(capsys, *argv, "--limit", "1", "--out", env["committed"] / name)
        assert code == 2 and "holds the committed results" in err
    code, _, err = _run(capsys, *answers, "--ids", "q002")
    assert code == 0, err
    written = next((env["cache"] / "eval-scratch").glob("*-gold-ids1/answers-extractive.json"))
    assert "(a --ids run: scratch folder;" in err and str(written) in err
    assert not env["committed"].exists()
    # the full runs are what goes to the results folder
    for argv, name in ((retrieval, "retrieval.json"), (answers, "answers-extractive.json")):
        code, _, err = _run(capsys, *argv)
        assert code == 0, err
        assert (env["committed"] / name).is_file()
        assert f"per-question results: {env['committed'] / name}\n" in err  # no note: the results folder
    assert json.loads((env["committed"] / "retrieval.json").read_text(encoding="utf-8"))["n"] == 2


def test_the_runner_refuses_a_condition_whose_pins_disagree(tmp_path):
    runner_ = Runner(Settings(models_dir=tmp_path / "models", _env_file=None))
    cond = Condition(name="x", kind="retrieval", pins={"retrieval.rrf_k": 30.0})
    with pytest.raises(RagError, match=r"x: retrieval\.rrf_k is pinned to 30\.0 but the code now resolves"):
        runner_.run(cond, [])


def test_check_with_limit_is_refused_with_the_reason(env, capsys):
    code, _, err = _run(capsys, "--condition", "ci", "--check", "--limit", "5")
    assert code == 2
    assert "--check with --limit" in err and "full question set" in err
    assert not env["committed"].exists() and not (env["cache"] / "eval-scratch").exists()


def test_check_on_a_corpus_without_expectations_says_so(env, capsys):
    # the bundled conditions' expectations are for data/: refused, nothing compared or written
    code, out, err = _run(capsys, "--corpus", env["corpus"], "--condition", "hybrid", "--check")
    assert code == 2 and "FAIL" not in out
    assert "no expected scores for this corpus" in err and str(env["corpus"]) in err
    assert not (env["cache"] / "eval-results").exists()
    # another question set on the expectations' own corpus and gold: refused as well
    conds = _conditions(env["tmp"] / "conds.yaml", env["corpus"], env["gold"])
    other_gold = _write_gold(env["tmp"] / "other.jsonl", GOLD[:2])
    code, _, err = _run(capsys, "--conditions-file", conds, "--corpus", env["corpus"], "--gold", other_gold,
                        "--condition", "hybrid", "--check")
    assert code == 2 and "is not the question set" in err
    # a conditions file measured on that corpus and gold set: checked
    code, out, err = _run(capsys, "--conditions-file", conds, "--corpus", env["corpus"], "--gold",
                          env["gold"], "--condition", "hybrid,extractive", "--check",
                          "--out", env["tmp"] / "o")
    assert code == 0, err
    assert "OK   hybrid" in out and "all metrics within tolerance" in out
    conds = _conditions(env["tmp"] / "conds.yaml", env["corpus"], env["gold"], recall1=1.0)
    code, out, _ = _run(capsys, "--conditions-file", conds, "--corpus", env["corpus"], "--gold", env["gold"],
                        "--condition", "hybrid", "--check", "--out", env["tmp"] / "o")
    assert code == 1 and "FAIL hybrid" in out


def test_skip_bad_evaluates_the_good_files_and_lists_every_refused_one(env, capsys):
    corpus = env["corpus"]
    # a file with no title line is one document filed under its name (a corpus of judgments, records…)
    (corpus / "a_no_title.txt").write_text(
        "这是一段没有标题的正文，说明了很多情况。\n第二段正文也没有标题，继续说明。\n", encoding="utf-8")
    (corpus / "b_blank.txt").write_text("\n\n   \n", encoding="utf-8")
    (corpus / "c_markers.txt").write_text("##paidbegin##\n\n##paidend##\n", encoding="utf-8")
    code, _, err = _run(capsys, "--corpus", corpus, "--condition", "hybrid", "--out", env["tmp"] / "o")
    assert code == 2
    # every bad file is named, not only the first
    assert "b_blank.txt" in err and "c_markers.txt" in err and "--skip-bad" in err
    assert "a_no_title.txt" not in err
    assert not (env["tmp"] / "o").exists()

    code, _, err = _run(capsys, "--corpus", corpus, "--condition", "hybrid", "--out", env["tmp"] / "o",
                        "--skip-bad")
    assert code == 0, err
    refused = [line for line in err.splitlines() if line.startswith("refused ")]
    assert len(refused) == 2
    assert refused[0].startswith("refused b_blank.txt: ") and "no text" in refused[0]
    assert refused[1].startswith("refused c_markers.txt: ") and "no text" in refused[1]
    prov = json.loads((env["tmp"] / "o" / "hybrid.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["corpus"]["files"] == 5
    assert [r["file"] for r in prov["corpus"]["refused"]] == ["b_blank.txt", "c_markers.txt"]


@pytest.mark.parametrize(("line", "expected"), [
    ('{"id": "q009", "question": "多少？', "bad.jsonl:2: invalid JSON"),
    (json.dumps({**GOLD[0], "id": "q009", "answerable": "maybe"}), "bad.jsonl:2: q009: schema: answerable:"),
    (json.dumps({**GOLD[0], "id": "q009", "key_facts": [["5.6%", ["5.6"]]]}, ensure_ascii=False),
     "bad.jsonl:2: q009: schema: key_facts: key_facts[0]: a list inside a list"),
    (json.dumps({**GOLD[0], "id": "q009", "answer": "5.6%"}, ensure_ascii=False),
     "bad.jsonl:2: q009: schema: answer: Extra inputs are not permitted"),
    (json.dumps({**GOLD[0], "id": "q009", "sources": [{**GOLD[0]["sources"][0], "line": "ten"}]},
                ensure_ascii=False), "bad.jsonl:2: q009: schema: sources.0.line:"),
])
def test_a_bad_gold_file_is_named_with_line_and_field(env, capsys, line, expected):
    bad = env["tmp"] / "bad.jsonl"
    bad.write_text(json.dumps(GOLD[1], ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8")
    code, _, err = _run(capsys, "--gold", bad, "--corpus", env["corpus"], "--condition", "hybrid")
    assert code == 2
    assert expected in err, err
    assert "Traceback" not in err and "validation error" not in err and "RAG_" not in err


def test_llm_fingerprint_names_the_gguf(tmp_path):
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 1000)
    fp = llm_fingerprint(Settings(llm_path=gguf, models_dir=tmp_path / "models", _env_file=None))
    assert fp["file"] == "my-model.gguf" and fp["size"] == 1004
    assert fp["sha256"] == hashlib.sha256(gguf.read_bytes()).hexdigest()[:16]
    assert fp["sha256_from"] == "computed"
    remote = llm_fingerprint(Settings(llm_base_url="http://10.0.0.5:8080", _env_file=None))
    assert remote["backend"] == "openai-compatible" and remote["base_url"] == "http://10.0.0.5:8080"


def test_llm_fingerprint_uses_the_manifest_checksum_of_a_fetched_model(tmp_path):
    """An installed manifest model is not re-hashed (1 GB): its checksum was verified when fetched."""
    spec = load_manifest().model("qwen2.5-coder-0.5b-instruct")
    models = tmp_path / "models"
    models.mkdir()
    with open(spec.install_path(models), "wb") as f:
        f.truncate(spec.verify.size)  # sparse: the right size, no content
    Fetcher(models, progress=False).write_stamp(spec)
    settings = Settings(models_dir=models, llm_model=spec.name, _env_file=None)
    fp = llm_fingerprint(settings)
    assert fp["sha256"] == spec.verify.sha256[:16] and fp["sha256_from"].startswith("models/manifest.toml")
    assert fp["file"] == spec.install and fp["size"] == spec.verify.size
    # and an LLM condition's result config names the model it generated with
    runner = Runner(settings)
    cond = Condition(name="x", kind="answers", mode="llm", llm_model=spec.name)
    config = runner.resolved_config(cond, retriever=None)
    assert config["llm_model"] == spec.name and config["settings"]["llm_context"] == settings.llm_context
