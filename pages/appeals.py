"""申诉复核: appeals by unit, reviewer and reason, time to decision and decisions; whether the reviewers the
leniency detector flags draw more appeals; and the appeal pack (申诉复核材料) for one person or unit."""

from __future__ import annotations

import streamlit as st

from analytics import appeal_pack, charts, overview, person
from analytics.appeals import views
from analytics.appeals.labels import for_people, label
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "申诉复核",
    "Appeals",
    (
        "申诉集中在哪些单位、哪些评鉴人、什么理由；被标记为宽松的评鉴人是否招致更多申诉；一人一档的申诉复核材料。",
        "Where appeals cluster (units, reviewers, reasons); whether reviewers flagged lenient draw more of them; "
        "the appeal pack for one person or unit.",
    ),
)
data = ui.require_data()
lang = ui.lang()
view = ui.call(views.appeals_view, ui.DATA, ui.FULL, ui.SETTINGS, str(ui.store_path()), ui.current_scope())


def table(frame, key: str, height: int | str = "auto", name: str | None = None) -> None:
    """A table in words (codes translated, headers in the language) with its downloads; people link to profiles."""
    shown = for_people(frame, lang)
    if "person_id" in frame.columns and "name" in frame.columns:
        linked = for_people(ui.with_person_links(frame), lang).drop(label("person_id", lang))
        ui.show_table(linked, height=height, key=key, column_config={label("name", lang): ui.person_link_config()})
    else:
        ui.show_table(shown, height=height, key=key)
    ui.downloads(shown, name or key, key=f"dl_{key}", translate=False)


figures, pack_view = st.tabs([tr("申诉分析", "Appeals"), tr("申诉复核材料", "Appeal pack")])
with figures:
    if view.headline["appeals"] == 0:
        st.info(
            tr(
                "当前范围内没有申诉记录。可在“数据导入”页导入申诉登记表（列：人员编号/姓名、单位、申诉日期、申诉事项、"
                "申诉理由、评鉴人、处理结果、答复日期）。",
                "No appeals within the current scope. Import an appeal register on the Data import page (columns: "
                "person id/name, unit, appeal date, what is appealed, reason, reviewer, decision, decision date).",
            )
        )
    else:
        head = view.headline
        cols = st.columns(5)
        cols[0].metric(tr("申诉件数", "Appeals"), f"{head['appeals']:,}", border=True)
        cols[1].metric(tr("申诉人数", "People appealing"), f"{head['people']:,}", border=True)
        cols[2].metric(tr("已作决定", "Decided"), f"{head['decided']:,}", border=True)
        cols[3].metric(tr("予以变更", "Changed"), ui.percent(head["changed_share"]), border=True)
        median = head["median_days"]
        cols[4].metric(
            tr("决定用时中位数", "Median time to decision"),
            "—" if median is None else tr(f"{median:.0f} 天", f"{median:.0f} days"),
            border=True,
        )
        sentence = view.test.sentence(lang)
        (st.warning if view.test.significant else st.info)(ui.safe(sentence), icon=":material/balance:")
        left, right = st.columns([1, 1.3])
        with left:
            bars = views.rate_bars(view.reviewers, lang)
            ui.plot(
                charts.bars(
                    bars,
                    "group",
                    "per_100",
                    tr("每百评定人次的申诉件数", "Appeals per 100 person-quarters graded"),
                    lang,
                    height=320,
                    x_title=" ",
                    y_title=tr("件/百人次", "per 100"),
                ),
                key="rate_bars",
            )
        with right:
            reasons = for_people(view.reasons.select("reason_kind", "appeals"), lang)
            ui.plot(
                charts.bars(
                    reasons,
                    reasons.columns[0],
                    reasons.columns[1],
                    tr("申诉理由", "Reasons given"),
                    lang,
                    height=320,
                    horizontal=True,
                    x_title=" ",
                    y_title=tr("件数", "Appeals"),
                ),
                key="reason_bars",
            )
        tabs = st.tabs(
            [
                tr("按评鉴人", "By reviewer"),
                tr("按单位", "By unit"),
                tr("按理由", "By reason"),
                tr("处理结果与用时", "Decisions and time"),
                tr("申诉明细", "Every appeal"),
            ]
        )
        with tabs[0]:
            st.caption(
                tr(
                    "每件申诉归于申诉点名的评鉴人；未点名的，归于所申诉季度（或当年主要）的评鉴人。"
                    "宽松预警来自评鉴宽松检测（老好人）。",
                    "Each appeal goes to the reviewer it names, else to the reviewer of the quarter (or year) appealed. "
                    "The lenient flag comes from the leniency detector.",
                )
            )
            table(view.reviewers, "appeals_reviewers", height=420)
        with tabs[1]:
            table(view.units, "appeals_units", height=420)
        with tabs[2]:
            table(view.reasons, "appeals_reasons")
        with tabs[3]:
            table(view.decisions, "appeals_decisions")
            table(view.timing, "appeals_timing")
        with tabs[4]:
            table(view.appeals, "appeals_records", height=460)

