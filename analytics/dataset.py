"""The assessment data the analytics work on: frames loaded from the store, within a scope.

Every page and command goes through `load_dataset`, which applies the user's scope (the units
they may see) in SQL before anything is computed, and fills each person's lane.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from analytics.lanes import assign_lanes, lane_sql
from analytics.privacy import pseudonym_key, researcher_view
from analytics.quarterly_store import KEY
from analytics.schema import ANNUAL, OUTCOMES, QUARTERLY, QUARTERLY_FACTS, QUARTERLY_PEOPLE
from analytics.settings import Settings
from analytics.store import quote_ident


@dataclass(frozen=True)
class Scope:
    """What a user may see. units=None means every unit."""

    units: frozenset[str] | None = None
    pseudonymise: bool = False

    def where(self, column: str = "unit") -> tuple[str, list]:
        """SQL condition and bound parameters restricting rows to the scope."""
        if self.units is None:
            return "TRUE", []
        return f"{quote_ident(column)} IN (SELECT unnest(?))", [sorted(self.units)]


EVERYTHING = Scope()


@dataclass(frozen=True)
class AssessmentData:
    quarterly: pl.DataFrame
    annual: pl.DataFrame
    outcomes: pl.DataFrame

    @property
    def is_empty(self) -> bool:
        return self.quarterly.height == 0 and self.annual.height == 0 and self.outcomes.height == 0


def _read(con: duckdb.DuckDBPyConnection, table: str, scope: Scope) -> pl.DataFrame:
    cond, params = scope.where("unit")
    return con.execute(f"SELECT * FROM {quote_ident(table)} WHERE {cond}", params).pl()


def _read_with_lanes(con: duckdb.DuckDBPyConnection, table, scope: Scope, settings: Settings) -> pl.DataFrame:
    """The table's rows within scope with `lane` filled in SQL, as assign_lanes would fill it (one pass, no copy)."""
    cond, params = scope.where("unit")
    name = quote_ident(table.name)
    candidates = [c for c in settings.lanes.default_columns if c in table.column_names]
    filled: list[str] = []
    if candidates:
        counts = ", ".join(f"count({quote_ident(c)})" for c in candidates)
        found = con.execute(f"SELECT {counts} FROM {name} WHERE {cond}", params).fetchone()
        filled = [c for c, n in zip(candidates, found or (), strict=False) if n]
    lane, lane_params = lane_sql(settings, filled)
    sql = f"SELECT * REPLACE ({lane} AS {quote_ident('lane')}) FROM {name} WHERE {cond}"
    return con.execute(sql, [*lane_params, *params]).pl()


