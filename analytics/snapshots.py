"""Immutable snapshots of the store: what the app reads, so that readers never wait for a writer.

After any committed change (an import or undo from any process, new stored flags, a user change), the
next reader that notices the file changed takes the store's lock for a moment, checks the store's
version (a fingerprint of its data, users and stored flags, not of the audit log) and, when that
version has no snapshot yet, checkpoints and copies the file to `snapshots/<store>/<version>.duckdb`.
A small note `state-<digest>.json` beside it records which version that state has, so a new process
(a restart, another replica) finds the snapshot without hashing every row again.
Each snapshot is opened read-only once per process and shared by every session as cursors. While a
CLI import or undo holds the lock, readers keep the last snapshot (`Snapshot.busy` says so). Many app
processes (replicas behind nginx) share the folder: a version is copied once, by whoever sees it first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from analytics import quarterly_store, store

KEEP = 2  # snapshots kept per store (the current one and the one before, still open in other processes)

# The counts and imports change with every import, undo or new table rows; a rebuilt demo city is a new file.
# The quarterly rows are counted on their facts (analytics.quarterly_store.row_count), the rest here.
_COUNTS_SQL = """SELECT
  (SELECT count(*) FROM annual), (SELECT count(*) FROM outcomes),
  (SELECT count(*) FROM survey_items), (SELECT count(*) FROM survey_respondents),
  (SELECT count(*) FROM survey_answers), (SELECT count(*) FROM demo_truth),
  (SELECT count(*) FROM rejected_rows),
  (SELECT count(*) FROM imports), (SELECT max(import_id) FROM imports),
  (SELECT count(*) FILTER (WHERE status = 'undone') FROM imports)"""
# ... and a hash over the quarterly rows, so that a rebuilt city of the same size still reads as new data.
_HASH_SQL = "SELECT coalesce(sum(hash(person_id, name, unit, year, quarter, grade, score, reviewer)), 0) FROM quarterly"
# The first rows' hash: a rebuilt city whose new file got the old inode and the same counts still differs here.
# Read through the tables behind the quarterly view (analytics.quarterly_store): a view has no rowid, and a
# filter on it would join every row first. A store not yet migrated still has its quarterly table.
_SAMPLE_SQL = (
    "SELECT coalesce(sum(hash(p.person_id, p.name, p.unit, f.year, f.quarter, f.grade, f.score, f.reviewer)), 0) "
    "FROM quarterly_facts f JOIN quarterly_people p USING (person_key) WHERE f.rowid < 2048"
)
_OLD_SAMPLE_SQL = _HASH_SQL + " WHERE rowid < 2048"
# Login counters (failed_logins, locked_until) change on every login: left out, they would copy the store each time.
_USERS_SQL = "SELECT count(*), coalesce(sum(hash(user_name, role, units, disabled, password_hash)), 0) FROM users"
_FLAGS_SQL = "SELECT count(*), max(finished_at) FROM flag_runs"


def _digest(row: tuple | None) -> str:
    return hashlib.sha1(repr(row).encode()).hexdigest()[:16]


def data_fingerprint(con: duckdb.DuckDBPyConnection) -> tuple:
    """Row counts of every data table, the imports' ids and statuses, and a hash over the quarterly rows
    (so a rebuilt demo city of the same size still reads as new data); not users, audit or flags."""
    return _fingerprint(con, _counts(con))


def _counts(con: duckdb.DuckDBPyConnection) -> tuple:
    return (quarterly_store.row_count(con), *con.execute(_COUNTS_SQL).fetchone())


def _fingerprint(con: duckdb.DuckDBPyConnection, counts: tuple) -> tuple:
    return (counts[0], con.execute(_HASH_SQL).fetchone()[0], *counts[1:])


def data_version(con: duckdb.DuckDBPyConnection) -> str:
    """The store version of the assessment and survey data: changes with every import, undo or rebuilt demo."""
    return _digest(data_fingerprint(con))


def versions(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """(data version, snapshot version): the second also covers users and stored flags."""
    data = data_version(con)
    return data, _version(data, _rest(con))


def _version(data: str, rest: tuple) -> str:
    """The snapshot version: the data version with the users and stored flags (`_rest`)."""
    return _digest((data, rest))


def _rest(con: duckdb.DuckDBPyConnection) -> tuple:
    return (con.execute(_USERS_SQL).fetchone(), con.execute(_FLAGS_SQL).fetchone())


def _sample(con: duckdb.DuckDBPyConnection) -> tuple:
    try:
        return con.execute(_SAMPLE_SQL).fetchone()
    except duckdb.CatalogException:  # the old layout (a snapshot taken before the store's first write-open)
        return con.execute(_OLD_SAMPLE_SQL).fetchone()


def _state(db: Path, con: duckdb.DuckDBPyConnection) -> tuple:
    """What changes with any new data, users or flags, without hashing the rows: the file's inode (a rebuilt
    demo city is a new file), the data tables' counts and imports, users and flag runs. Audit rows, logins
    and sessions leave it as it was, so the many small writes of a busy morning cost a few counts each."""
    data = (_counts(con), _sample(con))
    return (db.stat().st_ino, data, *_rest(con))


def file_identity(path: Path) -> tuple[int, int, int]:
    """(mtime, size, wal mtime): changes whenever anyone writes to the store, audit rows included."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0, 0)
    wal = Path(str(path) + ".wal")
    return (stat.st_mtime_ns, stat.st_size, wal.stat().st_mtime_ns if wal.exists() else 0)


