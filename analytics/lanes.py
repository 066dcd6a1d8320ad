"""Lanes (分类考核, 赛道): who is compared with whom.

An explicit lane column in the data wins; then the settings' lane rules; then the default
lane built from the columns present (unit type x position level). Lanes too small to rank
in a period are pooled with the other small lanes of their unit type ('乡镇街道·合并'),
then, if still too small, into one pool ('合并赛道'), and say so in
`lane_pooled_from`; nobody is dropped.
"""

from __future__ import annotations

import polars as pl

from analytics.settings import Settings

UNASSIGNED = "未分类"
POOL = "合并赛道"


def _rule_lane(frame: pl.DataFrame, settings: Settings) -> pl.Expr:
    expr = pl.lit(None, dtype=pl.Utf8)
    # Reverse so that the first rule in the file is applied last and wins.
    for rule in reversed(settings.lanes.rules):
        cond = pl.lit(True)
        for col, allowed in (
            ("unit_type", rule.unit_types),
            ("position_level", rule.position_levels),
            ("unit", rule.units),
        ):
            if allowed and col in frame.columns:
                cond = cond & pl.col(col).is_in(list(allowed))
            elif allowed:
                cond = pl.lit(False)
        expr = pl.when(cond).then(pl.lit(rule.name)).otherwise(expr)
    return expr


def _default_lane(frame: pl.DataFrame, settings: Settings) -> pl.Expr:
    parts = [c for c in settings.lanes.default_columns if c in frame.columns and frame[c].null_count() < frame.height]
    if not parts:
        return pl.lit(UNASSIGNED)
    return pl.concat_str([pl.col(c).fill_null("?") for c in parts], separator="·")


def assign_lanes(frame: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Return a copy with `lane` filled for every row (explicit > rule > default)."""
    explicit = pl.col("lane") if "lane" in frame.columns else pl.lit(None, dtype=pl.Utf8)
    return frame.with_columns(
        pl.coalesce(explicit, _rule_lane(frame, settings), _default_lane(frame, settings), pl.lit(UNASSIGNED)).alias(
            "lane"
        )
    )


def pool_small_lanes(frame: pl.DataFrame, settings: Settings, by: list[str] | None = None) -> pl.DataFrame:
    """Pool lanes with fewer than `lanes.min_size` people (per `by`, e.g. year+quarter).

    Adds `lane_pooled_from` (the original lane where pooled, else null). Small lanes go to
    their unit type's lane first; what is still too small goes to one pool.
    """
    by = by or []
    min_size = settings.lanes.min_size
    size = pl.col("person_id").n_unique().over(["lane", *by])
    out = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("lane_pooled_from"))
    steps = []
    if "unit_type" in frame.columns:
        steps.append(pl.concat_str([pl.col("unit_type").fill_null("?"), pl.lit("·合并")]))
    steps.append(pl.lit(POOL))
    for target in steps:
        out = (
            out.with_columns(small=size < min_size)
            .with_columns(
                lane_pooled_from=pl.when(pl.col("small"))
                .then(pl.coalesce("lane_pooled_from", "lane"))
                .otherwise("lane_pooled_from"),
                lane=pl.when(pl.col("small")).then(target).otherwise("lane"),
            )
            .drop("small")
        )
    return out


def lane_sql(settings: Settings, filled: list[str] | tuple[str, ...]) -> tuple[str, list]:
    """The SQL expression (with its bound parameters) that `assign_lanes` computes, for reading lanes in DuckDB.

    `filled` names the columns holding at least one value in the rows read: the default lane is built
    from those of `lanes.default_columns`, as `assign_lanes` does. Identifiers are quoted, values bound.
    """
    from analytics.store import quote_ident

    params: list = []
    whens = []
    for rule in settings.lanes.rules:  # first rule wins, as in _rule_lane
        conds = []
        for col, allowed in (
            ("unit_type", rule.unit_types),
            ("position_level", rule.position_levels),
            ("unit", rule.units),
        ):
            if allowed:
                conds.append(f"{quote_ident(col)} IN (SELECT unnest(?))")
                params.append(list(allowed))
        whens.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN ?")
        params.append(rule.name)
    rule_expr = f"CASE {' '.join(whens)} ELSE NULL END" if whens else "NULL"
    parts = [c for c in settings.lanes.default_columns if c in filled]
    # UNASSIGNED is this module's constant, written as a literal like '?' and '·' (settings' values are bound):
    # a query without bound values also spares DuckDB its import of pandas.
    unassigned = "'" + UNASSIGNED.replace("'", "''") + "'"
    default = " || '·' || ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), '?')" for c in parts) or unassigned
    return f"coalesce({quote_ident('lane')}, {rule_expr}, {default}, {unassigned})", params
