"""The figures and tables beside a flag of each kind, each showing its test's comparison (analytics.comparisons).

analytics.report.flag_evidence calls `add_comparison` for every kind but rotation; the titles name the comparison
group, in the reader's language.
"""

from __future__ import annotations

import polars as pl

from analytics import charts, comparisons, evidence_charts
from analytics.dataset import AssessmentData
from analytics.i18n import pick
from analytics.settings import Settings


def add_comparison(ev, data: AssessmentData, settings: Settings, flag: dict, lang: str) -> None:
    """Append the figures (ev.figures) and tables (ev.tables) of the flag's comparison to `ev` (report.Evidence)."""
    kind = flag.get("kind")
    stats = comparisons.statistics_of(flag)
    if kind == "leniency":
        if stats.get("basis") == "sole":
            _cap_and_lane(ev, data, settings, flag, stats, lang, comparisons.sole_lane_funnel, stats.get("lane_mean"))
        else:
            _reviewer(ev, data, settings, flag, stats, lang)
    elif kind == "quota":
        _cap_and_lane(ev, data, settings, flag, stats, lang, comparisons.quota_lane_funnel, stats.get("lane_mean"))
    elif kind == "compression":
        _compression(ev, data, settings, flag, stats, lang)
    elif kind == "silent_negatives":
        _negatives(ev, data, settings, flag, lang)
    elif kind == "outlier":
        _outlier(ev, data, settings, flag, stats, lang)
    elif kind == "outcome_rule" and flag.get("subject_type") == "person":
        _gate(ev, data, settings, flag, lang)


def _points(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:+.0f}"


def _reviewer(ev, data: AssessmentData, settings: Settings, flag: dict, stats: dict, lang: str) -> None:
    basis = stats.get("basis") or "within"
    by_score = basis == "within"
    strata = comparisons.reviewer_strata(data, settings, flag["unit"], flag["subject"], basis)
    summary = comparisons.strata_summary(strata, by_score)
    who, effect = flag["subject"], _points(stats.get("effect"))
    if by_score:
        title = pick(
            (
                f"{who} 所评人员与本单位其他人员：同季度、同得分段的“好”占比（分层差 {effect} 个百分点）",
                f"Share of 好 at equal score: {who}'s people against the unit's other people, "
                f"same quarter and score fifth ({effect} points)",
            ),
            lang,
        )
    elif basis == "scores_rose":
        title = pick(
            (
                f"{who} 所评人员与本单位其他人员：本单位超出名额各季度的“好”占比（差 {effect} 个百分点）",
                f"Share of 好 in the quarters the unit went over its cap: {who}'s people against the unit's "
                f"other people ({effect} points)",
            ),
            lang,
        )
    else:
        title = pick(
            (
                f"{who} 所评人员与本单位其他人员：各季度“好”占比（无得分，差 {effect} 个百分点）",
                f"Share of 好 quarter by quarter: {who}'s people against the unit's other people "
                f"(no scores; {effect} points)",
            ),
            lang,
        )
    subject = pick((f"{who} 所评人员", f"{who}'s people"), lang)
    ev.figures.append(("strata", evidence_charts.strata_compare(summary, title, lang, subject, by_score, height=360)))
    ev.tables["strata"] = (
        pick(("分层比较（每个季度 × 得分段）", "Strata of the comparison (quarter x score fifth)"), lang)
        if by_score
        else pick(("分层比较（每个季度）", "Strata of the comparison (quarter by quarter)"), lang),
        _strata_table(strata, by_score, lang),
    )


def _period_words(column: str, lang: str) -> pl.Expr:
    return pl.col(column).map_elements(lambda t: evidence_charts.period_label(t, lang), return_dtype=pl.Utf8)


def _strata_table(strata: pl.DataFrame, by_score: bool, lang: str) -> pl.DataFrame:
    """The strata as people read them: periods and score bands in words, counts as whole numbers."""
    bands = {k: pick(v, lang) for k, v in evidence_charts.FIFTH_LABELS.items()}
    counts = ("n", "good", "others_n", "others_good")
    return strata.select(
        _period_words("t", lang).alias("period"),
        *([pl.col("stratum").replace_strict(bands, return_dtype=pl.Utf8)] if by_score else []),
        *[pl.col(c).cast(pl.Int64) for c in counts],
        "rate",
        "others_rate",
        "o_e",
        "w",
    ).rename(
        {
            "n": "graded",
            "good": "given_good",
            "others_n": "others_graded",
            "others_good": "others_given_good",
            "rate": "good_share",
            "others_rate": "others_good_rate",
            "o_e": "observed_minus_expected",
            "w": "weight",
        }
    )


