"""The embedded store: one DuckDB file, its location, and safe ways to open it.

DuckDB allows one writing process per file (or many read-only ones), and within one process every
connection to a file must share its configuration (DuckDB then shares one instance among them, and
gives the file's lock back when the last one closes). Two kinds of process use the store:

- Command-line processes open the file directly; a writer (import, undo) holds the lock for its one
  transaction. When another process holds the lock, opening waits with backoff (`LOCK_WAIT_S`).
- The app (`share_connections()`) serves many sessions at once. Its reads come from an immutable
  snapshot (analytics.snapshots): a copy of the store taken after each committed change, opened
  read-only once per process, so reads never wait for a CLI import or undo. Its writes (audit rows,
  logins, imports from the Data page) open the store itself read-write for a moment, as the CLI does;
  audit rows that would wait for another process's lock are queued (analytics.write_queue).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from analytics import faults
from analytics.errors import UserError
from analytics.schema import BY_NAME, TABLES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DB = DATA_DIR / "kaohe.duckdb"
DEMO_DB = DATA_DIR / "demo.duckdb"

# How long a writer waits for another process's lock before giving up (an import of a province takes ~10 s).
LOCK_WAIT_S = float(os.environ.get("KAOHE_LOCK_WAIT", "30"))
# The longest an open waits for another thread of this process to finish closing the file (closing the last
# connection checkpoints, which takes seconds on a busy machine).
CLOSING_WAIT_S = 10.0


class StoreBusy(UserError):
    """Another process holds the store's write lock (an import or undo is running)."""

    def __init__(self, path: Path):
        super().__init__(
            f"数据正在更新，请稍后再试 / the store is being updated (an import or undo is running); try again shortly: {path.name}"
        )


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """Where the store lives: --db, else $KAOHE_DB, else data/kaohe.duckdb."""
    return Path(explicit or os.environ.get("KAOHE_DB") or DEFAULT_DB)


def originals_dir(db: Path) -> Path:
    """Originals are kept byte for byte beside the store, content-addressed by sha256."""
    return db.parent / "originals"


_SHARED_PROCESS = False


def import_pandas() -> None:
    """Import pandas now. DuckDB imports it at its first bound parameter (about half a second), so a process
    that will soon query with parameters calls this in a thread beforehand (the CLI import while its parse
    worker reads, the app's warm-up before the first login)."""
    import pandas  # noqa: F401


def share_connections(shared: bool = True) -> None:
    """Declare this process one that serves many sessions (the app): read-only opens then read the
    latest snapshot, and writes open the store read-write (see the module docstring). False undoes it
    (tests that ran the app in this process)."""
    global _SHARED_PROCESS
    _SHARED_PROCESS = shared


def is_shared() -> bool:
    return _SHARED_PROCESS


def open_waiting(path: Path, read_only: bool, wait: float = LOCK_WAIT_S) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried with backoff while another process holds the lock; StoreBusy after `wait` s."""
    deadline = time.monotonic() + wait
    pause = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.BinderException as exc:
            # Another thread of this process is closing the file's last connection (DuckDB tears the instance
            # down, and an open meanwhile reads "Unique file handle conflict"): a moment's wait, however short `wait`.
            if not faults.is_closing(exc):
                raise
            if time.monotonic() > deadline + CLOSING_WAIT_S:
                raise StoreBusy(path) from None
            time.sleep(0.01)
            continue
        except duckdb.IOException as exc:
            if not faults.is_locked(exc):  # a damaged file, say: not worth waiting for
                raise
            if time.monotonic() + pause > deadline:
                raise StoreBusy(path) from None
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def connect(
    path: str | os.PathLike | None = None, read_only: bool = False, wait: float | None = None, fresh: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the store, creating the file and its tables on first write-open.

    In the app (share_connections) a read-only open is a cursor on the latest snapshot, closed when done.
    `fresh`: read what was written a moment ago, the audit log say (in the app: the store itself, opened
    read-write like every connection of the app to it, not the snapshot, which follows data, users and flags only).
    """
    p = db_path(path)
    wait = LOCK_WAIT_S if wait is None else wait
    if read_only:
        if not p.exists():
            raise FileNotFoundError(f"no store at {p}")
        if not _SHARED_PROCESS:
            return open_waiting(p, read_only=True, wait=wait)
        if not fresh:
            from analytics import snapshots

            return snapshots.reader(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = open_waiting(p, read_only=False, wait=wait)
    try:
        ensure_schema(con)
    except BaseException:
        con.close()
        raise
    return con


# ----------------------------------------------------------------------------- schema and helpers


_DOCUMENTED = frozenset((table.name, name) for table in TABLES for name, _, _ in table.columns)
_PRESENT_SQL = """SELECT table_name, column_name FROM duckdb_columns()
                  WHERE database_name = current_database() AND schema_name = 'main'"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    from analytics import quarterly_store

    # The app opens the store for every short write: one catalogue query settles the usual case (nothing to add).
    have = set(con.execute(_PRESENT_SQL).fetchall())
    sequence = con.execute("SELECT count(*) FROM duckdb_sequences() WHERE sequence_name = 'import_seq'").fetchone()
    if have >= _DOCUMENTED and sequence[0]:
        return
    for table in TABLES:
        if not table.view:
            con.execute(table.ddl())
    # Stores made before a documented column was added get it (columns are only ever added, never renamed);
    # an old store's `quarterly` table too, before quarterly_store moves it into the tables behind the view.
    have = set(
        con.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE t.table_type = 'BASE TABLE'"
        ).fetchall()
    )
    tables = {name for name, _ in have}
    for table in TABLES:
        for name, typ, _ in table.columns if table.name in tables else ():
            if (table.name, name) not in have and "PRIMARY" not in typ:
                con.execute(f"ALTER TABLE {quote_ident(table.name)} ADD COLUMN {quote_ident(name)} {typ}")
    quarterly_store.ensure(con)
    con.execute("CREATE SEQUENCE IF NOT EXISTS import_seq START 1")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends normally, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def quote_ident(name: str) -> str:
    """Quote an identifier for SQL text (values are always bound as parameters)."""
    return '"' + name.replace('"', '""') + '"'


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Append a frame to a documented table; missing columns are NULL, unknown ones refused."""
    columns = BY_NAME[table].column_names
    unknown = set(frame.columns) - set(columns)
    if unknown:
        raise ValueError(f"{table}: unknown columns {sorted(unknown)}")
    if frame.height == 0:
        return 0
    if BY_NAME[table].view:  # quarterly: attributes and facts stored apart (analytics.quarterly_store)
        from analytics import quarterly_store

        return quarterly_store.insert(con, frame)
    present = [c for c in columns if c in frame.columns]
    # DuckDB reads this local by name (a replacement scan). A registered view would keep every chunk's
    # data alive until the transaction ends: +250 MB per million rows appended in one transaction.
    _incoming = frame.select(present).to_arrow()  # noqa: F841
    cols = ", ".join(quote_ident(c) for c in present)
    con.execute(f"INSERT INTO {quote_ident(table)} ({cols}) SELECT {cols} FROM _incoming")
    return frame.height


def read_table(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """A whole documented table as a Polars frame (empty with the right columns if none)."""
    return con.sql(f"SELECT * FROM {quote_ident(BY_NAME[table].name)}").pl()


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t.name: con.execute(f"SELECT count(*) FROM {quote_ident(t.name)}").fetchone()[0] for t in TABLES}