@dataclass(frozen=True)
class Snapshot:
    source: Path  # the store
    path: Path  # the immutable copy readers open
    data_version: str
    version: str
    raw: tuple[int, int, int]  # the store's file identity when this was checked
    busy: bool = False  # the store was locked by a writer at the last check: this may be behind
    fingerprint: tuple = ()  # data_fingerprint: what analytics.access.data_version answers in the app
    state: tuple = ()  # _state when this was checked (unchanged: the same versions, no hashing)


def folder(db: Path) -> Path:
    return db.parent / "snapshots" / db.stem


_KNOWN: dict[str, Snapshot] = {}
_REFRESH: dict[str, threading.Lock] = {}
_INSTANCES: dict[Path, duckdb.DuckDBPyConnection] = {}
_LOCK = threading.Lock()


def _on_disk(db: Path) -> Snapshot | None:
    """The newest snapshot another process (or an earlier run) left, for when the store is locked now."""
    found = sorted(folder(db).glob("*.duckdb"), key=lambda p: p.stat().st_mtime_ns)
    if not found:
        return None
    newest = found[-1]
    con = duckdb.connect(str(newest), read_only=True)
    try:
        fingerprint = data_fingerprint(con)
        data = _digest(fingerprint)
        version = _version(data, _rest(con))
    finally:
        con.close()
    return Snapshot(db, newest, data, version, (-1, -1, -1), busy=True, fingerprint=fingerprint)


def current(db: str | os.PathLike) -> Snapshot:
    """The snapshot of the store's last committed state, taken now if the store changed since the last one."""
    db = Path(db)
    key = str(db.resolve())
    raw = file_identity(db)
    with _LOCK:
        known = _KNOWN.get(key)
        refresh = _REFRESH.setdefault(key, threading.Lock())
    if known is not None and known.raw == raw:
        return known
    # One check per store at a time in this process. While it runs, readers holding a snapshot keep it rather
    # than queue: after a login (an audit row, so a changed file) 20 sessions each waited their turn 17 times a page.
    if not refresh.acquire(blocking=known is None):
        return known
    try:
        with _LOCK:
            known = _KNOWN.get(key)
        raw = file_identity(db)
        if known is not None and known.raw == raw:
            return known
        snap = _take(db, known)
        with _LOCK:
            _KNOWN[key] = snap
        return snap
    finally:
        refresh.release()


