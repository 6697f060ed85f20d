"""The rule of the house: imports point one way, there are no cycles, no private names cross modules.

    rag.text ← rag kernel (rag/__init__, errors, storage, config, contracts) ← rag.corpus
      ← rag.retrieval ← {rag.answering, rag.library} ← rag.app ← {api, eval} ← rag.cli ← testkit
      ← {bench, docs}

`testkit/` holds what tests, benchmarks and the screenshot script share (fakes, processes, browser); the
service never imports it. `embeddings/` and `models/` are leaves: they import nothing of the project.
Every import counts, the ones inside functions too (those are only for start-up time, never to dodge a
cycle). The checker walks the source with `ast`, so it sees what a grep would miss (``from rag import
app``) and needs no import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "api", "eval", "embeddings", "models", "testkit", "bench", "docs")

# Lowest first. A module may import its own layer's package (same prefix) and any lower layer; two
# packages sharing a layer may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("rag.text",),
    ("rag.errors",),
    ("rag", "rag.storage", "rag.config", "rag.contracts"),
    ("rag.corpus",),
    ("rag.retrieval",),
    ("rag.answering", "rag.library"),
    ("rag.app",),
    ("api", "eval"),
    ("rag.cli",),
    ("rag.__main__",),
    ("testkit",),
    ("bench", "docs"),
]
LEAVES = ("embeddings", "models")  # import nothing of the project


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _owner(module: str, owners: list[tuple[str, ...]]) -> tuple[int, str] | None:
    """(layer, package) of the longest layer prefix that ``module`` falls under."""
    best: tuple[int, str] | None = None
    for rank, names in enumerate(owners):
        for name in names:
            inside = module == name or module.startswith(name + ".")
            if inside and (best is None or len(name) > len(best[1])):
                best = (rank, name)
    return best


def imports_of(path: Path, module: str) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import in the file, resolved to absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from rag import app` imports the module rag.app: the caller tells modules from names
            out.append((node.lineno, base, [alias.name for alias in node.names]))
    return out


def check_tree(root: Path) -> list[str]:
    """Every violation of the rule in the project rooted at ``root``, one line each."""
    modules = {module_name(p, root): p for pkg in PACKAGES if (root / pkg).is_dir()
               for p in (root / pkg).rglob("*.py")}
    problems: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in sorted(modules.items()):
        where = f"{path.relative_to(root)}"
        mine = _owner(module, LAYERS)
        edges: list[tuple[int, str, list[str]]] = []
        for line, target, names in imports_of(path, module):
            if target == "tests" or target.startswith("tests."):
                problems.append(f"{where}:{line}: {module} imports {target}: what tests share with bench/ "
                                "and docs/ lives in testkit/")
                continue
            submodules = [n for n in names if f"{target}.{n}" in modules]
            edges += [(line, f"{target}.{n}", []) for n in submodules]
            if target in modules and (len(submodules) < len(names) or not names):
                edges.append((line, target, [n for n in names if n not in submodules]))
        for line, target_module, names in edges:
            if target_module == module:
                continue
            graph[module].add(target_module)
            if module.split(".")[0] in LEAVES and target_module.split(".")[0] not in (module.split(".")[0],):
                problems.append(f"{where}:{line}: {module} is a leaf but imports {target_module}")
                continue
            theirs = _owner(target_module, LAYERS)
            if mine and theirs and module.split(".")[0] not in LEAVES:
                if theirs[0] > mine[0]:
                    problems.append(f"{where}:{line}: {module} (layer {mine[1]}) imports {target_module} "
                                    f"(higher layer {theirs[1]})")
                elif theirs[0] == mine[0] and theirs[1] != mine[1]:
                    problems.append(f"{where}:{line}: {module} imports {target_module}: sibling layers "
                                    f"{mine[1]} and {theirs[1]} must not import each other")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target_module != module:
                problems.append(f"{where}:{line}: imports private {', '.join(private)} from {target_module}")
    problems += [f"import cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            # a package's __init__ re-exporting its own modules is its face, not a cycle
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_project_follows_the_import_rule():
    problems = check_tree(ROOT)
    assert not problems, "\n".join(problems)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


BASE = {"rag/__init__.py": "", "rag/text/__init__.py": "", "rag/retrieval/__init__.py": "",
        "rag/text/numbers.py": "X = 1\n_hidden = 2\n",
        "rag/retrieval/index.py": "from rag.text.numbers import X\n",
        "embeddings/__init__.py": "", "embeddings/encoder.py": "import numpy\n"}


@pytest.mark.parametrize("bad, expected", [
    ({"rag/text/up.py": "def f():\n    from rag.retrieval import index\n"}, "higher layer rag.retrieval"),
    ({"rag/text/up.py": "import rag.retrieval.index\n"}, "higher layer rag.retrieval"),
    ({"embeddings/encoder.py": "from rag.text.numbers import X\n"}, "is a leaf"),
    ({"rag/retrieval/other.py": "from rag.text.numbers import _hidden\n"}, "imports private _hidden"),
    ({"bench/__init__.py": "", "bench/load.py": "from tests.fakes import FakeEncoder\n"},
     "lives in testkit/"),
    ({"testkit/__init__.py": "", "testkit/fakes.py": "from bench import load\n", "bench/__init__.py": "",
      "bench/load.py": ""}, "higher layer bench"),
    ({"rag/retrieval/a.py": "from rag.retrieval import b\n", "rag/retrieval/b.py": "from . import a\n"},
     "import cycle: rag.retrieval.a -> rag.retrieval.b"),
])
def test_the_checker_catches_a_deliberate_violation(tmp_path, bad, expected):
    assert check_tree(_write(tmp_path, BASE)) == []
    problems = check_tree(_write(tmp_path, bad))
    assert any(expected in p for p in problems), problems
