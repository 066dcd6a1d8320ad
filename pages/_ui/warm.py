"""A new server process readies the first page while its first visitor is still on the login page.

Three costs fall on the first login otherwise: pandas (about half a second to import; DuckDB imports it at the
first bound parameter, the login's own query), reading the whole store's dataset with its overview summary
(what every session that sees all units reads first), and the overview's analytics and stored flags for that
whole store (pages/_ui/overview_data.py). A background thread pays them once per process; Parquet reading
and Polars release the interpreter, so the login page is drawn meanwhile.
KAOHE_WARM=0 turns it off (the AppTest suite, which runs many stores in one process).
"""

from __future__ import annotations

import logging
import os
import threading

from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from analytics import store
from pages._ui import cache, overview_data

_lock = threading.Lock()
_started = False
_log = logging.getLogger(__name__)


def start(force: bool = False) -> threading.Thread | None:
    """Start the warm-up once per process (the thread, or None when it ran already or is turned off)."""
    global _started
    if os.environ.get("KAOHE_WARM") == "0" and not force:
        return None
    with _lock:
        if _started and not force:
            return None
        _started = True
    thread = threading.Thread(target=_warm, name="kaohe-warm", daemon=True)
    add_script_run_ctx(thread, get_script_run_ctx())  # Streamlit's caches expect a script context
    thread.start()
    return thread


def _warm() -> None:
    store.import_pandas()
    import plotly.graph_objects  # noqa: F401

    try:
        full = cache.warm()
        if full is not None:
            overview_data.warm(full)
    except Exception:  # noqa: BLE001  a warm-up never fails a page: the first view reads the data itself
        _log.debug("warm-up skipped", exc_info=True)
