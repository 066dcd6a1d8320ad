"""Charts of a flag's comparison (frames from analytics.comparisons): data in, figure out, no Streamlit.

Each chart draws the comparison its flag's test made, and its title names the comparison group, so a reader
sees what the p-value speaks of: a reviewer's people against the unit's other people stratum by stratum, a
unit's 好 against its quota quarter by quarter, the forest's anomaly score against its threshold.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from analytics.charts import ACCENT, NEUTRAL, empty_figure, style
from analytics.i18n import pick
from analytics.numbers import period_words

FIFTH_LABELS = {
    -1: ("无得分", "No score"),
    0: ("得分最低 20%", "Lowest 20% of scores"),
    1: ("得分 20–40%", "Scores 20–40%"),
    2: ("得分 40–60%", "Scores 40–60%"),
    3: ("得分 60–80%", "Scores 60–80%"),
    4: ("得分最高 20%", "Top 20% of scores"),
}


def period_label(t: int, lang: str) -> str:
    """A period index (year * 4 + quarter - 1) in words."""
    return period_words(f"{t // 4}Q{t % 4 + 1}", lang)


def _tick(t: int, lang: str, first: bool) -> str:
    """A quarter as a short tick: the quarter, with its year under the year's first quarter (or the first tick)."""
    year, quarter = t // 4, t % 4 + 1
    head = f"{'一二三四'[quarter - 1]}季度" if lang == "zh" else f"Q{quarter}"
    return f"{head}<br>{year}{'年' if lang == 'zh' else ''}" if first or quarter == 1 else head


def _quarter_axis(fig: go.Figure, ts: list[int], lang: str) -> None:
    """Ticks for a quarter axis whose categories are the quarters in words: short enough for half a page."""
    fig.update_xaxes(
        type="category",
        tickangle=0,
        tickvals=[period_label(t, lang) for t in ts],
        ticktext=[_tick(t, lang, i == 0) for i, t in enumerate(ts)],
        tickfont={"size": 10},
    )


def _nothing(lang: str) -> str:
    return pick(("暂无可比较的数据", "Nothing to compare"), lang)


def strata_compare(
    summary: pl.DataFrame, title: str, lang: str, subject: str, by_score: bool, height: int | None = None
) -> go.Figure:
    """Share of 好: the reviewer's people against the unit's other people in each stratum of the test.

    summary from analytics.comparisons.strata_summary (group = score fifth when by_score, else period index).
    """
    if summary.height == 0:
        return empty_figure(title, _nothing(lang), height)
    groups = summary["group"].to_list()
    labels = [pick(FIFTH_LABELS.get(g, (str(g), str(g))), lang) if by_score else period_label(g, lang) for g in groups]
    fig = go.Figure()
    for rate, n, good, name, color in (
        ("rate", "n", "good", subject, ACCENT),
        (
            "others_rate",
            "others_n",
            "others_good",
            pick(("本单位其他人员", "The unit's other people"), lang),
            "#90a4ae",
        ),
    ):
        counts = [f"{int(g)}/{int(m)}" for g, m in zip(summary[good], summary[n], strict=True)]
        fig.add_bar(
            x=labels,
            y=summary[rate].to_list(),
            name=name,
            marker_color=color,
            text=counts,
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:.0%} (%{text})<extra></extra>",
        )
    fig.update_layout(barmode="group", bargap=0.3)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.12], title=pick(("“好”占比", "Share of 好"), lang))
    if by_score:
        fig.update_xaxes(type="category", tickangle=0)
    else:
        _quarter_axis(fig, groups, lang)
    return style(fig, title, height, legend="top")


