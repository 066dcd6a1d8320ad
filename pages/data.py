"""数据导入: upload exports, preview what the importer understood, import (or partially import), undo.

Several files at once; each is previewed with its detected kind, layout, header row and encoding,
the first rows as they will be stored, and every problem. What a file does not say (unit, year, period)
is asked in fields; a column the importer does not know is chosen in the mapping step, with the file's
own first rows beside it and the preview following live; the mapping is saved as a template. Import is
all-or-nothing per file unless partial import is chosen (good rows stored, refused rows kept).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import i18n
from analytics.errors import UserError
from analytics.importer import (
    MAPPABLE,
    MissingContext,
    file_columns,
    import_bytes,
    list_imports,
    options_for,
    preview_bytes,
    undo,
)
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "数据导入",
    "Data import",
    (
        "支持 xlsx、xls、csv（UTF-8、GBK/GB18030 均可）；标题行、表尾签名会自动识别。",
        "xlsx, xls and csv (UTF-8 or GBK/GB18030); title rows and signature footers are recognised.",
    ),
)
ui.require_role("admin", ui.ANONYMOUS)  # admins; on an open store (the demo city) visitors are asked for one
ui.require_admin_for_import()  # nobody imports anonymously: that would lock the store with no account
lang = ui.lang()
KINDS = {
    None: ("自动识别", "Detect"),
    "quarterly": ("平时考核", "Quarterly"),
    "annual": ("年度考核", "Annual"),
    "outcomes": ("结果运用", "Outcomes"),
    "appeals": ("申诉复核", "Appeals"),
    "survey": ("问卷", "Survey"),
}


FIELD_LABELS = {
    "name": ("姓名", "Name"),
    "person_id": ("人员编号", "Person id"),
    "unit": ("单位", "Unit"),
    "section": ("处室/科室", "Section"),
    "year": ("年度", "Year"),
    "quarter": ("季度/期次", "Quarter / period"),
    "grade": ("等次", "Grade"),
    "annual_grade": ("年度考核等次", "Annual grade"),
    "score": ("得分", "Score"),
}
AUTO = "__auto__"


@st.cache_data(max_entries=32, show_spinner=False)
def _preview(content: bytes, file_name: str, kind: str | None, given: tuple, mapping: tuple):
    """The importer's preview, cached by the file's bytes and the user's answers; errors come back as text,
    with what the file lacks ('unit', 'year', 'period', 'kind') when a field can supply it."""
    try:
        options = options_for(ui.store_path(), kind=kind, unit=given[0], year=given[1], period=given[2],
                              sheet=given[3] or None, maps=[f"{f}={h}" for f, h in mapping])  # fmt: skip
        return preview_bytes(content, file_name, kind, options=options, db=ui.store_path()), None, None
    except MissingContext as exc:
        return None, str(exc), exc.need
    except UserError as exc:
        return None, str(exc), None


@st.cache_data(max_entries=32, show_spinner=False)
def _columns(content: bytes, file_name: str, sheet: str | None):
    try:
        return file_columns(content, file_name, sheet)
    except UserError:
        return None


def show_preview(preview, error: str | None) -> None:
    if error:
        st.error(ui.safe(error), icon=":material/error:")
        return
    cols = st.columns(5)
    cols[0].metric(tr("类型", "Kind"), i18n.pick(KINDS.get(preview.kind, (preview.kind, preview.kind)), lang))
    cols[1].metric(
        tr("版式", "Layout"),
        {"long": tr("长表", "long"), "wide": tr("宽表", "wide")}.get(preview.layout, preview.layout),
    )
    cols[2].metric(tr("表头行", "Header row"), preview.header_row)
    cols[3].metric(tr("编码", "Encoding"), preview.encoding or "—")
    cols[4].metric(tr("记录数", "Records"), f"{preview.total_records:,}")
    sheets = [s for s in preview.sheets if s]
    if sheets:
        st.caption(tr("工作表：", "Sheets: ") + "、".join(ui.safe(s) for s in sheets))
    if preview.ignored_footer_rows:
        st.caption(tr("已忽略的表尾行：", "Footer rows ignored: ") + ", ".join(map(str, preview.ignored_footer_rows)))
    for zh, en in preview.notes:
        st.warning(ui.safe(en if lang == "en" else zh))
    problems = i18n.problem_table(preview.problems, lang)
    if problems.height:
        st.error(
            tr(
                f"发现 {problems.height} 个问题：默认导入将整份拒收；可选择“部分导入”只存入无问题的行。",
                f"{problems.height} problems: a normal import refuses the whole file; a partial import stores the good rows.",
            )
        )
        ui.show_table(problems, height=min(420, 38 + 35 * problems.height))
        ui.downloads(problems, f"problems_{preview.file_name}", key=f"dl_prob_{preview.file_name}")
    else:
        st.success(tr("未发现问题，可以导入。", "No problems found: ready to import."))
    with st.expander(
        tr("列对应与前 20 行（按导入后的样子）", "Column mapping and the first 20 rows (as they will be stored)")
    ):
        st.caption("、".join(f"{ui.safe(h)} → {i18n.column_label(f, lang)}" for h, f in preview.mapping.items()))
        ui.show_table(preview.rows, height=300)


uploads = st.file_uploader(
    tr("选择文件（可多选）", "Choose files (several at once)"),
    type=["xlsx", "xls", "csv", "txt"],
    accept_multiple_files=True,
    key="uploads",
)
kind = st.selectbox(
    tr("文件类型", "Kind of file"),
    list(KINDS),
    format_func=lambda k: i18n.pick(KINDS[k], lang),
    key="upload_kind",
    help=tr(
        "一般无需选择，系统按表头识别；两类都像时会请你选择。", "Usually detected; you are asked when two kinds fit."
    ),
)


def given_fields(needs: set[str]) -> tuple:
    """What the files do not say: unit, year, period, sheet (opened when a file needs one)."""
    with st.expander(tr("表外信息：文件里没写时填写", "Outside the table: fill in what the file does not say"),
                     expanded=bool(needs), icon=":material/edit_note:"):  # fmt: skip
        if needs:
            asked = "、".join(i18n.pick(NEED_LABELS[n], lang) for n in sorted(needs))
            st.info(tr(f"文件没有写明：{asked}。请在下面填写。", f"The file does not say: {asked}. Fill it in below."))
        cols = st.columns(4)
        unit = cols[0].text_input(tr("单位", "Unit"), key="ctx_unit", placeholder=tr("如 综合处", "e.g. 综合处"))
        year = cols[1].text_input(tr("年度", "Year"), key="ctx_year", placeholder="2024")
        period = cols[2].text_input(
            tr("期次", "Period"), key="ctx_period", placeholder=tr("2024Q1 或 2024-10", "2024Q1 or 2024-10")
        )
        sheet = cols[3].text_input(tr("工作表（含隐藏表）", "Sheet (hidden ones too)"), key="ctx_sheet")
    return (unit.strip(), year.strip(), period.strip(), sheet.strip())


NEED_LABELS = {"unit": ("单位", "unit"), "year": ("年度", "year"), "period": ("期次", "period"),
               "kind": ("文件类型", "kind of file")}  # fmt: skip


def mapping_step(index: int, name: str, content: bytes, sheet: str | None, open_it: bool) -> tuple[tuple, str]:
    """The file's own columns and first rows, and a choice of column per field; (choices, template name)."""
    raw = _columns(content, name, sheet)
    if raw is None or raw.width == 0:
        return (), ""
    with st.expander(tr("列对应：指定哪一列是姓名、单位、等次……", "Column mapping: which column is name, unit, grade …"),
                     expanded=open_it, icon=":material/table_rows:"):  # fmt: skip
        st.caption(tr("文件中的列与前几行（原样）：", "The file's columns and first rows, as written:"))
        ui.show_table(raw, height=min(240, 38 + 35 * raw.height))
        cols = st.columns(3)
        chosen = []
        for i, field in enumerate(MAPPABLE):
            picked = cols[i % 3].selectbox(
                i18n.pick(FIELD_LABELS[field], lang), [AUTO, *raw.columns], key=f"map_{index}_{field}",
                format_func=lambda h: tr("（自动识别）", "(detect)") if h == AUTO else h,
            )  # fmt: skip
            if picked != AUTO:
                chosen.append((field, picked))
        template = st.text_input(
            tr("保存为映射模板（名称）", "Save as mapping template (name)"), key=f"template_{index}",
            help=tr("导入成功后保存；表头相同的文件以后自动套用。", "Saved after a successful import; files with the same header get it."),
        )  # fmt: skip
    return tuple(chosen), template.strip()


