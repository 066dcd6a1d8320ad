"""The sidebar: language switch and the period, lane and unit filters every page shares."""

from __future__ import annotations

import streamlit as st

from analytics import overview
from pages._ui.cache import full_data, store_path
from pages._ui.lang import lang, period_text, tr
from pages._ui.state import ALL, LANE_KEY, LANG_KEY, PERIOD_KEY, UNITS_KEY, selected_lane, selected_units


def selected_period() -> tuple[int, int] | None:
    """(year, quarter) chosen in the sidebar, None when there is no quarterly data."""
    label_ = st.session_state.get(PERIOD_KEY)
    if not label_:
        known = overview.periods(full_data())
        label_ = known[-1] if known else None
    return overview.parse_period(label_) if label_ else None


def _keep_valid(key: str, options: list, multi: bool = False) -> None:
    """Drop a remembered choice the current store no longer has (after an undo, another store)."""
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if multi:
        st.session_state[key] = [v for v in (value or []) if v in options]
    elif value not in options:
        del st.session_state[key]


def forget_stale_choices() -> None:
    """Before the page reads the filters: drop remembered choices the store no longer has."""
    full = full_data()
    if full.quarterly.height:
        _keep_valid(PERIOD_KEY, overview.periods(full))
        _keep_valid(LANE_KEY, [ALL, *overview.lanes(full)])
        _keep_valid(UNITS_KEY, overview.units(full), multi=True)


def sidebar(slot=None) -> None:
    """Language switch and the filters every page shares (kept in session state across pages).

    `slot`: a sidebar container reserved earlier. app.py draws the filters there after the page, so the
    page's numbers and charts reach the browser first (the filters' widgets are a large part of its work)."""
    with slot if slot is not None else st.sidebar:
        st.segmented_control(
            tr("语言", "Language"),
            options=["zh", "en"],
            key=LANG_KEY,
            selection_mode="single",
            required=True,
            format_func=lambda code: {"zh": "中文", "en": "English"}[code],
            label_visibility="collapsed",
        )
        full = full_data()
        if full.quarterly.height == 0:
            return
        periods = list(reversed(overview.periods(full)))
        lanes = overview.lanes(full)
        units = overview.units(full)
        words = lang()  # captured now: the labels must not change language after this run
        st.selectbox(tr("期次", "Period"), periods, key=PERIOD_KEY, format_func=lambda v: period_text(v, words))
        all_lanes = tr("全部赛道", "All lanes")
        st.selectbox(
            tr("赛道", "Lane"), [ALL, *lanes], key=LANE_KEY, format_func=lambda v: all_lanes if v == ALL else v
        )
        st.multiselect(tr("单位", "Units"), units, key=UNITS_KEY, placeholder=tr("全部单位", "All units"))
        st.caption(tr(f"数据：{store_path().name}", f"Store: {store_path().name}"))


def filters_caption() -> None:
    """One line saying which filters shape this page."""
    units = selected_units()
    lane = selected_lane()
    parts = [
        tr("全部单位", "all units") if not units else tr(f"{len(units)} 个单位", f"{len(units)} units"),
        lane or tr("全部赛道", "all lanes"),
    ]
    st.caption(tr("筛选：", "Filters: ") + " · ".join(parts))
