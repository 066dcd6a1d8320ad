"""考核分析 · the Streamlit entry point: page setup, navigation grouped by user, the shared sidebar.

Run with `make run` (the demo city) or `KAOHE_DB=path/to/store.duckdb streamlit run app.py`.
Each page lives in pages/; this file only decides which pages exist and draws the sidebar.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics import store
from pages import _ui as ui

# The app both reads and writes (imports, audit): one DuckDB configuration for the whole process.
store.share_connections()
ROOT = Path(__file__).resolve().parent

st.set_page_config(
    page_title="考核分析 · kaohe", page_icon=":material/fact_check:", layout="wide", initial_sidebar_state="expanded"
)
tr = ui.tr
ui.lang()  # settle the language (from the browser's locale) before any label is drawn

RESEARCH_TITLES = {
    "research_survey": ("问卷分析", "Survey analysis", ":material/quiz:"),
    "research_sql": ("SQL 查询", "SQL workspace", ":material/terminal:"),
}


def research_pages() -> list:
    """The research helper's pages, whichever exist."""
    found = []
    for path in sorted((ROOT / "pages").glob("research_*.py")):
        zh, en, icon = RESEARCH_TITLES.get(path.stem, (path.stem, path.stem, ":material/science:"))
        found.append(st.Page(f"pages/{path.name}", title=tr(zh, en), icon=icon))
    return found


sections = {
    tr("总览", "Overview"): [
        st.Page(ui.PAGES["overview"], title=tr("一屏掌控", "At a glance"), icon=":material/dashboard:", default=True),
    ],
    tr("排名", "Rankings"): [
        st.Page(ui.PAGES["rankings"], title=tr("赛道排名", "Lane rankings"), icon=":material/leaderboard:")
    ],
    tr("预警", "Warnings"): [st.Page(ui.PAGES["flags"], title=tr("预警核查", "Flags"), icon=":material/flag:")],
    tr("结果运用", "Outcome use"): [
        st.Page(ui.PAGES["outcomes"], title=tr("结果运用", "Outcome use"), icon=":material/account_tree:"),
    ],
    tr("人员画像", "Profiles"): [
        st.Page(ui.PAGES["person"], title=tr("立体画像", "Person profile"), icon=":material/person:")
    ],
    tr("研究", "Research"): research_pages(),
    tr("数据", "Data"): [st.Page(ui.PAGES["data"], title=tr("数据导入", "Data import"), icon=":material/upload_file:")],
}
page = st.navigation({name: pages for name, pages in sections.items() if pages}, expanded=True)
ui.sidebar()
page.run()