if uploads:
    files = [(f.name, f.getvalue()) for f in uploads]
    given = tuple(st.session_state.get(k, "").strip() for k in ("ctx_unit", "ctx_year", "ctx_period", "ctx_sheet"))
    mappings = [
        tuple(
            (f, st.session_state[f"map_{i}_{f}"])
            for f in MAPPABLE
            if st.session_state.get(f"map_{i}_{f}", AUTO) != AUTO
        )
        for i in range(len(files))
    ]
    previews = [_preview(content, name, kind, given, mappings[i]) for i, (name, content) in enumerate(files)]
    needs = {need for _, _, need in previews if need and need != "kind"}
    given = given_fields(needs)
    if any(need == "kind" for _, _, need in previews):
        st.warning(
            tr(
                "有文件看不出或分不清类型：请在上面的「文件类型」中选择。",
                "A file's kind is unclear: choose it under Kind of file above.",
            )
        )
    plans = []
    for i, (name, content) in enumerate(files):
        with st.container(border=True):
            st.markdown(f"**{ui.safe(name)}**")
            preview, error, need = previews[i]
            chosen, template = mapping_step(
                i, name, content, given[3] or None, bool(mappings[i]) or (error is not None and need is None)
            )
            show_preview(preview, error)
            plans.append((name, content, chosen, template))
    partial = st.checkbox(
        tr(
            "部分导入：存入无问题的行，有问题的行连同原因另存",
            "Partial import: store the good rows, keep refused rows with their reasons",
        ),
        key="partial",
    )
    if st.button(
        tr(f"导入 {len(files)} 个文件", f"Import {len(files)} file(s)"),
        type="primary",
        icon=":material/upload:",
        key="do_import",
    ):
        progress = st.progress(0.0, text=tr("正在导入……", "Importing…"))
        results = []
        for i, (name, content, chosen, template) in enumerate(plans, start=1):
            progress.progress(
                (i - 1) / len(files),
                text=tr(f"正在导入 {name}（{i}/{len(files)}）", f"Importing {name} ({i}/{len(files)})"),
            )
            try:
                options = options_for(ui.store_path(), kind=kind, unit=given[0], year=given[1], period=given[2],
                                      sheet=given[3] or None, maps=[f"{f}={h}" for f, h in chosen])  # fmt: skip
                result = import_bytes(
                    ui.store_path(), content, name, kind=kind, partial=partial, user=st.session_state.get("user_name"),
                    options=options, save_as=template or None,
                )  # fmt: skip
                results.append((name, result.status, result.report(lang), result.problems))
            except UserError as exc:
                results.append((name, "refused", str(exc), None))
        progress.progress(1.0, text=tr("完成", "Done"))
        ui.clear_caches()
        st.session_state["import_results"] = results

