"""`rag eval`: run named conditions (eval/conditions.yaml) on a gold set, check them, report and diff.

A condition is a configuration of the system — chunking, retriever, answer mode, model — with the scores
we measured for it and the tolerance a rerun may deviate by. ``--check`` turns the file into a regression
gate: a metric beyond its tolerance prints FAIL and the command exits non-zero. The expectations hold for
the corpus and question set the conditions file names (``corpus:``, ``gold:``), on the full set; a check
of anything else is refused rather than compared with them.

Every result file records where it came from (``provenance``: git commit and dirty flag, embedding model
fingerprint, GGUF fingerprint, corpus content hash, gold file sha256, index version) and the configuration
the condition ran with (``config``), so two result files can be told apart long after the run.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from eval.check_gold import GoldItem
from rag.config import PROJECT_ROOT, Settings
from rag.corpus import Corpus
from rag.errors import CorpusError, RagError

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


class ConditionsFile(BaseModel):
    """A conditions YAML: the conditions, and the corpus and gold set their expected values were measured
    on (paths from the project root, or absolute)."""

    corpus: str = Field("data", description="Folder of report files the expectations were measured on.")
    gold: str = Field("eval/gold.jsonl", description="Question set of the conditions without a `gold` "
                      "of their own.")
    conditions: dict[str, Condition] = Field(default_factory=dict)

    def corpus_path(self) -> Path:
        return _from_root(self.corpus)

    def gold_path(self) -> Path:
        return _from_root(self.gold)


def _from_root(path: str | Path) -> Path:
    p = Path(path).expanduser()
    return (p if p.is_absolute() else PROJECT_ROOT / p).resolve()


def load_conditions_file(path: Path = CONDITIONS_FILE) -> ConditionsFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RagError(f"cannot read conditions file {path}: {exc}") from exc
    conditions = {name: {**(spec or {}), "name": name}
                  for name, spec in (raw.get("conditions") or {}).items()}
    try:
        return ConditionsFile.model_validate({**raw, "conditions": conditions})
    except ValueError as exc:
        raise RagError(f"conditions file {path} is invalid: {exc}") from exc


def load_conditions(path: Path = CONDITIONS_FILE) -> dict[str, Condition]:
    return load_conditions_file(path).conditions


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- corpus -------------------------------------------------------------------------------------------------


def _refusal_reason(name: str, exc: Exception) -> str:
    """The parser's message without the file name it starts with: 「line 3: no report title found …」."""
    m = re.match(rf"{re.escape(name)}:(?:(\d+):)?\s*(.*)", str(exc), re.S)
    if not m:
        return str(exc)
    return (f"line {m[1]}: " if m[1] else "") + m[2]


def load_eval_corpus(data_dir: Path, skip_bad: bool = False) -> tuple[Corpus, list[tuple[str, str]]]:
    """Every report file of ``data_dir`` parsed; returns the corpus and the refused files (name, reason).

    A file the parser refuses (no title line, no text, undecodable…) stops the run naming *every* such
    file; with ``skip_bad`` the others are evaluated and the refused ones are returned."""
    from rag.corpus import parse_file
    from rag.corpus.loader import assemble_corpus, corpus_files

    paths = corpus_files(data_dir)
    if not paths:
        raise CorpusError(f"{data_dir}: no .txt report files in the corpus folder")
    files, refused = [], []
    for path in paths:
        try:
            files.append(parse_file(path))
        except CorpusError as exc:
            refused.append((path.name, _refusal_reason(path.name, exc)))
    if refused and not skip_bad:
        raise CorpusError(f"{data_dir}: {len(refused)} of {len(paths)} report files cannot be loaded; "
                          "nothing was evaluated (--skip-bad evaluates the others):\n"
                          + "\n".join(f"  {name}: {reason}" for name, reason in refused))
    if not files:
        raise CorpusError(f"{data_dir}: none of the {len(paths)} report files could be loaded:\n"
                          + "\n".join(f"  {name}: {reason}" for name, reason in refused))
    return assemble_corpus(data_dir, files), refused


def folder_files(data_dir: Path) -> dict[str, str]:
    """sha256 of every report file in ``data_dir`` by name (empty when the folder does not exist)."""
    from rag.corpus.loader import corpus_files

    if not data_dir.is_dir():
        return {}
    return {p.name: file_sha256(p) for p in corpus_files(data_dir)}


# -- provenance ---------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_state(root: Path = PROJECT_ROOT) -> dict:
    """The commit checked out and whether the tree differs from it (modified or untracked files)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
                              check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "note": "not a git checkout, or git is not installed"}
    return {"commit": commit, "dirty": bool(changed), "changed_files": len(changed)}


def embedding_fingerprint(settings: Settings) -> dict:
    """The embedding model's name and ``model_fingerprint`` (what the index manifest and cache key use)."""
    from embeddings.encoder import model_fingerprint

    out: dict = {"name": settings.embedding_model}
    try:
        path = settings.embedding_model_path()
        out["fingerprint"] = model_fingerprint(path)
    except (OSError, RagError) as exc:
        out["fingerprint"] = None
        out["error"] = str(exc)
    return out


