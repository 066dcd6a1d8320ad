"""Links to the person profile from any table: the name is the link, the id travels in the URL."""

from __future__ import annotations

import polars as pl
import streamlit as st

PROFILE = "person"  # the person page's URL path (pages/person.py)
_NAME_IN_URL = r"[?&]name=(.*)$"


def _url_part(column: str) -> pl.Expr:
    """A value made safe for a query string (the characters that would end or split it)."""
    value = pl.col(column).cast(pl.Utf8).fill_null("")
    for char, code in (
        ("%", "%25"),
        ("&", "%26"),
        ("#", "%23"),
        ("?", "%3F"),
        ("=", "%3D"),
        (" ", "%20"),
        ("+", "%2B"),
    ):
        value = value.str.replace_all(char, code, literal=True)
    return value


def with_person_links(
    frame: pl.DataFrame,
    id_col: str = "person_id",
    name_col: str = "name",
    flag_col: str | None = None,
    flag_key: str | None = None,
    fallback: str | None = None,
) -> pl.DataFrame:
    """`name_col` becomes a link to the person's profile (shown as the name; the id when there is none).

    `fallback`: the page a row without an id links to instead (e.g. the rankings, for a place several share);
    without it such a row has no link.

    `flag_col`: a column holding the flag_key the profile should highlight on arrival; `flag_key`: one flag
    for every row (the evidence of one flag).
    """
    if flag_key is not None and flag_col is None:
        frame, flag_col = frame.with_columns(pl.lit(flag_key).alias("_flag")), "_flag"
    if id_col not in frame.columns:
        return frame
    shown = (
        pl.coalesce(pl.col(name_col).cast(pl.Utf8), pl.col(id_col).cast(pl.Utf8))
        if name_col in frame.columns
        else pl.col(id_col)
    )
    flag = (pl.lit("&flag=") + _url_part(flag_col)) if flag_col and flag_col in frame.columns else pl.lit("")
    url = pl.concat_str([pl.lit(f"{PROFILE}?person="), _url_part(id_col), flag, pl.lit("&name="), shown])
    other = pl.concat_str([pl.lit(f"{fallback}?name="), shown]) if fallback else pl.lit(None, dtype=pl.Utf8)
    linked = frame.with_columns(pl.when(pl.col(id_col).is_not_null()).then(url).otherwise(other).alias(name_col))
    return linked.drop("_flag", strict=False)


def person_link_config(label: str | None = None) -> st.column_config.LinkColumn:
    """Column setting that shows a with_person_links column as the name, opening the profile."""
    return st.column_config.LinkColumn(label, display_text=_NAME_IN_URL)


FLAGS = "flags"  # the flags page's URL path (pages/flags.py)


def with_flag_links(frame: pl.DataFrame, id_col: str = "flag_id", out: str = "evidence_link") -> pl.DataFrame:
    """`out`: a link to the flag's evidence on the flags page (`flags?flag=<flag_id>`)."""
    if id_col not in frame.columns:
        return frame
    return frame.with_columns(pl.concat_str([pl.lit(f"{FLAGS}?flag="), _url_part(id_col)]).alias(out))


def flag_link_config(text: str) -> st.column_config.LinkColumn:
    """Column setting that shows a with_flag_links column as `text` (e.g. 查看证据)."""
    return st.column_config.LinkColumn(text, display_text=text)
