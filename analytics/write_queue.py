"""Writes that must not make a page wait (audit rows) while another process holds the store's lock.

A write is done at once when the store is free within a moment; otherwise it is queued and one
background thread retries the queue in order until the lock is free again (a CLI import or undo
holds it for seconds). `flush` waits until everything queued is written.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from analytics import store

Write = Callable[[duckdb.DuckDBPyConnection], None]


class WriteQueue:
    def __init__(self):
        self._items: list[tuple[Path, Write]] = []
        self._changed = threading.Condition()
        self._draining = False

    def submit(self, path: Path, write: Write, wait: float) -> bool:
        """True when written now, False when queued (behind earlier queued writes, or the store is locked)."""
        with self._changed:
            behind = bool(self._items)
        if not behind:
            try:
                _write_now(path, write, wait)
                return True
            except store.StoreBusy:
                pass
        with self._changed:
            self._items.append((path, write))
            if not self._draining:
                self._draining = True
                threading.Thread(target=self._drain, name="store-write-queue", daemon=True).start()
        return False

    def _drain(self) -> None:
        pause = 0.1
        while True:
            with self._changed:
                if not self._items:
                    self._draining = False
                    self._changed.notify_all()
                    return
                path, write = self._items[0]
            try:
                _write_now(path, write, wait=pause)
            except store.StoreBusy:
                time.sleep(pause)  # backoff between lock attempts, not a wait for an outcome
                pause = min(pause * 2, 2.0)
                continue
            except Exception as exc:  # a write that cannot succeed (a full disk) must not block the rest
                print(f"store: queued write dropped: {type(exc).__name__}: {exc}", file=sys.stderr)
            pause = 0.1
            with self._changed:
                self._items.pop(0)
                self._changed.notify_all()

    def pending(self) -> int:
        with self._changed:
            return len(self._items)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is done; False if `timeout` s passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._items and not self._draining, timeout)


def _write_now(path: Path, write: Write, wait: float) -> None:
    con = store.connect(path, wait=wait)
    try:
        write(con)
    finally:
        con.close()


WRITES = WriteQueue()


def write_soon(path: str | os.PathLike | None, write: Write, wait: float = 0.5) -> bool:
    """write(con) on the store now if its lock is free within `wait` s, else queued in order; True when done now."""
    return WRITES.submit(store.db_path(path), write, wait)