def llm_fingerprint(settings: Settings) -> dict:
    """What generated the answers: the GGUF's file name, size and sha256 prefix (the manifest's checksum,
    verified when `models.fetch` installed it, or computed for any other file), or the remote server."""
    if settings.llm_base_url:
        return {"backend": "openai-compatible", "base_url": settings.llm_base_url,
                "model": settings.llm_remote_model}
    try:
        path = settings.llm_model_path()
    except RagError as exc:
        return {"backend": "llama.cpp", "model": settings.llm_model, "error": str(exc)}
    out: dict = {"backend": "llama.cpp", "model": settings.llm_model if settings.llm_path is None else None,
                 "file": path.name}
    if not path.is_file():
        return {**out, "missing": True}
    out["size"] = path.stat().st_size
    if settings.llm_path is None:
        try:
            from models.fetch import Fetcher
            from models.manifest import load_manifest

            spec = load_manifest().model(settings.llm_model)
            installed = Fetcher(settings.models_dir, progress=False).is_installed(spec)
            if installed and spec.verify.size == out["size"]:
                return {**out, "sha256": spec.verify.sha256[:16],
                        "sha256_from": "models/manifest.toml (verified when fetched)"}
        except Exception:  # a fingerprint never stops an evaluation: hash the file instead
            pass
    return {**out, "sha256": file_sha256(path)[:16], "sha256_from": "computed"}


def _simple_attrs(obj) -> dict:
    """The scalar settings of an object (a retriever's fusion weights …)."""
    return {k: v for k, v in vars(obj).items()
            if not k.startswith("_") and isinstance(v, bool | int | float | str)}


class Runner:
    """Runs conditions on one corpus, loading each component once and sharing it between conditions.

    ``corpus``: the corpus already loaded (``load_eval_corpus``), with the files it ``refused``; default:
    every file of ``settings.data_dir``. The index lives in ``settings.index_dir``."""

    def __init__(self, settings: Settings, progress: bool = True, corpus: Corpus | None = None,
                 refused: Sequence[tuple[str, str]] = ()):
        self.settings = settings
        self.progress = progress
        self._corpus = corpus
        self._encoder = self._index = None
        self.refused = list(refused)
        self._services: dict[str | None, object] = {}
        self._git: dict | None = None
        self._llm_fingerprints: dict[str | None, dict] = {}

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

    def llm_settings(self, cond: Condition) -> Settings:
        """The settings an LLM condition generates with (its ``llm_model`` over the default)."""
        return self.settings.model_copy(update={"llm_model": cond.llm_model}) if cond.llm_model \
            else self.settings

    def service(self, cond: Condition):
        from rag.answering.service import AnswerConfig, AnswerService
        from rag.app import open_generator

        key = cond.llm_model if cond.mode == "llm" else None
        if key not in self._services:
            generator = None
            if cond.mode == "llm":
                generator = open_generator(self.llm_settings(cond))
            self._services[key] = AnswerService(self.retriever(cond), self.corpus(), generator,
                                                AnswerConfig(timeout_s=self.settings.llm_timeout_s))
        svc = self._services[key]
        svc.config.prompt = cond.prompt or AnswerConfig.model_fields["prompt"].default
        svc.warm_up()
        return svc

    def provenance(self, cond: Condition, gold: Path | None) -> dict:
        """Where a result came from: code, models, corpus, questions and index."""
        if self._git is None:  # once per run: the results written later would make the tree look dirty
            self._git = git_state()
        corpus = self.corpus()
        out: dict = {
            "git": self._git,
            "embedding_model": embedding_fingerprint(self.settings),
            "llm": None,
            "corpus": {"dir": corpus.data_dir, "content_hash": corpus.content_hash,
                       "parser_version": corpus.parser_version, "files": len(corpus.files),
                       "refused": [{"file": name, "reason": reason} for name, reason in self.refused]},
            "gold": {"path": str(gold) if gold else None,
                     "sha256": file_sha256(gold) if gold and gold.is_file() else None},
            "index": None,
        }
        if cond.kind == "answers" and cond.mode == "llm":
            if cond.llm_model not in self._llm_fingerprints:
                self._llm_fingerprints[cond.llm_model] = llm_fingerprint(self.llm_settings(cond))
            out["llm"] = self._llm_fingerprints[cond.llm_model]
        if cond.chunks == "structure" and self._index is not None:
            m = self._index.manifest
            out["index"] = {"dir": str(self.settings.index_dir), "version": self._index.version,
                            "model_id": m.model_id, "corpus_hash": m.corpus_hash,
                            "chunker_version": m.chunker_version, "n_chunks": m.n_chunks}
        return out

    def resolved_config(self, cond: Condition, retriever, service=None, n: int = 0,
                        limit: int | None = None) -> dict:
        """The condition's settings as run: its spec with the defaults filled in, the retriever's and the
        answer service's parameters, and the settings that change results."""
        s = self.settings
        unused = {"mode", "llm_model", "prompt"} if cond.kind == "retrieval" else \
            set() if cond.mode == "llm" else {"llm_model"}
        config: dict = {
            **cond.model_dump(exclude={"name", "description", "ci", "expected", *unused}),
            "k": 10 if cond.kind == "retrieval" else None,
            "limit": limit, "questions": n,
            "chunking": ({"kind": "fixed", "chars": 400} if cond.chunks == "fixed"
                         else {"kind": "structure", "max_chars": s.chunk_max_chars}),
            "retriever_params": _simple_attrs(retriever) if retriever is not None else None,
            "settings": {"data_dir": str(s.data_dir), "index_dir": str(s.index_dir),
                         "embedding_model": s.embedding_model, "threads": s.threads},
        }
        if service is not None:
            config["answer_config"] = service.config.model_dump()
            config["prompt"] = service.config.prompt
        if cond.kind == "answers" and cond.mode == "llm":
            ls = self.llm_settings(cond)
            config["llm_model"] = str(ls.llm_path) if ls.llm_path else ls.llm_model
            config["settings"] |= {"llm_context": ls.llm_context, "llm_timeout_s": ls.llm_timeout_s,
                                   "llm_base_url": ls.llm_base_url}
        return config

    def run(self, cond: Condition, items: Sequence[GoldItem], gold: Path | None = None,
            limit: int | None = None) -> dict:
        t0 = time.perf_counter()
        service = None
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

            service = self.service(cond)
            retriever = service.retriever
            recs = run_answers(service, items, cond.mode, desc=cond.name)
            summary = summarize(recs)
            by_type = answers_by_type(recs)
            records = [r.model_dump() for r in recs]
        summary["peak_rss_mb"] = peak_rss_mb()
        return {"condition": cond.name, "description": cond.description, "spec": cond.model_dump(),
                "n": len(records), "seconds": round(time.perf_counter() - t0, 1),
                "run_at": time.strftime("%Y-%m-%d %H:%M"),
                "provenance": self.provenance(cond, gold),
                "config": self.resolved_config(cond, retriever, service, n=len(records), limit=limit),
                "summary": summary, "by_type": by_type, "records": records}


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


