"""The session cookie in the browser: read from the request Streamlit keeps, written by a tiny script.

Streamlit reads cookies (`st.context.cookies`, those the browser sent when the page was opened) but has
no call to set one, so the token is written with `document.cookie` from `st.html(..., unsafe_allow_javascript)`.
The script is ours alone: the token is base64url and digits, checked against a strict pattern before it is
placed in the script, and nothing from data or users reaches it. SameSite=Strict keeps it off cross-site
requests; Secure is added when the app is served over https. JavaScript can read such a cookie (it is
not HttpOnly), which is why every label from data is escaped before it is drawn.
"""

from __future__ import annotations

import re

import streamlit as st

from analytics.sessions import COOKIE

_TOKEN = re.compile(r"[A-Za-z0-9_\-.]{1,600}")


def browser_token() -> str | None:
    """The session token the browser sent when this page was opened (a reload, a bookmark, a new tab)."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this run (a bare script run)
        return None
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def _script(assignment: str) -> None:
    js = (
        "<script>(function(){var s=location.protocol==='https:'?'; Secure':'';"
        f"document.cookie={assignment}+'; Path=/; SameSite=Strict'+s;}})();</script>"
    )
    with st.sidebar:
        st.html(js, unsafe_allow_javascript=True, width=1)


def keep(token: str | None, minutes: int) -> None:
    """Make the browser hold `token` (or forget a stale one), unless it already sent exactly that."""
    sent = browser_token()
    if token and _TOKEN.fullmatch(token):
        if token != sent:
            _script(f"'{COOKIE}={token}; Max-Age={int(minutes) * 60}'")
    elif sent:
        _script(f"'{COOKIE}=; Max-Age=0'")
