"""立体画像: one person's record: grades and scores over time, lane percentile, reviewers, annual grades,
outcomes, and the registration form (考核登记表) for a year."""

from __future__ import annotations

import streamlit as st

from analytics import charts, i18n, pdf, person, person_flags, register, register_print
from pages import _ui as ui

tr = ui.tr
ui.page_setup("立体画像", "Person profile")
ui.require_data()
lang = ui.lang()

people = ui.call(person.directory, ui.DATA)
if people.height == 0:
    st.info(tr("当前筛选下没有人员。", "Nobody within the current filters."))
    st.stop()
ids = people["person_id"].to_list()
labels = {pid: f"{name} · {unit} · {pid}" for pid, name, unit in people.select("person_id", "name", "unit").iter_rows()}
asked = st.query_params.get("person")
if asked in labels and st.session_state.get("person_pick") != asked:
    st.session_state["person_pick"] = asked
elif asked and asked not in labels:
    # A link to someone outside the user's scope (or the filters) shows nothing of them, not even a name.
    st.warning(
        tr(
            "链接中的人员不在您的权限范围或当前筛选范围内。",
            "The person in the link is outside your access or the current filters.",
        ),
        icon=":material/block:",
    )
if st.session_state.get("person_pick") not in labels:
    st.session_state["person_pick"] = ids[0]
pid = st.selectbox(
    tr("人员（可输入姓名搜索）", "Person (type a name to search)"),
    ids,
    key="person_pick",
    format_func=lambda p: labels.get(p, p),
)
st.query_params["person"] = pid
ui.audit("view_person", pid)

who = ui.call(person.info, ui.DATA, pid)
record = ui.call(person.timeline, ui.DATA, pid)
years = ui.call(person.annual, ui.DATA, pid)
standing = ui.call(person.lane_percentiles, ui.WHOLE, ui.SETTINGS, pid, visible=ui.VISIBLE)
st.markdown(f"#### {ui.safe(who['name'] or pid)}")
names = {
    "unit": tr("单位", "Unit"),
    "lane": tr("赛道", "Lane"),
    "section": tr("内设机构", "Section"),
    "position_level": tr("职务层次", "Position level"),
    "rank": tr("职务职级", "Post"),
    "staff_type": tr("人员类别", "Staff type"),
}
st.caption(" · ".join(f"{label}{tr('：', ': ')}{ui.safe(who[k])}" for k, label in names.items() if who.get(k)))
cols = st.columns(4)
cols[0].metric(tr("季度记录", "Quarters on record"), f"{record.height}", border=True)
cols[1].metric(tr("获“好”次数", "Times 好"), f"{(record['grade'] == '好').sum()}", border=True)
cols[2].metric(
    tr("最近年度等次", "Latest annual grade"), years["annual_grade"][-1] if years.height else "—", border=True
)
cols[3].metric(
    tr("最近赛道百分位", "Latest lane percentile"),
    f"{standing['percentile'][-1]:.0f}" if standing.height else "—",
    border=True,
)

# --- flags about this person, their unit and their reviewers; the one a link came from first and marked
related = person_flags.person_flags(ui.flags(), ui.data(), pid, lang, arrived=st.query_params.get("flag"))
if related.height:
    came = person_flags.arrived(related)
    if came:
        st.info(
            tr(
                f"▶ 您从这条预警来到此页：{came['kind']} · {ui.safe(came['subject'])}。{ui.safe(came['evidence'])}",
                f"▶ You came here from this flag: {came['kind']} · {ui.safe(came['subject'])}. "
                f"{ui.safe(came['evidence'])}",
            ),
            icon=":material/flag:",
        )
    st.markdown(tr(f"**相关预警（{related.height}）**", f"**Related flags ({related.height})**"))
    ui.show_table(
        ui.with_flag_links(related).select(
            "arrived", "about", "kind", "subject", "period", "severity", "evidence_link", "evidence"
        ),
        height=min(260, 38 + 35 * related.height),
        column_config={
            "evidence_link": ui.flag_link_config(tr("查看证据", "Open evidence")),
            "severity": st.column_config.ProgressColumn(format="%.2f", min_value=0.0, max_value=1.0),
            "evidence": st.column_config.TextColumn(width="large"),
            "arrived": st.column_config.TextColumn(width="small"),
        },
    )

