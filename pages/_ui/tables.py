"""Tables with translated headers, formula-safe downloads, and Plotly figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from analytics import export, i18n
from pages._ui.lang import lang
from pages._ui.session import recorder


def show_table(
    frame: pl.DataFrame,
    height: int | str = "auto",
    column_config: dict | None = None,
    key: str | None = None,
    selectable: bool = False,
    hide_index: bool = True,
) -> Any:
    """A table with headers in the chosen language; the built-in CSV export is off (config), use `downloads`."""
    shown = i18n.relabel(frame, lang())
    config = {i18n.column_label(k, lang()): v for k, v in (column_config or {}).items()}
    if selectable:
        return st.dataframe(
            shown,
            height=height,
            hide_index=hide_index,
            column_config=config,
            key=key,
            on_select="rerun",
            selection_mode="single-row",
            placeholder="—",
        )
    return st.dataframe(shown, height=height, hide_index=hide_index, column_config=config, key=key, placeholder="—")


MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
}


def downloads(
    frame: pl.DataFrame, base_name: str, key: str, formats: tuple[str, ...] = ("xlsx", "csv"), translate: bool = True
) -> None:
    """Download buttons built on analytics.export (formula-injection safe); the file is made on click."""
    table = i18n.relabel(frame, lang()) if translate else frame
    record = recorder()

    def content(fmt: str) -> bytes:
        record("export", f"{base_name}.{fmt}", {"rows": table.height})
        return export.to_bytes(table, fmt)

    with st.container(horizontal=True):
        for fmt in formats:
            st.download_button(
                f"{fmt.upper()}",
                data=lambda fmt=fmt: content(fmt),
                file_name=f"{base_name}.{fmt}",
                mime=MIME[fmt],
                key=f"{key}_{fmt}",
                on_click="ignore",
                icon=":material/download:",
            )


def download_bytes(label_: str, content: Callable[[], bytes] | bytes, file_name: str, mime: str, key: str) -> None:
    """One download of prepared content (reports, registration forms), made on click and audited."""

    record = recorder()

    def audited() -> bytes:
        record("export", file_name, {})
        return content() if callable(content) else content

    st.download_button(
        label_, data=audited, file_name=file_name, mime=mime, key=key, on_click="ignore", icon=":material/download:"
    )


def plot(fig: Any, key: str | None = None) -> None:
    """A Plotly figure at full width with the mode bar trimmed (no image export of personal data by default)."""
    st.plotly_chart(
        fig, key=key, config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}, width="stretch"
    )
