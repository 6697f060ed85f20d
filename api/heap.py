"""Keeps the loaded corpus and index out of the cyclic garbage collector's way.

A loaded service holds about half a million GC-tracked objects (sections, chunks, BM25 postings …). A
full collection walks all of them — about 270 ms on this 2-core machine, with the GIL held, so every
request (``/healthz`` included) stalls for that long whenever Python decides to run one. ``gc.freeze()``
moves what is alive at that moment into a permanent generation the collector skips; objects there are
still freed by reference counting when the service is dropped.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("api")


def settle() -> None:
    """Call after loading or replacing the service: collect once (a replaced version's cycles, which
    frozen objects would otherwise keep), then freeze what is left. Costs one full collection (~0.3 s),
    paid once per load or library change instead of at random under traffic."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info("heap settled: %d objects frozen in %.0f ms", gc.get_freeze_count(),
             (time.perf_counter() - started) * 1000)