with pack_view:
    st.caption(
        tr(
            "汇集一人（或一个单位）的逐季等次与赛道对比、评鉴人及其宽松证据、轮流坐庄证据、年度等次与优秀门槛、"
            "结果运用和申诉，可下载 Excel 或打印版 PDF。每次下载均记入审计日志。",
            "One person's (or unit's) quarterly grades against the lane, reviewers and their leniency evidence, "
            "rotation evidence, annual grades and the 优秀 gate, outcomes and appeals, as Excel or a printable PDF. "
            "Every download is recorded in the audit log.",
        )
    )
    whom = st.segmented_control(
        tr("对象", "For"), ["person", "unit"], default="person", key="pack_for",
        format_func=lambda k: tr("个人", "A person") if k == "person" else tr("单位", "A unit"),
    )  # fmt: skip
    full, settings = ui.full_data(), ui.settings()
    if whom == "unit":
        subject = st.selectbox(tr("单位", "Unit"), ui.call(overview.units, ui.FULL), key="pack_unit")
    else:
        people = ui.call(person.directory, ui.FULL)
        labels = dict(
            zip(
                people["person_id"].to_list(),
                [f"{n} · {u} · {p}" for p, n, u in people.select("person_id", "name", "unit").iter_rows()],
                strict=True,
            )
        )
        subject = st.selectbox(
            tr("人员（可输入姓名搜索）", "Person (type a name to search)"),
            list(labels),
            key="pack_person",
            format_func=lambda p: labels.get(p, p),
        )
    if subject:
        scope, db = ui.current_scope(), str(ui.store_path())
        flags = ui.all_flags()

        def build():
            from analytics.appeals.store import load_appeals_at

            appeals = load_appeals_at(db, scope)
            maker = appeal_pack.unit_pack if whom == "unit" else appeal_pack.person_pack
            return maker(full, settings, appeals, subject, flags=flags, lang=lang)

        stem = f"申诉复核材料_{subject}" if lang == "zh" else f"appeal_pack_{subject}"
        with st.container(horizontal=True):
            ui.download_bytes(
                tr("下载 Excel", "Download Excel"),
                lambda: appeal_pack.to_xlsx(build(), lang),
                f"{stem}.xlsx",
                ui.MIME["xlsx"],
                key="pack_xlsx",
            )
            ui.download_bytes(
                tr("下载 PDF（打印版）", "Download PDF (printable)"),
                lambda: appeal_pack.to_pdf(build(), lang),
                f"{stem}.pdf",
                "application/pdf",
                key="pack_pdf",
            )
        if whom == "person" and st.toggle(tr("在页面上预览", "Preview on the page"), key="pack_preview"):
            ui.audit("view_person", subject)
            pack = build()
            for section in pack.sections:
                st.markdown(f"**{ui.safe(tr(*section.title))}**")
                if section.note:
                    st.caption(ui.safe(tr(*section.note)))
                ui.show_table(for_people(section.frame, lang), key=f"pack_{section.key}")
