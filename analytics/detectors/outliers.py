"""Unusual units (multivariate): an IsolationForest over unit x quarter features, each flag explained.

DETECTORS.md section 4. One row per unit and quarter with at least settings.outliers.min_graded graded
people; features: the share of each grade, mean and spread of the score, the entropy of the grade mix,
the change since the unit's previous quarter (share of 好, mean grade points), quota use (好 / quota) and
the rate of negative outcome records per person in that quarter. Features are standardised within the
unit's main lane (all units when the lane has fewer than settings.leniency.min_lane_units units), so a
unit is unusual against its peers, not against another kind of post.

The forest uses settings.outliers.contamination explicitly (sklearn's 'auto' flags far too many) and
random_state = seed. Flagged unit-quarters are gathered into one flag per unit, reported when at least
settings.outliers.min_quarters_flagged of its quarters are outlying (a single odd quarter of a small unit is
ordinary noise: two people graded 一般 in a unit of ten); the flag is explained by
the `top_features` features with the largest standardised deviation from the lane in its most anomalous
quarter. There is no test: p_value is null, the anomaly score s (0..1, > 0.5 unusual; Liu et al. 2008)
is the statistic, and severity = 2 (s - 0.5) clipped to [0.05, 1]: an outlier is a lead to look at, not
a finding.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.ensemble import IsolationForest

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import (
    NEGATIVE_OUTCOMES,
    graded_frame,
    num,
    ordered,
    period_of,
    period_words,
    stats_json,
    unit_main_lane,
)
from analytics.detectors.base import empty_flags, finish_flags
from analytics.quota import good_cap_expr
from analytics.settings import Settings
from analytics.vocab import GOOD

# feature -> (Chinese, English, shown as a percentage)
FEATURES: dict[str, tuple[str, str, bool]] = {
    "share_good": ("'好'占比", "share of Good", True),
    "share_fairly": ("'较好'占比", "share of Fairly good", True),
    "share_average": ("'一般'占比", "share of Average", True),
    "share_poor": ("'较差'占比", "share of Poor", True),
    "score_mean": ("平均得分", "mean score", False),
    "score_sd": ("得分离散度", "score spread (SD)", False),
    "entropy": ("等次分布熵", "grade entropy", False),
    "delta_good": ("'好'占比环比变化", "change in share of Good since last quarter", True),
    "delta_points": ("平均等次分环比变化", "change in mean grade points since last quarter", False),
    "quota_use": ("'好'名额使用率", "use of the Good quota", True),
    "negative_rate": ("负面记录率", "negative outcome records per person", False),
}
GRADE_SHARES = {"share_good": "好", "share_fairly": "较好", "share_average": "一般", "share_poor": "较差"}
LN4 = float(np.log(4.0))


def unit_quarter_features(data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """One row per unit and quarter: unit, lane, t, n and the FEATURES columns (raw, not standardised)."""
    # Lazy, of the columns read only: the group-by reads them from the quarterly rows without a copy of every
    # graded row. In memory, not streaming: the means and spreads of scores must add up in the same order each run.
    graded = graded_frame(data.quarterly, ("unit", "lane", "year", "quarter", "grade", "score"))
    shares = {name: (pl.col("grade") == grade).mean() for name, grade in GRADE_SHARES.items()}
    per = (
        graded.group_by("unit", "t")
        .agg(
            n=pl.len(),
            good=(pl.col("grade") == GOOD).sum(),
            points=pl.col("points").cast(pl.Float64).mean(),
            score_mean=pl.col("score").cast(pl.Float64).mean(),
            score_sd=pl.col("score").cast(pl.Float64).std(),
            **shares,
        )
        .collect()
    )
    xlogx = [pl.when(pl.col(c) > 0).then(pl.col(c) * pl.col(c).log()).otherwise(0.0) for c in GRADE_SHARES]
    quota = pl.max_horizontal(
        (pl.col("n") * good_cap_expr(settings) + 1e-9).floor(), pl.lit(float(settings.quota.good_min_quota))
    )
    previous = per.select("unit", (pl.col("t") + 1).alias("t"), prev_good="share_good", prev_points="points")
    per = (
        per.join(previous, on=["unit", "t"], how="left")
        .with_columns(
            entropy=-pl.sum_horizontal(xlogx) / LN4,
            quota_use=pl.col("good") / quota,
            delta_good=(pl.col("share_good") - pl.col("prev_good")).fill_null(0.0),
            delta_points=(pl.col("points") - pl.col("prev_points")).fill_null(0.0),
        )
        .join(_negative_records(data.outcomes), on=["unit", "t"], how="left")
        .with_columns(negative_rate=pl.col("negatives").fill_null(0) / pl.col("n"))
        .join(unit_main_lane(graded), on="unit", how="left")
    )
    return per.select("unit", "lane", "t", "n", *FEATURES).sort("unit", "t")


def _negative_records(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Negative outcome records per unit and quarter of their date (undated records have no quarter)."""
    dated = outcomes.filter(pl.col("outcome").is_in(NEGATIVE_OUTCOMES) & pl.col("date").is_not_null())
    return (
        dated.with_columns(
            t=pl.col("date").dt.year().cast(pl.Int64) * 4 + (pl.col("date").dt.month().cast(pl.Int64) - 1) // 3
        )
        .group_by("unit", "t")
        .agg(negatives=pl.len())
    )


