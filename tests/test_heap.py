"""api.heap.settle: what is alive is frozen out of the cyclic GC; a replaced version's cycles are not kept."""

from __future__ import annotations

import gc
import weakref

from api import heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic GC frees it


def test_settle_freezes_what_is_alive_and_collects_cycles_dropped_since():
    try:
        node = _Node()
        ref = weakref.ref(node)
        heap.settle()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert ref() is not None, "frozen: a plain collection must skip it (that is the point)"
        heap.settle()
        assert ref() is None, "settle must unfreeze and collect, or each replaced version would leak"
    finally:
        gc.unfreeze()
