"""Every test of every queue in one table: statistics, p- and q-values, status.

One row per scope (unit or section), variant (top / nostar / bottom) and window (whole period, two-year
spans, years) that could be tested, plus the whole-period 好 row of every scope even when too thin to test
(its status says why). Benjamini-Hochberg runs over all sufficient rows together.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from analytics.detectors.rotation import simulate
from analytics.detectors.rotation.statistic import D_OFFSET, Windows
from analytics.detectors.rotation.subjects import FINDING_OF_VARIANT, VARIANTS, Scopes, cells_of_scopes, queues
from analytics.settings import Settings
from analytics.stats import bh_qvalues

STATUS_FLAG, STATUS_NONE, STATUS_THIN = "flag", "no evidence of rotation", "insufficient evidence"
CELLS_PER_CHUNK = 300_000  # scope slots x quarters per chunk of scopes (three variants each)

SCHEMA: dict[str, pl.DataType] = {
    "subject_type": pl.Utf8, "subject": pl.Utf8, "unit": pl.Utf8, "section": pl.Utf8, "lane": pl.Utf8,
    "variant": pl.Utf8, "finding": pl.Utf8, "window": pl.Utf8, "period_from": pl.Utf8, "period_to": pl.Utf8,
    "n_people": pl.Int64, "n_quarters": pl.Int64, "informative_quarters": pl.Int64, "n_cells": pl.Int64,
    "n_good": pl.Int64, "n_full": pl.Int64, "c_min": pl.Int64, "c_max": pl.Int64, "never_good": pl.Int64,
    "stars": pl.Int64, "D": pl.Float64, "RR": pl.Float64, "T": pl.Float64, "repeats": pl.Float64,
    "expected_repeats": pl.Float64, "p_dispersion": pl.Float64, "p_repeat": pl.Float64, "p_value": pl.Float64,
    "p_min": pl.Float64, "q_value": pl.Float64, "draws": pl.Int64, "status": pl.Utf8, "reason": pl.Utf8,
    "severity": pl.Float64, "no_consecutive_rule": pl.Boolean,
}  # fmt: skip


def _chunks(scopes: Scopes) -> list[np.ndarray]:
    """Scopes, largest first, in runs of about CELLS_PER_CHUNK slot-quarters."""
    order = np.argsort(-scopes.n_slots, kind="stable")
    group = np.cumsum(scopes.n_slots[order] * 4 * scopes.n_years) // CELLS_PER_CHUNK
    return np.split(order, np.flatnonzero(np.diff(group)) + 1)


def _window_label(years: tuple[int, int], first_year: int, n_years: int) -> str:
    a, b = years
    if (a, b) == (0, n_years - 1):
        return "all"
    return str(first_year + a) if a == b else f"{first_year + a}-{first_year + b}"


def tests(data_quarterly: pl.DataFrame, settings: Settings, seed: int = 0, sequential: bool = True,
          unit: str | None = None) -> pl.DataFrame:  # fmt: skip
    """The raw test rows (no status yet) for every scope, variant and window."""
    cfg = settings.rotation
    scopes = cells_of_scopes(data_quarterly, cfg.min_people, unit=unit)
    if scopes is None:
        return pl.DataFrame(schema={k: v for k, v in SCHEMA.items() if k not in ("status", "reason", "severity")})
    windows = Windows.for_years(scopes.n_years)
    keys = np.stack([scopes.keys(seed, v) for v in VARIANTS])
    rule_units = set(cfg.no_consecutive_good_units)
    ruled_scope = np.array([u in rule_units for u in scopes.unit], dtype=bool)

    def one(rows: np.ndarray) -> dict[str, np.ndarray]:
        q = queues(scopes, rows, cfg.min_people, cfg.min_quarters)
        rule = ruled_scope[q.scope] & (q.variant != VARIANTS.index("bottom"))
        res = simulate.run(q, keys[q.variant, q.scope], windows, cfg, rule, sequential=sequential)
        ex = res.ex
        n, w = res.testable.shape
        whole_top = np.zeros((n, w), dtype=bool)
        whole_top[:, 0] = q.variant == 0
        keep = res.testable | whole_top
        i, j = np.nonzero(keep)
        pick = {name: getattr(ex, name)[i, j] for name in
                ("people", "quarters", "informative", "cells", "chosen", "full", "c_min", "c_max", "never",
                 "first", "last", "repeats")}  # fmt: skip
        return {
            "scope": q.scope[i], "variant": q.variant[i], "window": j, "stars": q.stars[i], "rule": rule[i],
            "testable": res.testable[i, j], **pick, "D": res.d[i, j], "RR": res.rr[i, j],
            "obs_repeats": res.reps[i, j], "p_value": res.p_value[i, j], "p_dispersion": res.p_dispersion[i, j],
            "p_repeat": res.p_repeat[i, j], "p_min": res.p_min[i, j], "draws": res.draws[i, j],
        }  # fmt: skip

    chunks = _chunks(scopes)
    workers = max(1, min(len(chunks), os.cpu_count() or 1, 4))
    if workers == 1:
        parts = [one(c) for c in chunks]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:  # numpy releases the GIL in the heavy loops
            parts = list(pool.map(one, chunks))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    scope_frame = pl.DataFrame(
        {"scope": np.arange(scopes.count), "unit": scopes.unit, "section": scopes.section, "lane": scopes.lane},
        schema={"scope": pl.Int64, "unit": pl.Utf8, "section": pl.Utf8, "lane": pl.Utf8},
    )
    labels = [_window_label(y, scopes.first_year, scopes.n_years) for y in windows.years]
    fy = scopes.first_year

    def period(col: str) -> pl.Expr:
        return pl.when(pl.col(col) >= 0).then(pl.format("{}Q{}", pl.col(col) // 4 + fy, pl.col(col) % 4 + 1))

    raw = pl.DataFrame({k: v for k, v in cols.items()}).with_columns(pl.col("scope").cast(pl.Int64))
    rr = pl.col("RR")
    return raw.join(scope_frame, on="scope", how="left").select(
        pl.when(pl.col("section").is_null()).then(pl.lit("unit")).otherwise(pl.lit("section")).alias("subject_type"),
        pl.coalesce("section", "unit").alias("subject"),
        "unit", "section", "lane",
        pl.col("variant").replace_strict(dict(enumerate(VARIANTS)), return_dtype=pl.Utf8),
        pl.col("variant").replace_strict({i: FINDING_OF_VARIANT[v] for i, v in enumerate(VARIANTS)},
                                         return_dtype=pl.Utf8).alias("finding"),
        pl.col("window").replace_strict(dict(enumerate(labels)), return_dtype=pl.Utf8),
        period("first").alias("period_from"), period("last").alias("period_to"),
        pl.col("people").alias("n_people"), pl.col("quarters").alias("n_quarters"),
        pl.col("informative").alias("informative_quarters"), pl.col("cells").alias("n_cells"),
        pl.col("chosen").alias("n_good"), pl.col("full").alias("n_full"), "c_min", "c_max",
        pl.col("never").alias("never_good"), "stars",
        pl.col("D").fill_nan(None), rr.fill_nan(None),
        pl.when(rr.is_not_nan() & rr.is_not_null()).then((pl.col("D") + D_OFFSET) * rr).otherwise(pl.col("D"))
        .fill_nan(None).alias("T"),
        pl.col("obs_repeats").cast(pl.Float64).alias("repeats"), pl.col("repeats").alias("expected_repeats"),
        *(pl.col(c).fill_nan(None) for c in ("p_dispersion", "p_repeat", "p_value", "p_min")),
        "draws", "testable", pl.col("rule").alias("no_consecutive_rule"),
    )  # fmt: skip


def assess(raw: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Status, q-values over every sufficient test, severity; strongest first."""
    cfg = settings.rotation
    if raw.height == 0:
        return pl.DataFrame(schema=SCHEMA)
    sufficient = (pl.col("testable") & (pl.col("p_min") <= cfg.alpha) & pl.col("p_value").is_not_null()).fill_null(
        False
    )
    raw = raw.with_columns(sufficient.alias("sufficient"))
    p = raw.select(pl.when("sufficient").then(pl.col("p_value")).otherwise(None)).to_series().to_numpy()
    q = bh_qvalues(np.where(np.isnan(p.astype(float)), np.nan, p.astype(float)))
    raw = raw.with_columns(pl.Series("q_value", q).fill_nan(None))
    status = (
        pl.when(~pl.col("sufficient"))
        .then(pl.lit(STATUS_THIN))
        .when(pl.col("q_value") <= cfg.alpha)
        .then(pl.lit(STATUS_FLAG))
        .otherwise(pl.lit(STATUS_NONE))
    )
    reason = (
        pl.when(pl.col("informative_quarters") < cfg.min_quarters)
        .then(pl.format("only {} quarters with a choice to make", pl.col("informative_quarters")))
        .when(pl.col("n_people") < cfg.min_people)
        .then(pl.format("only {} people", pl.col("n_people")))
        .when(~pl.col("sufficient"))
        .then(pl.format("smallest attainable p = {} > {}", pl.col("p_min").round(3), pl.lit(cfg.alpha)))
    )
    strength = (-pl.col("q_value").clip(1e-4, 1).log10() / 3).clip(0, 1)
    evenness = (1 - pl.col("T")).clip(0, 1)
    out = raw.with_columns(status.alias("status"), reason.alias("reason"))
    out = out.with_columns(
        pl.when(pl.col("status") == STATUS_FLAG).then(0.5 * strength + 0.5 * evenness).otherwise(0.0)
        .fill_null(0.0).alias("severity")
    )  # fmt: skip
    return (
        out.select(list(SCHEMA))
        .cast(SCHEMA)
        .sort(
            ["severity", "q_value", "p_value", "unit", "subject_type", "subject", "variant", "window"],
            descending=[True, False, False, False, True, False, False, False],
            nulls_last=True,
        )
    )
