"""Loading the local GGUF model through llama-cpp-python (once per process)."""

from __future__ import annotations

from pathlib import Path

from rag.errors import ModelMissing


def load_llm(path: Path, n_ctx: int = 4096, threads: int = 2):
    """Return a ``llama_cpp.Llama`` for ``path``; a missing file names the fix."""
    if not path.is_file():
        raise ModelMissing(f"GGUF model not found at {path}; run `make models` or set RAG_LLM_PATH")
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                 verbose=False)
