"""The overview's units box: which units need a look (好 against each unit's cap), annual 优秀 against its cap,
and unit-against-unit bars that drill down to a unit's people. Three tabs in one box, so the overview stays one
screen; each view lists the units most in need first and says how many it leaves out.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import rankings, unit_charts, unit_compare, unit_need
from analytics.i18n import pick
from analytics.vocab import period_label
from pages._ui import overview_data
from pages._ui.cache import DATA, SETTINGS, VISIBLE, WHOLE, call, current_scope
from pages._ui.figures import figure
from pages._ui.flags import all_flags, reviewed
from pages._ui.lang import lang, percent, period_text, tr
from pages._ui.links import person_link_config, with_person_links
from pages._ui.session import current_user
from pages._ui.state import selected_units
from pages._ui.tables import show_table

ALL_NEED, ALL_EXCELLENT, ALL_COMPARE = "need_all", "excellent_all", "compare_all"
CMP_LANE, CMP_MEASURE, CMP_UNIT, CMP_CHART = "cmp_lane", "cmp_measure", "cmp_unit", "cmp_chart"
NO_UNIT = ""  # the drill-down choice that shows the bars
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def own_units() -> frozenset[str]:
    """The viewer's own units (a head's or an inspector's list); none for those who see every unit."""
    user = current_user()
    return frozenset(user.units) if user is not None and user.units and user.role != "admin" else frozenset()


def _plot(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, config=PLOT_CONFIG, width="stretch")


