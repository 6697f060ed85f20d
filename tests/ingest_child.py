"""Test helper, run as a subprocess by tests/test_library.py: one `Library.ingest` with the fake encoder
that announces each commit step on stdout and, at the step named by the INGEST_PAUSE_AT environment
variable, stops (sleeps) so the test can SIGKILL it exactly there. The product code has no such hook:
the pause lives in this file's ``on_step`` callback."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rag.library import Library, read_uploads
from rag.settings import Settings
from tests.conftest import FakeEncoder


def main() -> None:
    pause_at = os.environ.get("INGEST_PAUSE_AT")

    def step(name: str) -> None:
        print(f"STEP {name}", flush=True)
        if name == pause_at:
            print("PAUSED", flush=True)
            time.sleep(3600)

    settings = Settings(_env_file=None)  # the RAG_* variables the test sets
    library = Library(settings, encoder_factory=FakeEncoder, on_step=step, progress=False)
    summary, _ = library.ingest(read_uploads([Path(p) for p in sys.argv[1:]], settings.ingest_max_bytes))
    print(f"DONE {summary.version}", flush=True)


if __name__ == "__main__":
    main()
