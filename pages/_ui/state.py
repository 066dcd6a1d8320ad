"""Session-state keys every part of the UI agrees on, and the sidebar choices read from them."""

from __future__ import annotations

import streamlit as st

from analytics.dataset import Scope

LANG_KEY = "lang"
PERIOD_KEY = "f_period"
LANE_KEY = "f_lane"
UNITS_KEY = "f_units"
ALL = "__all__"

USER_KEY = "user"
SCOPE_KEY = "scope"
ROLE_KEY = "role"
LOGIN_AT_KEY = "login_at"
HOOK_KEY = "audit_hook"
TOKEN_KEY = "session_token"  # the signed token behind this session's cookie (analytics.sessions)
REFUSED_TOKEN_KEY = "refused_token"  # a cookie token found revoked or expired: not tried again
MESSAGE_KEY = "login_message"
JUST_LOGGED_IN = "just_logged_in"
ANONYMOUS = "anonymous"  # nobody logged in on a store that needs no login (the demo city, or auth turned off)
LOGGED_OUT = "logged_out"  # nobody logged in on a store that needs a login: only the login page
VIEW_ACTIONS = ("view_person", "open_flag")  # recorded once per change, not on every rerun
NOTHING = Scope(units=frozenset(), pseudonymise=True)

PAGES = {
    "overview": "pages/overview.py",
    "rankings": "pages/rankings.py",
    "flags": "pages/flags.py",
    "outcomes": "pages/outcomes.py",
    "person": "pages/person.py",
    "data": "pages/data.py",
    "login": "pages/login.py",
    "admin": "pages/admin.py",
}


def filter_key() -> tuple[tuple[str, ...], tuple[str, ...]]:
    units = tuple(sorted(st.session_state.get(UNITS_KEY) or ()))
    lane = st.session_state.get(LANE_KEY)
    return units, (() if lane in (None, ALL) else (lane,))


def selected_lane() -> str | None:
    lane = st.session_state.get(LANE_KEY)
    return None if lane in (None, ALL) else lane


def selected_units() -> tuple[str, ...]:
    return tuple(st.session_state.get(UNITS_KEY) or ())