def standardise_within_lane(features: pl.DataFrame, columns: list[str], min_units: int) -> pl.DataFrame:
    """z-score each column within the lane (all rows when the lane has fewer than `min_units` units); nulls -> 0."""
    own = pl.col("unit").n_unique().over("lane") >= min_units

    def z(c: str) -> pl.Expr:
        lane_z = (pl.col(c) - pl.col(c).mean().over("lane")) / pl.col(c).std().over("lane")
        all_z = (pl.col(c) - pl.col(c).mean()) / pl.col(c).std()
        value = pl.when(own).then(lane_z).otherwise(all_z)
        return value.fill_nan(None).fill_null(0.0).alias(f"z_{c}")

    return features.with_columns([z(c) for c in columns])


def _explain(zs: np.ndarray, raw: np.ndarray, columns: list[str], top: int) -> pl.DataFrame:
    """Per row: the `top` features furthest from the lane, as Chinese and English phrases."""
    order = np.argsort(-np.abs(zs), axis=1, kind="stable")[:, :top]
    top_z = np.take_along_axis(zs, order, axis=1)
    top_raw = np.take_along_axis(raw, order, axis=1)
    names = np.array(columns, dtype=object)
    parts_zh, parts_en = [], []
    for j in range(order.shape[1]):  # a handful of ranks, each vectorised over all rows
        frame = pl.DataFrame({"f": names[order[:, j]].astype(str), "z": top_z[:, j], "x": top_raw[:, j]})
        is_pct = pl.col("f").replace_strict({c: FEATURES[c][2] for c in columns}, return_dtype=pl.Boolean)
        value = (
            pl.when(is_pct)
            .then(pl.format("{}%", (pl.col("x") * 100).round(0).cast(pl.Int64)))
            .otherwise(num(pl.col("x")))
        )
        sd = num(pl.col("z").abs(), 1)
        zh = pl.format(
            "{} {}，{}同赛道 {} 个标准差",
            pl.col("f").replace_strict({c: FEATURES[c][0] for c in columns}),
            value,
            pl.when(pl.col("z") >= 0).then(pl.lit("高于")).otherwise(pl.lit("低于")),
            sd,
        )
        en = pl.format(
            "{} {}, {} SD {} the lane",
            pl.col("f").replace_strict({c: FEATURES[c][1] for c in columns}),
            value,
            sd,
            pl.when(pl.col("z") >= 0).then(pl.lit("above")).otherwise(pl.lit("below")),
        )
        out = frame.select(zh.alias("zh"), en.alias("en"))
        parts_zh.append(out["zh"].alias(f"zh{j}"))
        parts_en.append(out["en"].alias(f"en{j}"))
    parts = pl.DataFrame(parts_zh + parts_en)
    return parts.select(
        explain_zh=pl.concat_str([p.name for p in parts_zh], separator="；"),
        explain_en=pl.concat_str([p.name for p in parts_en], separator="; "),
        top_features=pl.Series(names[order].astype(str)).cast(pl.List(pl.Utf8)),
        top_z=pl.Series(np.round(top_z, 2)).cast(pl.List(pl.Float64)),
    )


