"""Users' own reports as crash-safe corpus versions.

versions.py (what a version is, how readers open the live one) ← uploads.py (what a file must pass)
← changes.py (summaries and refusals) ← store.py (``Library``: ingest, replace, remove, commit).
"""

from rag.library.changes import ChangeSummary, FileExists, LibraryBusy
from rag.library.store import Library
from rag.library.uploads import IngestError, IngestTooLarge, Upload, read_uploads
from rag.library.versions import CorpusVersion, current_library, live_version, open_corpus

__all__ = ["ChangeSummary", "CorpusVersion", "FileExists", "IngestError", "IngestTooLarge", "Library",
           "LibraryBusy", "Upload", "current_library", "live_version", "open_corpus", "read_uploads"]