def quarters_against_cap(
    quarters: pl.DataFrame, title: str, lang: str, lane_centre: float | None = None, height: int | None = None
) -> go.Figure:
    """The unit's share of 好 quarter by quarter (red where over its quota) against the share its quota allowed.

    quarters from analytics.comparisons.unit_quarters_against_cap; lane_centre: the lane test's reference share.
    """
    if quarters.height == 0:
        return empty_figure(title, _nothing(lang), height)
    labels = [period_label(t, lang) for t in quarters["t"]]
    graded = max(int(quarters["n"].sum()), 1)
    share, allowed = quarters["k"].sum() / graded, quarters["quota"].sum() / graded  # the whole period, as tested
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=quarters["share"].to_list(),
        name=pick((f"本单位“好”占比（全期 {share:.0%}）", f"The unit's share of 好 (period {share:.0%})"), lang),
        marker_color=[ACCENT if over else NEUTRAL for over in quarters["over"]],
        text=[f"{int(k)}/{int(n)}" for k, n in zip(quarters["k"], quarters["n"], strict=True)],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{x}: %{y:.0%} (%{text})<extra></extra>",
    )
    fig.add_scatter(
        x=labels,
        y=quarters["allowed"].to_list(),
        mode="lines+markers",
        line={"color": "#37474f", "dash": "dash", "shape": "hv"},
        name=pick((f"名额上限（全期 {allowed:.0%}）", f"Quota allowed (period {allowed:.0%})"), lang),
        hovertemplate="%{x}: %{y:.0%}<extra></extra>",
    )
    if lane_centre is not None:  # a legend entry, not an annotation: it must not sit on the bars
        fig.add_scatter(
            x=labels,
            y=[lane_centre] * len(labels),
            mode="lines",
            line={"color": "#8d6e63", "dash": "dot", "width": 1.5},
            name=pick((f"同赛道参照 {lane_centre:.0%}", f"Lane reference {lane_centre:.0%}"), lang),
            hoverinfo="skip",
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.12], title=pick(("“好”占比", "Share of 好"), lang))
    _quarter_axis(fig, quarters["t"].to_list(), lang)
    return style(fig, title, height, legend="top")


def anomaly_by_quarter(quarters: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """The unit's anomaly score per quarter against the forest's threshold (above it: outlying)."""
    if quarters.height == 0:
        return empty_figure(title, _nothing(lang), height)
    labels = [period_label(t, lang) for t in quarters["t"]]
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=quarters["anomaly"].to_list(),
        name=pick(("异常分数", "Anomaly score"), lang),
        marker_color=[ACCENT if o else NEUTRAL for o in quarters["outlier"]],
        hovertemplate="%{x}: %{y:.2f}<extra></extra>",
    )
    threshold = float(quarters["threshold"][0])
    fig.add_hline(
        y=threshold,
        line={"color": "#37474f", "dash": "dash", "width": 1},
        annotation_text=pick((f"异常阈值 {threshold:.2f}", f"threshold {threshold:.2f}"), lang),
        annotation_position="top left",
    )
    fig.update_yaxes(title=pick(("异常分数", "Anomaly score"), lang), range=[0, 1])
    _quarter_axis(fig, quarters["t"].to_list(), lang)
    return style(fig, title, height, legend=False)


def feature_deviations(features: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """One quarter's features as standard deviations from the lane, largest first (red above, blue below)."""
    from analytics.detectors.outliers import FEATURES

    if features.height == 0:
        return empty_figure(title, _nothing(lang), height)
    names = [pick(FEATURES[f][:2], lang) if f in FEATURES else f for f in features["feature"]]
    z = features["z"].to_list()
    fig = go.Figure(
        go.Bar(
            x=z,
            y=names,
            orientation="h",
            marker_color=[ACCENT if v >= 0 else NEUTRAL for v in z],
            text=[f"{v:+.1f}" for v in z],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(
        title=pick(("与同赛道相差的标准差数", "Standard deviations from the lane"), lang),
        zeroline=True,
        zerolinecolor="#90a4ae",
        showgrid=True,
        gridcolor="#eceff1",
    )
    return style(fig, title, height or 60 + 28 * features.height, legend=False)