def _cap_and_lane(ev, data, settings, flag: dict, stats: dict, lang: str, funnel_of, centre: float | None) -> None:
    unit = flag["unit"]
    quarters = comparisons.unit_quarters_against_cap(data, settings, unit)
    title = pick((f"{unit}：每季度“好”占比与名额上限", f"{unit}: share of 好 each quarter against its quota"), lang)
    ev.figures.append(("quarters", evidence_charts.quarters_against_cap(quarters, title, lang, centre, height=340)))
    funnel = funnel_of(data, settings, unit)
    if funnel.height:
        lane = funnel.filter(pl.col("unit") == unit)["lane"][0]
        ev.figures.append(
            (
                "funnel",
                charts.funnel_plot(
                    funnel,
                    pick(("与同赛道各单位比较（检验的控制限）", "Against the lane's units (the test's limits)"), lang),
                    lang,
                    highlight=unit,
                    height=360,
                    centre_name=pick(("同赛道参照", "Lane reference"), lang),
                ),
            )
        )
        ev.tables["funnel"] = (pick(("同赛道单位", "Units of the lane"), lang), funnel.filter(pl.col("lane") == lane))
    ev.tables["quarters"] = (
        pick(("每季度“好”与名额", "好 and quota by quarter"), lang),
        quarters.select(
            _period_words("t", lang).alias("period"),
            pl.col("n").cast(pl.Int64).alias("graded"),
            pl.col("k").cast(pl.Int64).alias("given_good"),
            "quota",
            pl.col("share").alias("good_share"),
            pl.col("allowed").alias("allowed_share"),
            pl.col("over").alias("over_quota"),
        ),
    )


def _window_words(window: str | None, lang: str) -> str:
    if not window or window == "all":
        return pick(("全期", "whole period"), lang)
    return pick((f"{window} 年", window), lang)


def _compression(ev, data, settings, flag: dict, stats: dict, lang: str) -> None:
    window = stats.get("window") or "all"
    funnel = comparisons.compression_lane_funnel(data, settings, flag["unit"], window)
    if funnel.height == 0:
        return
    words = _window_words(window, lang)
    title = pick(
        (
            f"与同赛道各单位比较（{words}）：非最多等次的占比，低于控制限即等次过于集中",
            f"Against the lane's units ({words}): share of grades outside the most common one; below the limits is compressed",
        ),
        lang,
    )
    _lane_funnel(ev, funnel, flag, title, (("非最多等次占比", "Outside the most common grade"),
                                          ("同赛道中位单位", "Lane's median unit")), lang)  # fmt: skip


def _negatives(ev, data, settings, flag: dict, lang: str) -> None:
    funnel = comparisons.negatives_lane_funnel(data, settings, flag["unit"], flag)
    if funnel.height == 0:
        return
    title = pick(
        (
            "与同赛道各单位比较：负面记录率（一般/较差等次与负面结果运用，每人次）",
            "Against the lane's units: negative records per person-quarter (Average/Poor grades and negative outcomes)",
        ),
        lang,
    )
    _lane_funnel(ev, funnel, flag, title, (("负面记录率", "Negative records"), ("同赛道记录率", "Lane rate")), lang)


def _lane_funnel(ev, funnel, flag: dict, title: str, words: tuple, lang: str) -> None:
    """The flagged unit among its lane's units (funnel with the test's limits) and the table behind it."""
    value_words, centre_words = words
    figure = charts.funnel_plot(funnel, title, lang, highlight=flag["unit"], height=380,
                                value_title=pick(value_words, lang), centre_name=pick(centre_words, lang))  # fmt: skip
    ev.figures.append(("funnel", figure))
    ev.tables["funnel"] = (pick(("同赛道单位", "Units of the lane"), lang), funnel)


def _outlier(ev, data, settings, flag: dict, stats: dict, lang: str) -> None:
    quarters = comparisons.outlier_quarters(data, settings, flag["unit"])
    if quarters.height == 0:
        return
    unit = flag["unit"]
    ev.figures.append(
        (
            "anomaly",
            evidence_charts.anomaly_by_quarter(
                quarters,
                pick(
                    (
                        f"{unit}：各季度异常分数（与同赛道各单位比较）",
                        f"{unit}: anomaly score each quarter (against the lane's units)",
                    ),
                    lang,
                ),
                lang,
                height=320,
            ),
        )
    )
    worst = stats.get("worst_period")
    t = int(worst[:4]) * 4 + int(worst[-1]) - 1 if worst and "Q" in worst else None
    features = comparisons.outlier_features(quarters, t)
    when = evidence_charts.period_label(t, lang) if t is not None else ""
    ev.figures.append(
        (
            "features",
            evidence_charts.feature_deviations(
                features,
                pick((f"{when}：各项指标偏离同赛道的程度", f"{when}: how far each feature is from the lane"), lang),
                lang,
            ),
        )
    )


def _gate(ev, data, settings, flag: dict, lang: str) -> None:
    """The person's quarters of the flag's year, against the gate the rules set for annual 优秀."""
    from analytics.person import timeline

    year = flag.get("period_from", "")[:4]
    record = timeline(data, flag["subject"]).filter(pl.col("period").str.starts_with(year))
    if record.height == 0:
        return
    gate = settings.gate
    rule = pick(
        (
            f"门槛：至少 {gate.min_good} 个“好”" + ("，且无一般及以下" if gate.no_average_or_below else ""),
            f"gate: at least {gate.min_good} 好" + (", none Average or below" if gate.no_average_or_below else ""),
        ),
        lang,
    )
    from analytics.numbers import period_words

    shown = record.with_columns(pl.col("period").map_elements(lambda p: period_words(p, lang), return_dtype=pl.Utf8))
    title = pick((f"{year} 年平时考核等次（{rule}）", f"Quarterly grades in {year} ({rule})"), lang)
    ev.figures.append(("gate", charts.grade_timeline(shown, title, lang, height=300)))