left, right = st.columns([1.4, 1])
with left:
    ui.plot(
        charts.grade_timeline(record, tr("平时考核等次与得分", "Quarterly grades and scores"), lang, height=320),
        key="timeline",
    )
with right:
    ui.plot(
        charts.lines(
            standing,
            "period",
            "percentile",
            tr("赛道内百分位（100 为最好）", "Percentile in lane (100 = best)"),
            lang,
            height=320,
            y_range=[0, 105],
            y_title=tr("百分位", "Percentile"),
        ),
        key="percentile",
    )

reviewers_col, annual_col = st.columns([1.2, 1])
with reviewers_col:
    st.markdown(tr("**评鉴人**", "**Reviewers**"))
    ui.show_table(
        ui.call(person.reviewers, ui.DATA, pid),
        column_config={"good_rate": st.column_config.NumberColumn(format="percent")},
    )
with annual_col:
    st.markdown(tr("**年度考核**", "**Annual grades**"))
    ui.show_table(years)

st.markdown(tr("**结果运用**", "**Outcomes**"))
done = i18n.with_outcome_labels(ui.call(person.outcomes, ui.DATA, pid), lang)
if done.height == 0:
    st.caption(tr("没有结果运用记录。", "No outcome records."))
else:
    ui.show_table(done.select("date", "year", "outcome_label", "outcome_raw", "detail", "amount"))

st.markdown(tr("**考核登记表**", "**Registration form**"))
form_years = ui.call(person.form_years, ui.DATA, pid)
with st.container(horizontal=True, vertical_alignment="bottom"):
    form_year = st.selectbox(tr("年度", "Year"), form_years, key="form_year", width=160)
    data, settings = ui.data(), ui.settings()
    if form_year is not None:
        ui.download_bytes(
            tr("下载登记表（Excel）", "Download the form (Excel)"),
            lambda: person.registration_xlsx(data, settings, pid, form_year),
            f"考核登记表_{pid}_{form_year}.xlsx",
            ui.MIME["xlsx"],
            key="form_dl",
        )
        unit = who.get("unit")
        if unit:  # the whole unit's forms, one sheet (Excel) or one A4 page (PDF) per person
            ui.download_bytes(
                tr("本单位全部人员（Excel）", "Everyone in the unit (Excel)"),
                lambda: register.registration_forms_xlsx(data, form_year, unit, settings=settings),
                f"考核登记表_{unit}_{form_year}.xlsx",
                ui.MIME["xlsx"],
                key="unit_forms_xlsx",
            )
            ui.download_bytes(
                tr("本单位全部人员（可打印 HTML）", "Everyone in the unit (printable HTML)"),
                lambda: register_print.registration_forms_html(data, form_year, unit, settings).encode("utf-8"),
                f"考核登记表_{unit}_{form_year}.html",
                ui.MIME["html"],
                key="unit_forms_html",
            )
            if pdf.find_chromium():  # printed from the HTML beside it
                ui.download_bytes(
                    tr("本单位全部人员（PDF）", "Everyone in the unit (PDF)"),
                    lambda: register_print.registration_forms_pdf(data, form_year, unit, settings),
                    f"考核登记表_{unit}_{form_year}.pdf",
                    "application/pdf",
                    key="unit_forms_pdf",
                )
record_table = record.select("period", "grade", "score", "reviewer", "unit", "lane")
with st.expander(tr(f"逐季记录（{record.height}）", f"Quarter by quarter ({record.height})")):
    ui.show_table(record_table)
    ui.downloads(record_table, f"record_{pid}", key="dl_record")
