"""Errors of the model manifest and fetcher. `models/` imports nothing of the project: the CLI
(`rag/cli/models.py`) and settings (`rag/config.py`) turn these into the project's `ModelFetchError`."""


class ModelFetchError(Exception):
    """Downloading, assembling or verifying model weights failed, or the manifest is wrong."""