def _take(db: Path, known: Snapshot | None) -> Snapshot:
    try:
        # With a snapshot in hand, never wait: serve it and look again on the next read.
        con = store.connect(db, wait=0 if known is not None else store.LOCK_WAIT_S)
    except store.StoreBusy:
        fallback = known or _on_disk(db)
        if fallback is None:
            raise
        return replace(fallback, busy=True)
    try:
        raw = file_identity(db)
        state = _state(db, con)
        if known is not None and known.state == state and known.path.exists():
            return replace(known, raw=raw, busy=False)  # only audit rows, logins or sessions were written
        remembered = _remembered(db, state, raw)
        if remembered is not None:
            return remembered
        fingerprint = _fingerprint(con, state[1][0])  # the counts just read
        data = _digest(fingerprint)
        version = _version(data, state[2:])
        target = folder(db) / f"{version}.duckdb"
        if not target.exists():
            try:
                con.execute("CHECKPOINT")  # everything committed is in the main file, the WAL is empty
            except duckdb.Error:  # another transaction is open in this process (an import from the Data page)
                if known is not None:
                    return replace(known, busy=True)
                raise
            raw = file_identity(db)
            _copy(db, target)
    finally:
        con.close()
    _prune(db, keep=target)
    snap = Snapshot(db, target, data, version, raw, fingerprint=fingerprint, state=state)
    _remember(snap)
    return snap


def _state_file(db: Path, state: tuple) -> Path:
    return folder(db) / f"state-{_digest(state)}.json"


def _remembered(db: Path, state: tuple, raw: tuple) -> Snapshot | None:
    """The snapshot an earlier process took for this very state (a new process then skips the full hash)."""
    try:
        known = json.loads(_state_file(db, state).read_text(encoding="utf-8"))
        path = folder(db) / f"{known['version']}.duckdb"
        fingerprint = tuple(known["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not path.exists():
        return None
    return Snapshot(db, path, known["data_version"], known["version"], raw, fingerprint=fingerprint, state=state)


def _remember(snap: Snapshot) -> None:
    """Note which snapshot this state has, for the next process (written whole, then renamed)."""
    path = _state_file(snap.source, snap.state)
    text = json.dumps({"version": snap.version, "data_version": snap.data_version, "fingerprint": snap.fingerprint})
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError:  # a read-only folder: the next process hashes again
        partial.unlink(missing_ok=True)


def _copy(db: Path, target: Path) -> None:
    """Copy the checkpointed file under a temporary name, then rename: readers only ever see whole copies."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        shutil.copyfile(db, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _prune(db: Path, keep: Path) -> None:
    """Keep the newest KEEP snapshots (open files stay readable to processes that still use them)."""
    found = sorted(folder(db).glob("*.duckdb"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in [p for p in found if p != keep][KEEP - 1 :]:
        with _LOCK:
            instance = _INSTANCES.pop(old, None)
        if instance is not None:
            instance.close()
        old.unlink(missing_ok=True)
    kept = {p.stem for p in folder(db).glob("*.duckdb")}
    for note in folder(db).glob("state-*.json"):
        try:
            stale = json.loads(note.read_text(encoding="utf-8")).get("version") not in kept
        except (OSError, ValueError, AttributeError):
            stale = True
        if stale:
            note.unlink(missing_ok=True)


def reader(db: str | os.PathLike, snap: Snapshot | None = None) -> duckdb.DuckDBPyConnection:
    """A cursor on the latest snapshot's (or `snap`'s) one read-only instance in this process (close it when done)."""
    snap = snap or current(db)
    with _LOCK:
        instance = _INSTANCES.get(snap.path)
        if instance is None:
            instance = duckdb.connect(str(snap.path), read_only=True)
            _INSTANCES[snap.path] = instance
        _SOURCES[str(snap.path.resolve())] = snap.source
        return instance.cursor()


_SOURCES: dict[str, Path] = {}  # snapshot file -> the store it copies (for what belongs to the store: its secrets)


def store_of(path: str | os.PathLike) -> Path:
    """The store a file opened in this process stands for: the store itself, or the store a snapshot copies."""
    with _LOCK:
        return _SOURCES.get(str(Path(path).resolve()), Path(path))


def forget() -> None:
    """Close every snapshot instance of this process (tests, and a demo city rebuilt in place)."""
    with _LOCK:
        for instance in _INSTANCES.values():
            instance.close()
        _INSTANCES.clear()
        _KNOWN.clear()
