"""Sole reviewers (and units whose data name no reviewer): judged by the unit's 好 against the cap and its lane.

A unit hands out 好 by rank within its own quota, so a unit whose people score low still gives its 40%; comparing
raw scores across units makes every such unit look lenient. Where one reviewer grades the whole unit there is
nobody inside the unit to compare with, and the only fair evidence is how many 好 the unit gave:

- against the cap, quarter by quarter: allowed A = sum_t quota_t (quota_t = max(floor(cap n_t), minimum)), given
  K = sum_t k_t of N graded; p_cap = P(Binomial(N, A / N) >= K): a unit that keeps to its quota is never unusual;
- against its lane: a robust random-effects z of the share against the lane's median unit, the spread between
  units (tau^2, from the MAD) in the standard error (_unit_stats.robust_lane_z); units with a median below
  settings.leniency.min_unit_size people a quarter are not compared with the lane (their quota floor puts them
  above it by arithmetic).

Both must hold (an intersection-union test): p = max(p_cap, p_lane), or p_cap where the lane cannot be used.
The lane comparison's standard error includes the variance between the lane's units (tau^2): with it, a unit
is unusual only beyond how much honest units of its lane differ. Score levels never enter.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import binom, norm

from analytics.detectors._unit_stats import robust_lane_z, unit_main_lane
from analytics.detectors.leniency.quota import unit_quota_totals
from analytics.settings import Settings


def unit_totals(rows: pl.DataFrame, quarters: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Per unit (quota.unit_quota_totals of `quarters`, from quota.quarter_quotas): people, lane, the binomial test
    of its 好 against what the quotas allow, and the lane test."""
    lc = settings.leniency
    totals = (
        unit_quota_totals(quarters)
        .join(_people(rows), on="unit")
        .join(unit_main_lane(rows), on="unit", how="left")
        .sort("unit")  # fixed order for the float sums of the lane fit
    )
    k = totals["K"].to_numpy().astype(float)
    n = totals["N"].to_numpy().astype(float)
    allowed = totals["A"].to_numpy() / np.maximum(n, 1)
    p_cap = binom.sf(k - 1, n, np.clip(allowed, 1e-9, 1.0))
    eligible = (pl.col("median_n") >= lc.min_unit_size) & (pl.col("N") >= lc.min_graded)
    totals = totals.with_columns(allowed_share=pl.Series(allowed), p_cap=pl.Series(p_cap))
    return _lane_test(totals.with_columns(eligible=eligible), lc.min_lane_units)


def _people(rows: pl.DataFrame) -> pl.DataFrame:
    """People per unit (the streaming engine counts in batches)."""
    return rows.lazy().group_by("unit").agg(people=pl.col("person_id").n_unique()).collect(engine="streaming")


def _lane_test(totals: pl.DataFrame, min_lane_units: int) -> pl.DataFrame:
    """Upper tail of the robust lane z (analytics.detectors._unit_stats.robust_lane_z)."""
    out = robust_lane_z(totals, "share", "N", "eligible", ["lane"], min_lane_units)
    z = out["z_lane"].fill_null(np.nan).to_numpy()
    return out.with_columns(pl.Series("p_lane", norm.sf(z)).fill_nan(None))


def sole_bodies(rows: pl.DataFrame, totals: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """One row per unit with at most one named reviewer and at least min_people people: who, the test, the effect."""
    named = (
        rows.filter(pl.col("reviewer").is_not_null())
        .group_by("unit")
        .agg(reviewers=pl.col("reviewer").n_unique(), reviewer=pl.col("reviewer").first())
    )
    units = totals.join(named, on="unit", how="left").with_columns(pl.col("reviewers").fill_null(0))
    return (
        units.filter((pl.col("reviewers") <= 1) & (pl.col("people") >= settings.leniency.min_people))
        .with_columns(
            subject_type=pl.when(pl.col("reviewers") == 1).then(pl.lit("reviewer")).otherwise(pl.lit("unit")),
            subject=pl.coalesce(pl.col("reviewer").cast(pl.Utf8), pl.col("unit").cast(pl.Utf8)),
            p=pl.max_horizontal("p_cap", "p_lane"),
            effect=pl.col("share") - pl.col("allowed_share"),
            pq=pl.col("N"),
            basis=pl.lit("sole"),
        )
        .filter(pl.col("N") >= settings.leniency.min_graded)
    )
