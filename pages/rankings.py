"""赛道排名: people ranked against their lane (分类考核), units against their unit type, and quota use.

Ranks are computed over the whole lane (every unit, also those outside the user's access), then
narrowed to what the user may see and to the sidebar's units: a unit's people keep their place in the
lane whoever looks; people outside the scope appear only in the counts.
"""

from __future__ import annotations

import streamlit as st

from analytics import charts, i18n, overview, rankings
from analytics.errors import UserError
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "赛道排名",
    "Lane rankings",
    ("同一赛道内比较（分类考核），不跨赛道“一锅煮”。", "Like is ranked against like, within a lane."),
)
ui.require_data()
lang = ui.lang()
year, quarter = ui.selected_period()
period = f"{year}Q{quarter}"
units, lanes = ui.filter_key()

BY = {
    "score": ("得分", "Score"),
    "fair": ("公平得分", "Fair score"),
    "grade": ("等次分", "Grade points"),
    "index": ("综合指数", "Index"),
}
SPAN = {
    "quarter": ("本季度", "This quarter"),
    "window": ("近四个季度", "Last four quarters"),
    "year": ("全年", "Whole year"),
}

c1, c2, c3 = st.columns([1.3, 1.1, 1.6])
by = c1.segmented_control(
    tr("排名依据", "Rank on"),
    list(BY),
    format_func=lambda k: i18n.pick(BY[k], lang),
    default="score",
    key="rank_by",
    required=True,
)
span = c2.segmented_control(
    tr("时段", "Span"),
    list(SPAN),
    format_func=lambda k: i18n.pick(SPAN[k], lang),
    default="quarter",
    key="rank_span",
    required=True,
)
c3.caption(
    tr(
        "公平得分：扣除评鉴人（或单位）宽严尺度后的得分。赛道在侧栏选择；过小的赛道已合并，见“原赛道”列。",
        "Fair score: the score with the reviewer's (or unit's) leniency taken out. Pick the lane in the sidebar; "
        "lanes too small to rank are pooled (see 'Pooled from').",
    )
)
when = {"quarter": {"period": period}, "window": {"period": period, "window": 4}, "year": {"year": year}}[span]

try:
    ranked = ui.call(rankings.rank_people, ui.WHOLE, ui.SETTINGS, by=by, visible=ui.VISIBLE, **when)
    unit_ranked = ui.call(
        rankings.rank_units,
        ui.WHOLE,
        ui.SETTINGS,
        by="fair" if by == "fair" else "good_share",
        visible=ui.VISIBLE,
        **when,
    )
except UserError as exc:
    st.warning(str(exc))
    st.stop()

shown = overview.change_arrows(overview.restrict_frame(ranked, units, lanes))
people_tab, units_tab, quota_tab = st.tabs(
    [tr("人员排名", "People"), tr("单位排名", "Units"), tr("“好”名额使用", "Quota of 好")]
)


def _lane_sentence(row: dict) -> str:
    """What the table shows for one lane: whole-lane size, ranked on what, who is listed apart."""
    lane_name = ui.safe(row["lane"])
    if row["basis"] == "grade" and by == "score":
        return tr(
            f"{lane_name}：全赛道 {row['n_in_lane']} 人均无得分，按等次分排名。",
            f"{lane_name}: nobody of the {row['n_in_lane']} in the lane has a score; ranked on grade points.",
        )
    if row["apart"]:
        return tr(
            f"{lane_name}：全赛道 {row['n_in_lane']} 人，其中 {row['n_ranked']} 人有得分、按得分排名；"
            f"{row['apart']} 人无得分，不参与排名，另列于下表。",
            f"{lane_name}: {row['n_in_lane']} in the lane; the {row['n_ranked']} with a score are ranked on it; "
            f"{row['apart']} without one are not ranked and are listed below.",
        )
    return ""


