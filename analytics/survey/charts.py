"""Survey figures: data in, figure out (diverging Likert bars, cross-tab bars, means with intervals, unit scatter).

Suppressed rows are never drawn: the frames come from analytics.survey.analysis, already through
analytics.privacy, and these builders skip every row marked `suppressed`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.colors import sample_colorscale

from analytics.charts import ACCENT, NEUTRAL, empty_figure, style
from analytics.i18n import pick


def _visible(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(~pl.col("suppressed")) if "suppressed" in frame.columns else frame


def _level_colors(levels: int) -> list[str]:
    """Red (most negative) through grey to blue (most positive)."""
    if levels <= 1:
        return ["#90a4ae"]
    colors = sample_colorscale("RdBu", [0.1 + 0.8 * i / (levels - 1) for i in range(levels)])
    if levels % 2:  # the midpoint as a visible grey, not near-white
        colors[levels // 2] = "#cfd8dc"
    return colors


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def diverging_bars(dist: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """Diverging stacked bars for scale items: disagreement left of zero, agreement right, the midpoint split.

    dist: analysis.item_distribution rows of scale items (value and side not null).
    """
    scaled = _visible(dist).filter(pl.col("value").is_not_null())
    if scaled.height == 0:
        return empty_figure(title, pick(("暂无可显示的量表题", "No scale item to show"), lang), height)
    levels = int(scaled["value"].max())
    colors = _level_colors(levels)
    items = scaled.select("item_id", "item_text").unique(maintain_order=True)
    labels = [f"{i} {_short(t)}" for i, t in items.iter_rows()]
    y_of = dict(zip(items["item_id"], labels, strict=True))
    fig = go.Figure()
    # Relative bars stack away from zero in trace order: innermost level first on each side.
    neg = sorted({v for v, s in zip(scaled["value"], scaled["side"], strict=True) if s <= 0}, reverse=True)
    pos = sorted({v for v, s in zip(scaled["value"], scaled["side"], strict=True) if s >= 0})
    for side, values in ((-1, neg), (1, pos)):
        for value in values:
            part = scaled.filter(pl.col("value") == value)
            neutral = part["side"][0] == 0
            share = part["share"] * (0.5 if neutral else 1.0) * side
            fig.add_bar(
                y=[y_of[i] for i in part["item_id"]], x=share.to_list(), orientation="h",
                name=part["answer"][0], legendgroup=str(value), legendrank=int(value), showlegend=not (neutral and side > 0),
                marker_color=colors[min(int(value), levels) - 1],
                customdata=list(zip(part["answer"], part["n"], part["share"], strict=True)),
                hovertemplate="%{customdata[0]}: %{customdata[2]:.1%} (%{customdata[1]})<extra></extra>",
            )  # fmt: skip
    fig.update_layout(barmode="relative", bargap=0.3)
    fig.add_vline(x=0, line_color="#455a64", line_width=1)
    fig.update_xaxes(tickformat=".0%", title=pick(("← 不认同 · 认同 →", "← disagree · agree →"), lang))
    fig.update_yaxes(autorange="reversed", title=None)
    return style(fig, title, height or max(220, 70 + 42 * items.height))


def option_bars(dist: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """Horizontal bars: share of respondents choosing each option (choice items)."""
    shown = _visible(dist)
    if shown.height == 0:
        return empty_figure(title, pick(("人数过少，已隐藏", "Too few respondents: hidden"), lang), height)
    fig = go.Figure(
        go.Bar(y=shown["answer"].to_list(), x=shown["share"].to_list(), orientation="h", marker_color=NEUTRAL,
               customdata=shown["n"].to_list(), hovertemplate="%{y}: %{x:.1%} (%{customdata})<extra></extra>")
    )  # fmt: skip
    fig.update_xaxes(tickformat=".0%", title=pick(("占答题人数比例", "share of respondents"), lang))
    fig.update_yaxes(autorange="reversed", title=None)
    return style(fig, title, height or max(220, 60 + 30 * shown.height), legend=False)


def crosstab_bars(table: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """100% stacked bars: each group's answer mix (crosstab table), scale answers coloured red to blue."""
    shown = _visible(table)
    if shown.height == 0:
        return empty_figure(title, pick(("各组人数均过少，已隐藏", "Every group is too small: hidden"), lang), height)
    answers = shown.select("answer", "value").unique(maintain_order=True)
    scaled = answers["value"].drop_nulls()
    colors = _level_colors(int(scaled.max())) if scaled.len() else None
    fig = go.Figure()
    for answer, value in answers.iter_rows():
        part = shown.filter(pl.col("answer") == answer)
        color = colors[int(value) - 1] if colors and value is not None else None
        fig.add_bar(y=part["group"].to_list(), x=part["row_share"].to_list(), orientation="h", name=answer,
                    marker_color=color, customdata=part["n"].to_list(),
                    hovertemplate="%{y} · " + answer + ": %{x:.1%} (%{customdata})<extra></extra>")  # fmt: skip
    fig.update_layout(barmode="stack", bargap=0.25)
    fig.update_xaxes(tickformat=".0%", title=None)
    fig.update_yaxes(title=None, autorange="reversed")
    return style(fig, title, height or max(240, 80 + 28 * shown["group"].n_unique()))