for name, status, text, problems in st.session_state.get("import_results", []):
    good = status in ("imported", "partial", "duplicate")
    label = i18n.pick(i18n.CODE_LABELS["status"].get(status, (status, status)), lang)
    (st.success if good else st.error)(f"{ui.safe(name)}：{label}" if lang == "zh" else f"{ui.safe(name)}: {label}")
    st.text(text)
    if problems is not None and problems.height:
        ui.show_table(i18n.problem_table(problems, lang), height=min(420, 38 + 35 * problems.height))

st.divider()
st.markdown(tr("#### 导入记录", "#### Import history"))
history = list_imports(ui.store_path())
if history.height == 0:
    st.caption(tr("还没有导入记录。", "Nothing imported yet."))
else:
    shown = i18n.code_labels(
        i18n.code_labels(history.drop("sha256", "warnings"), "status", lang), "kind", lang, "import_kind"
    )
    ui.show_table(shown, height=min(360, 38 + 35 * history.height))
    live = history.filter(pl.col("status") != "undone").sort("import_id", descending=True)
    if live.height:
        ids = live["import_id"].to_list()
        facts = {i: (name, rows or 0) for i, name, rows in live.select("import_id", "file_name", "rows").rows()}
        with st.container(horizontal=True, vertical_alignment="bottom"):
            # Keyed by the newest import: after a new import the box shows (and targets) that one, never an old pick.
            chosen = st.selectbox(tr("撤销导入", "Undo an import"), ids, key=f"undo_id_{ids[0]}", width=200,
                                  format_func=lambda i: f"#{i} {facts[i][0]}")  # fmt: skip
            file_name, rows = facts[chosen]
            sure = st.checkbox(
                tr(f"确认撤销导入 #{chosen}「{ui.safe(file_name)}」，删除其 {rows:,} 行（原始文件仍保留）",
                   f"Confirm: undo import #{chosen} '{ui.safe(file_name)}', removing its {rows:,} rows (the original is kept)"),
                key=f"undo_sure_{chosen}",
            )  # fmt: skip
            if st.button(tr("撤销", "Undo"), disabled=not sure, icon=":material/undo:"):
                try:
                    removed = undo(ui.store_path(), int(chosen), user=st.session_state.get("user_name"))
                    ui.clear_caches()
                    st.session_state["undo_message"] = tr(
                        f"已撤销导入 #{chosen}「{ui.safe(file_name)}」，删除 {removed} 行。",
                        f"Import #{chosen} '{ui.safe(file_name)}' undone: {removed} rows removed.",
                    )
                    st.rerun()
                except UserError as exc:
                    st.error(str(exc))
if msg := st.session_state.pop("undo_message", None):
    st.success(msg)
