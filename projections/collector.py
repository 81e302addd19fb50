"""Python's cyclic garbage collector, kept out of the runners' hot loops.

Folding a batch allocates hundreds of thousands of container objects (decoded events, their
data, rows) that all stay alive until the batch is written, and rows the overlay caches for
much longer. The collector, triggered every 700 allocations, keeps walking them for nothing:
rows and events form no reference cycles, they are freed by reference counting. Measured on a
rebuild of 100k notifications, a quarter of the CPU time went to collections (a few full ones
walking the whole heap, hundreds of young ones walking the batch).

- ``paused()``: no automatic collection while a batch is folded and written (a fraction of a
  second); collection resumes, and catches up, between batches.
- ``frozen()``: for a rebuild, the objects that existed before it (imported modules, the
  application's state) are moved out of the collector's sight (``gc.freeze``) and back at the
  end (``gc.unfreeze``), so the full collections between batches walk only what the rebuild
  made. Garbage that existed before is collected after the rebuild, not lost.

Both are process-wide and nest (a counter), so concurrent runners in one process keep the
collector paused until the last one leaves; correctness never depends on them, only speed.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0
_was_enabled = False
_frozen = 0
_froze = False


@contextmanager
def paused() -> Iterator[None]:
    """No automatic cyclic collection inside (explicit ``gc.collect()`` still works)."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Objects that exist on entry are not walked by collections until the outermost exit.

    If something else froze objects already (a server may after its imports), this leaves the
    collector alone: unfreezing would undo that.
    """
    global _frozen, _froze
    with _lock:
        if _frozen == 0:
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
        _frozen += 1
    try:
        yield
    finally:
        with _lock:
            _frozen -= 1
            if _frozen == 0 and _froze:
                gc.unfreeze()
                _froze = False
