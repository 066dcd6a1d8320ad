"""Plotly figure builders: data in, figure out. No Streamlit here, so reports reuse them.

Every builder takes the frame to draw, a title (already in the reader's language) and `lang`
for axis and legend words; data values (units, grades, names) are drawn as written. The layout
names CJK fonts first so Chinese renders in browsers, exported HTML and images alike.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analytics.i18n import column_label, grade_label, kind_label, pick
from analytics.markup import plotly_safe
from analytics.numbers import period_ticks
from analytics.vocab import QUARTERLY_GRADES

CJK_FONT = "WenQuanYi Zen Hei, Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
GRADE_COLORS = {"好": "#2e7d32", "较好": "#81c784", "一般": "#ffb74d", "较差": "#e53935", "不确定等次": "#b0bec5"}
ANNUAL_COLORS = {
    "优秀": "#2e7d32",
    "称职": "#81c784",
    "合格": "#81c784",
    "基本称职": "#ffb74d",
    "基本合格": "#ffb74d",
    "不称职": "#e53935",
    "不合格": "#e53935",
    "不确定等次": "#b0bec5",
}
ACCENT = "#c62828"  # the party-red accent used for caps and limits
NEUTRAL = "#1565c0"


def style(fig: go.Figure, title: str, height: int | None = None, legend: bool | str = True) -> go.Figure:
    """The common look: CJK font, compact margins, title top-left, legend on the right, y-axis names level.

    Axis names on the y side are written horizontally above the axis (as Chinese charts do) instead
    of rotated 90 degrees. legend="top" lays the legend out in rows above an untitled plot instead.
    """
    raised = _level_y_titles(fig)
    top = legend == "top"
    fig.update_layout(
        title={
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 0.99,
            "yanchor": "top",
            "yref": "container",
            "font": {"size": 15},
        },
        font={"family": CJK_FONT, "size": 12},
        margin={
            "l": 8,
            "r": 8,
            # a second title line (<br><sup>…</sup>) needs its own room above the plot
            "t": (46 if title else 8)
            + (16 if "<br>" in (title or "") else 0)
            + (22 if raised else 0)
            + (46 if top else 0),
            "b": 8,
        },
        height=height,
        showlegend=bool(legend),
        legend={
            "orientation": "h" if top else "v",
            "x": 0 if top else 1.01,
            "xanchor": "left",
            "y": 1.02 if top else 1,
            "yanchor": "bottom" if top else "top",
            "font": {"size": 11},
            "title": {"text": ""},
            "tracegroupgap": 2,
        },
        plot_bgcolor="white",
        paper_bgcolor="white",
        hoverlabel={"font": {"family": CJK_FONT}},
    )
    fig.update_xaxes(automargin=True, showgrid=False, linecolor="#cfd8dc")
    fig.update_yaxes(automargin=True, gridcolor="#eceff1", linecolor="#cfd8dc")
    return plotly_safe(fig)  # labels from data never become links or markup (analytics.markup)


def _level_y_titles(fig: go.Figure) -> bool:
    """Move y-axis titles into level annotations above each axis; True when any was moved."""
    moved = False
    for name, side in (("yaxis", "left"), ("yaxis2", "right")):
        axis = getattr(fig.layout, name, None)
        text = axis.title.text if axis is not None and axis.title is not None else None
        if not text:
            continue
        axis.title.text = None
        left = side == "left"
        fig.add_annotation(
            text=text,
            xref="paper",
            yref="paper",
            x=0 if left else 1,
            y=1,
            xanchor="right" if left else "left",
            yanchor="bottom",
            yshift=6,
            showarrow=False,
            font={"size": 11, "color": "#607d8b"},
        )
        moved = True
    return moved


def empty_figure(title: str, message: str, height: int | None = None) -> go.Figure:
    """A titled placeholder saying why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, title, height, legend=False)


def _nothing(lang: str) -> str:
    return pick(("暂无数据", "No data"), lang)


