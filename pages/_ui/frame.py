"""The page frame: navigation check, CSS, title, and the start screen of an empty store."""

from __future__ import annotations

import streamlit as st

from analytics.dataset import EVERYTHING, AssessmentData
from pages._ui.cache import clear_caches, current_scope, data, full_data, optional, store_path, updating
from pages._ui.lang import tr
from pages._ui.session import current_role
from pages._ui.state import ANONYMOUS, PAGES

_CSS = """
<style>
[data-testid="stHeader"] {height: 2.2rem; background: transparent;}
.block-container {padding-top: 2.4rem; padding-bottom: 0.4rem;}
[data-testid="stMetric"] {padding: 0.25rem 0.6rem;}
[data-testid="stMetricValue"] {font-size: 1.55rem;}
[data-testid="stMetricLabel"] p {font-size: 0.85rem;}
h1, h2, h3 {font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;}
[data-testid="stStatusWidget"] {visibility: hidden;}
</style>
"""

# Streamlit's file uploader speaks English only: swap its words for ours (CSS only, no user text).
_UPLOADER_CSS = """
<style>
[data-testid="stFileUploaderDropzoneInstructions"] {display: none;}
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] {font-size: 0;}
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"]::after {content: "%s"; font-size: 0.9rem;}
[data-testid="stFileUploaderDropzone"]:not(:has([data-testid="stFileChips"]))::after {
  content: "%s"; font-size: 0.85rem; color: #607d8b; margin-left: 0.8rem;}
</style>
"""


# ----------------------------------------------------------------------------- language


def _through_navigation() -> None:
    """Make sure the page runs inside app.py's navigation.

    With a pages/ folder, Streamlit's first run in a fresh server treats a deep link (/flags) the old
    way and runs the page file alone, without app.py's navigation, layout and sidebar. Switch that
    mode off and run again: the same page then runs through app.py.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no such mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_setup(title_zh: str, title_en: str, caption: tuple[str, str] | None = None) -> None:
    """Compact CSS and the page title."""
    _through_navigation()
    st.html(
        _CSS
        + _UPLOADER_CSS
        % (tr("选择文件", "Browse files"), tr("拖放文件到此处，或点击选择", "Drag files here, or browse"))
    )
    st.markdown(f"### {tr(title_zh, title_en)}")
    if caption:
        st.caption(tr(*caption))
    if updating():
        st.caption(tr("数据正在更新：当前显示最近一次提交的数据，更新完成后自动切换。",
                      "The data are being updated: showing the last committed data until the update is done."))  # fmt: skip


def is_empty() -> bool:
    return full_data().is_empty


def start_screen() -> None:
    """Friendly first screen for an empty store: how to import, or build the demo city.

    Only for those who may import: a user limited to some units, or logged out, just hears that
    nothing is within their access (the demo button would replace the whole store).
    """
    if current_role() not in ("admin", ANONYMOUS) or current_scope() != EVERYTHING:
        st.info(
            tr("您的权限范围内没有考核数据。", "There is no assessment data within your access."),
            icon=":material/info:",
        )
        return
    st.info(tr("还没有考核数据。", "There is no assessment data yet."), icon=":material/info:")
    left, right = st.columns(2)
    with left:
        st.markdown(tr("#### 导入自己的数据", "#### Import your own exports"))
        st.markdown(
            tr(
                "在 **数据** 页上传平时考核、年度考核、结果运用或问卷导出文件（xlsx、xls、csv），先预览再导入。\n\n"
                "也可以在命令行导入：",
                "Upload quarterly, annual, outcome or survey exports (xlsx, xls, csv) on the **Data** page, preview, then import.\n\n"
                "Or from the command line:",
            )
        )
        st.code("python -m analytics import 平时考核_2024.xlsx --db <本应用的数据库文件>", language="bash")
        st.page_link(PAGES["data"], label=tr("前往数据页", "Go to the Data page"), icon=":material/upload_file:")
    with right:
        st.markdown(tr("#### 先看演示城市", "#### Try the demo city"))
        st.markdown(
            tr(
                "演示城市有约 2000 名干部、十二个季度的等次、年度考核和结果运用，并埋设了轮流坐庄、老好人等问题。",
                "The demo city has about 2,000 staff, twelve quarters of grades, annual grades and outcomes, with planted "
                "rotation, lenient reviewers and rule breaks.",
            )
        )
        st.code("python -m analytics demo --db data/demo.duckdb\nKAOHE_DB=data/demo.duckdb make run", language="bash")
        build = optional("analytics.demo", "build_demo")
        if build is not None and st.button(
            tr("在当前数据库生成演示数据", "Build the demo city in this store"), icon=":material/auto_awesome:"
        ):
            with st.spinner(tr("正在生成演示城市……", "Building the demo city…")):
                build(store_path(), seed=7)
            clear_caches()
            st.rerun()


def require_data() -> AssessmentData:
    """The filtered data, or the start screen (and stop) when the store is empty."""
    if is_empty():
        start_screen()
        st.stop()
    return data()
