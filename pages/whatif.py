"""推演: which annual 优秀 and which grade-dependent entitlements would move under fair scores or other rules.
A scenario, never a verdict: the page says so, and nothing is written to the store."""

from __future__ import annotations

import streamlit as st

from analytics import charts, whatif
from analytics.appeals.labels import for_people
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "结果推演",
    "What-if",
    (
        "若去掉评鉴人宽松的影响（公平得分），或换一套规则（优秀比例、门槛），哪些人的年度优秀及相关结果运用会变化。",
        "Who would gain or lose annual 优秀, and the entitlements that follow, if reviewer leniency were taken out "
        "(fair scores) or the rules were different (the 优秀 cap, the gate).",
    ),
)
ui.require_data()
lang = ui.lang()
settings = ui.settings()
st.warning(tr(whatif.DISCLAIMER_ZH, whatif.DISCLAIMER_EN), icon=":material/science:")

with st.container(horizontal=True, vertical_alignment="bottom"):
    basis = st.segmented_control(
        tr("季度等次依据", "Quarterly grades"), list(whatif.BASES), default="recorded", key="wi_basis",
        format_func=lambda b: tr("按记录", "As recorded") if b == "recorded" else tr("按公平得分", "From fair scores"),
    )  # fmt: skip
    cap = st.slider(
        tr("年度优秀比例上限", "Annual 优秀 cap"), 15, 35, int(round(settings.quota.excellent_cap * 100)), step=1,
        format="%d%%", key="wi_cap", width=260,
    )  # fmt: skip
    level = st.segmented_control(
        tr("名额计算范围", "Cap applies per"), list(whatif.LEVELS), default="unit", key="wi_level",
        format_func=lambda v: tr("单位", "Unit") if v == "unit" else tr("赛道", "Lane"),
    )  # fmt: skip
    min_good = st.number_input(
        tr("优秀门槛：全年“好”至少", "Gate: 好 in the year at least"), 0, 4, settings.gate.min_good, key="wi_gate",
        width=200,
    )  # fmt: skip
    allow_average = st.checkbox(tr("允许有一般等次", "Allow 一般 or below"), key="wi_avg")

result = ui.call(
    whatif.scenario_view, ui.FULL, ui.SETTINGS, units=ui.selected_units(), basis=basis or "recorded",
    excellent_cap=cap / 100, cap_level=level or "unit", gate_min_good=int(min_good),
    gate_no_average=False if allow_average else None,
)  # fmt: skip
st.caption(ui.safe(result.scenario.describe(settings, lang)))
if result.note:
    st.caption(ui.safe(result.note))
counts = result.counts()
cols = st.columns(4)
cols[0].metric(tr("新增优秀", "Gain 优秀"), f"{counts['gains']:,}", border=True)
cols[1].metric(tr("失去优秀", "Lose 优秀"), f"{counts['losses']:,}", border=True)
cols[2].metric(tr("季度等次变化", "Quarters moved"), f"{counts['quarters_changed']:,}", border=True)
cols[3].metric(tr("结果运用变化", "Entitlements moved"), f"{counts['consequences_changed']:,}", border=True)

ui.plot(
    charts.sankey(
        whatif.flow(result, lang),
        tr("年度等次：记录 → 推演（人次）", "Annual grade: recorded → what-if (person-years)"),
        lang,
        height=380,
    ),
    key="wi_sankey",
)
ui.download_bytes(
    tr("下载推演结果（Excel，含说明）", "Download the scenario (Excel, with its notice)"),
    lambda: whatif.workbook(result, settings, lang),
    tr("结果推演.xlsx", "what_if.xlsx"),
    ui.MIME["xlsx"],
    key="wi_xlsx",
)
tabs = st.tabs(
    [
        tr("谁增谁减", "Who gains, who loses"),
        tr("按单位", "By unit"),
        tr("按赛道", "By lane"),
        tr("季度等次变化", "Quarters moved"),
        tr("结果运用变化", "Entitlements moved"),
    ]
)
shown = {
    0: result.changes.drop("cap", "allowed", "rank_score", "quarters_on_record"),
    1: whatif.by_group(result, "unit"),
    2: whatif.by_group(result, "lane"),
    3: result.quarterly,
    4: result.consequences,
}
for i, frame in shown.items():
    with tabs[i]:
        if frame.height == 0:
            st.caption(tr("本情景下没有变化。", "Nothing changes in this scenario."))
        else:
            ui.show_table(for_people(frame, lang), height=420, key=f"wi_table_{i}")
