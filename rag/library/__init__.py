"""Users' own reports as crash-safe corpus versions: manifest, uploads, the store that commits them."""

from rag.library.store import (
    ChangeSummary,
    CorpusVersion,
    FileExists,
    IngestError,
    IngestTooLarge,
    Library,
    LibraryBusy,
    Upload,
    current_library,
    live_version,
    open_corpus,
    read_uploads,
)

__all__ = ["ChangeSummary", "CorpusVersion", "FileExists", "IngestError", "IngestTooLarge", "Library",
           "LibraryBusy", "Upload", "current_library", "live_version", "open_corpus", "read_uploads"]
