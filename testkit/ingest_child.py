"""Test helper, run as a subprocess by the crash tests: one `Library.ingest` (or `remove`) with the fake
encoder, which stops (sleeps) at a chosen moment so the test can SIGKILL it exactly there.

Two kinds of moments, both chosen from outside (the product code has no hook for this):

* ``INGEST_PAUSE_AT=<step>``: a named commit step (``Library``'s ``on_step`` callback);
* ``INGEST_PAUSE_POINT=<n>``: the n-th *durable operation* of the commit — every ``os.fsync``, and every
  ``mkdir``, ``link``, ``replace``, ``rename``, ``unlink``, ``rmtree`` or ``copy2`` on a path inside the
  library or index folder. The child wraps those functions and stops just before the n-th call; with
  ``INGEST_COUNT_POINTS=1`` it runs through and prints how many there were. These are exactly the moments
  at which what is on disk changes, so a kill between any two of them is a kill at one of them.

``--fork-server`` runs it as a fork server instead: started once by testkit/library_helpers.py, it forks
one child per request, each running ``main`` exactly as ``python -m testkit.ingest_child ARGS`` would but
with the imports done and jieba's dictionary loaded (a fresh interpreter spent ~1 s of every crash point
on them).
Requests and replies are lines on stdin and stdout (``serve_forks``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from rag.config import Settings
from rag.library import Library, read_uploads
from rag.retrieval.bm25 import tokenize
from testkit.fakes import FakeEncoder

_HOOKED = [(os, "fsync"), (os, "mkdir"), (os, "link"), (os, "replace"), (os, "rename"), (os, "unlink"),
           (shutil, "rmtree"), (shutil, "copy2")]


def _pause() -> None:
    print("PAUSED", flush=True)
    time.sleep(3600)


def _hook_durable_operations(roots: list[str], pause_point: int | None) -> list[int]:
    count = [0]

    def wrap(module, name):
        real = getattr(module, name)

        def hooked(*args, **kwargs):
            paths = [str(a) for a in args if isinstance(a, str | os.PathLike)]
            if name == "fsync" or any(p.startswith(r) for p in paths for r in roots):
                count[0] += 1
                print(f"POINT {count[0]} {name} {paths[:1]}", flush=True)
                if count[0] == pause_point:
                    _pause()
            return real(*args, **kwargs)

        setattr(module, name, hooked)

    for module, name in _HOOKED:
        wrap(module, name)
    return count


def main() -> None:
    pause_at = os.environ.get("INGEST_PAUSE_AT")
    point = os.environ.get("INGEST_PAUSE_POINT")
    counting = os.environ.get("INGEST_COUNT_POINTS") == "1"

    def step(name: str) -> None:
        print(f"STEP {name}", flush=True)
        if name == pause_at:
            _pause()

    settings = Settings(_env_file=None)  # the RAG_* variables the test sets
    library = Library(settings, encoder_factory=FakeEncoder, on_step=step, progress=False)
    args = sys.argv[1:]
    paths = [Path(p) for p in args]
    uploads = None if args[0] == "--remove" else read_uploads(paths, settings.ingest_max_bytes)
    count = None
    if point or counting:
        roots = [str(settings.library_path().resolve()), str(settings.index_dir.resolve())]
        count = _hook_durable_operations(roots, int(point) if point else None)
    if uploads is None:
        summary = library.remove(args[1:])
    else:
        summary, _ = library.ingest(uploads, replace=True)
    if count is not None:
        print(f"POINTS {count[0]}", flush=True)
    print(f"DONE {summary.version}", flush=True)


def _run_forked(request: dict) -> None:
    """In a forked child: take the request's environment, arguments and output files, run ``main``, exit
    (never return into the server's loop)."""
    code = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the server's requests are not the child's
        for fd, path in ((1, request["out"]), (2, request["err"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["testkit.ingest_child", *request["args"]]
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve_forks() -> None:
    """Requests, one JSON object a line: ``{"op": "run", "env", "args", "out", "err"}`` forks a child and
    answers ``PID n``; ``{"op": "poll", "pid"}`` answers ``RUNNING`` or ``EXIT n code``; ``{"op": "wait",
    "pid"}`` answers ``EXIT n code`` once the child has ended (killed -9: code -9)."""
    tokenize("预热")  # jieba's dictionary, loaded once here instead of in every child (~0.8 s each)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _run_forked(request)
            reply = f"PID {pid}"
        else:
            pid, flags = request["pid"], os.WNOHANG if request["op"] == "poll" else 0
            done, status = os.waitpid(pid, flags)
            reply = "RUNNING" if done == 0 else f"EXIT {pid} {os.waitstatus_to_exitcode(status)}"
        print(reply, flush=True)


if __name__ == "__main__":
    serve_forks() if sys.argv[1:] == ["--fork-server"] else main()
