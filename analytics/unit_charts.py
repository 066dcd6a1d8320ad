"""Charts that compare units: the need-ordered 好 heatmap, annual 优秀 against the caps, and unit-against-unit bars.

Data in, figure out (no Streamlit), in the look of analytics.charts. The viewer's own units are marked ★ and
drawn in the accent colour; bars and the heatmap's cells carry their value as people write it (32%, 85.3).
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from analytics.charts import ACCENT, NEUTRAL, empty_figure, quarter_tick, style
from analytics.i18n import CODE_LABELS, pick

MARK = "★ "
SPAN = 0.25  # 25 points either side of the cap take the full colour: beyond that the eye needs no help
ROW = 17  # pixels per unit row
# A written cell is an SVG text the browser lays out and measures: the overview's 80 were a tenth of its first
# draw. Up to this many cells every share is written; beyond, the chosen quarter's column only (hover tells the rest).
TEXT_CELLS = 40
# Below the cap: pale green; at it: near white; above: into red. The cap sits at the middle of the scale.
CENTRED = [[0.0, "#a5d6a7"], [0.4, "#e8f5e9"], [0.5, "#fafafa"], [0.6, "#ffcdd2"], [1.0, "#c62828"]]


def unit_names(units: list[str], mine: frozenset[str] | set[str]) -> list[str]:
    """Row labels with the viewer's own units marked."""
    return [f"{MARK}{u}" if u in mine else u for u in units]


def rows_height(n: int, extra: int = 70) -> int:
    return extra + ROW * max(n, 1)


def need_heatmap(
    cells: pl.DataFrame,
    order: list[str],
    title: str,
    lang: str,
    mine: frozenset[str] | set[str] = frozenset(),
    height: int | None = None,
) -> go.Figure:
    """Unit x quarter share of 好, coloured by its distance from the unit's own cap, the share written in the cells.

    cells from analytics.unit_need.good_share_cells; `order` the units to draw, most in need first
    (analytics.unit_need.units_by_need). Over the quota: the share with ▲. White = at the cap. The share is
    written in every cell of a small grid (TEXT_CELLS), else in the last (chosen) quarter's; hover shows each.
    """
    part = cells.filter(pl.col("unit").is_in(order))
    if part.height == 0:
        return empty_figure(title, pick(("暂无数据", "No data"), lang), height)
    periods = sorted(part["period"].unique().to_list())
    grid = pl.DataFrame({"unit": order}).join(pl.DataFrame({"period": periods}), how="cross")
    full = grid.join(part, on=["unit", "period"], how="left").with_columns(
        gap=pl.col("share") - pl.col("cap"),
        share_text=pl.when(pl.col("share").is_null())
        .then(pl.lit(""))
        .otherwise(
            (pl.col("share") * 100).round(0).cast(pl.Int64).cast(pl.Utf8)
            + pl.lit("%")
            + pl.when(pl.col("over")).then(pl.lit("▲")).otherwise(pl.lit(""))
        ),
    )
    written = pl.lit(grid.height <= TEXT_CELLS) | (pl.col("period") == periods[-1])
    full = full.with_columns(text=pl.when(written).then(pl.col("share_text")).otherwise(pl.lit("")))

    def wide(column: str) -> list[list]:
        return [full[column].slice(i * len(periods), len(periods)).to_list() for i in range(len(order))]

    hover = pick(
        ("%{y} · %{x}<br>“好” %{customdata[0]} / 评定 %{customdata[1]} 人 = %{customdata[5]}<br>名额 %{customdata[2]} 人，"
         "上限 %{customdata[3]:.0%}（%{customdata[4]}）", "%{y} · %{x}<br>好 %{customdata[0]} of %{customdata[1]} "
         "graded = %{customdata[5]}<br>quota %{customdata[2]}, cap %{customdata[3]:.0%} (%{customdata[4]})"),
        lang,
    )  # fmt: skip
    words = {code: pick(pair, lang) for code, pair in CODE_LABELS["cap_source"].items()}
    sources = [[words.get(c, "") for c in row] for row in wide("cap_source")]
    custom = [
        [list(cell) for cell in zip(*row, strict=True)]
        for row in zip(wide("good"), wide("n"), wide("quota"), wide("cap"), sources, wide("share_text"), strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=wide("gap"),
            x=[quarter_tick(p, lang) for p in periods],
            y=unit_names(order, mine),
            zmin=-SPAN,
            zmax=SPAN,
            zmid=0,
            colorscale=CENTRED,
            xgap=1,
            ygap=1,
            showscale=False,
            text=wide("text"),
            texttemplate="%{text}",
            textfont={"size": 10},
            customdata=custom,
            hovertemplate=hover + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 10}, showgrid=False)
    fig.update_xaxes(type="category", tickfont={"size": 9}, side="top", showgrid=False)
    fig.add_annotation(  # the key, in the empty corner above the unit names
        text=pick(
            ("白 = 本单位上限<br>红 = 超出　▲ 超名额", "white = the unit's cap<br>red = above　▲ over quota"), lang
        ),
        xref="paper",
        yref="paper",
        x=0,
        y=1,
        xanchor="right",
        yanchor="bottom",
        xshift=-6,
        align="right",
        showarrow=False,
        font={"size": 10, "color": "#607d8b"},
    )
    return style(fig, title, height or rows_height(len(order)), legend=False)


def _percent_text(values: list[float | None]) -> list[str]:
    return ["" if v is None else f"{v:.0%}" for v in values]


