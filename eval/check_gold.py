"""Validate the gold evaluation set against the corpus.

Run from the repository root::

    python -m eval.check_gold [--gold eval/gold.jsonl] [--corpus data]

Every item is checked for schema (``GoldItem``), unique ids and questions, and
against the data files: each quote must be a substring of its stated line, the
stated report title must be the nearest report title above that line, every
section heading must occur (in order) between the title and the line, and every
key fact (one of its alternatives, when it lists several) must occur verbatim in
one of the item's source lines or section heading lines. A summary is printed;
problems are reported as ``<id>: <problem>`` (format problems as
``<file>:<line>: <id>: schema: <field>: <problem>``) and make the exit status
non-zero. See eval/README.md for the format.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag.corpus.numbering import parse_marker
from rag.corpus.parser import name_parts, title_text
from rag.errors import RagError

QuestionType = Literal["fact", "quantity", "list", "why_how", "compare", "aggregate", "unanswerable",
                       "adversarial"]
# withheld: the report writes the asked figure as XX; the answer must say it is withheld and cite that clause.
Expected = Literal["answer", "refuse", "correct_premise", "withheld"]
TYPES: tuple[QuestionType, ...] = ("fact", "quantity", "list", "why_how", "compare", "aggregate",
                                   "unanswerable", "adversarial")
ANSWER_TYPES = {"fact", "quantity", "list", "why_how", "compare", "aggregate"}
# What makes a question hard, so the eval can report per trap. Unanswerable kinds: withheld (figure written
# XX), wrong_period (right body, period not covered), not_in_corpus (body or place absent), unstated_detail
# (the report covers the matter but not the asked detail), neighbour_figure (the figure exists only for a
# neighbouring project or item), related_only (same topic, but not the asked person, figure or detail).
# Answerable kinds: paraphrase (abbreviated or colloquial organ names, synonyms), body_place (a place named
# only in the report body), multi_figure (the sentence holds several figures).
Tag = Literal["withheld", "wrong_period", "not_in_corpus", "unstated_detail", "neighbour_figure",
              "related_only", "paraphrase", "body_place", "multi_figure"]

# Minimum number of items per type for this project's gold set (see --no-count-check).
MIN_PER_TYPE: dict[QuestionType, int] = {
    "fact": 30, "list": 15, "why_how": 12, "compare": 8,
    "aggregate": 6, "unanswerable": 10, "adversarial": 8, "quantity": 0,
}
MIN_TOTAL = 110
EXPECT_REPORTS = 79  # reports in data/*.txt (26 + 25 + 6 + 17 + 5)

PAID_MARKER = re.compile(r"##paid(?:begin|end)##")
# Heading markers: 一、 （一） 1. 1、 （1） ①
# Corpus placeholders that questions must spell out (D建 -> 党建, AAA公众号 -> 微信公众号).
QUESTION_PLACEHOLDER = re.compile(r"D(?=[建员组的风委支])|AAA(?!级)")
KEY_FACT_PLACEHOLDER = re.compile(r"D(?=[建员组的风委支])|AAA(?!级)|XX|xx")


# A key fact is one string, or a list of alternative strings of which any one counts:
# ["8.5%", ["60.39亿", "60.4亿"]].
KeyFact = str | list[str]


def alternatives(fact: KeyFact) -> list[str]:
    """The strings that count for one key fact: the fact itself, or each of its alternatives."""
    return [fact] if isinstance(fact, str) else list(fact)


class GoldFormatError(RagError):
    """A gold file that cannot be read: the message names the file, line and field of every problem."""

    http_status = 422


def clean(line: str) -> str:
    """Line text as compared: ##paid markers removed, surrounding (full-width) whitespace stripped."""
    return title_text(PAID_MARKER.sub("", line).strip(" \t\r\u3000"))


class Source(BaseModel):
    """One place in the corpus that supports the answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=r"^[^/\\]+\.txt$")
    report_title: str = Field(min_length=2)
    section: list[str]
    line: int = Field(ge=1)
    quote: str = Field(min_length=10, max_length=80)


class Side(BaseModel):
    """One side of a comparison: how the question names it, its report, and the key facts it must state.
    Lets the eval check that a side's figures land in that side's column, not the other's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1)
    file: str = Field(pattern=r"^[^/\\]+\.txt$")
    report_title: str = Field(min_length=2)
    key_facts: list[KeyFact] = Field(min_length=1, max_length=5)


