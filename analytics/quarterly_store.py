"""How the quarterly grades are stored: narrow facts plus each distinct set of person attributes once.

A person's name, unit, section, rank ... are the same on most of their quarterly rows, so writing them on
every row wrote 9 text columns per fact. They live in `quarterly_people` (one row per distinct attribute
combination, keyed by an integer `person_key`: turnover moves a person between units, so one person can
have several), and `quarterly_facts` holds the grade, score, period and trace columns with that key.
`quarterly` is a view joining the two: the same documented columns and types as before, so researchers'
SQL, the DuckDB CLI and every reader see no difference. Writers go through `insert` (store.insert_frame
routes "quarterly" here) and deleters through `delete_import`; `migrate` turns a store written in the old
layout (a `quarterly` table) into this one when the store is opened for writing.
"""

from __future__ import annotations

import secrets

import duckdb
import polars as pl

from analytics.schema import PERSON_COLUMNS, QUARTERLY, QUARTERLY_FACTS, QUARTERLY_PEOPLE, quarterly_view_sql

KEY = "person_key"
_PEOPLE, _FACTS = QUARTERLY_PEOPLE.name, QUARTERLY_FACTS.name


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _same_person(left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(c)} IS NOT DISTINCT FROM {right}.{_q(c)}" for c in PERSON_COLUMNS)


def insert(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> int:
    """Append quarterly rows (documented columns; missing ones NULL): new attribute sets get a key, facts the key."""
    if frame.height == 0:
        return 0
    schema = QUARTERLY.polars_schema()
    people = frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(schema[c]).alias(c) for c in PERSON_COLUMNS]
    )
    identity = _identity(people)
    first = identity.select(pl.struct(_IDENTITY).is_first_distinct()).to_series()
    keys = _keys(con, people.filter(first).hstack(identity.filter(first)))
    # Each row's key by a join on its identity (two integers, not nine text columns), in the file's row order.
    keyed = identity.join(keys.select(*_IDENTITY, KEY), on=_IDENTITY, how="left", maintain_order="left")
    fact_columns = [c for c in QUARTERLY_FACTS.column_names if c != KEY and c in frame.columns]
    _facts = frame.select(fact_columns).with_columns(keyed[KEY]).to_arrow()  # noqa: F841 (DuckDB reads it by name)
    cols = ", ".join(_q(c) for c in [KEY, *fact_columns])
    con.execute(f"INSERT INTO {_FACTS} ({cols}) SELECT {cols} FROM _facts")
    return frame.height


_IDENTITY = ["__identity_1", "__identity_2"]


def _identity(people: pl.DataFrame) -> pl.DataFrame:
    """Each row's attribute set as two 64-bit hashes under fresh random keys: 128 bits, so two different sets
    share them with a chance near 2^-90 even at millions of sets, and no file can be made to collide without
    the keys. Grouping on them instead of on nine text columns: 5 s and 1.5 GB less at 200,000 people."""
    attributes = pl.struct(PERSON_COLUMNS)
    return people.select(
        attributes.hash(*(secrets.randbits(64) for _ in range(4))).alias(_IDENTITY[0]),
        attributes.hash(*(secrets.randbits(64) for _ in range(4))).alias(_IDENTITY[1]),
    )


def _keys(con: duckdb.DuckDBPyConnection, distinct: pl.DataFrame) -> pl.DataFrame:
    """`distinct` attribute sets (and any columns beside them) with their person_key: the stored one, or a new
    one stored now."""
    _distinct = distinct.to_arrow()  # noqa: F841
    cols = ", ".join(_q(c) for c in PERSON_COLUMNS)
    found = con.execute(f"SELECT d.*, p.{KEY} FROM _distinct d LEFT JOIN {_PEOPLE} p ON {_same_person('d', 'p')}").pl()
    found = found.with_columns(pl.col(KEY).cast(pl.Int32))
    new = found.filter(pl.col(KEY).is_null())
    if new.height:
        start = con.execute(f"SELECT coalesce(max({KEY}), 0) FROM {_PEOPLE}").fetchone()[0] + 1
        new = new.with_columns(pl.int_range(start, start + new.height, dtype=pl.Int32).alias(KEY))
        _new = new.select(KEY, *PERSON_COLUMNS).to_arrow()  # noqa: F841
        con.execute(f"INSERT INTO {_PEOPLE} ({KEY}, {cols}) SELECT {KEY}, {cols} FROM _new")
        found = pl.concat([found.filter(pl.col(KEY).is_not_null()), new.select(found.columns)])
    return found


def delete_import(con: duckdb.DuckDBPyConnection, import_id: int) -> int:
    """Remove one import's quarterly rows, and the attribute sets no remaining row uses; rows removed."""
    removed = con.execute(f"DELETE FROM {_FACTS} WHERE import_id = ? RETURNING 1", [import_id]).pl().height
    if removed:
        con.execute(f"DELETE FROM {_PEOPLE} WHERE {KEY} NOT IN (SELECT DISTINCT {KEY} FROM {_FACTS})")
    return removed


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """The view over the stored tables, after migrating a store that still has a `quarterly` table."""
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'quarterly' AND table_schema = 'main'"
    ).fetchone()
    if kind is not None and kind[0] == "BASE TABLE":
        migrate(con)
    elif kind is None or _view_columns(con) != QUARTERLY.column_names:
        con.execute(f"CREATE OR REPLACE VIEW quarterly AS {quarterly_view_sql()}")


def _view_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'quarterly' AND table_schema = 'main' "
        "ORDER BY ordinal_position"
    ).fetchall()
    return [r[0] for r in rows]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Old layout -> new, in one transaction: the `quarterly` table's rows split into people and facts
    (same rows, same order), the table dropped and the view made in its place. Returns the rows moved."""
    cols = ", ".join(_q(c) for c in PERSON_COLUMNS)
    facts = [c for c in QUARTERLY_FACTS.column_names if c != KEY]
    con.execute("BEGIN TRANSACTION")
    try:
        start = con.execute(f"SELECT coalesce(max({KEY}), 0) FROM {_PEOPLE}").fetchone()[0]
        con.execute(
            f"INSERT INTO {_PEOPLE} ({KEY}, {cols}) SELECT {start} + row_number() OVER (ORDER BY first), {cols} "
            f"FROM (SELECT {cols}, min(rowid) AS first FROM quarterly GROUP BY ALL)"
        )
        moved = con.execute("SELECT count(*) FROM quarterly").fetchone()[0]
        con.execute(
            f"INSERT INTO {_FACTS} ({KEY}, {', '.join(map(_q, facts))}) "
            f"SELECT p.{KEY}, {', '.join('q.' + _q(c) for c in facts)} FROM quarterly q "
            f"JOIN {_PEOPLE} p ON {_same_person('q', 'p')} ORDER BY q.rowid"
        )
        con.execute("DROP TABLE quarterly")
        con.execute(f"CREATE VIEW quarterly AS {quarterly_view_sql()}")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return moved


def row_count(con: duckdb.DuckDBPyConnection) -> int:
    """The quarterly rows, counted on the facts (counting the view would join every row to its person first)."""
    try:
        return con.execute(f"SELECT count(*) FROM {_FACTS}").fetchone()[0]
    except duckdb.CatalogException:  # the old layout, read-only (a store or snapshot not yet migrated)
        return con.execute("SELECT count(*) FROM quarterly").fetchone()[0]