def excellent_bars(
    excellent: pl.DataFrame,
    title: str,
    lang: str,
    mine: frozenset[str] | set[str] = frozenset(),
    height: int | None = None,
) -> go.Figure:
    """Each unit's annual 优秀 share (bars, red when over) against its own cap (a black tick on each bar).

    excellent from analytics.unit_need.excellent_against_cap, most in need first.
    """
    if excellent.height == 0:
        return empty_figure(title, pick(("暂无年度考核数据", "No annual grades"), lang), height)
    units = excellent["unit"].to_list()
    names = unit_names(units, mine)
    over = excellent["over"].to_list()
    colors = [ACCENT if o else ("#ef9a9a" if u in mine else "#90a4ae") for u, o in zip(units, over, strict=True)]
    fig = go.Figure()
    fig.add_bar(
        x=excellent["share"].to_list(),
        y=names,
        orientation="h",
        marker_color=colors,
        text=_percent_text(excellent["share"].to_list()),
        textposition="outside",
        cliponaxis=False,
        textfont={"size": 10},
        customdata=list(zip(excellent["excellent"], excellent["n"], excellent["allowed"], strict=True)),
        name=pick(("“优秀”占比", "Share of 优秀"), lang),
        hovertemplate=pick(
            (
                "%{y}：“优秀” %{customdata[0]} / %{customdata[1]} 人 = %{x:.0%}，可评 %{customdata[2]} 人",
                "%{y}: 优秀 %{customdata[0]} of %{customdata[1]} = %{x:.0%}, %{customdata[2]} allowed",
            ),
            lang,
        )
        + "<extra></extra>",  # fmt: skip
    )
    fig.add_scatter(
        x=excellent["cap"].to_list(),
        y=names,
        mode="markers",
        marker={"symbol": "line-ns", "size": 14, "line": {"width": 2, "color": "#263238"}},
        name=pick(("本单位上限", "The unit's cap"), lang),
        hovertemplate=pick(("%{y}：上限 %{x:.0%}", "%{y}: cap %{x:.0%}"), lang) + "<extra></extra>",
    )
    top = max(float(excellent["share"].max() or 0), float(excellent["cap"].max() or 0))
    fig.update_xaxes(tickformat=".0%", range=[0, min(1.0, top + 0.12)], showgrid=True, gridcolor="#eceff1")
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 10})
    fig = style(fig, title, height or rows_height(len(units), 90), legend="top")
    return fig.update_layout(bargap=0.3)


def compare_bars(
    compared: pl.DataFrame,
    title: str,
    lang: str,
    value_name: str,
    percent: bool,
    highlight: frozenset[str] | set[str] = frozenset(),
    height: int | None = None,
) -> go.Figure:
    """Units of one lane side by side on one measure, highest first; highlighted units in the accent colour.

    compared from analytics.unit_compare.compare: unit, value, cap (share measures), rank, lane_mean.
    The dashed line is the mean over the lane's units (those the viewer cannot see included).
    """
    shown = compared.filter(pl.col("value").is_not_null())
    if shown.height == 0:
        return empty_figure(title, pick(("此指标暂无数据", "No values for this measure"), lang), height)
    units = shown["unit"].to_list()
    names = unit_names(units, highlight)
    values = shown["value"].to_list()
    text = _percent_text(values) if percent else [f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" for v in values]
    fig = go.Figure()
    fig.add_bar(
        x=values,
        y=names,
        orientation="h",
        marker_color=[ACCENT if u in highlight else NEUTRAL for u in units],
        text=text,
        textposition="outside",
        cliponaxis=False,
        textfont={"size": 10},
        customdata=list(zip(units, shown["rank"], shown["units_in_lane"], strict=True)),
        name=value_name,
        hovertemplate=pick(
            (
                "%{customdata[0]}：%{text}，第 %{customdata[1]} / %{customdata[2]} 位",
                "%{customdata[0]}: %{text}, %{customdata[1]} of %{customdata[2]}",
            ),
            lang,
        )
        + "<extra></extra>",  # fmt: skip
    )
    if "cap" in shown.columns and shown["cap"].drop_nulls().len():
        fig.add_scatter(
            x=shown["cap"].to_list(),
            y=names,
            mode="markers",
            marker={"symbol": "line-ns", "size": 12, "line": {"width": 2, "color": "#263238"}},
            name=pick(("本单位上限", "The unit's cap"), lang),
            hovertemplate=pick(("上限 %{x:.0%}", "cap %{x:.0%}"), lang) + "<extra></extra>",
        )
    mean = shown["lane_mean"][0]
    if mean is not None:
        fig.add_vline(
            x=mean,
            line={"color": "#607d8b", "dash": "dash", "width": 1},
            annotation_text=pick(
                (
                    f"各单位平均 {mean:.0%}" if percent else f"各单位平均 {mean:,.1f}",
                    f"unit average {mean:.0%}" if percent else f"unit average {mean:,.1f}",
                ),
                lang,
            ),  # fmt: skip
            annotation_position="top",
            annotation_yshift=-2,
            annotation_font={"size": 10, "color": "#607d8b"},
        )
    fig.update_xaxes(tickformat=".0%" if percent else ",.0f", showgrid=True, gridcolor="#eceff1", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 10})
    fig = style(fig, title, height or rows_height(len(units), 80), legend=False)
    return fig.update_layout(bargap=0.25, clickmode="event+select", margin_t=26)
