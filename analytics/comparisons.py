"""What each flag's test compared, as frames for its chart: the chart argues exactly what the test argued.

A chart beside a flag must show the comparison the test made, drawn from the same pieces the detector used,
so that the inspector sees the evidence the p-value speaks of (and a test can check that the numbers agree):

- leniency, several reviewers (`reviewer_strata`): the reviewer's people against the unit's other people in the
  Mantel-Haenszel strata of the test (quarter x score fifth; quarters only without scores; the quarters over
  the cap when the scores rose with the grades);
- leniency of a sole reviewer, and quota (`unit_quarters_against_cap`, `sole_lane_funnel`, `quota_lane_funnel`):
  the unit's 好 share quarter by quarter against what its quota allowed, and its whole-period share among the
  lane's units with the limits of the lane test (robust random effects for sole leniency, beta-binomial for quota);
- compression (`compression_lane_funnel`): the share of grades outside the modal grade among the lane's units in
  the flag's window, with the robust limits of the test (a compressed unit sits below them);
- silent negatives (`negatives_lane_funnel`): the negative-record rate among the lane's units, beta-binomial limits;
- outliers (`outlier_quarters`, `outlier_features`): the anomaly score per quarter against the forest's threshold,
  and the worst quarter's features as deviations from the lane;
- outcome rules (person): the person's quarters of the year against the gate (analytics.report shows the record).

Each funnel frame has the columns analytics.charts.funnel_plot draws: unit, lane, n, share, lane_mean, lo95, hi95,
lo998, hi998 (limits at each unit's n) and cap (null where no cap applies).
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
from scipy.stats import betabinom, norm

from analytics.dataset import AssessmentData
from analytics.settings import Settings

Z95, Z998 = norm.ppf(0.975), norm.ppf(0.999)
FUNNEL_COLUMNS = ("unit", "lane", "n", "share", "lane_mean", "lo95", "hi95", "lo998", "hi998", "cap")


def statistics_of(flag: dict) -> dict:
    """The flag's statistics JSON as a dict (empty when absent)."""
    try:
        return json.loads(flag.get("statistics") or "{}") or {}
    except (TypeError, ValueError):
        return {}


# --- leniency: a reviewer against the unit's other people, stratum by stratum


def reviewer_strata(data: AssessmentData, settings: Settings, unit: str, reviewer: str, basis: str) -> pl.DataFrame:
    """The Mantel-Haenszel strata of a reviewer's test, one row per stratum the reviewer graded in.

    Columns: t (period index), stratum (score fifth 0-4, -1 unscored; 0 when the test is by quarter only), n and
    good (the reviewer's people and their 好), others_n and others_good (the rest of the unit in that stratum),
    rate, others_rate, o_e and w (the stratum's share of the statistic: RD = sum o_e / sum w).
    `basis` is the flag's ('within', 'unscored', 'scores_rose'), so the strata are the test's.
    """
    from analytics.detectors.leniency.detector import _rows
    from analytics.detectors.leniency.evidence import SCORES_ROSE, WITHIN
    from analytics.detectors.leniency.quota import quarter_quotas
    from analytics.detectors.leniency.within_unit import _stratum, score_percentile

    rows = _rows(data.quarterly.filter(pl.col("unit") == unit)).with_columns(pct=score_percentile())
    if basis == SCORES_ROSE:  # the test reads only the quarters the unit went over its cap
        over = quarter_quotas(rows, settings).filter("over").select("unit", "t")
        rows = rows.join(over, on=["unit", "t"], how="semi")
    keyed = rows.with_columns(stratum=_stratum(basis == WITHIN))
    mine = pl.col("reviewer").cast(pl.Utf8) == reviewer
    f = pl.col
    cells = (
        keyed.group_by("t", "stratum")
        .agg(N=pl.len(), M=f("is_good").sum(), n=mine.sum(), good=(mine & f("is_good")).sum())
        .filter(f("n") > 0)
        .with_columns(f("n", "good", "N", "M").cast(pl.Float64))
    )
    return (
        cells.with_columns(
            others_n=f("N") - f("n"),
            others_good=f("M") - f("good"),
            o_e=f("good") - f("n") * f("M") / f("N"),
            w=f("n") * (f("N") - f("n")) / f("N"),
        )
        .with_columns(
            rate=f("good") / f("n"),
            others_rate=pl.when(f("others_n") > 0).then(f("others_good") / f("others_n")),
        )
        .select("t", "stratum", "n", "good", "others_n", "others_good", "rate", "others_rate", "o_e", "w")
        .sort("t", "stratum")
    )


def strata_summary(strata: pl.DataFrame, by_score: bool) -> pl.DataFrame:
    """The strata pooled for a chart: by score fifth over the quarters (by_score), else quarter by quarter.

    Columns: group (fifth or t), n, good, others_n, others_good, rate, others_rate, o_e, w. Pooling sums counts,
    so sum o_e / sum w over the groups is still the test's RD.
    """
    key = "stratum" if by_score else "t"
    f = pl.col
    return (
        strata.filter(f("others_n") > 0)
        .group_by(key)
        .agg(f("n", "good", "others_n", "others_good", "o_e", "w").sum())
        .with_columns(rate=f("good") / f("n"), others_rate=f("others_good") / f("others_n"))
        .rename({key: "group"})
        .sort("group")
    )


