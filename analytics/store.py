"""The embedded store: one DuckDB file, its location, and safe ways to open it.

DuckDB allows one writing process per file, so writers open, write in one transaction
and close. Within ONE process every connection to a file must share its configuration:
a read-only and a read-write connection to the same file cannot coexist. So the app opens
read-write (short-lived) everywhere, and read-only is for separate processes (CLI readers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from analytics.schema import BY_NAME, TABLES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DB = DATA_DIR / "kaohe.duckdb"
DEMO_DB = DATA_DIR / "demo.duckdb"


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """Where the store lives: --db, else $KAOHE_DB, else data/kaohe.duckdb."""
    return Path(explicit or os.environ.get("KAOHE_DB") or DEFAULT_DB)


def originals_dir(db: Path) -> Path:
    """Originals are kept byte for byte beside the store, content-addressed by sha256."""
    return db.parent / "originals"


_SHARED_PROCESS = False


def share_connections() -> None:
    """Declare this process one that both reads and writes (the app): every connect() then opens
    read-write, so concurrent readers and an import never meet DuckDB's one-configuration rule.
    Read-only safety for user SQL comes from the SQL workspace's in-memory sandbox instead."""
    global _SHARED_PROCESS
    _SHARED_PROCESS = True


def connect(path: str | os.PathLike | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store, creating the file and its tables on first write-open."""
    p = db_path(path)
    if read_only and _SHARED_PROCESS and p.exists():
        read_only = False
    if read_only:
        if not p.exists():
            raise FileNotFoundError(f"no store at {p}")
        return duckdb.connect(str(p), read_only=True)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(p))
    ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES:
        con.execute(table.ddl())
    # Stores made before a documented column was added get it (columns are only ever added, never renamed).
    have = set(con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall())
    for table in TABLES:
        for name, typ, _ in table.columns:
            if (table.name, name) not in have and "PRIMARY" not in typ:
                con.execute(f"ALTER TABLE {quote_ident(table.name)} ADD COLUMN {quote_ident(name)} {typ}")
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
