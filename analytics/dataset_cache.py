"""The whole store's dataset saved beside its snapshots as Parquet: a new app process (a restart, another
replica) reads it back in a tenth of the time DuckDB takes to rebuild it (lanes filled, the view joined).

A saved dataset is keyed by the data version, the settings (lanes depend on them) and the code that
builds it, so any of them changing means another file. Only the unrestricted dataset is saved: a scope
of some units fills lanes from its own rows, so it is read from the store as before; a researcher's
pseudonymised view is the saved dataset pseudonymised with the store's key. The background flags run
saves it after an import (it loads the same dataset); otherwise the first page view does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import duckdb
import polars as pl

from analytics import snapshots
from analytics.dataset import AssessmentData, Scope, load_dataset, pseudonymised
from analytics.privacy import pseudonym_key
from analytics.settings import Settings, settings_hash

PARTS = ("quarterly", "annual", "outcomes")
KEEP = 2  # saved datasets kept per store, as many as snapshots
# The modules whose code decides what load_dataset returns: changed code must not read an old file.
_BUILDERS = ("dataset.py", "lanes.py", "schema.py", "quarterly_store.py")


def _code_version() -> str:
    digest = hashlib.sha1()
    for name in _BUILDERS:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:12]


def place(db: Path, data_version: str, settings: Settings) -> Path:
    """The folder holding one saved dataset (one Parquet file per frame)."""
    return snapshots.folder(db) / f"dataset-{data_version}-{settings_hash(settings)}-{_code_version()}"


def read(db: Path, data_version: str, settings: Settings) -> AssessmentData | None:
    """The saved dataset, or None when there is none (or it cannot be read: it is then built again)."""
    folder = place(db, data_version, settings)
    try:
        frames = {part: pl.read_parquet(folder / f"{part}.parquet") for part in PARTS}
    except (OSError, pl.exceptions.PolarsError):
        return None
    return AssessmentData(**frames)


def save(db: Path, data_version: str, settings: Settings, data: AssessmentData) -> None:
    """Write the dataset under a temporary name, then rename it into place: readers see whole folders only."""
    target = place(db, data_version, settings)
    if target.exists():
        return
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        partial.mkdir(parents=True)
        for part in PARTS:
            getattr(data, part).write_parquet(partial / f"{part}.parquet", compression="lz4", statistics=False)
        os.rename(partial, target)
    except OSError:  # another process saved it first, or a full or read-only disk: the store still answers
        pass
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    _prune(target)


def _prune(keep: Path) -> None:
    found = sorted(keep.parent.glob("dataset-*"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in [p for p in found if p != keep][KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def load(
    con: duckdb.DuckDBPyConnection, db: Path, data_version: str, settings: Settings, scope: Scope, *, wait: bool = True
) -> AssessmentData:
    """load_dataset(con, settings, scope), from the saved dataset when the scope allows it; saves it when
    missing (in a background thread unless `wait`, so a page view does not wait for the write)."""
    if scope.units is not None:
        return load_dataset(con, settings, scope)
    data = read(db, data_version, settings)
    if data is None:
        data = load_dataset(con, settings)
        if wait:
            save(db, data_version, settings, data)
        else:
            threading.Thread(target=save, args=(db, data_version, settings, data), daemon=True).start()
    return pseudonymised(data, pseudonym_key(con)) if scope.pseudonymise else data
