"""Named conditions of `rag eval` (eval/conditions.yaml): what each runs, what it scored, what it pins.

A condition is a configuration of the system — chunking, retriever, answer mode, model — with the scores
we measured for it (``expected``) and the tuned values of rag/config.py it was measured with (``pins``:
dotted keys into ``TunedConfig``, e.g. ``retrieval.rrf_k: 10.0``). Before a condition runs, each pin is
compared with the value the code now resolves; a condition whose pins disagree is refused, because its
expected scores describe another configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag.config import DEFAULTS, PROJECT_ROOT, Settings, TunedConfig, tuned_config
from rag.errors import RagError

CONDITIONS_FILE = PROJECT_ROOT / "eval" / "conditions.yaml"

PinValue = bool | int | float | str


def flatten(tuned: TunedConfig) -> dict[str, PinValue]:
    """``{"chunk.max_chars": 400, "retrieval.rrf_k": 10.0, …}``: every tuned knob by its dotted key."""
    return {f"{group}.{key}": value for group, values in tuned.model_dump().items()
            for key, value in values.items()}


TUNED_KEYS = tuple(flatten(DEFAULTS))


def resolved_tuned(settings: Settings | None = None) -> TunedConfig:
    """The tuned values a run uses: rag/config.py's ``DEFAULTS``, with what the settings override —
    the chunk size (``RAG_CHUNK_MAX_CHARS``) and the generation time limit (``RAG_LLM_TIMEOUT_S``).
    Without settings: ``DEFAULTS`` itself."""
    return DEFAULTS.model_copy(deep=True) if settings is None else tuned_config(settings)


def _known_pins(pins: dict[str, PinValue], where: str) -> dict[str, PinValue]:
    groups = sorted({key.split(".")[0] for key in TUNED_KEYS})
    problems = []
    for key in (k for k in pins if k not in TUNED_KEYS):
        group = key.split(".")[0]
        fields = [k.split(".", 1)[1] for k in TUNED_KEYS if k.startswith(group + ".")]
        hint = f"{group} has: {', '.join(fields)}" if fields else f"groups: {', '.join(groups)}"
        problems.append(f"{key!r} ({hint})")
    if problems:
        raise ValueError(f"{where}unknown pin key(s) {'; '.join(problems)}; a pin is <group>.<field> of "
                         "rag.config.TunedConfig")
    return pins


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(extra="forbid")  # a misspelt field (「pin:」) is an error, not ignored

    name: str = ""
    description: str = ""
    kind: Literal["retrieval", "answers"]
    chunks: Literal["structure", "fixed"] = "structure"
    retriever: Literal["hybrid", "dense", "bm25"] = "hybrid"
    mode: Literal["llm", "extractive"] = "extractive"
    llm_model: str | None = None
    prompt: Literal["brief", "verbatim", "points"] | None = None
    constrain: Literal["off", "citations"] | None = Field(
        None, description="AnswerConfig.constrain for this condition (the LLM's reply under a grammar).")
    ci: bool = Field(False, description="Part of the fast subset `make test` checks.")
    gold: str | None = Field(None, description="Question set of its own (path from the project root), "
                             "instead of the one `rag eval --gold` names: the held-out set.")
    pins: dict[str, PinValue] = Field(default_factory=dict, description="Tuned values (dotted keys into "
                                      "rag.config.TunedConfig) the expected scores were measured with.")
    expected: dict[str, Expectation] = Field(default_factory=dict)

    @field_validator("pins")
    @classmethod
    def _pins_known(cls, pins: dict[str, PinValue]) -> dict[str, PinValue]:
        return _known_pins(pins, "")


class ConditionsFile(BaseModel):
    """A conditions YAML: the conditions, and the corpus and gold set their expected values were measured
    on (paths from the project root, or absolute)."""

    model_config = ConfigDict(extra="forbid")

    corpus: str = Field("data", description="Folder of report files the expectations were measured on.")
    gold: str = Field("eval/gold.jsonl", description="Question set of the conditions without a `gold` "
                      "of their own.")
    pin_groups: dict[str, dict[str, PinValue]] = Field(
        default_factory=dict, description="Named blocks of pins, for the conditions to include by YAML "
        "alias or merge key (`pins: *answers`, `<<: *fusion`); they pin nothing by themselves.")
    conditions: dict[str, Condition] = Field(default_factory=dict)

    @field_validator("pin_groups")
    @classmethod
    def _groups_known(cls, groups: dict[str, dict[str, PinValue]]) -> dict[str, dict[str, PinValue]]:
        for name, pins in groups.items():
            _known_pins(pins, f"{name}: ")
        return groups

    def corpus_path(self) -> Path:
        return from_root(self.corpus)

    def gold_path(self) -> Path:
        return from_root(self.gold)


def from_root(path: str | Path) -> Path:
    """A path of the conditions file: relative ones are from the project root."""
    p = Path(path).expanduser()
    return (p if p.is_absolute() else PROJECT_ROOT / p).resolve()


def load_conditions_file(path: Path | None = None) -> ConditionsFile:
    """The conditions file (default: eval/conditions.yaml); a RagError naming the file and the field when
    it is unreadable or invalid (an unknown pin key included)."""
    path = path or CONDITIONS_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RagError(f"cannot read conditions file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise RagError(f"conditions file {path} is invalid: expected a mapping at the top")
    conditions = {name: {**(spec or {}), "name": name}
                  for name, spec in (raw.get("conditions") or {}).items()}
    try:
        return ConditionsFile.model_validate({**raw, "conditions": conditions})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise RagError(f"conditions file {path} is invalid: {problems}") from exc


def load_conditions(path: Path | None = None) -> dict[str, Condition]:
    return load_conditions_file(path).conditions


# -- pins ---------------------------------------------------------------------------------------------------


def _same(pinned: PinValue, current: PinValue) -> bool:
    if isinstance(pinned, bool) or isinstance(current, bool):  # True is not the number 1 here
        return type(pinned) is type(current) and pinned == current
    return pinned == current


def pin_mismatches(cond: Condition, current: dict[str, PinValue]) -> list[tuple[str, PinValue, PinValue]]:
    """(key, pinned, current) for each pin of ``cond`` the code no longer resolves to."""
    return [(key, pinned, current[key]) for key, pinned in cond.pins.items()
            if not _same(pinned, current[key])]


def check_pins(conds: Sequence[Condition], current: dict[str, PinValue],
               source: Path | str = "eval/conditions.yaml") -> None:
    """Refuse (RagError) when a condition's pins disagree with ``current`` (``flatten(resolved_tuned())``),
    naming the condition, the key, both values and what to do."""
    found = {cond.name: pin_mismatches(cond, current) for cond in conds}
    refused = [name for name, bad in found.items() if bad]
    if not refused:
        return
    lines = [f"  {name}: {key} is pinned to {pinned!r} but the code now resolves {now!r}"
             for name in refused for key, pinned, now in found[name]]
    raise RagError(
        f"refusing condition(s) {', '.join(refused)}: their expected scores were measured with other tuned "
        f"values than the code now uses (rag/config.py, or RAG_CHUNK_MAX_CHARS for chunk.max_chars):\n"
        + "\n".join(lines)
        + f"\nRe-measure: set those pins in {source} to the current values, run `rag eval --condition "
        f"{','.join(refused)}` (a full run, no --check) and update their expected: values from the result; "
        "or restore the old default. Nothing was run.")
