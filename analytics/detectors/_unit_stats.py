"""Shared pieces of the unit-level detectors (quota, compression, silent negatives, outliers).

Graded rows with their grade points and period index, each unit's main lane (the lane of most of
its graded person-quarters: units mix position levels, and a unit is compared with the units whose
main lane is the same), robust lane references, and the text formatting used in evidence sentences.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.stats import beta_binomial_moments
from analytics.vocab import GOOD, GRADE_POINTS, NEGATIVE_GRADES, OUTCOME_KINDS

GRADED = tuple(GRADE_POINTS)  # 好, 较好, 一般, 较差 (不确定等次 is not a grade)
NEGATIVE_OUTCOMES = tuple(code for code, (_, _, valence) in OUTCOME_KINDS.items() if valence < 0)


COLUMNS = ("person_id", "unit", "section", "lane", "year", "quarter", "grade", "score", "reviewer")


def graded_rows(quarterly: pl.DataFrame, columns: tuple[str, ...] = COLUMNS) -> pl.DataFrame:
    """Quarterly rows that carry a grade, with `points` (4..1), `t` (consecutive period index) and flags.

    Only the columns the detectors read are kept (the wide `extra` text would slow every step); a detector that
    reads fewer names them in `columns` (at province scale each string column kept is a copy of millions of rows).
    """
    return graded_frame(quarterly, columns).collect(engine="streaming")


def graded_frame(quarterly: pl.DataFrame, columns: tuple[str, ...] = COLUMNS) -> pl.LazyFrame:
    """graded_rows as a lazy frame, for a caller that selects or casts before anything is materialised: the
    streaming engine then filters in batches instead of copying every kept column of every row at once."""
    kept = quarterly.lazy().select([c for c in columns if c in quarterly.columns])
    return kept.filter(pl.col("grade").is_in(GRADED) & pl.col("unit").is_not_null()).with_columns(
        points=pl.col("grade").replace_strict(GRADE_POINTS, return_dtype=pl.Int8),
        t=pl.col("year").cast(pl.Int64) * 4 + pl.col("quarter").cast(pl.Int64) - 1,
        is_good=pl.col("grade") == GOOD,
        is_negative=pl.col("grade").is_in(NEGATIVE_GRADES),
    )


def unit_main_lane(graded: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """unit -> lane holding most of its graded person-quarters (ties: first lane by name)."""
    # The streaming engine counts in batches (the in-memory group-by of two string keys held millions of rows'
    # hashes at once); the sort below fixes the order.
    counts = graded.lazy().group_by("unit", "lane").len().collect(engine="streaming")
    return (
        counts.sort(["unit", "len", "lane"], descending=[False, True, False], nulls_last=True)
        .group_by("unit", maintain_order=True)
        .agg(pl.col("lane").first())
    )


def people_per(graded: pl.DataFrame | pl.LazyFrame, keys: list[str | pl.Expr]) -> pl.DataFrame:
    """Distinct people (person_id, a missing one counted once, as n_unique counts it) per `keys`.

    Counted as the (keys, person) pairs, then the pairs per key, in batches: n_unique in a streaming group-by
    kept a set of names per group and took twice the memory at province scale."""
    pairs = graded.lazy().group_by(*keys, "person_id").agg()
    return (
        pairs.group_by(*(k if isinstance(k, str) else k.meta.output_name() for k in keys))
        .agg(people=pl.len())
        .collect(engine="streaming")
    )


def period_of(t: pl.Expr) -> pl.Expr:
    """'2024Q1' label from a period index (year * 4 + quarter - 1)."""
    return pl.format("{}Q{}", t // 4, t % 4 + 1)


def period_words(t: pl.Expr, lang: str) -> pl.Expr:
    """A period index in a sentence's words: '2023年第一季度' / '2023 Q1' (never the code 2023Q1)."""
    if lang == "zh":
        quarter = (t % 4).replace_strict({0: "一", 1: "二", 2: "三", 3: "四"}, return_dtype=pl.Utf8)
        return pl.format("{}年第{}季度", t // 4, quarter)
    return pl.format("{} Q{}", t // 4, t % 4 + 1)


def pct(expr: pl.Expr) -> pl.Expr:
    """Share as text, '37%'."""
    return pl.format("{}%", (expr * 100).round(0).cast(pl.Int64))


def p_text(expr: pl.Expr) -> pl.Expr:
    """p-value as text: '< 0.001' or three decimals; '—' when untested."""
    return (
        pl.when(expr.is_null() | expr.is_nan())
        .then(pl.lit("—"))
        .when(expr < 0.001)
        .then(pl.lit("< 0.001"))
        .otherwise(expr.round(3).cast(pl.Utf8))
    )


def num(expr: pl.Expr, digits: int = 2) -> pl.Expr:
    """Number as text with `digits` decimals."""
    return expr.round(digits).cast(pl.Utf8)


def lane_reference(frame: pl.DataFrame, value: str, eligible: str, min_units: int) -> pl.DataFrame:
    """Add `ref_center`, `ref_scale` (median, 1.4826 MAD) of `value` over the eligible units of each lane.

    Lanes with fewer than `min_units` eligible units are compared with all eligible units instead;
    `reference` says which ('lane' or 'all').
    """
    ok = pl.col(eligible)
    v = pl.when(ok).then(pl.col(value))
    lane_n = ok.sum().over("lane")
    lane_med = v.median().over("lane")
    all_med = v.median()
    out = frame.with_columns(_lane_n=lane_n, _lane_med=lane_med, _all_med=all_med)
    out = out.with_columns(
        _lane_mad=(pl.when(ok).then((pl.col(value) - pl.col("_lane_med")).abs())).median().over("lane") * 1.4826,
        _all_mad=(pl.when(ok).then((pl.col(value) - pl.col("_all_med")).abs())).median() * 1.4826,
    )
    own = pl.col("_lane_n") >= min_units
    return out.with_columns(
        ref_center=pl.when(own).then("_lane_med").otherwise("_all_med"),
        ref_scale=pl.when(own).then("_lane_mad").otherwise("_all_mad"),
        reference=pl.when(own).then(pl.lit("lane")).otherwise(pl.lit("all")),
    ).drop("_lane_n", "_lane_med", "_all_med", "_lane_mad", "_all_mad")


def lane_beta_binomial(
    k: np.ndarray, n: np.ndarray, lane: np.ndarray, eligible: np.ndarray, min_units: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beta-binomial (a, b) per row, fitted by moments over the eligible units of the row's lane.

    Each eligible unit is fitted on the other units (leave one out). Lanes with fewer than `min_units`
    eligible units use all eligible units;
    `reference` is 'lane' or 'all'. Rows get NaN where nothing could be fitted.
    """
    lane = np.asarray(lane, dtype=object)
    eligible = np.asarray(eligible, dtype=bool)
    a = np.full(len(k), np.nan)
    b = np.full(len(k), np.nan)
    reference = np.full(len(k), "all", dtype=object)
    if not eligible.any():
        return a, b, reference
    _, codes = np.unique(lane.astype(str), return_inverse=True)
    members = np.bincount(codes[eligible], minlength=int(codes.max()) + 1)[codes]
    own = members >= min_units
    # Eligible units: fitted on the others (leave one out); the rest (untested): on all eligible units.
    a[eligible], b[eligible] = beta_binomial_moments(k[eligible], n[eligible], leave_one_out=True)
    full_a, full_b = beta_binomial_moments(k[eligible], n[eligible])
    a[~eligible], b[~eligible] = full_a[0], full_b[0]
    fit = eligible & own
    if fit.any():
        a[fit], b[fit] = beta_binomial_moments(k[fit], n[fit], codes[fit], leave_one_out=True)
        reference[fit] = "lane"
    return a, b, reference


def robust_lane_z(
    frame: pl.DataFrame, share: str, n: str, eligible: str, keys: list[str], min_units: int
) -> pl.DataFrame:
    """Add `lane_mean`, `tau2_lane`, `reference` and `z_lane`: a robust random-effects z of `share` (of `n` trials).

    centre = median share of the eligible rows with the same `keys` (e.g. lane, or lane and window); where fewer than
    `min_units` are eligible, of all eligible rows with the same keys but the first (`reference` 'all').
    tau^2 = max(0, (1.4826 MAD)^2 - median binomial variance): medians, so the planted or lenient units of a lane
    cannot widen their own yardstick, as a moment fit lets them; z = (share - centre) / sqrt(centre (1 - centre) / n
    + tau^2). The caller takes the tail it tests.
    """
    ok = pl.col(eligible)
    out = frame
    for scope, over in (("l", keys), ("a", keys[1:])):

        def per(e: pl.Expr, over=over) -> pl.Expr:
            return e.over(over) if over else e

        out = out.with_columns(per(pl.when(ok).then(pl.col(share)).median()).alias(f"_{scope}_c"))
        binvar = pl.col(f"_{scope}_c") * (1 - pl.col(f"_{scope}_c")) / pl.col(n)
        mad = per(pl.when(ok).then((pl.col(share) - pl.col(f"_{scope}_c")).abs()).median())
        tau2 = ((1.4826 * mad) ** 2 - per(pl.when(ok).then(binvar).median())).clip(lower_bound=0.0)
        out = out.with_columns(tau2.alias(f"_{scope}_t"))
    own = ok.sum().over(keys) >= min_units
    centre = pl.col("lane_mean")
    return (
        out.with_columns(
            lane_mean=pl.when(own).then("_l_c").otherwise("_a_c"),
            tau2_lane=pl.when(own).then("_l_t").otherwise("_a_t"),
            reference=pl.when(own).then(pl.lit("lane")).otherwise(pl.lit("all")),
        )
        .with_columns(
            z_lane=pl.when(ok).then(
                (pl.col(share) - centre) / (centre * (1 - centre) / pl.col(n) + pl.col("tau2_lane")).sqrt()
            )
        )
        .drop("_l_c", "_l_t", "_a_c", "_a_t")
    )


def stats_json(*columns: str) -> pl.Expr:
    """The named columns as one JSON object (the flag's `statistics`)."""
    return pl.struct([pl.col(c) for c in columns]).struct.json_encode()


def ordered(flags: pl.DataFrame) -> pl.DataFrame:
    """Flags strongest first, ties by flag_id: the same input always gives the same rows in the same order."""
    return flags.sort(["severity", "flag_id"], descending=[True, False], nulls_last=True)
