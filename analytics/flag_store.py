"""Flags as stored facts: the detectors run once per store version, and everyone reads the result.

A run covers one (store version, settings hash, detector version): it loads the whole store from a
snapshot, runs every detector kind on its own (one failing kind costs its own flags, named in
`flag_runs.errors`), and replaces the `flags` table in one transaction. Pages and the CLI read that
table and narrow it to the viewer's scope (`for_scope`). A flag's `flag_key` names its finding across
runs (analytics.detectors.base), so the flag workflow's status and notes survive recomputation.

The app starts a run in a child process (`start`) when the stored flags are not current; the child
writes its progress to a small JSON file beside the snapshots (`progress`) and holds a file lock, so
among several app processes only one computes a version. Until it finishes, readers keep the last
stored run (`Stored.current` is False and the page says so).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from analytics import dataset_cache, quarterly_store, snapshots, store
from analytics.dataset import EVERYTHING, Scope
from analytics.settings import Settings, settings_hash

QUICK_ROWS = 100_000  # up to this many quarterly rows the detectors take seconds: the app runs them in the page
SEED = 0  # stored flags use the detectors' default seed; other seeds are computed on the spot (CLI --seed)
RUN_COLUMNS = ("store_version", "settings_hash", "detector_version")


def detector_version() -> str:
    """A hash of the detectors' code (their packages included): new code means new flags."""
    folder = Path(__file__).parent / "detectors"
    digest = hashlib.sha1()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Stored:
    """The flags of the latest stored run, and whether that run matches the store and settings now."""

    flags: pl.DataFrame  # FLAG_SCHEMA columns
    store_version: str | None  # None: no run stored yet
    finished_at: datetime | None
    errors: tuple[str, ...]
    current: bool


def _empty() -> pl.DataFrame:
    from analytics.detectors.base import empty_flags

    return empty_flags()


