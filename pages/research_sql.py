"""SQL 查询 · SQL workspace: read-only SQL over the documented tables, within the user's scope.

The page collects the query and limits and calls analytics.sql_workspace, which checks the statement,
copies only the rows the user may see into a sandbox with no file access, and enforces the limits.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import export
from analytics.detectors import run_detectors
from analytics.errors import UserError
from analytics.sql_column_words import column_words, type_words
from analytics.sql_workspace import DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT_S, EXAMPLE_QUERIES, execute, table_docs
from analytics.survey.analysis import trust_sql
from pages import _ui as ui

tr = ui.tr
MIME = {"csv": "text/csv", "xlsx": ui.MIME["xlsx"], "parquet": "application/vnd.apache.parquet"}
SQL_KEY = "sql_text"
FLAGS_TABLE = "flags"


def examples() -> list[tuple[str, str, str]]:
    """(title zh, title en, sql): the saved examples plus the survey x rotation question."""
    saved = [(e.title_zh, e.title_en, e.sql) for e in EXAMPLE_QUERIES]
    k = ui.settings().privacy.k_min
    return saved + [("问卷：被预警轮流坐庄的单位是否更不认可考核（需勾选“加入预警表”）",
                     "Survey: do units flagged for rotation trust reviews less? (tick the flags table)", trust_sql("rotation", k))]  # fmt: skip


def load_example() -> None:
    chosen = st.session_state.get("sql_example")
    if chosen is not None:
        st.session_state[SQL_KEY] = examples()[chosen][2]


def downloads(frame: pl.DataFrame, sql: str) -> None:
    """The result as CSV/xlsx/Parquet through analytics.export (formula-safe), audited when made."""
    record = ui.recorder()

    def content(fmt: str) -> bytes:
        record("export", f"query.{fmt}", {"rows": frame.height, "sql": sql[:4000]})
        return export.to_bytes(frame, fmt)

    cols = st.columns([1, 1, 1, 4])[:3]
    for col, fmt in zip(cols, ("csv", "xlsx", "parquet"), strict=True):
        with col:
            st.download_button(fmt.upper(), data=lambda fmt=fmt: content(fmt), file_name=f"query.{fmt}",
                               mime=MIME[fmt], key=f"sql_dl_{fmt}", on_click="ignore", icon=":material/download:")  # fmt: skip


ui.page_setup("SQL 查询", "SQL workspace", ("只读：只能运行一条 `SELECT` 查询；写入、文件读取和设置修改一律拒绝。",
                                           "Read-only: one SELECT query at a time; writes, file access and settings are refused."))  # fmt: skip
scope = ui.current_scope()
lang = ui.lang()
docs = table_docs(scope)
with st.sidebar.expander(tr("可查询的表", "Tables you can query"), expanded=False):
    for table, columns in docs.items():
        st.markdown(f"**`{table}`**")
        st.caption(
            "  \n".join(
                f"`{name}` {type_words(kind, lang)} · {column_words(table, name, meaning, lang)}"
                for name, kind, meaning in columns
            )
        )
    st.markdown(f"**`{FLAGS_TABLE}`**")
    st.caption(
        tr(
            "（可选）当前范围内的轮流坐庄与宽松评价预警，列同预警页。",
            "(optional) rotation and leniency flags within your scope.",
        )
    )

titles = examples()
st.selectbox(tr("示例查询", "Example queries"), range(len(titles)), index=None, key="sql_example", on_change=load_example,
             format_func=lambda i: tr(titles[i][0], titles[i][1]), placeholder=tr("选择一个示例……", "Pick an example…"))  # fmt: skip
if SQL_KEY not in st.session_state:
    st.session_state[SQL_KEY] = EXAMPLE_QUERIES[0].sql
sql = st.text_area("SQL", key=SQL_KEY, height=240)
c1, c2, c3, c4 = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
row_limit = c1.number_input(tr("最多行数", "Row limit"), 1, 1_000_000, DEFAULT_ROW_LIMIT, step=1000, key="sql_limit")
timeout = c2.number_input(
    tr("时限（秒）", "Time limit (s)"), 1.0, 120.0, DEFAULT_TIMEOUT_S, step=5.0, key="sql_timeout"
)
with_flags = c3.checkbox(
    tr("加入预警表 `flags`（首次需运行检测）", "Include the flags table (runs the detectors once)"), key="sql_flags"
)
run = c4.button(tr("运行", "Run"), type="primary", icon=":material/play_arrow:", width="stretch")

if run:
    extra = None
    if with_flags and not ui.is_empty():
        with st.spinner(tr("正在运行检测……", "Running the detectors…")):
            extra = {FLAGS_TABLE: ui.call(run_detectors, ui.FULL, ui.SETTINGS, kinds=("rotation", "leniency"))}
    detail: dict = {"sql": sql[:4000]}
    try:
        result = execute(ui.store_path(), sql, int(row_limit), float(timeout), scope, extra,
                         privacy=ui.settings().privacy)  # fmt: skip
        st.session_state["sql_result"] = result
        st.session_state["sql_ran"] = sql
        st.session_state.pop("sql_error", None)
        detail.update(rows=result.frame.height, truncated=result.truncated)
    except UserError as exc:
        st.session_state["sql_error"] = str(exc)
        st.session_state.pop("sql_result", None)
        detail["refused"] = str(exc)[:500]
    except Exception as exc:  # an unforeseen failure is still shown plainly and still audited
        st.session_state["sql_error"] = tr("查询失败，请修改后重试。", "The query failed; change it and try again.")
        st.session_state.pop("sql_result", None)
        detail["failed"] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        ui.audit("sql", sql[:200], detail)

if error := st.session_state.get("sql_error"):
    st.error(ui.safe(error), icon=":material/block:")
elif (result := st.session_state.get("sql_result")) is not None:
    note = tr(
        f"{result.frame.height} 行，{result.elapsed_s:.2f} 秒",
        f"{result.frame.height} rows in {result.elapsed_s:.2f} s",
    )
    if result.byte_limit_hit:
        mb = result.max_bytes // (1024 * 1024)
        note += tr(f"（结果超过 {mb} MB，已截断；请缩小查询）", f" (cut at the {mb} MB size limit; narrow the query)")
    elif result.truncated:
        note += tr(f"（已截断到 {result.row_limit} 行）", f" (cut at the {result.row_limit}-row limit)")
    st.caption(note)
    st.dataframe(result.frame, hide_index=True, height=420)
    downloads(result.frame, st.session_state.get("sql_ran", sql))
    if scope.pseudonymise:
        k = ui.settings().privacy.k_min
        st.caption(tr(f"人员编号与姓名已替换为假名；单位、科室、职级等在不足 {k} 人的组合中已概括（显示为空）或隐去；"
                      f"不足 {k} 人的汇总行不显示；开放题答案在 survey_comments 表中，不与答题人关联。",
                      f"Person ids and names are pseudonymised; unit, section, rank and other attributes are generalised "
                      f"(shown empty) or left out where fewer than {k} people share them; summary rows counting fewer "
                      f"than {k} people are not shown; open answers are in survey_comments, apart from who wrote them."))  # fmt: skip
