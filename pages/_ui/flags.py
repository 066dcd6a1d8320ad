"""The flags a page shows: the stored detector run (analytics.flag_store), narrowed to the user's scope and the sidebar.

Detectors never run in a page view of a large store: a run starts in the background when the stored
flags are behind the data or the settings, and pages show the last run meanwhile, saying so. A small
store (the demo city, tests) is computed on the spot the first time, in a few seconds.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import flag_store, i18n, overview, snapshots, store
from analytics.detectors import FLAG_SCHEMA
from pages._ui.cache import _scope_key, _settings_identity, current_scope, settings, snapshot, store_path
from pages._ui.lang import lang, tr
from pages._ui.state import filter_key

POLL_S = 3


def detector_kinds() -> list[str]:
    from analytics.detectors import registry

    return list(dict.fromkeys(d.kind for d in registry()))


@st.cache_resource(max_entries=4, show_spinner=False)
def _stored(snapshot_version: str, data_version: str, settings_identity: tuple) -> flag_store.Stored:
    con = store.connect(store_path(), read_only=True)
    try:
        return flag_store.read(con, data_version, settings())
    finally:
        con.close()


@st.cache_resource(max_entries=64, show_spinner=False)
def _scoped(snapshot_version: str, data_version: str, settings_identity: tuple, scope_key: tuple) -> pl.DataFrame:
    units, pseudonymise = scope_key
    from analytics.dataset import Scope

    scope = Scope(units=None if units is None else frozenset(units), pseudonymise=pseudonymise)
    return flag_store.for_scope(_stored(snapshot_version, data_version, settings_identity).flags, scope)


def _small() -> bool:
    con = store.connect(store_path(), read_only=True)
    try:
        return flag_store.quick(con)
    finally:
        con.close()


def stored() -> tuple[flag_store.Stored, pl.DataFrame]:
    """The stored run and its flags within the user's scope; starts a new run when they are behind."""
    snap = snapshot()
    if snap is None:
        empty = flag_store.Stored(pl.DataFrame(schema=FLAG_SCHEMA), None, None, (), True)
        return empty, empty.flags
    result = _stored(snap.version, snap.data_version, _settings_identity())
    if not result.current and not snap.busy:
        if _small():
            with st.spinner(tr("正在检测……", "Running the detectors…")):
                flag_store.compute(store_path(), settings(), source=snap.path)
            snap = snapshot()
            result = _stored(snap.version, snap.data_version, _settings_identity())
        else:
            flag_store.start(store_path(), snap, settings())
    return result, _scoped(snap.version, snap.data_version, _settings_identity(), _scope_key(current_scope()))


def warm(scope_key: tuple) -> pl.DataFrame | None:
    """The stored flags within a scope, with their review status, read into the caches `flags()` reads
    (the warm-up, which has no session); None when there is no store. Never starts a detector run."""
    snap = snapshot()
    if snap is None:
        return None
    _stored(snap.version, snap.data_version, _settings_identity())
    return reviewed(_scoped(snap.version, snap.data_version, _settings_identity(), scope_key))


def _error_text(error: str) -> str:
    kind, _, name = error.partition(": ")
    return f"{i18n.kind_label(kind, lang())}: {name}"


def all_flags() -> pl.DataFrame:
    """Every stored flag within the user's scope (detection ignores the sidebar's filters).

    A detector that failed costs its own flags (named in `st.session_state["detector_errors"]`), not the page.
    """
    result, scoped = stored()
    st.session_state["detector_errors"] = [_error_text(e) for e in result.errors]
    if not result.current:
        _behind_note(result)
    return scoped


def _behind_note(result: flag_store.Stored) -> None:
    """Say that the flags shown are the last run's, with the new run's progress; rerun when it is done."""
    running = flag_store.progress(store_path())
    step = (
        tr(
            f"（已完成 {running['done']}/{running['total']} 项检测）",
            f" ({running['done']} of {running['total']} detectors done)",
        )
        if running
        else ""
    )
    if result.store_version is None:
        st.info(tr(f"预警正在首次计算{step}，完成后自动显示。", f"The flags are being computed for the first time{step}; they appear when done."), icon=":material/hourglass_top:")  # fmt: skip
    else:
        when = result.finished_at.strftime("%Y-%m-%d %H:%M") if result.finished_at else ""
        st.caption(tr(f"以下预警基于上一版数据（{when} 计算）；新数据的预警正在计算{step}，完成后自动更新。",
                      f"These flags are from the previous data ({when}); the new data's flags are being computed{step} "
                      "and will replace them when done."))  # fmt: skip
    _poll(result.store_version)


@st.fragment(run_every=POLL_S)
def _poll(shown: str | None) -> None:  # noqa: ARG001 (the shown run keys the fragment)
    """Rerun the page once the background run has stored the new flags."""
    snap = snapshot()
    if snap is None:
        return
    now = _stored(snap.version, snap.data_version, _settings_identity())
    if now.current:
        st.rerun(scope="app")


def reviewed(found: pl.DataFrame) -> pl.DataFrame:
    """Flags with their review status (analytics.flag_review), read fresh on every run: a review shows at once."""
    from analytics import flag_review

    path = store_path()
    reviews, version = _reviews(str(path), snapshots.file_identity(path))
    return flag_review.with_status(found, reviews, version)


@st.cache_resource(max_entries=4, show_spinner=False)
def _reviews(path: str, identity: tuple) -> tuple[pl.DataFrame, str]:
    """The reviews as the store holds them, read again on any write to it (a review changes the file)."""
    from analytics import flag_review

    return flag_review.read_reviews(path)


def flags() -> pl.DataFrame:
    """Flags within the sidebar's units and lane, with their review status."""
    units, lanes = filter_key()
    return reviewed(overview.restrict_frame(all_flags(), units=units or None, lanes=lanes or None))
