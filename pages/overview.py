"""一屏掌控: the department head's one screen (fits 1440x900 without scrolling).

Headline numbers for the chosen quarter, the grade mix by quarter, the units that need a look (好 against
each unit's cap, ordered by need; annual 优秀 against its cap; unit-against-unit bars that drill down to a
unit's people), open flags by kind, the top and bottom of each lane, and the strongest warnings with a
link to their evidence on the Flags page.
"""

from __future__ import annotations

import streamlit as st

from analytics import charts, flag_review, i18n, overview, person_flags, rankings
from pages import _ui as ui
from pages._ui import overview_data
from pages._ui import units as units_view

tr = ui.tr
ui.page_setup("一屏掌控", "At a glance")
ui.require_data()
settings = ui.settings()
lang = ui.lang()
year, quarter = ui.selected_period()
period = ui.period_text(f"{year}Q{quarter}")

head = overview_data.headline(year, quarter)
flags = ui.flags()
by_kind = overview.flags_by_kind(flags)

# --- headline numbers
cols = st.columns([1, 0.8, 1.45, 1.15, 1])
cols[0].metric(tr("参加考核人数", "People assessed"), f"{head['people']:,}", help=period, border=True)
cols[1].metric(tr("单位", "Units"), f"{head['units']:,}", border=True)
delta = None
if head["good_share"] is not None and head["previous_good_share"] is not None:
    change = round((head["good_share"] - head["previous_good_share"]) * 100, 1)
    # The sign leads the text: Streamlit reads the arrow's direction from it.
    delta = (
        tr(f"{change:+.1f} 个百分点（较上季）", f"{change:+.1f} pp on last quarter")
        if change
        else tr("与上季持平", "same as last quarter")
    )
cols[2].metric(
    tr(f"“好”占比（上限 {head['cap']:.0%}）", f"Share of 好 (cap {head['cap']:.0%})"),
    ui.percent(head["good_share"]),
    delta=delta,
    delta_color="inverse" if delta and delta[0] in "+-" else "off",
    delta_arrow="auto" if delta and delta[0] in "+-" else "off",
    border=True,
    help=tr(
        "评定人数中获“好”的比例（不确定等次不计），与上限比较。",
        "Share of 好 among those graded (不确定等次 not counted), against the cap.",
    ),
)
cols[3].metric(tr("超出“好”名额的单位", "Units over their 好 quota"), f"{head['units_over_quota']:,}", border=True)
cols[4].metric(
    tr("待核查预警", "Open flags"),
    f"{flag_review.open_count(flags):,}",
    help=tr(f"共 {flags.height} 条，其余已核实、误报或已整改。", f"{flags.height} in all; the rest are reviewed."),
    border=True,
)

# --- charts: titles as text above each, so the three line up; the units' views share one box in tabs
HEIGHT = 268
BOX = HEIGHT - 52  # the tab labels and the note above each chart take the rest
left, middle, right = st.columns([0.95, 1.6, 0.85])
with left:
    st.markdown(tr("**各季度等次结构**", "**Grade mix by quarter**"))
    mix = overview_data.grade_mix()
    ui.plot(ui.figure(charts.grade_mix_bars, mix, "", lang, height=HEIGHT, legend="top"), key="mix")
with middle:
    units_view.need_tabs(year, quarter, flags, box=BOX)
with right:
    st.markdown(tr("**待核查预警（按类型）**", "**Open flags by kind**"))
    ui.plot(ui.figure(charts.flags_by_kind_bars, by_kind, "", lang, height=HEIGHT), key="kinds")

# --- lanes and warnings
lanes_col, warn_col = st.columns([1.25, 1])
with lanes_col:
    st.markdown(tr(f"**各赛道前后两名** · {period}", f"**Top and bottom of each lane** · {period}"))
    ranked = overview_data.ranked(year, quarter)
    extremes = overview.lane_extremes(overview.restrict_frame(ranked, *ui.filter_key()), k=2, joiner=tr("、", ", "))
    ui.show_table(
        ui.with_person_links(extremes, fallback="rankings")
        .with_columns(rankings.rank_text(lang=lang))
        .select("lane", "position", "place", "name", "unit", "value"),
        height=250,
        column_config={
            "name": ui.person_link_config(),
            "value": st.column_config.NumberColumn(format="%.1f"),
            "position": st.column_config.TextColumn(width="small"),
        },
    )
with warn_col:
    st.markdown(tr("**最强预警**", "**Strongest warnings**"))
    top, people = overview_data.strongest(flags)
    box = st.container(height=250, border=False)
    if top.height == 0:
        box.success(tr("当前筛选范围内没有预警。", "No warnings within the current filters."))
    for row in top.iter_rows(named=True):
        kind = i18n.kind_label(row["kind"], lang)
        text = row["evidence_en"] if lang == "en" else row["evidence_zh"]
        with box.container(border=True):
            who = person_flags.subject_words(row, people)
            st.page_link(
                ui.PAGES["flags"],
                label=f"{kind} · {ui.safe(who)} · {tr('强度', 'severity')} {row['severity']:.2f}",
                query_params={"flag": row["flag_id"]},
                icon=":material/arrow_forward:",
            )
            if row["subject_type"] == "person":  # straight to the person, this flag marked on arrival
                st.page_link(
                    ui.PAGES["person"],
                    label=tr(f"{ui.safe(who)} 的立体画像", f"{ui.safe(who)}'s profile"),
                    query_params={"person": row["subject"], "flag": row["flag_key"]},
                    icon=":material/person:",
                )
            st.caption(ui.safe(text))