def read(con: duckdb.DuckDBPyConnection, data_version: str, settings: Settings) -> Stored:
    """The stored flags (all of them: narrow with for_scope) and whether they are current."""
    from analytics.detectors.base import FLAG_SCHEMA

    try:
        run = con.execute(
            "SELECT store_version, settings_hash, detector_version, finished_at, errors FROM flag_runs "
            "ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    except duckdb.CatalogException:  # a store from before stored flags, opened read-only
        run = None
    if run is None:
        return Stored(_empty(), None, None, (), False)
    cols = ", ".join(store.quote_ident(c) for c in FLAG_SCHEMA)
    frame = con.execute(f"SELECT {cols} FROM flags ORDER BY severity DESC NULLS LAST, q_value NULLS LAST").pl()
    frame = frame.select([pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items()])
    current = tuple(run[:3]) == (data_version, settings_hash(settings), detector_version())
    errors = tuple(json.loads(run[4])) if run[4] else ()
    return Stored(frame, run[0], run[3], errors, current)


def quick(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a run takes only seconds here (the demo city, tests): then it need not go to the background."""
    return quarterly_store.row_count(con) <= QUICK_ROWS


def for_scope(flags: pl.DataFrame, scope: Scope) -> pl.DataFrame:
    """The flags a viewer may see: their units only; none for pseudonymised (researcher) scopes,
    whose analyses run on pseudonymised data and never see named findings."""
    if scope.pseudonymise:
        return flags.clear()
    if scope.units is None:
        return flags
    return flags.filter(pl.col("unit").is_in(sorted(scope.units)))


# ----------------------------------------------------------------------------- computing a run


def progress_file(db: Path) -> Path:
    return snapshots.folder(db) / "flags-progress.json"


def _lock_file(db: Path) -> Path:
    return snapshots.folder(db) / "flags.lock"


def _write_progress(db: Path, **fields) -> None:
    path = progress_file(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(fields, default=str))
    os.replace(partial, path)


def progress(db: str | os.PathLike) -> dict | None:
    """The running computation's progress ({store_version, done, total, kind, pid}), None when none runs."""
    path = progress_file(Path(db))
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if state.get("finished") or not _alive(state.get("pid")):
        return None
    return state


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def compute(db: str | os.PathLike, settings: Settings, source: str | os.PathLike | None = None) -> int | None:
    """Run every detector on the whole store and store the flags; the number stored, None when another
    process is computing already. `source` is the snapshot to read (default: the store itself)."""
    from analytics.detectors import FLAG_SCHEMA, registry

    db = store.db_path(db)
    lock_path = _lock_file(db)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        started = datetime.now()
        con = store.open_waiting(Path(source or db), read_only=True)
        try:
            version = snapshots.data_version(con)
            data = dataset_cache.load(con, db, version, settings, EVERYTHING)  # saved for the app's next process
        finally:
            con.close()
        kinds = list(dict.fromkeys(d.kind for d in registry()))
        run = {
            "store_version": version,
            "settings_hash": settings_hash(settings),
            "detector_version": detector_version(),
        }
        found, failed = [], []
        clock = time.perf_counter()
        for done, kind in enumerate(kinds):
            _write_progress(db, **run, pid=os.getpid(), done=done, total=len(kinds), kind=kind, started_at=started)
            try:
                found.extend(d.detect(data, settings, SEED) for d in registry() if d.kind == kind)
            except Exception as exc:  # a broken detector costs its own flags, not the run
                failed.append(f"{kind}: {type(exc).__name__}")
        seconds = time.perf_counter() - clock
        found = [f for f in found if f.height]
        flags = pl.concat(found) if found else pl.DataFrame(schema=FLAG_SCHEMA)
        flags = flags.sort(["severity", "q_value"], descending=[True, False], nulls_last=True)
        _store(db, flags, run, started, seconds, failed)
        if source is not None:  # started by the app: its next read finds the new flags' snapshot ready
            with contextlib.suppress(store.StoreBusy, duckdb.Error, OSError):
                snapshots.current(db)
        _write_progress(db, **run, pid=os.getpid(), done=len(kinds), total=len(kinds), finished=True)
        return flags.height


def _store(db: Path, flags: pl.DataFrame, run: dict, started: datetime, seconds: float, failed: list[str]) -> None:
    """Replace the stored flags with this run's, in one transaction."""
    stamped = flags.with_columns(pl.lit(v).alias(k) for k, v in run.items())
    con = store.connect(db)
    try:
        with store.transaction(con):
            con.execute("DELETE FROM flags")
            store.insert_frame(con, "flags", stamped)
            con.execute("DELETE FROM flag_runs")
            con.execute(
                "INSERT INTO flag_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [*run.values(), started, datetime.now(), flags.height, seconds, json.dumps(failed, ensure_ascii=False)],
            )
    finally:
        con.close()


# ----------------------------------------------------------------------------- the app's background run

_STARTED: dict[tuple, subprocess.Popen] = {}
_START_LOCK = threading.Lock()


def start(db: str | os.PathLike, snapshot: snapshots.Snapshot, settings: Settings) -> bool:
    """Start a background run for this snapshot's version unless one is running; True when one runs now."""
    db = Path(db)
    key = (str(db), snapshot.data_version, settings_hash(settings), detector_version())
    with _START_LOCK:
        child = _STARTED.get(key)
        if child is not None:
            return child.poll() is None
        running = progress(db)
        if running and running.get("store_version") == snapshot.data_version:
            return True
        command = [sys.executable, "-m", "analytics", "flags", "--refresh", "--quiet", "--db", str(db)]
        command += ["--from-snapshot", str(snapshot.path)]
        settings_file = os.environ.get("KAOHE_SETTINGS")
        if settings_file:
            command += ["--settings", settings_file]
        log = open(snapshots.folder(db) / "flags-run.log", "ab")  # noqa: SIM115 (the child keeps it)
        _STARTED[key] = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd=store.PROJECT_ROOT
        )
        log.close()
        return True
