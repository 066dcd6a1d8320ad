"""考核分析 · the Streamlit entry point: page setup, navigation grouped by user, the shared sidebar.

Run with `make run` (the demo city) or `KAOHE_DB=path/to/store.duckdb streamlit run app.py`.
Each page lives in pages/; this file only decides which pages exist and draws the sidebar.

Access control happens here, before any page runs: `ui.gate()` settles who the session is (login,
expiry, single sign-on) and its scope; when the store needs a login and nobody is logged in, the
navigation holds the login page alone, so no other page can be reached by link or URL. Each role
gets its own navigation: Data import and Admin only for admins, Research only for researchers.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import streamlit as st

from analytics import faults, store
from pages import _ui as ui
from pages._ui import warm

# Many sessions in one process: reads from the store's latest snapshot, short writes to the store (analytics.store).
store.share_connections()

st.set_page_config(
    page_title="考核分析 · kaohe", page_icon=":material/fact_check:", layout="wide", initial_sidebar_state="expanded"
)
tr = ui.tr
ui.lang()  # settle the language (from the browser's locale) before any label is drawn


def research_pages() -> list:
    """Survey and grade data together (pages/research_*.py)."""
    return [
        st.Page("pages/research_survey.py", title=tr("问卷分析", "Survey analysis"), icon=":material/quiz:"),
        st.Page("pages/research_sql.py", title=tr("SQL 查询", "SQL workspace"), icon=":material/terminal:"),
    ]


def login_page(hidden: bool = False):
    return st.Page(
        ui.PAGES["login"],
        title=tr("登录", "Log in"),
        icon=":material/login:",
        url_path="login",
        visibility="hidden" if hidden else "visible",
    )


def analysis_sections() -> dict[str, list]:
    """Pages over the assessment data (scoped by the gate)."""
    return {
        tr("总览", "Overview"): [
            st.Page(
                ui.PAGES["overview"], title=tr("一屏掌控", "At a glance"), icon=":material/dashboard:", default=True
            ),
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
        tr("申诉与推演", "Appeals and what-if"): [
            st.Page("pages/appeals.py", title=tr("申诉复核", "Appeals"), icon=":material/gavel:"),
            st.Page("pages/whatif.py", title=tr("结果推演", "What-if"), icon=":material/science:"),
        ],
    }


def data_section() -> dict[str, list]:
    return {
        tr("数据", "Data"): [
            st.Page(ui.PAGES["data"], title=tr("数据导入", "Data import"), icon=":material/upload_file:")
        ]
    }


def admin_section() -> dict[str, list]:
    return {tr("管理", "Admin"): [st.Page(ui.PAGES["admin"], title=tr("用户与审计", "Users and audit"), icon=":material/admin_panel_settings:")]}  # fmt: skip


# Every page's address: a link to one the session may not open still gets a page of ours, not Streamlit's
# English "Page not found" (logged out: the login form under that address, so the link survives the login).
ADDRESSES = [*(Path(p).stem for p in ui.PAGES.values()), "research_survey", "research_sql"]


def no_access() -> None:
    ui.page_setup("无权访问", "Not available")
    st.warning(tr("您的角色不能打开此页面。", "Your role cannot open this page."), icon=":material/block:")


def stand_ins(sections: dict[str, list], logged_out: bool) -> list:
    """Hidden pages for the addresses `sections` lacks: the login page when logged out, else a refusal."""
    # `_url_path`: the default page answers both "" and its own name, and `url_path` says only "".
    taken = {getattr(page, "_url_path", None) for pages in sections.values() for page in pages}
    if None in taken:  # a bare run outside `streamlit run` (pages are stubs there): no navigation to complete
        return []
    return [
        st.Page(ui.PAGES["login"] if logged_out else no_access, title=tr("登录", "Log in") if logged_out
                else tr("无权访问", "Not available"), url_path=address, visibility="hidden")
        for address in ADDRESSES if address not in taken
    ]  # fmt: skip


def sections_for(role: str) -> dict[str, list]:
    """The navigation a role gets, and stand-ins for every other address (see `stand_ins`)."""
    sections = _sections(role)
    return sections | {"": [*sections.get("", []), *stand_ins(sections, role == ui.LOGGED_OUT)]}


def _sections(role: str) -> dict[str, list]:
    research = {tr("研究", "Research"): research_pages()}
    if role == ui.LOGGED_OUT:
        return {"": [login_page()]}
    if role == "researcher":  # pseudonymised, aggregated research views only (the first is the default)
        return research | {"": [login_page(hidden=True)]}
    sections = {**analysis_sections(), **research}
    if role == "admin":
        sections |= data_section() | admin_section()
    if role == ui.ANONYMOUS:  # an open store (the demo city): data import too, and a way to log in
        return sections | data_section() | {tr("账户", "Account"): [login_page()]}
    return sections | {"": [login_page(hidden=True)]}


def run() -> None:
    access = ui.gate()
    nav = {name: pages for name, pages in sections_for(access.role).items() if pages}
    page = st.navigation(nav, expanded=True, position="sidebar" if access.role != ui.LOGGED_OUT else "hidden")
    if st.session_state.pop(ui.JUST_LOGGED_IN, False) and page.url_path == "login":
        st.switch_page(next(iter(nav.values()))[0])  # from the login page to the role's first page
    if access.unprotected:
        ui.unprotected_banner()
    ui.account_box(access)  # who is logged in and the logout button, under the navigation
    filters = st.sidebar.container()  # the filters' place, filled after the page: its content is sent first
    ui.forget_stale_choices()
    try:
        page.run()
    finally:
        ui.sidebar(filters)  # logged out, the scope is empty: only the language switch
        # Once per process, after the first page is sent (its imports would hold the interpreter from it): the
        # overview's libraries and data, while the first visitor logs in.
        warm.start()


@st.fragment(run_every=2)
def _retry_when_free() -> None:
    try:
        busy = ui.updating()
    except store.StoreBusy:
        return
    if not busy:
        st.rerun(scope="app")


try:
    run()
except store.StoreBusy:  # a CLI import or undo holds the store and no snapshot exists yet: wait, never crash
    st.info(tr("数据正在更新，请稍候，页面会自动刷新。", "The data are being updated; this page refreshes by itself."))
    _retry_when_free()
except (duckdb.Error, OSError) as exc:  # a damaged or unreadable store, a full disk: say so plainly
    explained = faults.explain(exc, ui.store_path(), hide_paths=True)
    if explained is None:
        raise
    st.error(tr(*explained), icon=":material/database:")