class GoldItem(BaseModel):
    """One gold question with its expected behaviour and evidence."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^q\d{3,}$")
    question: str = Field(min_length=5)
    type: QuestionType
    answerable: bool
    expected: Expected
    key_facts: list[KeyFact] = Field(max_length=5)
    sources: list[Source]
    notes: str = Field(min_length=1)
    tags: list[Tag] = Field(default_factory=list)
    # aggregate: the sources name EVERY report that states the subject (found by exhaustive search, read by
    # hand), so the eval can score the reports found by recall and precision, not only key facts.
    complete: bool = False
    # compare: the two sides, each with its report and own key facts (see Side).
    sides: list[Side] = Field(default_factory=list)

    @field_validator("key_facts", mode="before")
    @classmethod
    def _key_fact_shape(cls, facts: object) -> object:
        """Each entry a string or a non-empty list of strings (alternatives), each 2-20 characters; said
        in one message naming the entry, instead of pydantic's one error per member of the union."""
        if not isinstance(facts, list):
            raise ValueError("must be a list of strings (or of lists of alternative strings), "
                             f"not {type(facts).__name__}")
        for i, fact in enumerate(facts):
            if isinstance(fact, list):
                if not fact:
                    raise ValueError(f"key_facts[{i}]: an empty list of alternatives")
                for alt in fact:
                    if isinstance(alt, list):
                        raise ValueError(f"key_facts[{i}]: a list inside a list of alternatives; "
                                         "alternatives must be strings")
                    if not isinstance(alt, str):
                        raise ValueError(f"key_facts[{i}]: alternative {alt!r} is not a string")
            elif not isinstance(fact, str):
                raise ValueError(f"key_facts[{i}]: {fact!r} is not a string or a list of strings")
            for alt in alternatives(fact):
                if not 2 <= len(alt) <= 20:
                    raise ValueError(f"key fact must be 2-20 characters: {alt!r}")
        return facts

    @model_validator(mode="after")
    def _consistent(self) -> GoldItem:
        if self.type in ANSWER_TYPES and (not self.answerable or self.expected != "answer"):
            raise ValueError(f"type {self.type} needs answerable=true and expected='answer'")
        if self.type == "unanswerable" and (self.answerable or self.expected not in ("refuse", "withheld")):
            raise ValueError("type unanswerable needs answerable=false and expected='refuse' or 'withheld'")
        if self.expected == "withheld":
            # The answer is "the report does not disclose it": cite the clause that writes XX.
            if self.answerable or not self.sources:
                raise ValueError("expected 'withheld' needs answerable=false and the XX clause as a source")
            if not any(re.search(r"XX|xx|Ｘ", s.quote) for s in self.sources):
                raise ValueError("expected 'withheld' needs a source quote holding the XX placeholder")
        elif self.answerable:
            if self.expected == "refuse":
                raise ValueError("answerable item cannot expect 'refuse'")
            if not self.key_facts or not self.sources:
                raise ValueError("answerable item needs 1-5 key_facts and at least one source")
        else:
            if self.expected != "refuse":
                raise ValueError("unanswerable item must expect 'refuse'")
            if self.key_facts or self.sources:
                raise ValueError("unanswerable item must have empty key_facts and sources")
        reports = {(s.file, s.report_title) for s in self.sources}
        if self.type == "compare" and len(reports) < 2:
            raise ValueError("compare item needs sources from at least 2 reports")
        if self.type == "aggregate" and len(reports) < (2 if self.complete else 3):
            raise ValueError("aggregate item needs sources from at least 3 reports (2 when complete)")
        if self.complete and self.type != "aggregate":
            raise ValueError("complete is for aggregate items only")
        if self.sides:
            if self.type != "compare" or len(self.sides) != 2:
                raise ValueError("sides: a compare item has exactly two sides")
            for side in self.sides:
                if (side.file, side.report_title) not in reports:
                    raise ValueError(f"sides: report {side.report_title!r} of side {side.label!r} "
                                     "has no source")
            first, second = self.sides
            if (first.file, first.report_title) == (second.file, second.report_title):
                raise ValueError("sides: the two sides need different reports")
        return self