def quarter_tick(period: str, lang: str) -> str:
    """A quarter as an axis tick people read: '2025<br>一季度' / '2025<br>Q1' (never the code 2025Q1)."""
    year, _, quarter = period.partition("Q")
    if not quarter.isdigit() or not 1 <= int(quarter) <= 4:
        return period
    return f"{year}<br>{'一二三四'[int(quarter) - 1]}季度" if lang == "zh" else f"{year}<br>Q{quarter}"


def quarter_ticks(periods: list[str], lang: str) -> list[str]:
    """Narrow ticks for consecutive quarters: the quarter, and its year under the first shown and each first quarter."""
    ticks = []
    for i, period in enumerate(periods):
        year, _, quarter = period.partition("Q")
        if not quarter.isdigit() or not 1 <= int(quarter) <= 4:
            ticks.append(period)
            continue
        word = f"{'一二三四'[int(quarter) - 1]}季" if lang == "zh" else f"Q{quarter}"
        ticks.append(f"{word}<br>{year}" if i == 0 or quarter == "1" else word)
    return ticks


def grade_mix_bars(
    mix: pl.DataFrame, title: str, lang: str, height: int | None = None, legend: bool | str = True
) -> go.Figure:
    """Stacked bars: share of each quarterly grade per quarter (mix from overview.grade_mix)."""
    if mix.height == 0:
        return empty_figure(title, _nothing(lang), height)
    fig = go.Figure()
    for grade in QUARTERLY_GRADES:
        part = mix.filter(pl.col("grade") == grade)
        if part.height == 0 or part["count"].sum() == 0:
            continue
        fig.add_bar(
            x=period_ticks(part["period"].to_list(), lang),
            y=part["share"].to_list(),
            name=grade_label(grade, lang),
            marker_color=GRADE_COLORS.get(grade),
            customdata=part["count"].to_list(),
            hovertemplate="%{x} " + grade + ": %{y:.1%} (%{customdata})<extra></extra>",
        )
    fig.update_layout(barmode="stack", bargap=0.25)
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    shown = sorted(mix["period"].unique().to_list())
    fig.update_xaxes(
        type="category",
        title=None,
        tickvals=period_ticks(shown, lang),
        ticktext=quarter_ticks(shown, lang),
        tickangle=0,
        tickfont={"size": 9},
    )
    fig = style(fig, title, height, legend=legend)
    if legend == "top":  # several grades to a row, so the legend stays two rows high
        fig.update_layout(
            legend={"entrywidth": 0.5 if lang == "en" else 0.33, "entrywidthmode": "fraction", "traceorder": "normal"}
        )
    return fig


