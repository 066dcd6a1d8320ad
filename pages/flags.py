"""预警核查: the inspector's ranked list of flags, each with its evidence, and the inspection report.

Sort by strength or q-value, filter by kind (units and lane come from the sidebar); pick a flag
(or arrive from the overview with ?flag=ID) to see its evidence: charts of the comparison its test made
(analytics.report.flag_evidence: rotation's person x quarter grid and counts against random allocation, a
reviewer's people against the unit's others stratum by stratum, a unit's 好 against its quota and its lane …),
the plain-language sentence, and the nesting caveat where it applies.
"""

from __future__ import annotations

import streamlit as st

from analytics import flag_review, i18n, numbers, overview, pdf, person, person_flags, report
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "预警核查",
    "Flags",
    (
        "每条预警都说明检验了什么、与什么比较、有多强、证据有多少；预警是核查线索，不是结论。",
        "Each flag says what was tested, against what, how strongly and on how much evidence; "
        "a flag is a lead to check, not a verdict.",
    ),
)
ui.require_data()
lang = ui.lang()
flags = ui.flags()
for failure in st.session_state.get("detector_errors", []):
    st.warning(tr(f"检测器运行出错，结果暂缺：{failure}", f"A detector failed and its flags are missing: {failure}"))

c1, c0, c2, c3 = st.columns([1.8, 1.6, 1.1, 1])
kinds = c1.multiselect(
    tr("预警类型", "Kinds"),
    flags["kind"].unique().sort().to_list(),
    key="flag_kinds",
    format_func=lambda k: i18n.kind_label(k, lang),
    placeholder=tr("全部类型", "All kinds"),
)
counts = flag_review.status_counts(flags)
statuses = c0.multiselect(
    tr("核查状态", "Review status"),
    list(flag_review.STATUSES),
    key="flag_status",
    format_func=lambda code: f"{flag_review.status_label(code, lang)}（{counts[code]}）"
    if lang == "zh"
    else f"{flag_review.status_label(code, lang)} ({counts[code]})",
    placeholder=tr("全部状态", "Every status"),
)
ORDERS = {"severity": tr("强度", "Severity"), "q_value": tr("q 值", "q-value")}
order = c2.segmented_control(
    tr("排序", "Sort by"), list(ORDERS), key="flag_sort", default="severity", format_func=ORDERS.get, required=True
)
floor = c3.slider(tr("最低强度", "Minimum severity"), 0.0, 1.0, 0.0, 0.05, key="flag_min_severity")
chosen = flag_review.select_status(overview.select_flags(flags, tuple(kinds), floor, order or "severity"), statuses)

if chosen.height == 0:
    st.success(tr("当前筛选范围内没有预警。", "No flags within the current filters."))
    st.stop()

asked = st.query_params.get("flag")
people = ui.call(person.directory, ui.FULL)
table = overview.flag_list(chosen, lang, people=people)
if asked in table["flag_id"].to_list():
    # Arrived from a link (the overview, a profile): that flag is marked and listed first.
    table = overview.arrived_first(table, asked)
    chosen = overview.arrived_first(chosen, asked)
event = ui.show_table(
    ui.with_person_links(table, "person_id", "person_name", flag_col="flag_key").drop("person_id"),
    height=280,
    key="flag_table",
    selectable=True,
    column_config={
        "severity": st.column_config.ProgressColumn(format="%.2f", min_value=0.0, max_value=1.0),
        "q_value": st.column_config.NumberColumn(format="%.3f"),
        "evidence": st.column_config.TextColumn(width="large"),
        "person_name": ui.person_link_config(),
        "flag_id": None,
        "flag_key": None,
    },
)
picked = event.selection.rows if event is not None else []
ids = chosen["flag_id"].to_list()
if picked:
    flag_id = ids[picked[0]]
    st.query_params["flag"] = flag_id
else:
    flag_id = asked if asked in ids else ids[0]
flag = chosen.row(ids.index(flag_id), named=True)
ui.audit("open_flag", flag_id, {"kind": flag["kind"], "subject": flag["subject"], "unit": flag["unit"]})

# --- evidence of the chosen flag
st.markdown(
    f"#### {i18n.kind_label(flag['kind'], lang)} · {ui.safe(person_flags.subject_words(flag, people))}"
    + (f" · {ui.safe(flag['unit'])}" if flag["unit"] and flag["unit"] != flag["subject"] else "")
)
if flag["subject_type"] == "person":  # the person's whole record, this flag marked there
    st.page_link(
        ui.PAGES["person"],
        label=tr("查看此人的立体画像", "Open this person's profile"),
        query_params={"person": flag["subject"], "flag": flag["flag_key"]},
        icon=":material/person:",
    )
m = st.columns(4)
m[0].metric(tr("强度", "Severity"), f"{flag['severity']:.2f}")
m[1].metric(tr("p 值", "p-value"), numbers.p_text(flag["p_value"]))
m[2].metric(tr("q 值", "q-value"), numbers.p_text(flag["q_value"]))
m[3].metric(tr("证据量", "Evidence size"), f"{flag['n']:,}" if flag["n"] is not None else "—")
st.info(ui.safe(flag["evidence_en"] if lang == "en" else flag["evidence_zh"]), icon=":material/search:")
caveat = flag["caveat_en"] if lang == "en" else flag["caveat_zh"]
if caveat:
    st.warning(ui.safe(caveat), icon=":material/warning:")
span = numbers.period_span(flag["period_from"], flag["period_to"], lang)
statistic = numbers.statistic_name(flag["statistic"], lang)
st.caption(
    tr(
        f"期间：{span} · 赛道：{ui.safe(flag['lane'] or '—')} · 统计量：{statistic}",
        f"Period: {span} · lane: {ui.safe(flag['lane'] or '—')} · statistic: {statistic}",
    )
)