def describe(result: dict) -> str:
    """One line on where a result file came from; older files without provenance say so."""
    p = result.get("provenance")
    head = f"{result.get('condition', '?')}, n={result.get('n', '?')}, run {result.get('run_at', '?')}"
    if not p:
        return head + " (no provenance recorded)"
    git = p.get("git") or {}
    commit = (git.get("commit") or "?")[:10] + (" (dirty)" if git.get("dirty") else "")
    corpus = ((p.get("corpus") or {}).get("content_hash") or "?")[:12]
    gold = ((p.get("gold") or {}).get("sha256") or "?")[:12]
    llm = p.get("llm") or {}
    model = f" · llm {llm.get('file') or llm.get('model')} {llm.get('sha256', '')}".rstrip() if llm else ""
    return f"{head} · commit {commit} · corpus {corpus} · gold {gold}{model}"


def provenance_warnings(a: dict, b: dict) -> list[str]:
    """What makes two results not comparable question by question: other questions or another corpus."""
    pa, pb = a.get("provenance") or {}, b.get("provenance") or {}
    out = []
    for what, key in (("gold file", "gold"), ("corpus", "corpus")):
        field = "sha256" if key == "gold" else "content_hash"
        ha, hb = (pa.get(key) or {}).get(field), (pb.get(key) or {}).get(field)
        if ha and hb and ha != hb:
            out.append(f"the two runs used a different {what} ({ha[:12]} vs {hb[:12]})")
    return out


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
                   do_check: bool, echo: Callable[[str], None] = print, limit: int | None = None,
                   gold: Path | None = None) -> int:
    """Run, save, print; with ``do_check`` compare with expectations. Returns the number of failures.
    ``gold``: the file ``items`` came from (its sha256 goes into each result's provenance)."""
    from eval.answers import format_summary
    from eval.retrieval import load_gold

    failures = 0
    for cond in conds:
        own_gold = _from_root(cond.gold) if cond.gold else None
        own = load_gold(own_gold)[:limit] if own_gold else None
        result = runner.run(cond, own if own is not None else items, gold=own_gold or gold, limit=limit)
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