def good_share_heatmap(cells: pl.DataFrame, title: str, lang: str, cap: float, height: int | None = None) -> go.Figure:
    """Unit x quarter share of 好; cells above the cap stand out in red (cells from overview.good_share_by_unit)."""
    if cells.height == 0:
        return empty_figure(title, _nothing(lang), height)
    wide = cells.pivot(on="period", index="unit", values="share", maintain_order=True)
    period_cols = sorted(c for c in wide.columns if c != "unit")
    z = wide.select(period_cols).to_numpy()
    units = wide["unit"].to_list()
    # Green below the cap, yellow at it, red from 20 points above: the cap is where the eye should go.
    top = min(cap + 0.2, 1.0)
    scale = [[0.0, "#e8f5e9"], [0.5 * cap / top, "#c5e1a5"], [cap / top, "#fff176"], [1.0, "#c62828"]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=period_cols,
            y=units,
            zmin=0,
            zmax=top,
            colorscale=scale,
            xgap=1,
            ygap=1,
            showscale=False,
            hovertemplate="%{y} %{x}: %{z:.0%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 10}, showgrid=False)
    fig.update_xaxes(type="category", tickfont={"size": 10}, side="top")
    return style(fig, title, height, legend=False)


def flags_by_kind_bars(counts: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """Horizontal bars: open flags per kind (counts from overview.flags_by_kind)."""
    if counts.height == 0:
        return empty_figure(title, pick(("暂无预警", "No open flags"), lang), height)
    labels = [kind_label(k, lang) for k in counts["kind"]]
    fig = go.Figure(
        go.Bar(
            x=counts["count"].to_list(),
            y=labels,
            orientation="h",
            marker_color=ACCENT,
            text=counts["count"].to_list(),
            textposition="auto",
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=column_label("count", lang), showgrid=True, gridcolor="#eceff1")
    return style(fig, title, height, legend=False)


def distribution(
    values: pl.DataFrame,
    value_col: str,
    title: str,
    lang: str,
    by: str = "lane",
    height: int | None = None,
    value_title: str | None = None,
    split: str | None = "basis",
) -> go.Figure:
    """Horizontal box plots of a value per group (e.g. the ranking value per lane).

    Groups measured on different yardsticks (`split`, e.g. score 0-100 against grade points 1-4) get
    their own panel, so no scale squashes another.
    """
    if values.height == 0 or value_col not in values.columns:
        return empty_figure(title, _nothing(lang), height)
    rows = values.filter(pl.col(value_col).is_not_null())
    panels = (
        rows.partition_by(split, maintain_order=True, as_dict=True)
        if split and split in rows.columns
        else {("",): rows}
    )
    if not panels:
        return empty_figure(title, _nothing(lang), height)
    sizes = [part[by].n_unique() for part in panels.values()]
    names = [CODE_NAMES.get(str(key[0]), (str(key[0]), str(key[0]))) for key in panels]
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=[max(n, 1) for n in sizes],
        vertical_spacing=0.12,
        subplot_titles=[pick(n, lang) for n in names] if len(panels) > 1 else None,
    )
    for row, part in enumerate(panels.values(), start=1):
        for (group,), members in part.group_by(by, maintain_order=True):
            fig.add_box(
                x=members[value_col].to_list(),
                name=str(group),
                orientation="h",
                marker_color=NEUTRAL,
                line_width=1,
                boxpoints="outliers" if members.height > 30 else "all",
                showlegend=False,
                row=row,
                col=1,
            )
        fig.update_yaxes(autorange="reversed", tickfont={"size": 10}, row=row, col=1)
    for annotation in fig.layout.annotations:
        annotation.update(font={"size": 12, "color": "#607d8b"}, x=0, xanchor="left")
    fig.update_xaxes(showgrid=True, gridcolor="#eceff1")
    fig.update_xaxes(title=value_title or column_label(value_col, lang), row=len(panels), col=1)
    return style(fig, title, height or 80 + 26 * sum(sizes), legend=False)


# Names of yardsticks (analytics.rankings `basis`).
CODE_NAMES = {
    "score": ("得分", "Score"),
    "grade": ("等次分（好4 较好3 一般2 较差1）", "Grade points (好 4 … 较差 1)"),
    "index": ("综合指数", "Index"),
    "fair": ("公平得分", "Fair score"),
    "good_share": ("“好”占比", "Share of 好"),
}


def bars(
    frame: pl.DataFrame,
    x: str,
    y: str,
    title: str,
    lang: str,
    height: int | None = None,
    color: str | None = None,
    percent: bool = False,
    horizontal: bool = False,
    x_title: str | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """Plain or grouped bars of y by x (colour groups optional)."""
    if frame.height == 0:
        return empty_figure(title, _nothing(lang), height)
    fig = go.Figure()
    groups = frame.partition_by(color, maintain_order=True, as_dict=True) if color else {("",): frame}
    for key, part in groups.items():
        xs, ys = period_ticks(part[x].cast(pl.Utf8).to_list(), lang), part[y].to_list()
        fig.add_bar(
            x=ys if horizontal else xs,
            y=xs if horizontal else ys,
            name=str(key[0]),
            orientation="h" if horizontal else "v",
            marker_color=None if color else NEUTRAL,
        )
    fig.update_layout(barmode="group")
    value_axis = fig.update_xaxes if horizontal else fig.update_yaxes
    cat_axis = fig.update_yaxes if horizontal else fig.update_xaxes
    value_axis(title=y_title or column_label(y, lang), tickformat=".0%" if percent else None)
    cat_axis(title=x_title or column_label(x, lang), type="category")
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return style(fig, title, height, legend=bool(color))


def sankey(flow: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """Sankey from (source, target, value) rows; node names as written in the data."""
    if flow.height == 0:
        return empty_figure(title, _nothing(lang), height)
    nodes = list(dict.fromkeys(flow["source"].to_list() + flow["target"].to_list()))
    index = {name: i for i, name in enumerate(nodes)}
    colors = [GRADE_COLORS.get(n) or ANNUAL_COLORS.get(n) or "#90a4ae" for n in nodes]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": nodes, "pad": 18, "thickness": 14, "color": colors, "line": {"width": 0}},
            link={
                "source": [index[s] for s in flow["source"]],
                "target": [index[t] for t in flow["target"]],
                "value": flow["value"].to_list(),
                "color": "rgba(120,144,156,0.25)",
            },
        )
    )
    return style(fig, title, height, legend=False)


def grade_timeline(timeline: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """One person's grades (coloured markers on the grade ladder) and scores (faint line, right axis) by quarter."""
    if timeline.height == 0:
        return empty_figure(title, _nothing(lang), height)
    fig = go.Figure()
    if "score" in timeline.columns and timeline["score"].drop_nulls().len():
        fig.add_scatter(
            x=period_ticks(timeline["period"].to_list(), lang),
            y=timeline["score"].to_list(),
            mode="lines+markers",
            name=column_label("score", lang),
            yaxis="y2",
            line={"color": "rgba(21,101,192,0.45)", "width": 1.5},
            marker={"size": 5},
        )
        fig.update_layout(
            yaxis2={
                "overlaying": "y",
                "side": "right",
                "title": {"text": column_label("score", lang)},
                "showgrid": False,
                "tickmode": "auto",  # not synced to the grade ladder's ticks (that gave 85.72, 88.05 ...)
                "tickformat": ".0f",
            }
        )
    fig.add_scatter(  # drawn last, so the grades sit on top of the score line
        x=period_ticks(timeline["period"].to_list(), lang),
        y=timeline["points"].to_list(),
        mode="markers+text",
        name=column_label("grade", lang),
        text=timeline["grade"].to_list(),
        textposition="top center",
        cliponaxis=False,
        marker={"size": 14, "color": [GRADE_COLORS.get(g, "#90a4ae") for g in timeline["grade"].fill_null("")]},
    )
    fig.update_layout(
        yaxis={
            "tickvals": [1, 2, 3, 4],
            "ticktext": ["较差", "一般", "较好", "好"],
            "range": [0.5, 4.7],
            "title": {"text": column_label("grade", lang)},
        }
    )
    fig.update_xaxes(type="category")
    return style(fig, title, height)


def lines(
    frame: pl.DataFrame,
    x: str,
    y: str,
    title: str,
    lang: str,
    height: int | None = None,
    percent: bool = False,
    y_range: list[float] | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """A simple line with markers (e.g. lane percentile over time)."""
    if frame.height == 0 or frame[y].drop_nulls().len() == 0:
        return empty_figure(title, _nothing(lang), height)
    fig = go.Figure(
        go.Scatter(
            x=period_ticks(frame[x].cast(pl.Utf8).to_list(), lang),
            y=frame[y].to_list(),
            mode="lines+markers",
            line={"color": NEUTRAL},
        )
    )
    fig.update_yaxes(title=y_title or column_label(y, lang), tickformat=".0%" if percent else None, range=y_range)
    fig.update_xaxes(type="category", title=column_label(x, lang))
    return style(fig, title, height, legend=False)


GRADE_CODES = {"好": 4, "较好": 3, "一般": 2, "较差": 1, "不确定等次": 0}


def rotation_grid(grid: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """Person x quarter grid of grades, people ordered by their first 好 so a queue shows as a staircase.

    grid from analytics.detectors.rotation.evidence: person_id, name, period, grade, eligible, good, order.
    """
    if grid.height == 0:
        return empty_figure(title, _nothing(lang), height)
    rows = grid.with_columns(
        row=(pl.col("order") + 1).cast(pl.Utf8) + pl.lit(". ") + pl.col("name").fill_null(pl.col("person_id")),
        code=pl.col("grade").replace_strict(GRADE_CODES, default=None, return_dtype=pl.Int64),
        mark=pl.when(pl.col("good")).then(pl.lit("好")).otherwise(pl.lit("")),
    ).sort("order", "period")
    wide = rows.pivot(on="period", index="row", values="code", maintain_order=True)
    marks = rows.pivot(on="period", index="row", values="mark", maintain_order=True)
    periods = sorted(c for c in wide.columns if c != "row")
    scale = [
        [0.0, GRADE_COLORS["不确定等次"]],
        [0.2, GRADE_COLORS["不确定等次"]],
        [0.2, GRADE_COLORS["较差"]],
        [0.4, GRADE_COLORS["较差"]],
        [0.4, GRADE_COLORS["一般"]],
        [0.6, GRADE_COLORS["一般"]],
        [0.6, "#dcedc8"],
        [0.8, "#dcedc8"],
        [0.8, GRADE_COLORS["好"]],
        [1.0, GRADE_COLORS["好"]],
    ]
    fig = go.Figure(
        go.Heatmap(
            z=wide.select(periods).to_numpy(),
            x=periods,
            y=wide["row"].to_list(),
            zmin=-0.5,
            zmax=4.5,
            colorscale=scale,
            showscale=False,
            xgap=2,
            ygap=2,
            text=marks.select(periods).to_numpy(),
            texttemplate="%{text}",
            textfont={"color": "white", "size": 11},
            hovertemplate="%{y} %{x}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 11}, showgrid=False)
    fig.update_xaxes(type="category", tickfont={"size": 10})
    n = wide.height
    return style(fig, title, height or max(220, 60 + 22 * n), legend=False)


def count_histogram(counts: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """People by number of 好 received, observed (bars) against the random-allocation expectation (line)."""
    if counts.height == 0:
        return empty_figure(title, _nothing(lang), height)
    fig = go.Figure()
    fig.add_bar(
        x=counts["count"].to_list(),
        y=counts["observed"].to_list(),
        name=pick(("实际人数", "Observed"), lang),
        marker_color=ACCENT,
    )
    fig.add_scatter(
        x=counts["count"].to_list(),
        y=counts["expected"].to_list(),
        mode="lines+markers",
        name=pick(("随机分配预期", "Expected under random allocation"), lang),
        line={"color": "#37474f", "dash": "dash"},
    )
    fig.update_xaxes(title=pick(("获“好”次数", "Times 好"), lang), dtick=1)
    fig.update_yaxes(title=pick(("人数", "People"), lang))
    return style(fig, title, height)


def funnel_plot(
    funnel: pl.DataFrame,
    title: str,
    lang: str,
    highlight: str | None = None,
    height: int | None = None,
    value_title: str | None = None,
    centre_name: str | None = None,
) -> go.Figure:
    """A share against number graded for the units of one lane, with 95% and 99.8% limits around the lane's reference.

    funnel from analytics.detectors.leniency.funnel_data or analytics.comparisons (limits of the flag's own test);
    the lane drawn is the highlighted unit's (else the first). value_title names the share (default: of 好).
    """
    if funnel.height == 0:
        return empty_figure(title, _nothing(lang), height)
    lanes = funnel.filter(pl.col("unit") == highlight)["lane"].to_list() if highlight else []
    lane = lanes[0] if lanes else funnel["lane"][0]
    part = funnel.filter(pl.col("lane") == lane).sort("n")
    fig = go.Figure()
    for lo, hi, name, dash in (
        ("lo95", "hi95", pick(("95% 控制限", "95% limits"), lang), "dot"),
        ("lo998", "hi998", pick(("99.8% 控制限", "99.8% limits"), lang), "dash"),
    ):
        for col, show in ((lo, True), (hi, False)):
            fig.add_scatter(
                x=part["n"].to_list(),
                y=part[col].to_list(),
                mode="lines",
                name=name,
                showlegend=show,
                legendgroup=name,
                line={"color": "#78909c", "dash": dash, "width": 1, "shape": "spline"},
            )
    fig.add_scatter(
        x=part["n"].to_list(),
        y=part["lane_mean"].to_list(),
        mode="lines",
        name=centre_name or pick(("赛道均值", "Lane mean"), lang),
        line={"color": "#37474f", "width": 1},
    )
    others = part.filter(pl.col("unit") != highlight) if highlight else part
    fig.add_scatter(
        x=others["n"].to_list(),
        y=others["share"].to_list(),
        mode="markers",
        text=others["unit"].to_list(),
        name=pick(("单位", "Units"), lang),
        marker={"color": NEUTRAL, "size": 7, "opacity": 0.7},
        hovertemplate="%{text}: %{y:.0%} (n=%{x})<extra></extra>",
    )
    if highlight:
        mine = part.filter(pl.col("unit") == highlight)
        fig.add_scatter(
            x=mine["n"].to_list(),
            y=mine["share"].to_list(),
            mode="markers+text",
            text=mine["unit"].to_list(),
            textposition="top center",
            name=highlight,
            marker={"color": ACCENT, "size": 13, "symbol": "diamond"},
            hovertemplate="%{text}: %{y:.0%} (n=%{x})<extra></extra>",
        )
    cap = part["cap"].drop_nulls()[0] if "cap" in part.columns and part["cap"].drop_nulls().len() else None
    if cap is not None:
        fig.add_hline(
            y=cap,
            line={"color": ACCENT, "dash": "dot", "width": 1},
            annotation_text=pick((f"上限 {cap:.0%}", f"cap {cap:.0%}"), lang),
            annotation_position="bottom right",
        )
    fig.update_xaxes(title=pick(("评定人次", "Person-quarters graded"), lang), showgrid=True, gridcolor="#eceff1")
    fig.update_yaxes(title=value_title or pick(("“好”占比", "Share of 好"), lang), tickformat=".0%", rangemode="tozero")
    return style(fig, f"{title} · {lane}", height)


def mix_compare(mix: pl.DataFrame, title: str, lang: str, height: int | None = None) -> go.Figure:
    """A reviewer's (or unit's) grade mix beside its lane's: grouped bars of share per grade.

    mix from analytics.detectors.leniency.reviewer_mix: group ('subject' | 'lane'), name, grade, n, share.
    """
    if mix.height == 0:
        return empty_figure(title, _nothing(lang), height)
    fig = go.Figure()
    for group, color in (("subject", ACCENT), ("lane", "#90a4ae")):
        part = mix.filter(pl.col("group") == group)
        if part.height == 0:
            continue
        who = part["name"][0]
        who = who if len(who) <= 18 else pick((f"{who.count(' / ') + 1} 个赛道", f"{who.count(' / ') + 1} lanes"), lang)
        label = pick((f"赛道：{who}", f"Lane: {who}"), lang) if group == "lane" else who
        fig.add_bar(
            x=[grade_label(g, lang) for g in part["grade"]],
            y=part["share"].to_list(),
            name=label,
            marker_color=color,
            customdata=part["n"].to_list(),
            hovertemplate="%{x}: %{y:.1%} (%{customdata})<extra></extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%", title=pick(("占比", "Share"), lang))
    fig.update_xaxes(type="category")
    return style(fig, title, height)


def rate_heatmap(
    frame: pl.DataFrame, x: str, y: str, value: str, title: str, lang: str, height: int | None = None
) -> go.Figure:
    """A table-like heatmap of rates (e.g. grade pattern x outcome), each cell labelled with its percentage."""
    if frame.height == 0:
        return empty_figure(title, _nothing(lang), height)
    wide = frame.pivot(on=x, index=y, values=value, maintain_order=True)
    columns = [c for c in wide.columns if c != y]
    z = wide.select(columns).to_numpy()
    text = [[("" if v is None or v != v else f"{v:.0%}") for v in row] for row in z.tolist()]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=wide[y].to_list(),
            colorscale=[[0, "#f5f6f8"], [1, "#64b5f6"]],
            zmin=0,
            zmax=1,
            showscale=False,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            xgap=2,
            ygap=2,
            hovertemplate="%{y} · %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(side="top", tickangle=-45, type="category", tickfont={"size": 10})
    fig.update_yaxes(autorange="reversed", type="category")
    return style(fig, title, height, legend=False)