@dataclass
class Result:
    items: list[GoldItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def reports(self) -> set[tuple[str, str]]:
        return {(s.file, s.report_title) for item in self.items for s in item.sources}


def parse_gold(path: Path) -> tuple[list[GoldItem], list[str]]:
    """Every valid item of the JSONL file, and one ``<file>:<line>: <id>: <problem>`` per problem (bad
    JSON, missing or unknown fields, wrong types, inconsistent items) naming the field."""
    items: list[GoldItem] = []
    errors: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return items, [f"{path}: gold file not found"]
    except (OSError, UnicodeDecodeError) as exc:
        return items, [f"{path}: cannot read the gold file ({exc})"]
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(data, dict):
            errors.append(f"{where}: schema: item: a JSON object is needed, not {type(data).__name__}")
            continue
        label = data.get("id") if isinstance(data.get("id"), str) else "(no id)"
        try:
            items.append(GoldItem.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                field_name = ".".join(str(p) for p in err["loc"]) or "item"
                msg = err["msg"].removeprefix("Value error, ")
                errors.append(f"{where}: {label}: schema: {field_name}: {msg}")
    return items, errors


def read_gold(path: Path) -> list[GoldItem]:
    """The items of a gold file; any format problem raises ``GoldFormatError`` listing every one."""
    items, errors = parse_gold(path)
    if errors:
        shown = errors[:20] + ([f"… and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise GoldFormatError(f"gold file {path} has {len(errors)} problem(s) "
                              "(format: eval/README.md; `python -m eval.check_gold --gold FILE` lists them "
                              "all):\n  " + "\n  ".join(shown))
    return items


def load_gold(path: Path, result: Result) -> None:
    """Parse and schema-check every line; valid items go to ``result.items``, problems to ``errors``."""
    items, errors = parse_gold(path)
    result.items.extend(items)
    result.errors.extend(errors)


def check_item(item: GoldItem, corpus: dict[str, list[str]], titles: dict[str, set[str]]) -> list[str]:
    """Check one item against the corpus; returns problems."""
    problems: list[str] = []
    evidence: list[str] = []  # texts of source lines and their section heading lines
    for src in item.sources:
        lines = corpus.get(src.file)
        where = f"{src.file}:{src.line}"
        if lines is None:
            problems.append(f"unknown data file {src.file}")
            continue
        if src.line > len(lines):
            problems.append(f"line {src.line} out of range for {src.file} ({len(lines)} lines)")
            continue
        text = clean(lines[src.line - 1])
        evidence.append(text)
        if src.quote not in text:
            problems.append(f"quote not found in {where}: {src.quote!r}")
        above = range(src.line - 1, 0, -1)
        title_line = next((i for i in above if clean(lines[i - 1]) in titles[src.file]), 0)
        if title_line == 0 and src.report_title in (" ".join(name_parts(src.file)), Path(src.file).stem):
            continue  # a file with no title line: its one report is titled by the file's name
        if title_line == 0:
            problems.append(f"report_title not found above {where}: {src.report_title!r}")
            continue
        if clean(lines[title_line - 1]) != src.report_title:
            problems.append(
                f"{where} belongs to report {clean(lines[title_line - 1])!r} (line {title_line}), "
                f"not {src.report_title!r}"
            )
            continue
        pos = title_line + 1
        for heading in src.section:
            if parse_marker(heading) is None:  # the corpus's own heading numbering
                problems.append(f"section entry does not start with a heading marker: {heading!r}")
            found = next((i for i in range(pos, src.line + 1) if clean(lines[i - 1]).startswith(heading)), 0)
            if found == 0:
                problems.append(f"section heading not found in order between line {title_line} and {where}: "
                                f"{heading!r}")
                break
            evidence.append(clean(lines[found - 1]))
            pos = found + 1
    for side in item.sides:
        own = [clean(corpus[s.file][s.line - 1]) for s in item.sources
               if (s.file, s.report_title) == (side.file, side.report_title)
               and s.file in corpus and s.line <= len(corpus[s.file])]
        for fact in side.key_facts:
            if not any(alt in text for alt in alternatives(fact) for text in own):
                problems.append(f"side {side.label!r}: key fact not in that side's source lines: {fact!r}")
    for fact in item.key_facts:
        # one alternative must be verbatim in the source; the others are accepted renderings (60.4亿)
        if not any(alt in text for alt in alternatives(fact) for text in evidence):
            shown = repr(fact) if isinstance(fact, str) else "none of " + " / ".join(map(repr, fact))
            problems.append(f"key fact not in its source lines or section headings: {shown}")
    if QUESTION_PLACEHOLDER.search(item.question):
        problems.append("question contains a corpus placeholder (write 党建/微信公众号, not D建/AAA公众号)")
    return problems


def check(gold: Path, corpus_dir: Path, *, counts: bool = True, min_total: int = MIN_TOTAL,
          expect_reports: int = EXPECT_REPORTS) -> Result:
    """Validate ``gold`` against the ``*.txt`` files in ``corpus_dir``."""
    result = Result()
    load_gold(gold, result)
    corpus = {p.name: p.read_text(encoding="utf-8").split("\n") for p in sorted(corpus_dir.glob("*.txt"))}
    titles: dict[str, set[str]] = {name: set() for name in corpus}
    for item in result.items:
        for src in item.sources:
            titles.setdefault(src.file, set()).add(src.report_title)
    ids = Counter(item.id for item in result.items)
    questions = Counter(item.question for item in result.items)
    for item in result.items:
        if ids[item.id] > 1:
            result.errors.append(f"{item.id}: duplicate id")
        if questions[item.question] > 1:
            result.errors.append(f"{item.id}: duplicate question")
        result.errors.extend(f"{item.id}: {p}" for p in check_item(item, corpus, titles))
        result.warnings.extend(f"{item.id}: key fact contains a placeholder: {alt!r}"
                               for f in item.key_facts for alt in alternatives(f)
                               if KEY_FACT_PLACEHOLDER.search(alt))
    if counts:
        per_type = Counter(item.type for item in result.items)
        if len(result.items) < min_total:
            result.errors.append(f"counts: {len(result.items)} items, need at least {min_total}")
        for typ, low in MIN_PER_TYPE.items():
            if per_type[typ] < low:
                result.errors.append(f"counts: {per_type[typ]} {typ} items, need at least {low}")
    if expect_reports and len(result.reports) < expect_reports:
        result.errors.append(f"coverage: {len(result.reports)} reports covered, expected {expect_reports}")
    return result


def summary(result: Result, expect_reports: int) -> str:
    per_type = Counter(item.type for item in result.items)
    per_expected = Counter(item.expected for item in result.items)
    per_file = Counter(file for file, _ in result.reports)
    total = f"/{expect_reports}" if expect_reports else ""
    lines = [f"items: {len(result.items)}",
             "per type: " + ", ".join(f"{t}={per_type[t]}" for t in TYPES),
             "expected: " + ", ".join(f"{k}={v}" for k, v in sorted(per_expected.items())),
             f"answerable: {sum(i.answerable for i in result.items)}",
             f"reports covered: {len(result.reports)}{total}",
             *(f"  {name}: {n}" for name, n in sorted(per_file.items()))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=Path(__file__).with_name("gold.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parent.parent / "data",
                        help="folder of the *.txt report files the gold set is about (default: data/)")
    parser.add_argument("--no-count-check", action="store_true", help="skip the per-type minimum counts")
    parser.add_argument("--min-total", type=int, default=MIN_TOTAL)
    parser.add_argument("--expect-reports", type=int, default=EXPECT_REPORTS,
                        help="reports that must be covered (0 = do not check)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"error: corpus folder {args.corpus} not found", file=sys.stderr)
        return 2
    result = check(args.gold, args.corpus, counts=not args.no_count_check, min_total=args.min_total,
                   expect_reports=args.expect_reports)
    print(summary(result, args.expect_reports))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    print("FAILED" if result.errors else "OK", f"({len(result.errors)} errors)")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
