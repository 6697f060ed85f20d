"""The verdict on each sentence of an answer, and the answer text that may be shown.

:func:`check_sentence` accepts a sentence when its cited evidence passes the support, number and name
tests, otherwise re-aligns it to the passage (or pair of passages) that does — repairing a missing or wrong
marker — and rejects it when none does. :func:`check_answer` runs this over a whole answer and renders
the sentences that may be shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

from pydantic import BaseModel, Field, computed_field

from rag.answering.verify.refusals import refusal_split
from rag.answering.verify.support import Claim, Profile, profile, union_profiles
from rag.config import DEFAULTS
from rag.text.markers import CONTENT_CHAR_RE, parse_markers, split_answer_lines
from rag.text.quantities import NUMBER_RE, claim_form

# Tuned in rag/config.py (VerifyConfig), where the measurement that chose each is written.
DEFAULT_THRESHOLD = DEFAULTS.verify.threshold
CONNECTIVE_MAX_CHARS = DEFAULTS.verify.connective_max_chars
_PAIR_CANDIDATES = DEFAULTS.verify.pair_candidates

_CONNECTIVE_END_RE = re.compile(r"[:：]\s*$")


class SentenceCheck(BaseModel):
    """The verdict on one sentence of an answer."""

    text: str = Field(description="The sentence as written, without its citation markers.")
    markers: list[int] = Field(description="Evidence ids the sentence cited, as written (before repair).")
    supported: bool = Field(description="A claim whose final evidence passes support, number and name tests.")
    support: float = Field(description="Support against the final evidence if supported, else against "
                                       "the cited evidence (or the best candidate if nothing usable was "
                                       "cited).")
    numbers_ok: bool = Field(description="Every number stated is in the evidence `support` refers to.")
    missing_numbers: list[str] = Field(default_factory=list, description="Numbers not found there.")
    repaired_markers: list[int] = Field(default_factory=list,
                                        description="The markers that replaced the written ones; empty if "
                                                    "none were replaced.")
    reason: str = Field(description="Why the sentence is kept or dropped, for logs and the UI.")
    repaired: bool = Field(False, description="The markers were replaced (added, corrected or pruned).")
    final_markers: list[int] = Field(default_factory=list, description="Evidence ids shown with it.")
    names_ok: bool = Field(True, description="Every body or place name stated is in that evidence.")
    missing_names: list[str] = Field(default_factory=list, description="Name anchors (「管局」) not found.")
    is_refusal: bool = Field(False, description="Says the material lacks something; needs no citation.")
    is_connective: bool = Field(False, description="A short lead-in (「具体如下：」); needs no citation.")
    kept: bool = Field(description="Shown to the user: supported claims, refusals, connectives.")

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def rendered(self) -> str:
        """The sentence with its final markers after it: 「…完成改造。[1][3]」."""
        return self.text + "".join(f"[{i}]" for i in self.final_markers)


@dataclass(frozen=True)
class _Verdict:
    ids: tuple[int, ...]
    support: float
    missing_numbers: tuple[str, ...]
    missing_names: tuple[str, ...]
    threshold: float

    @property
    def ok(self) -> bool:
        return self.support >= self.threshold and not self.missing_numbers and not self.missing_names

    def better_than(self, other: _Verdict) -> bool:
        return (self.support > other.support or len(self.missing_numbers) < len(other.missing_numbers)
                or len(self.missing_names) < len(other.missing_names))

    def problems(self) -> str:
        parts = []
        if self.support < self.threshold:
            parts.append(f"support {self.support:.2f} < {self.threshold:.2f}")
        if self.missing_numbers:
            parts.append("numbers not in evidence: " + "、".join(self.missing_numbers))
        if self.missing_names:
            parts.append("names not in evidence: " + "、".join(self.missing_names))
        return "; ".join(parts) or f"support {self.support:.2f}"


def _judge(claim: Claim, ids: tuple[int, ...], profiles: dict[int, Profile], threshold: float) -> _Verdict:
    evidence = union_profiles([profiles[i] for i in ids])
    missing_numbers = tuple(t.text for t in claim.numbers if not t.requires <= evidence.number_keys)
    missing_names = tuple(n for n in claim.names if n not in evidence.bigrams)
    return _Verdict(ids, claim.support(evidence), missing_numbers, missing_names, threshold)


def _prune(claim: Claim, verdict: _Verdict, profiles: dict[int, Profile]) -> _Verdict:
    """Drop cited passages that add nothing: the rest give the same support and still pass."""
    ids = list(verdict.ids)
    for i in reversed(verdict.ids):
        if len(ids) == 1:
            break
        rest = tuple(j for j in ids if j != i)
        trial = _judge(claim, rest, profiles, verdict.threshold)
        if trial.ok and trial.support >= verdict.support:
            ids.remove(i)
    return verdict if len(ids) == len(verdict.ids) else _judge(claim, tuple(ids), profiles, verdict.threshold)


def _align(claim: Claim, profiles: dict[int, Profile], threshold: float, cited: tuple[int, ...]
           ) -> tuple[_Verdict | None, _Verdict | None]:
    """The best passage, or pair of passages, that supports the claim (None if none), and the best single
    passage whatever its verdict (None without evidence)."""
    singles = [_judge(claim, (i,), profiles, threshold) for i in sorted(profiles)]
    if not singles:
        return None, None
    # Highest support first; among equals the passage the model cited, then the lowest id.
    singles.sort(key=lambda v: (-v.support, v.ids[0] not in cited, v.ids[0]))
    passing = [v for v in singles if v.ok]
    if passing:
        return passing[0], singles[0]
    # Pairs among the best-supporting passages and those stating one of the claim's numbers or names.
    top = singles[:_PAIR_CANDIDATES] + [
        v for v in singles[_PAIR_CANDIDATES:]
        if len(v.missing_numbers) < len(claim.numbers) or len(v.missing_names) < len(claim.names)
    ]
    pairs = []
    for a, b in combinations([v for v in top if v.support > 0], 2):
        pair = _judge(claim, tuple(sorted(a.ids + b.ids)), profiles, threshold)
        # each passage must add something the other lacks, or the pair is one passage plus noise
        if pair.ok and pair.better_than(a) and pair.better_than(b):
            pairs.append(pair)
    if pairs:
        pairs.sort(key=lambda v: (-v.support, -sum(i in cited for i in v.ids), v.ids))
        return pairs[0], singles[0]
    return None, singles[0]


def _is_connective(claim: Claim, clean: str) -> bool:
    return (not claim.numbers and claim.size < CONNECTIVE_MAX_CHARS
            and (_CONNECTIVE_END_RE.search(clean) is not None or not claim.size))



def _fmt_ids(ids: tuple[int, ...] | list[int]) -> str:
    return "".join(f"[{i}]" for i in ids) or "none"


def check_sentence(sentence: str, cited: dict[int, str] | None, all_evidence: dict[int, str],
                   threshold: float = DEFAULT_THRESHOLD) -> SentenceCheck:
    """Check one sentence (markers included) against the evidence it cites; repair its markers if needed.

    ``cited`` is the evidence the sentence cites, normally ``{i: all_evidence[i] for i in its markers}``;
    pass ``None`` to have it built that way. A claim is supported when, against the union of the cited
    passages, its :func:`support_score` is at least ``threshold``, every number it states is there
    (:func:`number_supported`) and so is every body or place name. Cited passages that add nothing are
    pruned. If the cited evidence fails (or nothing is cited, or the markers name unknown passages) but
    another passage of ``all_evidence`` passes — or, failing that, a pair of passages each adding
    something — the markers are replaced by those ids (``repaired``). Otherwise the sentence is not
    supported and not kept.

    Refusals (「材料中未提及…」, 「报告未提到…」) are kept without markers (a citation would claim support
    they do not have). A sentence that also states something (「报告未提及X，但Y」, 「材料未提及X，Y」) is
    not a refusal: its other clauses are checked as the claim, and the sentence stands or falls with
    them. Connectives — fewer than :data:`CONNECTIVE_MAX_CHARS` content characters, no number, ending in
    a colon (「具体如下：」) — are kept without markers here; :func:`check_answer` drops those that
    introduce nothing kept. Short sentences without a colon are claims and are checked like any other.
    """
    clean, markers = parse_markers(sentence)
    claim = Claim.of(clean)
    base = {"text": clean, "markers": markers}

    refusal, claim_part = refusal_split(claim.norm)
    if refusal:
        return SentenceCheck(**base, supported=False, support=0.0, numbers_ok=True, is_refusal=True,
                             kept=True, reason="refusal: says the material lacks it; needs no citation")
    if claim_part is not None:
        claim = Claim.of(claim_part)
    if _is_connective(claim, clean):
        return SentenceCheck(**base, supported=False, support=0.0, numbers_ok=True, is_connective=True,
                             kept=True, reason="connective: no claim to cite")

    if cited is None:
        cited = {i: all_evidence[i] for i in markers if i in all_evidence}
    profiles = {i: profile(t) for i, t in all_evidence.items()}
    profiles.update({i: profile(t) for i, t in cited.items()})
    cited_ids = tuple(i for i in (markers or list(cited)) if i in cited) or tuple(cited)
    unknown = [i for i in markers if i not in cited and i not in all_evidence]

    first = _judge(claim, cited_ids, profiles, threshold) if cited_ids else None
    if first is not None and first.ok:
        final = _prune(claim, first, profiles)
        changed = list(final.ids) != markers
        note = f"; unknown markers {_fmt_ids(unknown)} dropped" if unknown else ""
        if len(final.ids) < len(first.ids):
            note += f"; {_fmt_ids(tuple(i for i in first.ids if i not in final.ids))} add nothing, pruned"
        return SentenceCheck(**base, supported=True, support=round(final.support, 4), numbers_ok=True,
                             repaired=changed, repaired_markers=list(final.ids) if changed else [],
                             final_markers=list(final.ids), kept=True,
                             reason=f"supported by {_fmt_ids(final.ids)} (support {final.support:.2f}){note}")

    best, best_single = _align(claim, {i: profiles[i] for i in all_evidence}, threshold, cited_ids)
    if first is None:
        why = f"cites unknown {_fmt_ids(unknown)}" if unknown else "no marker"
    else:
        why = f"cited {_fmt_ids(first.ids)} fails: {first.problems()}"
    if best is not None:
        return SentenceCheck(**base, supported=True, support=round(best.support, 4), numbers_ok=True,
                             repaired=True, repaired_markers=list(best.ids), final_markers=list(best.ids),
                             kept=True,
                             reason=f"{why}; re-aligned to {_fmt_ids(best.ids)} (support {best.support:.2f})")
    shown = first or best_single
    if best_single is not None and best_single.ids != cited_ids:
        why += f"; best other passage {_fmt_ids(best_single.ids)}: {best_single.problems()}"
    elif best_single is None:
        why += "; no evidence"
    return SentenceCheck(**base, supported=False, support=round(shown.support, 4) if shown else 0.0,
                         numbers_ok=not (shown and shown.missing_numbers),
                         missing_numbers=list(shown.missing_numbers) if shown else [],
                         names_ok=not (shown and shown.missing_names),
                         missing_names=list(shown.missing_names) if shown else [],
                         kept=False, reason=f"unsupported: {why}")


# ---------------------------------------------------------------------------------------------------------
# Answer check
# ---------------------------------------------------------------------------------------------------------


class AnswerCheck(BaseModel):
    """The verdict on a whole answer: every sentence in order, and the text that may be shown."""

    sentences: list[SentenceCheck] = Field(description="Every sentence, in answer order, kept or not.")
    text: str = Field(description="The kept sentences rendered with their final markers, answer lines kept.")
    threshold: float

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def kept(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.kept]

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def dropped(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if not s.kept]

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def counts(self) -> dict[str, int]:
        """sentences, kept, dropped, supported, repaired, refusals, connectives."""
        s = self.sentences
        return {
            "sentences": len(s),
            "kept": sum(x.kept for x in s),
            "dropped": sum(not x.kept for x in s),
            "supported": sum(x.supported for x in s),
            "repaired": sum(x.repaired and x.kept for x in s),
            "refusals": sum(x.is_refusal for x in s),
            "connectives": sum(x.is_connective and x.kept for x in s),
        }

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def used_evidence(self) -> list[int]:
        """Evidence ids cited by the kept sentences, in order of first use."""
        ids: list[int] = []
        for s in self.kept:
            ids.extend(i for i in s.final_markers if i not in ids)
        return ids


def check_answer(answer_text: str, evidence: dict[int, str], threshold: float = DEFAULT_THRESHOLD,
                 unbound: Callable[[str], list[str]] | None = None) -> AnswerCheck:
    """Check every sentence of an answer against ``evidence`` (id → passage text) and render what survives.

    Each sentence goes through :func:`check_sentence`. A connective (「具体如下：」) is kept only when a
    claim after it, before the next connective, is kept — otherwise it would introduce nothing. The
    rendered ``text`` keeps the answer's line breaks; sentences of one line are joined without spaces. If
    nothing is kept, ``text`` is empty and the caller should answer that the material does not say.

    ``unbound`` (binding.py) names the figures of a sentence that the passages do not state for the question's
    subject; a supported sentence stating one is dropped all the same: its figure is another item's.
    """
    pieces = split_answer_lines(answer_text)
    checks = [check_sentence(sentence, None, evidence, threshold) for sentence, _ in pieces]
    seen: set[str] = set()
    for i, (check, (sentence, _)) in enumerate(zip(checks, pieces, strict=True)):
        if not check.kept or check.is_refusal or check.is_connective:
            continue
        said = claim_form(parse_markers(sentence)[0]).strip()
        if not CONTENT_CHAR_RE.search(NUMBER_RE.sub("", said)):
            # 「29.5%[1]」: the figure is in the passage, but what it measures is not said, so the reader
            # cannot tell it answers the question (small models list bare figures from the wrong passage).
            checks[i] = check.model_copy(update={"kept": False, "reason": "a bare figure: does not say "
                                                 "what it measures"})
        elif unbound is not None and (figures := unbound(said)):
            checks[i] = check.model_copy(update={
                "kept": False, "reason": "figure not stated for the asked subject: " + "、".join(figures)})
        elif said in seen:
            checks[i] = check.model_copy(update={"kept": False, "reason": "repeats an earlier sentence"})
        seen.add(said)

    for i, check in enumerate(checks):
        if not check.is_connective:
            continue
        following = []
        for later in checks[i + 1 :]:
            if later.is_connective:
                break
            following.append(later)
        if not any(s.kept and not s.is_refusal for s in following):
            checks[i] = check.model_copy(update={"kept": False,
                                                 "reason": "connective: introduces no kept sentence"})

    lines: dict[int, list[str]] = {}
    for check, (_, line_no) in zip(checks, pieces, strict=True):
        if check.kept:
            lines.setdefault(line_no, []).append(check.rendered)
    text = "\n".join("".join(parts) for _, parts in sorted(lines.items()))
    return AnswerCheck(sentences=checks, text=text, threshold=threshold)