with people_tab:
    if shown.height == 0:
        st.info(tr("当前筛选下没有可排名的人员。", "Nobody to rank within the current filters."))
    notes = [t for t in map(_lane_sentence, rankings.lane_notes(shown).iter_rows(named=True)) if t]
    if notes:
        st.warning("  \n".join(notes), icon=":material/info:")
    st.caption(
        tr(
            "名次与百分位在全赛道（全部单位）内计算，再显示您权限范围内的人员；“赛道人数”为全赛道人数。",
            "Ranks and percentiles are computed over the whole lane (every unit), then narrowed to the people "
            "you may see; 'In lane' counts the whole lane.",
        )
    )
    ranked_rows, apart = rankings.split_apart(shown)
    left, right = st.columns([1.7, 1])
    with left:
        columns = [
            "lane",
            "place",
            "change",
            "name",
            "unit",
            "value",
            "percentile",
            "basis",
            "n_in_lane",
            "lane_pooled_from",
            "section",
        ]
        table = i18n.code_labels(ranked_rows.with_columns(rankings.rank_text(lang=lang)), "basis", lang)
        ui.show_table(
            ui.with_person_links(table.select("person_id", *columns)).drop("person_id"),
            height=520 if apart.height == 0 else 360,
            column_config={
                "percentile": st.column_config.ProgressColumn(format="%.0f", min_value=0, max_value=100),
                "value": st.column_config.NumberColumn(format="%.2f"),
                "name": ui.person_link_config(),
            },
        )
        ui.downloads(
            table.select(columns), f"rankings_{ranked['period'][0] if ranked.height else period}", key="dl_people"
        )
        if apart.height:
            st.markdown(
                tr(f"**无得分、未参与排名（{apart.height} 人）**", f"**No score, not ranked ({apart.height})**")
            )
            ui.show_table(
                ui.with_person_links(apart.select("person_id", "lane", "name", "unit", "section", "grade_points")).drop(
                    "person_id"
                ),
                height=150,
                column_config={
                    "grade_points": st.column_config.NumberColumn(format="%.2f"),
                    "name": ui.person_link_config(),
                },
            )
    with right:
        title = tr(f"各赛道{i18n.pick(BY[by], 'zh')}分布", f"{BY[by][1]} by lane")
        with st.container(height=580, border=False):
            ui.plot(
                charts.distribution(ranked_rows, "value", title, lang, value_title=i18n.pick(BY[by], lang)), key="dist"
            )

with units_tab:
    unit_shown = overview.restrict_frame(unit_ranked, units)
    st.caption(
        tr(
            "单位按单位类型分赛道，依据“好”占比（或公平得分均值）排名；“较上期”为与上一时段相比的变化。",
            "Units are ranked within their unit type on the share of 好 (or the mean fair score); "
            "'since last period' is the change from the period before.",
        )
    )
    table = i18n.code_labels(unit_shown, "basis", lang)
    ui.show_table(
        table,
        height=480,
        column_config={
            "good_share": st.column_config.NumberColumn(format="percent"),
            "value": st.column_config.NumberColumn(format="%.3f"),
            "trend": st.column_config.NumberColumn(format="%+.3f"),
        },
    )
    ui.downloads(table, f"unit_rankings_{period}", key="dl_units")

with quota_tab:
    quota = overview.restrict_frame(ui.call(overview.quota_use, ui.FULL, ui.SETTINGS, year, quarter), units)
    quota = i18n.code_labels(quota, "cap_source", lang)
    st.caption(
        tr(
            f"{ui.period_text(period)}：名额 = 评定人数 × 上限，向下取整，至少 1 人；不确定等次不计入。",
            f"{ui.period_text(period)}: quota = max(floor(cap × graded), 1); 不确定等次 does not count.",
        )
    )
    ui.show_table(
        quota,
        height=480,
        column_config={
            "share": st.column_config.NumberColumn(format="percent"),
            "cap": st.column_config.NumberColumn(format="percent"),
        },
    )
    ui.downloads(quota, f"quota_{period}", key="dl_quota")
