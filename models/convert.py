"""Convert the EmbeddingGemma safetensors into a GGUF that llama.cpp's server can serve for embeddings.

    rag models gguf-embedding [--models-dir DIR]       (rag/cli/models.py)

No hub holds such a GGUF for us, so it is made offline with llama.cpp's own converter, which ships in the
llama-cpp-python source distribution: ``pip download`` fetches the sdist of the installed version (pip's
cache keeps it), only the converter and its ``gguf-py`` are unpacked, and the converter runs with the
sentence-transformers pooling and Dense layers (``--sentence-transformers-dense-modules``), so the GGUF
gives the same vectors as the local encoder (checked by the remote-embedding tests: cosine ≥ 0.999).
The output goes aside and is renamed into place, and a stamp records what it was made from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from models.errors import ModelFetchError

OUTTYPE = "f16"  # half the size of f32; vectors within cosine 0.9999 of the fp32 encoder's (measured)
# What the converter needs from the sdist (its model classes import each other and gguf-py).
_MEMBERS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def gguf_path(models_dir: Path, model_name: str = "embeddinggemma-300m") -> Path:
    return models_dir / f"{model_name}-{OUTTYPE}.gguf"


def _converter(work: Path) -> Path:
    """llama.cpp's converter from the sdist of the installed llama-cpp-python, unpacked under ``work``."""
    version = metadata.version("llama_cpp_python")
    root = work / f"llama.cpp-{version}"
    if (root / "convert_hf_to_gguf.py").is_file():
        return root
    download = work / "sdist"
    download.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
           "--dest", str(download), f"llama-cpp-python=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    sdists = sorted(download.glob(f"llama_cpp_python-{version}.tar.gz"))
    if done.returncode != 0 or not sdists:
        raise ModelFetchError(f"could not download the llama-cpp-python {version} sdist (it carries "
                              f"llama.cpp's GGUF converter): {done.stderr.strip()[-400:]}")
    tmp = Path(tempfile.mkdtemp(dir=work, prefix=".unpack-"))
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(sdists[0]) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and (m.isfile() or m.isdir())
                   and any(m.name[len(prefix):].startswith(x) for x in _MEMBERS)]
        tar.extractall(tmp, members=members, filter="data")
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp / prefix, root)
    shutil.rmtree(tmp, ignore_errors=True)
    return root


def make_embedding_gguf(model_dir: Path, out: Path, work: Path, force: bool = False) -> Path:
    """``out``, converted from the sentence-transformers folder ``model_dir`` unless already made from it."""
    if not (model_dir / "model.safetensors").is_file():
        raise ModelFetchError(f"no embedding model at {model_dir}; run `rag models fetch` first")
    source = {"model": str(model_dir), "weights_bytes": (model_dir / "model.safetensors").stat().st_size,
              "llama_cpp_python": metadata.version("llama_cpp_python"), "outtype": OUTTYPE}
    stamp = out.with_suffix(".json")
    if not force and out.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == source:
        return out
    root = _converter(work)
    tmp = out.with_name(f".{out.name}.partial")
    env = {**os.environ, "PYTHONPATH": str(root / "gguf-py"), "NO_LOCAL_GGUF": ""}
    cmd = [sys.executable, str(root / "convert_hf_to_gguf.py"), str(model_dir), "--outfile", str(tmp),
           "--outtype", OUTTYPE, "--sentence-transformers-dense-modules"]
    print(f"converting {model_dir.name} to GGUF ({OUTTYPE}) with llama.cpp's converter…", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ModelFetchError(f"llama.cpp's converter failed on {model_dir}: {done.stderr.strip()[-600:]}")
    os.replace(tmp, out)
    tmp_stamp = stamp.with_name(f".{stamp.name}.partial")
    tmp_stamp.write_text(json.dumps(source))
    os.replace(tmp_stamp, stamp)
    return out
