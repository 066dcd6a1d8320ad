"""Reading the `appeals` table within a user's scope (the same unit scope as every other table)."""

from __future__ import annotations

import duckdb
import polars as pl

from analytics import store
from analytics.dataset import EVERYTHING, AssessmentData, Scope
from analytics.schema import APPEALS


def load_appeals(con: duckdb.DuckDBPyConnection, scope: Scope = EVERYTHING) -> pl.DataFrame:
    """Every appeal the scope may see (researchers see none: appeals are personal and free text)."""
    if scope.pseudonymise:
        return APPEALS.empty()
    cond, params = scope.where("unit")
    return con.execute(f"SELECT * FROM appeals WHERE {cond} ORDER BY appeal_date, person_id", params).pl()


def load_appeals_at(db: str, scope: Scope = EVERYTHING) -> pl.DataFrame:
    """load_appeals on a short-lived connection (the app's cache calls this with the store path)."""
    con = store.connect(db)
    try:
        return load_appeals(con, scope)
    finally:
        con.close()


def within(appeals: pl.DataFrame, data: AssessmentData) -> pl.DataFrame:
    """The appeals of the units in `data` (the sidebar's filters narrow appeals as they narrow grades)."""
    units = pl.concat([data.quarterly.select("unit"), data.annual.select("unit")]).unique()
    return appeals.join(units, on="unit", how="semi")
