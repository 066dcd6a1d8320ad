"""Language and formatting for people: the chosen language, labels, percentages, escaped text, periods."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from analytics import i18n, overview
from pages._ui.state import LANG_KEY


def default_lang() -> str:
    """Chinese unless the browser asks for another language."""
    try:
        locale = st.context.locale
    except Exception:  # outside a browser session (bare AppTest): no locale
        locale = None
    return "en" if locale and not locale.lower().startswith("zh") else "zh"


def lang() -> str:
    if LANG_KEY not in st.session_state:
        st.session_state[LANG_KEY] = default_lang()
    return st.session_state[LANG_KEY]


def tr(zh: str, en: str) -> str:
    """The text in the chosen language."""
    return en if lang() == "en" else zh


def label(column: str) -> str:
    return i18n.column_label(column, lang())


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


# Enough to stop links, images, inline HTML, emphasis, code, tables and formulas made from data.
# Markdown's own characters, plus : @ . so a URL, www. name or e-mail address from data is never auto-linked.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~$:@.])")


def safe(text: Any) -> str:
    """Text from data or users, escaped so Markdown shows it as written (no links, images, formatting)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


def period_text(label_: str, language: str | None = None) -> str:
    """'2024年第一季度' / '2024 Q1' for a period label."""
    year, quarter = overview.parse_period(label_)
    return f"{year}年第{'一二三四'[quarter - 1]}季度" if (language or lang()) == "zh" else f"{year} Q{quarter}"
