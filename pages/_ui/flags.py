"""The flags a page shows: every detector's findings on the user's data, narrowed to the sidebar."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import i18n, overview
from pages._ui.cache import FULL, SETTINGS, call, store_path
from pages._ui.lang import lang, tr
from pages._ui.state import filter_key


def detector_kinds() -> list[str]:
    from analytics.detectors import registry

    return list(dict.fromkeys(d.kind for d in registry()))


def all_flags() -> pl.DataFrame:
    """Every flag the registered detectors raise on the user's data (cached; detection ignores the filters).

    Each kind runs on its own, so one failing detector costs its own flags (named in
    `st.session_state["detector_errors"]`), not the page.
    """
    from analytics.detectors import FLAG_SCHEMA, run_detectors

    found, failed = [], []
    with st.spinner(tr("正在检测……（首次约需几秒）", "Running the detectors… (a few seconds the first time)")):
        for kind in detector_kinds():
            try:
                found.append(call(run_detectors, FULL, SETTINGS, kinds=(kind,), seed=0))
            except Exception as exc:  # a broken detector must not take the page down
                failed.append(f"{i18n.kind_label(kind, lang())}: {type(exc).__name__}")
    st.session_state["detector_errors"] = failed
    found = [f for f in found if f.height]
    if not found:
        return pl.DataFrame(schema=FLAG_SCHEMA)
    return pl.concat(found).sort(["severity", "q_value"], descending=[True, False], nulls_last=True)


def reviewed(found: pl.DataFrame) -> pl.DataFrame:
    """Flags with their review status (analytics.flag_review), read fresh on every run: a review shows at once."""
    from analytics import flag_review

    reviews, version = flag_review.read_reviews(store_path())
    return flag_review.with_status(found, reviews, version)


def flags() -> pl.DataFrame:
    """Flags within the sidebar's units and lane, with their review status."""
    units, lanes = filter_key()
    return reviewed(overview.restrict_frame(all_flags(), units=units or None, lanes=lanes or None))
