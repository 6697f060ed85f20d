"""The environment a test's child process starts from."""

from __future__ import annotations

import os


def without_rag_settings(**settings: str) -> dict[str, str]:
    """This process's environment without any ``RAG_*`` variable, then ``settings``: a developer's own
    settings (another index folder, an API key exported in the shell) never reach a test's child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(settings)
    return env
