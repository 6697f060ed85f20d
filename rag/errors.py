"""The project's error vocabulary, in one place.

Each error's message says what to do next. The HTTP layer maps these classes to status codes
(`api/errors.py`); the CLI prints the message and exits with status 2.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    http_status = 500


class ModelMissing(RagError):
    """Model weights are not where the settings say; `make models` fetches them."""

    http_status = 503


class ModelFetchError(RagError):
    """Downloading, assembling or verifying model weights failed."""

    http_status = 500


class CorpusError(RagError):
    """A report file cannot be read or parsed; the message names the file and line."""

    http_status = 422


class ReportNotFound(RagError):
    http_status = 404


class SectionNotFound(RagError):
    http_status = 404


class IndexNotReady(RagError):
    """The search index is missing or stale; `rag index` builds it."""

    http_status = 503


class InvalidQuestion(RagError):
    """The question (or its history) is empty, too long or malformed; the message says what to fix."""

    http_status = 422


class GenerationError(RagError):
    """The LLM backend failed or timed out; callers fall back to the extractive answer."""

    http_status = 503
