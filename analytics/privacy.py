"""Privacy for research views: small groups suppressed, people replaced by stable pseudonyms.

Every table and chart a researcher sees passes through `suppress_small` (a group smaller than
settings.privacy.k_min has its counts and every value derived from them blanked, and is marked
`suppressed`), and researcher exports pass person columns through `pseudonymise` (a keyed hash:
the same person gets the same pseudonym in every table, so joins still work, but the pseudonym
cannot be turned back into the id without the key). The key is the store's own random secret
(analytics.secrets_store, a 0600 file beside the store that no query can read): a public default
salt let anyone hash a name dictionary and reverse every pseudonym.
"""

from __future__ import annotations

import os

import duckdb
import polars as pl

from analytics import snapshots
from analytics.secrets_store import store_secret
from analytics.settings import Settings, load_settings

SUPPRESSED = "suppressed"
PSEUDONYM_HEX = 10  # 40 bits: collisions stay unlikely for 100,000+ people (birthday bound ~0.5%)


def k_min(settings: Settings | None = None) -> int:
    """The smallest group shown (settings.privacy.k_min, default 5)."""
    return (settings or load_settings()).privacy.k_min


def pseudonym_key(db: str | os.PathLike | duckdb.DuckDBPyConnection | None) -> str:
    """The store's pseudonym key: from its path, or from an open connection (the file it holds).

    An in-memory connection or None gets a key that lives as long as the process.
    """
    if isinstance(db, duckdb.DuckDBPyConnection):
        row = db.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
        db = row[0] if row else None
    if db:  # the app reads a snapshot of the store: the key is the store's, the same in every snapshot
        db = snapshots.store_of(db)
    return store_secret(db, "pseudonym")


def suppress_small(
    frame: pl.DataFrame,
    count_col: str,
    k: int | None = None,
    derived: list[str] | None = None,
    keep: list[str] | None = None,
) -> pl.DataFrame:
    """Blank the count and derived values of rows whose count is below k, and mark them `suppressed`.

    `derived`: columns to blank with the count (default: every numeric column not in `keep`).
    A row with a null count is treated as suppressed too. Rows are kept so a table still lists
    the group, with nothing that reveals its size or answers.

    >>> suppress_small(pl.DataFrame({"unit": ["a", "b"], "n": [4, 9]}), "n", k=5)["n"].to_list()
    [None, 9]
    """
    k = k_min() if k is None else k
    keep = set(keep or ())
    if derived is None:
        derived = [c for c, t in frame.schema.items() if t.is_numeric() and c not in keep and c != count_col]
    small = pl.col(count_col).is_null() | (pl.col(count_col) < k)
    blank = [count_col, *[c for c in derived if c != count_col]]
    previous = pl.col(SUPPRESSED) if SUPPRESSED in frame.columns else pl.lit(False)
    # Decide from the original counts before any column is blanked.
    return (
        frame.with_columns(small.alias("_small"))
        .with_columns(
            *[pl.when(pl.col("_small")).then(None).otherwise(pl.col(c)).alias(c) for c in blank],
            (previous | pl.col("_small")).alias(SUPPRESSED),
        )
        .drop("_small")
    )


def pseudonymise(frame: pl.DataFrame, columns: list[str], salt: str | None = None, prefix: str = "P-") -> pl.DataFrame:
    """Replace each listed column's values by a keyed-hash pseudonym such as 'P-3f9a2c81d0'.

    Stable for a given salt (same value -> same pseudonym, in every table), nulls stay null; salt None
    means this process's own key (never a public default). The column (reviewer counts as name) is part
    of the key, so a person's id and name give different pseudonyms.
    """
    salt = pseudonym_key(None) if salt is None else salt
    present = [c for c in columns if c in frame.columns]
    if not present or frame.height == 0:
        return frame
    con = duckdb.connect(":memory:")
    try:
        con.register("_frame", frame.select(present).with_row_index("_i").to_arrow())
        exprs = ", ".join(
            f"CASE WHEN {_q(c)} IS NULL THEN NULL "
            f"ELSE ? || substr(sha256(? || chr(31) || ? || chr(31) || CAST({_q(c)} AS VARCHAR)), 1, {PSEUDONYM_HEX}) END "
            f"AS {_q(c)}"
            for c in present
        )
        params = [p for c in present for p in (prefix, salt, _KEY_OF.get(c, c))]
        hashed = con.execute(f"SELECT {exprs} FROM _frame ORDER BY _i", params).pl()
    finally:
        con.close()
    return frame.with_columns(hashed.get_column(c).alias(c) for c in present)


# Columns holding the same kind of value share a key, so a reviewer's pseudonym is their name's.
_KEY_OF = {"reviewer": "name"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Person columns in the documented tables that researcher exports must never show as written.
PERSON_COLUMNS = ("person_id", "name", "reviewer")


def pseudonymise_people(frame: pl.DataFrame, salt: str | None = None) -> pl.DataFrame:
    """person_id, name and reviewer pseudonymised; other columns untouched."""
    return pseudonymise(frame, [c for c in PERSON_COLUMNS if c in frame.columns], salt)


FREE_TEXT_COLUMNS = ("extra", "detail")  # other source columns (身份证号 ...) and outcome notes can name people


def researcher_view(frame: pl.DataFrame, salt: str | None = None) -> pl.DataFrame:
    """What a researcher may see of a person table: pseudonyms for people, free text blanked."""
    frame = pseudonymise_people(frame, salt)
    return frame.with_columns(
        pl.lit(None, dtype=frame.schema[c]).alias(c) for c in FREE_TEXT_COLUMNS if c in frame.columns
    )
