"""`rag serve` in a process of its own on a free loopback port, for the hostile-server test and the load
benchmark (bench/load.py): start it, wait until /readyz, read its memory, stop it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def memory_kb(pid: int | str, keys: tuple[str, ...] = ("VmRSS", "VmHWM")) -> dict[str, int]:
    """Memory lines of a process's /proc status, in kB: by default VmRSS and VmHWM (the peak)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            out[key] = int(value.split()[0])
    return out


def reset_peak(pid: int) -> None:
    """Set a process's peak (VmHWM) back to its current RSS (clear_refs 5), so later peaks show."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class ServeProcess:
    """``rag serve`` started with ``env`` (RAG_PORT is chosen here), its output in ``log``."""

    def __init__(self, env: dict[str, str], log: Path, ready_timeout_s: float = 900):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "rag", "serve"], cwd=ROOT,
                                         env={**env, "RAG_PORT": str(port)}, stdout=out,
                                         stderr=subprocess.STDOUT)
        # a cold embedding cache means embedding the corpus (~7 min) before /readyz
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("rag serve exited:\n" + self.log_tail())
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not load:\n" + self.log_tail())
            time.sleep(1)

    def rss_mb(self) -> float:
        return memory_kb(self.proc.pid)["VmRSS"] / 1024

    def peak_mb(self) -> float:
        return memory_kb(self.proc.pid)["VmHWM"] / 1024

    def reset_peak(self) -> None:
        reset_peak(self.proc.pid)

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