def means_with_ci(means: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """Dots with 95% interval whiskers: each item's mean by group (analysis.item_means_by_group)."""
    shown = _visible(means).filter(pl.col("mean").is_not_null())
    if shown.height == 0:
        return empty_figure(title, pick(("人数过少，已隐藏", "Too few respondents: hidden"), lang), height)
    fig = go.Figure()
    for (item_id, item_text), part in shown.group_by("item_id", "item_text", maintain_order=True):
        fig.add_scatter(
            x=part["mean"].to_list(), y=part["group"].to_list(), mode="markers", name=f"{item_id} {_short(item_text)}",
            error_x={"type": "data", "symmetric": False,
                     "array": (part["ci_high"] - part["mean"]).fill_null(0).to_list(),
                     "arrayminus": (part["mean"] - part["ci_low"]).fill_null(0).to_list()},
            customdata=list(zip(part["n"], part["ci_low"], part["ci_high"], strict=True)),
            hovertemplate="%{y}: %{x:.2f} [%{customdata[1]:.2f}, %{customdata[2]:.2f}] n=%{customdata[0]}<extra></extra>",
        )  # fmt: skip
    levels = shown["levels"].max()
    if levels:
        fig.update_xaxes(range=[0.8, levels + 0.2], dtick=1)
    fig.update_xaxes(title=pick(("均值（1 = 最负面）与 95% 置信区间", "mean (1 = most negative), 95% CI"), lang))
    fig.update_yaxes(title=None, type="category")
    return style(fig, title, height or max(240, 90 + 26 * shown["group"].n_unique()))


def unit_scatter(per_unit: pl.DataFrame, x: str, y: str, flag_col: str, title: str, lang: str,
                 x_title: str, y_title: str, height: int | None = None) -> go.Figure:  # fmt: skip
    """One dot per unit (unsuppressed): unit measure x against survey distrust y, flagged units in red."""
    shown = _visible(per_unit).filter(pl.col(x).is_not_null() & pl.col(y).is_not_null())
    if shown.height == 0:
        return empty_figure(title, pick(("没有可比较的单位", "No unit to compare"), lang), height)
    fig = go.Figure()
    for flagged, color, name in ((False, NEUTRAL, ("未预警", "not flagged")), (True, ACCENT, ("已预警", "flagged"))):
        part = shown.filter(pl.col(flag_col) == flagged)
        if part.height == 0:
            continue
        fig.add_scatter(
            x=part[x].to_list(), y=part[y].to_list(), mode="markers", name=pick(name, lang),
            marker={"color": color, "size": (part["respondents"].cast(pl.Float64).sqrt() * 3 + 4).to_list(),
                    "opacity": 0.75, "line": {"width": 0.5, "color": "white"}},
            customdata=list(zip(part["unit"], part["respondents"], strict=True)),
            hovertemplate="%{customdata[0]}<br>" + x_title + ": %{x:.3f}<br>" + y_title
            + ": %{y:.3f}<br>n=%{customdata[1]}<extra></extra>",
        )  # fmt: skip
    fig.update_xaxes(title=x_title, zeroline=False)
    fig.update_yaxes(title=y_title, tickformat=".0%" if "share" in y else None)
    return style(fig, title, height or 420)
