"""Results computed once per data frame and kept while the frame lives (a cached dataset's frames live
as long as the app keeps that store version): e.g. a window's lane ranking, asked for again as the
previous period of the next window."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import polars as pl

_MEMOS: dict[int, dict[Hashable, Any]] = {}
_LOCK = threading.Lock()
MAX_PER_FRAME = 12  # rankings kept per dataset (about 30 MB each at 200k people); the oldest go first


def memo(frame: pl.DataFrame, key: Hashable, make: Callable[[], Any]) -> Any:
    """make(), once per (frame, key); the frame must not be changed afterwards (Polars frames are not)."""
    frame_id = id(frame)
    with _LOCK:
        found = _MEMOS.get(frame_id)
        if found is not None and key in found:
            return found[key]
    made = make()
    with _LOCK:
        found = _MEMOS.get(frame_id)
        if found is None:
            found = _MEMOS[frame_id] = {}
            # Forget with the frame, so that a later frame at the same address starts afresh.
            weakref.finalize(frame, _MEMOS.pop, frame_id, None)
        if len(found) >= MAX_PER_FRAME:
            found.pop(next(iter(found)))
        return found.setdefault(key, made)
