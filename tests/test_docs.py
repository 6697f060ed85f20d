"""The docs stay true to the code: the generated settings page is current, every setting is described,
every `RAG_*` name the docs mention is a real setting, the README stays a front door, and every relative
link resolves. Plain file reads: unit tier."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs import configuration
from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "eval" / "README.md"]
README_MAX_LINES = 160

# `RAG_*` names that are environment variables but not settings. rag/, api/, eval/, models/ and embeddings/
# read no RAG_* variable outside Settings (their os.environ uses are HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE,
# PYTHONPATH and NO_LOCAL_GGUF); testkit/browser.py reads RAG_TEST_CHROMIUM, the browser tests' Chromium.
NOT_SETTINGS = {"RAG_TEST_CHROMIUM"}

FENCED = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.I)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_configuration_page_is_generated_from_settings():
    page = configuration.OUT
    assert page.exists(), "docs/configuration.md is missing: run .venv/bin/python -m docs.configuration"
    assert page.read_text(encoding="utf-8") == configuration.render(), (
        "docs/configuration.md is stale: run .venv/bin/python -m docs.configuration")


def test_every_setting_has_a_description():
    missing = [name for name, field in Settings.model_fields.items()
               if not (field.description or "").strip()]
    assert not missing, f"settings without a description (Field(..., description=...)): {missing}"


def test_rag_names_in_the_docs_are_settings():
    settings = {"RAG_" + name.upper() for name in Settings.model_fields}
    unknown = sorted(
        f"{_rel(page)}: {name}"
        for page in PAGES
        for name in set(re.findall(r"\bRAG_[A-Z_]+\b", page.read_text(encoding="utf-8")))
        if name.rstrip("_") not in settings | NOT_SETTINGS
    )
    assert not unknown, f"RAG_* names that are not settings (rag/config.py): {unknown}"


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move details to docs/")


def _links(text: str) -> list[str]:
    text = INLINE_CODE.sub("", FENCED.sub("", text))
    return LINK.findall(text) + HTML_SRC.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page: Path):
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http(s), mailto …, or an anchor in the same page
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{_rel(page)}: links to missing files: {broken}"


def test_link_finder_sees_links_and_skips_code():
    text = ("See [a](docs/a.md), ![img](x.png \"t\") and <img src=\"y.png\" width=\"2\">.\n"
            "`[not](code.md)`\n```\n[nor](fenced.md)\n```\n")
    assert _links(text) == ["docs/a.md", "x.png", "y.png"]