# --- the review: status, assignee, note (analytics.flag_review; audited)
status_word = flag_review.status_label(flag["status"], lang)
if flag["reopened"]:
    st.warning(
        tr(
            "此预警曾标记为“已整改”，但在新的数据中再次出现，已重新打开为“待核查”。",
            "This finding was marked resolved but appears again in newer data: it is open again.",
        ),
        icon=":material/restart_alt:",
    )
with st.expander(
    tr(f"核查登记 · 当前状态：{status_word}", f"Review · status now: {status_word}"),
    expanded=flag["status"] == flag_review.OPEN,
):
    if flag["reviewed_at"] is not None:
        st.caption(
            tr(
                f"最近一次：{flag['reviewed_at']:%Y-%m-%d %H:%M}，{ui.safe(flag['reviewed_by'])}"
                f"；责任人：{ui.safe(flag['assignee'] or '—')}；说明：{ui.safe(flag['note'] or '—')}",
                f"Last: {flag['reviewed_at']:%Y-%m-%d %H:%M} by {ui.safe(flag['reviewed_by'])}; "
                f"assignee: {ui.safe(flag['assignee'] or '—')}; note: {ui.safe(flag['note'] or '—')}",
            )
        )
    if ui.current_role() in ("admin", "inspector", "head", "anonymous"):
        with st.form(f"review_{flag['flag_key']}", border=False, enter_to_submit=False):
            new_status = st.segmented_control(
                tr("状态", "Status"),
                list(flag_review.STATUSES),
                default=flag["status"],
                format_func=lambda code: flag_review.status_label(code, lang),
                required=True,
            )
            a, b = st.columns([1, 2])
            assignee = a.text_input(tr("责任人", "Assignee"), value=flag["assignee"] or "")
            note = b.text_input(tr("说明", "Note"), value="")
            if st.form_submit_button(tr("保存核查结果", "Save the review"), icon=":material/check:"):
                user = ui.current_user()
                flag_review.review(
                    ui.store_path(), flag, new_status, assignee, note, by=user.user_name if user else "anonymous"
                )
                st.toast(tr("已保存。", "Saved."))
                st.rerun()

try:
    evidence = ui.call(report.flag_evidence, ui.FULL, ui.SETTINGS, flag, lang)
except Exception as exc:  # evidence that cannot be drawn must not hide the flag itself
    st.warning(
        tr(
            f"无法生成此预警的证据图表：{type(exc).__name__}",
            f"Could not build this flag's evidence: {type(exc).__name__}",
        )
    )
    evidence = report.Evidence()
figures = evidence.figures
for start in range(0, len(figures), 2):
    cols = st.columns(2) if len(figures) - start > 1 else [st.container()]
    for col, (key, fig) in zip(cols, figures[start : start + 2], strict=False):
        with col:
            ui.plot(fig, key=f"ev_{key}")
for key, (title, frame) in evidence.tables.items():
    with st.expander(f"{title}（{frame.height}）" if lang == "zh" else f"{title} ({frame.height})"):
        linked = "person_id" in frame.columns and "name" in frame.columns
        shown = ui.with_person_links(frame, flag_key=flag["flag_key"]).drop("person_id") if linked else frame
        ui.show_table(
            shown,
            height=min(400, 38 + 35 * frame.height),
            column_config={"name": ui.person_link_config()} if linked else None,
        )
        ui.downloads(frame, f"{flag['flag_id']}_{key}", key=f"dl_ev_{key}")

# --- the inspection report for the flags listed above
st.divider()
st.markdown(tr("#### 导出督查报告", "#### Export the inspection report"))
st.caption(
    tr(
        f"包含上表 {chosen.height} 条预警，及前 10 条的证据与图表。HTML 可离线打开、直接打印。",
        f"The {chosen.height} flags listed above, with evidence and charts for the first 10. "
        "The HTML opens offline and prints as it is.",
    )
)
full, settings = ui.full_data(), ui.settings()
shown_units = ui.selected_units() or sorted(ui.current_scope().units or ())
scope_label = (
    "、".join(shown_units[:3])
    + (tr(f" 等 {len(shown_units)} 个单位", f" and {len(shown_units) - 3} more") if len(shown_units) > 3 else "")
    if shown_units
    else tr("全部单位", "All units")
)
with st.container(horizontal=True):
    ui.download_bytes(
        tr("报告 Excel", "Report (Excel)"),
        lambda: report.inspection_workbook(full, settings, chosen, lang, scope_label=scope_label),
        tr("督查报告.xlsx", "inspection_report.xlsx"),
        ui.MIME["xlsx"],
        key="report_xlsx",
    )
    if pdf.find_chromium():
        ui.download_bytes(
            tr("报告 PDF（A4 横向）", "Report (PDF, A4 landscape)"),
            lambda: report.inspection_pdf(full, settings, chosen, lang, scope_label=scope_label),
            tr("督查报告.pdf", "inspection_report.pdf"),
            "application/pdf",
            key="report_pdf",
        )
    ui.download_bytes(
        tr("可打印报告 HTML", "Printable report (HTML)"),
        lambda: report.inspection_html(full, settings, chosen, lang, scope_label=scope_label).encode("utf-8"),
        tr("督查报告.html", "inspection_report.html"),
        ui.MIME["html"],
        key="report_html",
    )
    ui.downloads(table.drop("flag_id", "flag_key"), tr("预警清单", "flags"), key="dl_flags")
if not pdf.find_chromium():
    st.caption(
        tr(
            "本机未安装 Chromium，暂不能直接生成 PDF；可下载 HTML 报告后用浏览器“打印 → 另存为 PDF”。",
            "Chromium is not installed here, so no PDF can be made; download the HTML report and print it to PDF.",
        )
    )