# --- the unit's 好 against its quota, quarter by quarter


def unit_quarters_against_cap(data: AssessmentData, settings: Settings, unit: str) -> pl.DataFrame:
    """Per quarter of the unit: t, n graded, k given 好, quota, share (k / n), allowed (quota / n), over."""
    from analytics.detectors.leniency.detector import _rows
    from analytics.detectors.leniency.quota import quarter_quotas

    rows = _rows(data.quarterly.filter(pl.col("unit") == unit))
    return (
        quarter_quotas(rows, settings)
        .with_columns(allowed=pl.col("quota") / pl.col("n"))
        .select("t", "n", "k", "cap", "quota", "share", "allowed", "over")
        .sort("t")
    )


# --- lane funnels: the unit among the lane's units, with the limits of the lane test


def _lane_of(frame: pl.DataFrame, unit: str) -> tuple[str | None, str]:
    """The unit's main lane and whether the test compared it with its lane or with all units."""
    mine = frame.filter(pl.col("unit") == unit)
    if mine.height == 0:
        return None, "lane"
    reference = mine["reference"][0] if "reference" in mine.columns else "lane"
    return mine["lane"][0], reference or "lane"


def _peers(frame: pl.DataFrame, unit: str, eligible: str) -> pl.DataFrame:
    """The units the test compared the unit with (its lane, or all units), and the unit itself."""
    lane, reference = _lane_of(frame, unit)
    same = pl.col("lane") == lane if reference == "lane" else pl.lit(True)
    return frame.filter((same & pl.col(eligible)) | (pl.col("unit") == unit))


def _normal_limits(centre: float, tau2: float) -> list[pl.Expr]:
    se = (pl.lit(centre * (1 - centre)) / pl.col("n") + tau2).sqrt()
    return [
        (pl.lit(centre) - z * se).clip(0.0, 1.0).alias(name)
        for z, name in ((Z95, "lo95"), (-Z95, "hi95"), (Z998, "lo998"), (-Z998, "hi998"))
    ]


def _beta_binomial_limits(frame: pl.DataFrame, a: float, b: float) -> pl.DataFrame:
    n = frame["n"].to_numpy().astype(float)
    out = {}
    for name, q in (("lo95", 0.025), ("hi95", 0.975), ("lo998", 0.001), ("hi998", 0.999)):
        out[name] = betabinom.ppf(q, n, a, b) / np.maximum(n, 1)
    return frame.with_columns(pl.Series(k, v) for k, v in out.items())


def _funnel(frame: pl.DataFrame, cap: float | None) -> pl.DataFrame:
    return (
        frame.with_columns(
            pl.col("unit").cast(pl.Utf8), pl.col("n").cast(pl.Int64), pl.lit(cap, dtype=pl.Float64).alias("cap")
        )
        .select(FUNNEL_COLUMNS)
        .sort("n", "unit")
    )


def sole_lane_funnel(data: AssessmentData, settings: Settings, unit: str) -> pl.DataFrame:
    """The unit's whole-period share of 好 among its lane's units, limits of the robust random-effects lane z."""
    from analytics.detectors.leniency.detector import _rows
    from analytics.detectors.leniency.quota import quarter_quotas
    from analytics.detectors.leniency.sole import unit_totals

    rows = _rows(data.quarterly)
    quarters = quarter_quotas(rows, settings)
    totals = unit_totals(rows, quarters, settings).with_columns(pl.col("unit").cast(pl.Utf8))
    peers = _peers(totals, unit, "eligible")
    mine = peers.filter(pl.col("unit") == unit)
    if mine.height == 0 or mine["lane_mean"][0] is None:
        return pl.DataFrame(schema=dict.fromkeys(FUNNEL_COLUMNS, pl.Float64))
    centre, tau2 = float(mine["lane_mean"][0]), float(mine["tau2_lane"][0] or 0.0)
    funnel = peers.rename({"N": "n"}).with_columns(pl.lit(centre).alias("lane_mean"), *_normal_limits(centre, tau2))
    return _funnel(funnel, _unit_cap(quarters, unit))


def _unit_cap(quarters: pl.DataFrame, unit: str) -> float | None:
    """The 好 cap that applied to the unit (its own where settings set one), from quota.quarter_quotas."""
    caps = quarters.filter(pl.col("unit").cast(pl.Utf8) == unit)["cap"]
    return float(caps[0]) if caps.len() else None