def _fits(box: int, extra: int) -> int:
    return max((box - extra) // unit_charts.ROW, 3)


TAB_KEY = "overview_tab"


def need_tabs(year: int, quarter: int, flags: pl.DataFrame, box: int) -> None:
    """The three tabs; `flags` are the sidebar's (with review status), `box` the height each view may fill.

    Only the open tab is computed and drawn (switching tabs reruns the page): the hidden two were a third of
    a cold overview's time and most of its browser nodes."""
    need, excellent, compare = st.tabs(
        [
            tr("需关注单位（“好”）", "Units to look at (好)"),
            tr("年度“优秀”", "Annual 优秀"),
            tr("单位对比", "Unit against unit"),
        ],
        key=TAB_KEY,
        on_change="rerun",
    )
    if need.open:
        with need:
            _need(year, quarter, flags, box)
    if excellent.open:
        with excellent:
            _excellent(year, box)
    if compare.open:
        with compare:
            _compare(year, quarter, box)


def _toggle_row(note: str, key: str, total: int, rule: str) -> bool:
    text, switch = st.columns([3.3, 1.3], vertical_alignment="center")
    text.caption(note)
    return switch.toggle(
        tr("全部", "All"), key=key, help=tr(f"显示全部 {total} 个单位。{rule}", f"Show all {total} units. {rule}")
    )


def _hidden_text(note: dict, shown: int) -> str:
    if note["hidden"] == 0:
        return tr(f"共 {shown} 个单位", f"{shown} units")
    rest = tr(
        f"其中超名额 {note['over']} 个、有待核查预警 {note['flagged']} 个",
        f"of them {note['over']} over quota, {note['flagged']} with open flags",
    )
    return tr(
        f"前 {shown} 个；另 {note['hidden']} 个未列出（{rest}）",
        f"top {shown}; {note['hidden']} more not shown ({rest})",
    )


def _need(year: int, quarter: int, flags: pl.DataFrame, box: int) -> None:
    lang_ = lang()
    period = period_label(year, quarter)
    cells = overview_data.need_cells(year, quarter)
    need = unit_need.units_by_need(cells, unit_need.open_flags_by_unit(flags), period)
    fits = _fits(box, 40)
    show_all = st.session_state.get(ALL_NEED, False)
    shown = need.height if show_all else min(fits, need.height)
    note = unit_need.hidden_note(need, shown)
    rule = tr(
        "排序：本季度超名额的在前，其次待核查预警多的，再次“好”占比高出本单位上限多的。",
        "Order: over quota this quarter first, then the most open flags, then 好 furthest above the unit's cap.",
    )
    _toggle_row(tr("按需关注排序 · ", "Most in need first · ") + _hidden_text(note, shown), ALL_NEED, need.height, rule)
    order = need["unit"].head(shown).to_list()
    with st.container(height=box, border=False):
        fig = figure(
            unit_charts.need_heatmap,
            cells,
            order,
            "",
            lang_,
            own_units(),
            height=max(box - 8, unit_charts.rows_height(len(order), 44)),
        )
        _plot(fig, "heat")


def _excellent(year: int, box: int) -> None:
    lang_ = lang()
    excellent = call(unit_need.excellent_against_cap, DATA, SETTINGS, year)
    fits = _fits(box, 80)
    show_all = st.session_state.get(ALL_EXCELLENT, False)
    shown = excellent.height if show_all else min(fits, excellent.height)
    over = int(excellent["over"].sum()) if excellent.height else 0
    when = tr(f"{excellent['year'][0]} 年度", f"{excellent['year'][0]}") if excellent.height else ""
    hidden = excellent.height - shown
    rest = tr(f"；另 {hidden} 个未列出", f"; {hidden} more not shown") if hidden else ""
    note = (
        tr(f"{when} · 超出上限 {over} 个单位{rest}", f"{when} · {over} units over their cap{rest}")
        if excellent.height
        else tr("暂无年度考核数据", "No annual grades yet")
    )
    rule = tr(
        "排序：超出上限的在前，其次“优秀”占比高出本单位上限多的；竖线为本单位上限。",
        "Order: over the cap first, then 优秀 furthest above the unit's cap; the tick is the unit's cap.",
    )
    _toggle_row(note, ALL_EXCELLENT, excellent.height, rule)
    part = excellent.head(shown)
    with st.container(height=box, border=False):
        fig = figure(
            unit_charts.excellent_bars,
            part,
            "",
            lang_,
            own_units(),
            height=max(box - 8, unit_charts.rows_height(part.height, 90)),
        )
        _plot(fig, "excellent")


def _clicked() -> None:
    """A click on a bar drills down to that unit (the bars' y labels carry ★ on the viewer's own units)."""
    event = st.session_state.get(CMP_CHART)
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
    if not points and event is not None and hasattr(event, "selection"):
        points = event.selection.get("points", [])
    if points:
        st.session_state[CMP_UNIT] = str(points[0].get("y", "")).removeprefix(unit_charts.MARK)


def _compare(year: int, quarter: int, box: int) -> None:
    lang_ = lang()
    period = period_label(year, quarter)
    measures = call(unit_compare.unit_measures, WHOLE, SETTINGS, year, quarter, visible=VISIBLE)
    lanes = unit_compare.lanes_of(measures)
    if not lanes:
        st.info(tr("本季度暂无可对比的单位。", "No units to compare this quarter."))
        return
    highlight = own_units() | frozenset(selected_units())
    if st.session_state.get(CMP_LANE) not in lanes:
        home = measures.filter(pl.col("unit").is_in(sorted(highlight)))["lane"].to_list()
        st.session_state[CMP_LANE] = home[0] if home else lanes[0]
    where, what, who = st.columns([1, 1, 1.2])
    lane = where.selectbox(tr("类别", "Category"), lanes, key=CMP_LANE, label_visibility="collapsed")
    measure = what.selectbox(
        tr("指标", "Measure"),
        list(unit_compare.MEASURES),
        format_func=lambda m: pick(unit_compare.MEASURES[m][0], lang_),
        key=CMP_MEASURE,
        label_visibility="collapsed",
    )
    scoped = reviewed(all_flags())
    compared = unit_compare.compare(measures, measure, lane, unit_need.open_flags_by_unit(scoped))
    options = [NO_UNIT, *compared["unit"].to_list()]
    if st.session_state.get(CMP_UNIT) not in options:
        st.session_state[CMP_UNIT] = NO_UNIT
    pick_one = tr("点击条形或选择单位，查看人员", "Click a bar or pick a unit")
    unit = who.selectbox(
        tr("下钻到单位人员", "Drill down to a unit's people"),
        options,
        format_func=lambda u: u or pick_one,
        key=CMP_UNIT,
        label_visibility="collapsed",
    )
    if unit != NO_UNIT:
        with st.container(height=box - 12, border=False):
            _people(unit, period, lang_)
        return
    # A lane can hold hundreds of units: the strongest that fit, and the viewer's own, unless asked for all.
    shown = unit_compare.top_and_marked(compared, _fits(box, 110), highlight, st.session_state.get(ALL_COMPARE, False))
    hidden = compared.height - shown.height
    note = (
        tr(
            f"{lane} · 前 {shown.height} 个；另 {hidden} 个未列出",
            f"{lane} · top {shown.height}; {hidden} more not shown",
        )
        if hidden
        else tr(f"{lane} · 共 {shown.height} 个单位", f"{lane} · {shown.height} units")
    )
    rule = tr(
        "排序：按所选指标从高到低；本单位始终列出。",
        "Order: highest on the measure first; your own units always shown.",
    )
    _toggle_row(note, ALL_COMPARE, compared.height, rule)
    with st.container(height=box - 52, border=False):
        _bars(shown, compared, measure, lane, highlight, box - 60)


def _bars(
    shown: pl.DataFrame, compared: pl.DataFrame, measure: str, lane: str, highlight: frozenset[str], height: int
) -> None:
    """Bars for `shown`; the viewer's place is told among every unit of the lane (`compared`)."""
    lang_ = lang()
    name, share = unit_compare.MEASURES[measure]
    mine = compared.filter(pl.col("unit").is_in(sorted(highlight)) & pl.col("rank").is_not_null())
    if mine.height:  # where the viewer's unit stands among every unit of the lane
        row = mine.row(0, named=True)
        value = percent(row["value"], 0) if share else f"{row['value']:,.1f}"
        st.caption(
            tr(
                f"{row['unit']}：{value}，在{lane}的 {row['units_in_lane']} 个单位中列第 {row['rank']} 位",
                f"{row['unit']}: {value}, {row['rank']} of {row['units_in_lane']} units in {lane}",
            )
        )
        height -= 34
    fig = figure(
        unit_charts.compare_bars,
        shown,
        "",
        lang_,
        pick(name, lang_),
        share,
        highlight,
        height=max(height, unit_charts.rows_height(shown.height, 60)),
    )
    st.plotly_chart(
        fig, key=CMP_CHART, config=PLOT_CONFIG, width="stretch", on_select=_clicked, selection_mode="points"
    )


def _people(unit: str, period: str, lang_: str) -> None:
    ranked = call(rankings.rank_people, WHOLE, SETTINGS, period=period, visible=VISIBLE)
    people = unit_compare.unit_people(ranked, unit, lang_)
    if current_scope().units is not None and unit not in current_scope().units:
        return  # cannot happen through the widgets (only visible units are offered); never show another's people
    st.caption(
        tr(
            f"**{unit}** · {people.height} 人 · 名次为全赛道排名（{period_text(period)}）；点击姓名查看画像",
            f"**{unit}** · {people.height} people · places in the whole lane ({period_text(period)}); "
            "click a name for the profile",
        )
    )
    show_table(
        with_person_links(people).drop("person_id"),
        height=max(len(people) * 35 + 38, 80) if people.height < 5 else "auto",
        column_config={
            "name": person_link_config(),
            "percentile": st.column_config.ProgressColumn(format="%.0f", min_value=0, max_value=100),
            "value": st.column_config.NumberColumn(format="%.1f"),
        },
    )
