"""Cached analytics keyed by the store's data identity, the settings, the user's scope and the sidebar filters.

Pages call `ui.call(func, ui.DATA, ui.SETTINGS, ...)` instead of calling analytics directly so that
results are cached by the store file's identity (path + mtime + size), the user's scope and the
sidebar filters: a filter change reruns only what it changes, an import invalidates everything.
Every data read goes through `current_scope()` (access control sets `st.session_state["scope"]`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from analytics import access, dataset_cache, overview, snapshots, store
from analytics.dataset import EVERYTHING, AssessmentData, Scope, frames
from analytics.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings
from pages._ui.state import NOTHING, SCOPE_KEY, filter_key

# Placeholders a page passes to `call` for what the cache fills in.
DATA = "@data"  # scoped data narrowed to the sidebar's units and lanes
FULL = "@full"  # scoped data, all units and lanes
# Every unit (pseudonymised as the scope says), for analytics that rank over the whole lane and then
# narrow to VISIBLE themselves (analytics.rankings): never pass WHOLE without VISIBLE.
WHOLE = "@whole"
VISIBLE = "@visible"  # the units this session may see (None = all)
SETTINGS = "@settings"


def current_scope() -> Scope:
    """The units this session may see, set by `gate()` from the logged-in user on every run.

    Fails closed: a page run without the gate on a store that needs login sees nothing.
    """
    scope = st.session_state.get(SCOPE_KEY)
    if isinstance(scope, Scope):
        return scope
    return NOTHING if facts().required else EVERYTHING


def _scope_key(scope: Scope) -> tuple:
    return (None if scope.units is None else tuple(sorted(scope.units)), scope.pseudonymise)


def store_path() -> Path:
    return store.db_path()


def snapshot() -> snapshots.Snapshot | None:
    """The store's latest committed snapshot (what every page reads); None when there is no store yet.

    Taken again when the store changed (an import or undo from any process); while a writer holds the
    store's lock this is the last one, with `busy` set.
    """
    path = store_path()
    if not path.exists():
        return None
    return snapshots.current(path)


def store_identity() -> tuple:
    """The store's data identity: (path, data version); (path, 0, 0, 0) when there is no store.

    Changes when the data change (imports, undo, a rebuilt demo city, from any process); writes that
    touch only users, the audit log or the stored flags keep it.
    """
    snap = snapshot()
    if snap is None:
        return (str(store_path()), 0, 0, 0)
    return (str(store_path()), snap.data_version)


def updating() -> bool:
    """A writer (a CLI import or undo) holds the store: pages show the last committed data meanwhile."""
    snap = snapshot()
    return bool(snap and snap.busy)


def _settings_identity() -> tuple[str, int]:
    path = Path(os.environ.get("KAOHE_SETTINGS") or DEFAULT_SETTINGS_FILE)
    return (str(path), path.stat().st_mtime_ns if path.exists() else 0)


@st.cache_resource(max_entries=4, show_spinner=False)
def _settings(identity: tuple[str, int]) -> Settings:
    return load_settings()


def settings() -> Settings:
    return _settings(_settings_identity())


@st.cache_resource(max_entries=8, show_spinner=False)
def _dataset(identity: tuple, scope_key: tuple, settings_identity: tuple) -> AssessmentData:
    """Scoped data read once per store version, from the snapshot (a cursor of the process's one instance)."""
    path = Path(identity[0])
    if not path.exists():
        return frames()
    units, pseudonymise = scope_key
    if units == ():  # a scope of no units (logged out): nothing to read, and no store query on the login page
        return overview.prepare(frames())
    scope = Scope(units=None if units is None else frozenset(units), pseudonymise=pseudonymise)
    snap = snapshot()
    con = snapshots.reader(path, snap)
    try:  # the snapshot's own version names what it holds (a newer one may have appeared since `identity`)
        data = dataset_cache.load(con, path, snap.data_version, _settings(settings_identity), scope, wait=False)
    finally:
        con.close()
    # The overview's per-dataset summary, built with the data it summarises: filter changes then narrow it.
    return overview.prepare(data)


@st.cache_resource(max_entries=32, show_spinner=False)
def _filtered(identity: tuple, scope_key: tuple, settings_identity: tuple, filter_key: tuple) -> AssessmentData:
    units, lanes = filter_key
    return overview.restrict(_dataset(identity, scope_key, settings_identity), units=units, lanes=lanes)


WHOLE_STORE = (None, False)  # the scope key of a session that sees every unit, not pseudonymised


def warm() -> AssessmentData | None:
    """Read the whole store's dataset into the cache now (pages/_ui/warm.py): the first session that sees
    every unit then finds it there. None when there is no store yet."""
    if snapshot() is None:
        return None
    return _dataset(store_identity(), WHOLE_STORE, _settings_identity())


def full_data() -> AssessmentData:
    """Everything the user may see, ignoring the sidebar's unit and lane filters."""
    return _dataset(store_identity(), _scope_key(current_scope()), _settings_identity())


def data() -> AssessmentData:
    """What the sidebar selects (units, lanes) within the user's scope."""
    return _filtered(store_identity(), _scope_key(current_scope()), _settings_identity(), filter_key())


def _resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


@st.cache_resource(max_entries=512, show_spinner=False)
def _cached_call(
    identity: tuple,
    scope_key: tuple,
    settings_identity: tuple,
    filter_key: tuple,
    target: str,
    args: tuple,
    kwargs: tuple,
) -> Any:
    fill = {
        DATA: lambda: _filtered(identity, scope_key, settings_identity, filter_key),
        FULL: lambda: _dataset(identity, scope_key, settings_identity),
        WHOLE: lambda: _dataset(identity, (None, scope_key[1]), settings_identity),
        VISIBLE: lambda: None if scope_key[0] is None else frozenset(scope_key[0]),
        SETTINGS: lambda: _settings(settings_identity),
    }

    def filled(value: Any) -> Any:
        return fill[value]() if isinstance(value, str) and value in fill else value

    real_args = [filled(a) for a in args]
    real_kwargs = {k: filled(v) for k, v in kwargs}
    return _resolve(target)(*real_args, **real_kwargs)


def call(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """func(*args, **kwargs) with DATA/FULL/SETTINGS filled in, cached per store version, scope and filters.

    Results are shared between reruns: treat them as read-only (Polars frames are).
    """
    return call_in(_scope_key(current_scope()), filter_key(), func, *args, **kwargs)


def call_in(scope_key: tuple, filters: tuple, func: Callable, *args: Any, **kwargs: Any) -> Any:
    """`call` for a given scope key and sidebar filters instead of the session's (the warm-up has no session)."""
    uses_filters = DATA in args or DATA in kwargs.values()
    target = f"{func.__module__}:{func.__qualname__}"
    return _cached_call(
        store_identity(),
        scope_key,
        _settings_identity(),
        filters if uses_filters else ((), ()),
        target,
        args,
        tuple(sorted(kwargs.items())),
    )


def optional(module: str, name: str) -> Callable | None:
    """An analytics function if its module is installed (pages degrade gracefully while it is missing)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def clear_caches() -> None:
    """After an import or undo in this process (the identity changes anyway; this frees memory sooner)."""
    _dataset.clear()
    _filtered.clear()
    _cached_call.clear()


@st.cache_resource(max_entries=8, show_spinner=False)
def _facts(identity: tuple, settings_identity: tuple) -> access.StoreFacts:
    return access.store_facts(identity[0], _settings(settings_identity))


def facts() -> access.StoreFacts:
    """Whether this store needs a login (cached per data version and settings)."""
    return _facts(store_identity(), _settings_identity())