def _read_quarterly(con: duckdb.DuckDBPyConnection, scope: Scope, settings: Settings) -> pl.DataFrame:
    """The quarterly view's rows within scope with `lane` filled, as _read_with_lanes reads them from the view.

    Read from the tables behind the view (analytics.quarterly_store) and joined here: a person's attributes
    and lane come once per attribute set, and the join gathers them onto the facts as views into those few
    strings, instead of a copy of every unit name, section and lane on each of millions of rows (at province
    scale the quarterly frame holds 580 MB instead of 760, and reading it peaks 1 GB lower). A store not yet
    migrated is read through its table.
    """
    layout = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
        [QUARTERLY.name],
    ).fetchone()
    if layout is None or layout[0] != "VIEW":  # the old layout, read-only (a store or snapshot not yet migrated)
        return _read_with_lanes(con, QUARTERLY, scope, settings)
    cond, params = scope.where("unit")
    people_table, facts_table = quote_ident(QUARTERLY_PEOPLE.name), quote_ident(QUARTERLY_FACTS.name)
    # The default lane's columns holding a value on the rows read, as _read_with_lanes counts them.
    candidates = [c for c in settings.lanes.default_columns if c in QUARTERLY.column_names]
    counts = ", ".join(f"count({quote_ident(c)})" for c in candidates) or "0"
    found = con.execute(
        f"SELECT {counts} FROM {people_table} WHERE {cond} AND {KEY} IN (SELECT {KEY} FROM {facts_table})", params
    ).fetchone()
    filled = [c for c, n in zip(candidates, found or (), strict=False) if n]
    lane, lane_params = lane_sql(settings, filled)
    people = con.execute(
        f"SELECT {KEY}, * EXCLUDE ({KEY}) REPLACE ({lane} AS {quote_ident('lane')}) FROM {people_table} WHERE {cond}",
        [*lane_params, *params],
    ).pl()
    # A plain scan returns the facts in their stored order (DuckDB preserves insertion order unless told not to),
    # the view's ORDER BY rowid: sorting them again held every fact twice (600 MB, not 350, at province scale).
    if scope.units is None:
        facts = con.execute(f"SELECT * FROM {facts_table}").pl()
    else:
        within = f"{KEY} IN (SELECT {KEY} FROM {people_table} WHERE {cond})"
        facts = con.execute(f"SELECT * FROM {facts_table} WHERE {within}", params).pl()
    # Inner and in the facts' order, as the view joins them.
    return facts.join(people, on=KEY, how="inner", maintain_order="left").select(QUARTERLY.column_names)


def load_dataset(con: duckdb.DuckDBPyConnection, settings: Settings, scope: Scope = EVERYTHING) -> AssessmentData:
    """Quarterly (with lanes), annual (with the person's latest lane) and outcomes, within scope."""
    quarterly = _read_quarterly(con, scope, settings)
    annual = _read(con, ANNUAL.name, scope)
    # Sort only the four columns needed, not every column of every row (the sort was most of the load's cost).
    latest = quarterly.select("person_id", "year", "quarter", "lane").sort("year", "quarter")
    lane_of = latest.group_by("person_id").agg(pl.col("lane").last().alias("_lane"))
    annual = (
        annual.join(lane_of, on="person_id", how="left")
        .with_columns(pl.coalesce("lane", "_lane").alias("lane"))
        .drop("_lane")
    )
    annual = assign_lanes(annual, settings)
    data = AssessmentData(quarterly=quarterly, annual=annual, outcomes=_read(con, OUTCOMES.name, scope))
    return pseudonymised(data, pseudonym_key(con)) if scope.pseudonymise else data


def pseudonymised(data: AssessmentData, salt: str) -> AssessmentData:
    """Researchers' view: person_id, name and reviewer as keyed-hash pseudonyms (keyed by the store's
    secret, analytics.privacy.pseudonym_key), `extra` and outcome `detail` blanked
    (analytics.privacy.researcher_view). Pseudonyms are stable, so per-person and per-reviewer
    analytics still work."""
    return AssessmentData(
        quarterly=researcher_view(data.quarterly, salt),
        annual=researcher_view(data.annual, salt),
        outcomes=researcher_view(data.outcomes, salt),
    )


def frames(
    quarterly: pl.DataFrame | None = None,
    annual: pl.DataFrame | None = None,
    outcomes: pl.DataFrame | None = None,
    settings: Settings | None = None,
) -> AssessmentData:
    """Build AssessmentData from hand-made frames (tests): missing columns become nulls, lanes filled."""
    settings = settings or Settings()

    def complete(frame: pl.DataFrame | None, table) -> pl.DataFrame:
        if frame is None:
            return table.empty()
        schema = table.polars_schema()
        missing = [pl.lit(None, dtype=schema[c]).alias(c) for c in table.column_names if c not in frame.columns]
        return frame.with_columns(missing) if missing else frame

    q = assign_lanes(complete(quarterly, QUARTERLY), settings)
    return AssessmentData(
        quarterly=q, annual=assign_lanes(complete(annual, ANNUAL), settings), outcomes=complete(outcomes, OUTCOMES)
    )