def score_unit_quarters(data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
    """Every eligible unit-quarter with its anomaly score, outlier flag and explanation (empty when too few)."""
    o = settings.outliers
    features = unit_quarter_features(data, settings).filter(pl.col("n") >= o.min_graded)
    # A feature that never varies (e.g. no scores in the data) carries nothing.
    columns = [c for c in FEATURES if features.height and features[c].drop_nulls().n_unique() > 1]
    if not columns or features.height * o.contamination < 1:
        return pl.DataFrame()
    features = standardise_within_lane(features, columns, settings.leniency.min_lane_units)
    zs = features.select([f"z_{c}" for c in columns]).to_numpy()
    forest = IsolationForest(n_estimators=o.n_estimators, contamination=o.contamination, random_state=seed).fit(zs)
    raw = features.select([pl.col(c).cast(pl.Float64) for c in columns]).to_numpy()
    explained = _explain(zs, raw, columns, o.top_features)
    scores = forest.score_samples(zs)  # predict() would score every tree again: it is scores - offset_ < 0
    return features.hstack(explained).with_columns(
        pl.Series("anomaly", -scores),
        pl.Series("outlier", scores - forest.offset_ < 0),
        threshold=pl.lit(float(-forest.offset_)),
    )


class OutlierDetector:
    """Units whose quarter looks unlike the rest of their lane on many features at once."""

    kind = "outlier"
    name_zh = "异常单位"
    name_en = "Unusual units"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        scored = score_unit_quarters(data, settings, seed)
        if scored.height == 0 or not scored["outlier"].any():
            return empty_flags()
        flagged = (
            scored.filter("outlier")
            .sort("unit", "anomaly", "t", descending=[False, True, False])
            # Label periods before grouping: pl.format inside an aggregation panics in Polars 1.44.
            .with_columns(period=period_of(pl.col("t")))
        )
        units = flagged.group_by("unit", maintain_order=True).agg(
            pl.col("lane").first(),
            pl.col("anomaly").first(),
            pl.col("threshold").first(),
            worst_t=pl.col("t").first(),
            t_from=pl.col("t").min(),
            t_to=pl.col("t").max(),
            quarters_flagged=pl.len(),
            flagged_periods=pl.col("period").sort(),
            n=pl.col("n").sum(),
            explain_zh=pl.col("explain_zh").first(),
            explain_en=pl.col("explain_en").first(),
            top_features=pl.col("top_features").first(),
            top_z=pl.col("top_z").first(),
        )
        # rechunk: pl.format over the aggregated string views panicked in Polars 1.44 (binview index assertion).
        units = units.filter(pl.col("quarters_flagged") >= settings.outliers.min_quarters_flagged).rechunk()
        if units.height == 0:
            return empty_flags()
        contamination = settings.outliers.contamination
        out = units.with_columns(
            worst_period=period_of(pl.col("worst_t")), contamination=pl.lit(contamination)
        ).with_columns(
            kind=pl.lit(self.kind),
            subject_type=pl.lit("unit"),
            subject=pl.col("unit"),
            period_from=period_of(pl.col("t_from")),
            period_to=period_of(pl.col("t_to")),
            statistic=pl.lit("isolation-forest anomaly score"),
            statistic_value=pl.col("anomaly"),
            statistics=stats_json(
                "anomaly",
                "threshold",
                "contamination",
                "worst_period",
                "quarters_flagged",
                "flagged_periods",
                "top_features",
                "top_z",
            ),
            severity=(2 * (pl.col("anomaly") - 0.5)).clip(0.05, 1.0),
            n=pl.col("n").cast(pl.Int64),
            evidence_zh=pl.format(
                "{}：{} 的等次与得分构成与同赛道单位明显不同（异常分 {}，属最异常的 {}；共 {} 个季度被标记）：{}。",
                "unit",
                period_words(pl.col("worst_t"), "zh"),
                num(pl.col("anomaly")),
                pl.lit(f"{contamination:.0%}"),
                "quarters_flagged",
                "explain_zh",
            ),
            evidence_en=pl.format(
                "{}: in {} its grade and score mix stood apart from its lane (anomaly score {}, among the most unusual "
                "{}; {} quarter(s) flagged): {}.",
                "unit",
                period_words(pl.col("worst_t"), "en"),
                num(pl.col("anomaly")),
                pl.lit(f"{contamination:.0%}"),
                "quarters_flagged",
                "explain_en",
            ),
        )
        return ordered(finish_flags(out))


DETECTOR = OutlierDetector()
