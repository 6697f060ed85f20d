"""Real engines the tests start and stop: llama.cpp's OpenAI-compatible server (``llama_cpp.server``),
for chat completions (the HTTP generation backend) or embeddings (the remote encoder)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 3000) -> str:
    return path.read_bytes()[-n:].decode("utf-8", "replace")


@contextmanager
def llama_server(model: Path, log_dir: Path, *args: str, timeout_s: float = 300) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free loopback port, serving ``model``; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Its log goes to a file: llama.cpp writes a lot while loading, and an unread pipe would fill up and
    # stall the server before it ever listens.
    log_path = log_dir / f"llama-server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_threads", "2", *args],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{tail(log_path)}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"llama_cpp.server did not answer on {url} within {timeout_s:.0f} s; its log ends:\n"
                        f"{tail(log_path)}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