def quota_lane_funnel(data: AssessmentData, settings: Settings, unit: str) -> pl.DataFrame:
    """The unit's share of 好 among its lane's units, with the beta-binomial limits the quota test used.

    The test fits (a, b) on the lane's other units (leave one out); the limits are that fit's quantiles at each n.
    """
    from analytics.detectors._unit_stats import graded_rows, lane_beta_binomial, unit_main_lane
    from analytics.detectors.leniency.quota import quarter_quotas, unit_quota_totals

    graded = graded_rows(data.quarterly)
    quarters = quarter_quotas(graded, settings)
    units = unit_quota_totals(quarters).join(unit_main_lane(graded), on="unit", how="left").sort("unit")
    lc = settings.leniency
    eligible = ((units["median_n"] >= lc.min_unit_size) & (units["N"] >= lc.min_graded)).to_numpy()
    k, n = units["K"].to_numpy().astype(float), units["N"].to_numpy().astype(float)
    a, b, reference = lane_beta_binomial(k, n, units["lane"].to_numpy(), eligible, lc.min_lane_units)
    units = units.with_columns(
        pl.Series("eligible", eligible),
        pl.Series("a", a),
        pl.Series("b", b),
        pl.Series("reference", reference.astype(str)),
    )
    peers = _peers(units, unit, "eligible").rename({"N": "n"})
    mine = peers.filter(pl.col("unit") == unit)
    if mine.height == 0 or not np.isfinite(mine["a"][0]):
        return pl.DataFrame(schema=dict.fromkeys(FUNNEL_COLUMNS, pl.Float64))
    a0, b0 = float(mine["a"][0]), float(mine["b"][0])
    funnel = _beta_binomial_limits(peers.with_columns(lane_mean=pl.lit(a0 / (a0 + b0))), a0, b0)
    return _funnel(funnel, _unit_cap(quarters, unit))


def compression_lane_funnel(data: AssessmentData, settings: Settings, unit: str, window: str) -> pl.DataFrame:
    """Share of grades outside the modal grade among the lane's units in the flag's window, the test's limits."""
    from analytics.detectors.compression import tested_windows

    units = tested_windows(data, settings)
    if units.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(FUNNEL_COLUMNS, pl.Float64))
    units = units.filter(pl.col("window") == window).with_columns(pl.col("unit").cast(pl.Utf8))
    peers = _peers(units, unit, "eligible")
    mine = peers.filter(pl.col("unit") == unit)
    if mine.height == 0 or mine["lane_mean"][0] is None:
        return pl.DataFrame(schema=dict.fromkeys(FUNNEL_COLUMNS, pl.Float64))
    centre, tau2 = float(mine["lane_mean"][0]), float(mine["tau2_lane"][0] or 0.0)
    funnel = peers.rename({"N": "n"}).with_columns(
        pl.col("outside").alias("share"), pl.lit(centre).alias("lane_mean"), *_normal_limits(centre, tau2)
    )
    return _funnel(funnel, None)


def negatives_lane_funnel(data: AssessmentData, settings: Settings, unit: str, flag: dict) -> pl.DataFrame:
    """Negative records per person-quarter among the lane's units, limits of the flag's beta-binomial (rate, rho)."""
    from analytics.detectors.silent_negatives import unit_negatives

    stats = statistics_of(flag)
    rate, rho = stats.get("lane_rate"), stats.get("rho")
    units = unit_negatives(data).with_columns(pl.col("unit").cast(pl.Utf8))
    if rate is None or rho is None or units.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(FUNNEL_COLUMNS, pl.Float64))
    reference = stats.get("reference") or "lane"
    units = units.with_columns(
        eligible=pl.col("N") >= settings.leniency.min_graded,
        reference=pl.lit(reference),
        share=pl.col("k") / pl.col("N"),
    )
    peers = _peers(units, unit, "eligible").rename({"N": "n"}).with_columns(lane_mean=pl.lit(float(rate)))
    scale = 1 / float(rho) - 1
    return _funnel(_beta_binomial_limits(peers, rate * scale, (1 - rate) * scale), None)


# --- outliers: the forest's verdict per quarter and the worst quarter's features


def outlier_quarters(data: AssessmentData, settings: Settings, unit: str, seed: int = 0) -> pl.DataFrame:
    """The unit's quarters as the detector scored them: t, anomaly, threshold, outlier, and the z_ features."""
    from analytics.detectors.outliers import score_unit_quarters

    scored = score_unit_quarters(data, settings, seed)
    if scored.height == 0:
        return pl.DataFrame({"t": [], "anomaly": [], "threshold": [], "outlier": []})
    return scored.filter(pl.col("unit").cast(pl.Utf8) == unit).sort("t")


def outlier_features(quarters: pl.DataFrame, t: int | None = None) -> pl.DataFrame:
    """One quarter's standardised features (the most anomalous when t is None): feature, z, value; largest |z| first."""
    from analytics.detectors.outliers import FEATURES

    if quarters.height == 0:
        return pl.DataFrame(schema={"feature": pl.Utf8, "z": pl.Float64, "value": pl.Float64})
    row = (quarters.filter(pl.col("t") == t) if t is not None else quarters.sort("anomaly", descending=True)).row(
        0, named=True
    )
    names = [c for c in FEATURES if f"z_{c}" in row and row[f"z_{c}"] is not None]
    frame = pl.DataFrame(
        {
            "feature": names,
            "z": [float(row[f"z_{c}"]) for c in names],
            "value": [None if row.get(c) is None else float(row[c]) for c in names],
        },
        schema={"feature": pl.Utf8, "z": pl.Float64, "value": pl.Float64},
    )
    return frame.sort(pl.col("z").abs(), descending=True)
