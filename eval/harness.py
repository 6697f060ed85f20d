"""`rag eval`: check conditions against their expectations, choose where results go, diff two runs.

``--check`` turns eval/conditions.yaml into a regression gate: a metric beyond its tolerance prints FAIL
and the command exits non-zero. The expectations hold for the corpus and question set the conditions file
names (``corpus:``, ``gold:``), on the full set, and with the tuned values each condition pins; a check of
anything else is refused rather than compared with them, and only such full runs write eval/results/.

The parts live beside this module: eval/conditions.py (the conditions file, pins), eval/runner.py (running a
condition), eval/provenance.py (git state, fingerprints, hashes), eval/report.py (report.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from eval.answers import format_summary
from eval.check_gold import GoldItem
from eval.conditions import Condition, ConditionsFile, Expectation, check_pins, flatten, from_root
from eval.provenance import file_sha256, folder_files
from eval.retrieval import load_gold
from eval.runner import Runner
from rag.config import PROJECT_ROOT
from rag.corpus import Corpus
from rag.errors import RagError

RESULTS_DIR = PROJECT_ROOT / "eval" / "results"


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
    cpu = (p.get("machine") or {}).get("cpu")
    return f"{head} · commit {commit} · corpus {corpus} · gold {gold}{model}" + (f" · {cpu}" if cpu else "")


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
    better: list[str] = []
    worse: list[str] = []
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


# -- where results go ---------------------------------------------------------------------------------------


def matches_expectations(spec: ConditionsFile, corpus: Corpus, gold: Path) -> tuple[bool, bool]:
    """Whether ``corpus`` holds the same files (by content) as the conditions file's ``corpus:``, and
    ``gold`` the same bytes as its ``gold:``: what eval/results/ and the expected scores are for."""
    expected = folder_files(spec.corpus_path())
    same_corpus = bool(expected) and expected == {f.name: f.sha256 for f in corpus.files}
    same_gold = spec.gold_path().is_file() and gold.is_file() and file_sha256(gold) == file_sha256(
        spec.gold_path())
    return same_corpus, same_gold


def corpus_label(corpus: Corpus) -> str:
    return f"{Path(corpus.data_dir).name}-{corpus.content_hash[:12]}"


def results_folder(cache_dir: Path, label: str, gold: Path, *, bundled_corpus: bool, bundled_gold: bool,
                   limit: int | None = None, ids: int | None = None) -> tuple[Path, str]:
    """Where a run's results go unless ``--out`` says, and a note for the output naming why.

    eval/results/ only for a full run (no ``limit``, no ``ids`` subset) on the expectations' own corpus
    and gold set; a subset or another question set on that corpus: a scratch folder; another corpus: a
    folder of its own. ``label``: ``corpus_label``."""
    if bundled_corpus and bundled_gold and not limit and not ids:
        return RESULTS_DIR, ""
    if limit or ids or bundled_corpus:
        tag = gold.stem + (f"-ids{ids}" if ids else "") + (f"-limit{limit}" if limit else "")
        flags = " and ".join(f for f, on in (("--ids", ids), ("--limit", limit)) if on)
        why = f"a {flags} run" if flags else "another question set"
        return (cache_dir / "eval-scratch" / f"{label}-{tag}",
                f" ({why}: scratch folder; {RESULTS_DIR} is left alone)")
    return (cache_dir / "eval-results" / (label if bundled_gold else f"{label}-{gold.stem}"),
            f" (another corpus: a folder of its own; {RESULTS_DIR} is left alone)")


def refuse_results_dir(out: Path, canonical: bool) -> None:
    """``--out`` inside eval/results/ is for full runs on the bundled corpus and gold set only."""
    target, results = out.resolve(), RESULTS_DIR.resolve()
    if not canonical and (target == results or target.is_relative_to(results)):
        raise RagError(f"--out {out}: {RESULTS_DIR} holds the committed results of full runs on the bundled "
                       "corpus and gold set; give another place for this run")


# -- run ----------------------------------------------------------------------------------------------------


def run_conditions(runner: Runner, conds: Sequence[Condition], items: Sequence[GoldItem], out_dir: Path,
                   do_check: bool, echo: Callable[[str], None] = print, limit: int | None = None,
                   gold: Path | None = None, source: Path | str = "eval/conditions.yaml") -> int:
    """Run, save, print; with ``do_check`` compare with expectations. Returns the number of failures.
    ``gold``: the file ``items`` came from (its sha256 goes into each result's provenance). Refuses
    (RagError, nothing run) when a condition's pins disagree with the tuned values the runner uses;
    ``source`` names the conditions file in that message."""
    check_pins(conds, flatten(runner.tuned), source)
    failures = 0
    for cond in conds:
        own_gold = from_root(cond.gold) if cond.gold else None
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
