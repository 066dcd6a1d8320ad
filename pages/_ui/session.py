"""Who this session is: login and logout, single sign-on, the session cookie, the gate every run passes, audit.

A login (password or single sign-on) gets a signed, expiring token (analytics.sessions) that the browser
keeps in a cookie, so a reload, a bookmark or a new tab resumes the session until it expires, the user
logs out (the token is revoked in the store) or the account is disabled or given a new password.
Logins, resumptions and logouts are audited by analytics, in the transaction that decides them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from analytics import access, auth, i18n
from analytics.auth import ROLE_LABELS, User
from analytics.dataset import EVERYTHING
from analytics.errors import UserError
from pages._ui import cookie
from pages._ui.cache import facts, settings, store_path
from pages._ui.lang import lang, safe, tr
from pages._ui.state import (
    ANONYMOUS,
    HOOK_KEY,
    JUST_LOGGED_IN,
    LANG_KEY,
    LOGGED_OUT,
    LOGIN_AT_KEY,
    MESSAGE_KEY,
    NOTHING,
    REFUSED_TOKEN_KEY,
    ROLE_KEY,
    SCOPE_KEY,
    TOKEN_KEY,
    USER_KEY,
    VIEW_ACTIONS,
)


def audit(action: str, target: str, detail: dict | None = None) -> None:
    """Record an auditable action (person viewed, flag opened, export, import, undo, SQL run).

    The recorder is `st.session_state["audit_hook"]`, installed by `gate()` on every run of app.py;
    without one (a page run on its own in a test) nothing is recorded."""
    recorder()(action, target, detail or {})


def recorder() -> Callable[[str, str, dict], None]:
    """The audit recorder of this session, taken now so that deferred downloads can call it later."""
    hook = st.session_state.get(HOOK_KEY)
    return hook if callable(hook) else (lambda action, target, detail: None)


@dataclass(frozen=True)
class Access:
    """What this run may show: decided by `gate()` before any page runs."""

    required: bool  # the store needs a login
    imported: bool  # the store holds imported data
    user: User | None

    @property
    def role(self) -> str:
        if self.user is not None:
            return self.user.role
        return LOGGED_OUT if self.required else ANONYMOUS

    @property
    def unprotected(self) -> bool:
        """Imported personnel data open to anyone because settings turned login off: warn on every page."""
        return self.imported and not self.required


@st.cache_data(ttl=15, max_entries=256, show_spinner=False)
def _live_user(path: str, user_name: str) -> User | None:
    """The user as the store has them now (role or units changed, disabled): re-read every 15 s at most."""
    return access.current_user(path, user_name)


@st.cache_data(ttl=15, max_entries=1024, show_spinner=False)
def _live_token(path: str, token: str) -> bool:
    """Whether the session's token still holds (a logout in another tab revokes it): re-read every 15 s at most."""
    return access.session_alive(path, token)


def forget_user_cache() -> None:
    """After an account change: every session re-reads its user and token on its next run."""
    _live_user.clear()
    _live_token.clear()


def make_recorder(user_name: str) -> Callable[[str, str, dict], None]:
    """An audit recorder writing analytics.audit rows for `user_name` on short-lived connections.

    Views (profiles, flags) are recorded when they change, not on every rerun of the same page.
    """
    path = store_path()
    last: dict[str, str] = {}

    def record(action: str, target: str, detail: dict) -> None:
        if action in VIEW_ACTIONS:
            if last.get(action) == target:
                return
            last[action] = target
        access.record(path, user_name, action, target, detail or None)

    record.user_name = user_name  # type: ignore[attr-defined]
    return record


def current_user() -> User | None:
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, User) else None


def current_role() -> str:
    """admin, head, inspector, researcher; `anonymous` on an open store; `logged_out` when a login is needed."""
    role = st.session_state.get(ROLE_KEY)
    return role if isinstance(role, str) else (LOGGED_OUT if facts().required else ANONYMOUS)


def can_import() -> bool:
    """Imports and undo: admins only (an open store asks for its first admin first: pages/_ui/setup.py)."""
    return current_role() == "admin"


def _fresh_session() -> None:
    """Forget everything a previous user left in this session (results, picks, filters) but the language."""
    keep = st.session_state.get(LANG_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if keep:
        st.session_state[LANG_KEY] = keep


def login(user: User, how: str = "password") -> None:
    """Start a session for `user` (analytics already checked and audited the login): a fresh session state
    and a signed token for the browser's cookie. UserError when the token cannot be made: no session then."""
    token = access.start_session(store_path(), user, settings())
    _fresh_session()
    st.session_state[USER_KEY] = user
    st.session_state[LOGIN_AT_KEY] = datetime.now()
    st.session_state[TOKEN_KEY] = token
    st.session_state[HOOK_KEY] = make_recorder(user.user_name)
    st.session_state[JUST_LOGGED_IN] = True


def logout(reason: str = "logout", message: tuple[str, str] | None = None) -> None:
    """End the session (button, expiry, disabled account): revoke its token, audit, forget its state.

    The next run tells the browser to drop the cookie and shows the login page if one is needed."""
    user = current_user()
    token = st.session_state.get(TOKEN_KEY)
    if user is not None:
        # The session ends here even when the store cannot record it; an unrevoked token expires on its own.
        with contextlib.suppress(UserError):
            access.end_session(store_path(), token, user.user_name, reason)
    _fresh_session()
    if token:
        st.session_state[REFUSED_TOKEN_KEY] = token  # the cookie this tab opened with: never resume it
    if message:
        st.session_state[MESSAGE_KEY] = message


def _resume() -> User | None:
    """The session a cookie carries (a reload, a bookmark, a new tab), when its token still holds."""
    token = cookie.browser_token()
    if not token or st.session_state.get(REFUSED_TOKEN_KEY) == token:
        return None
    found = access.resume_session(store_path(), token)
    if found is None:
        st.session_state[REFUSED_TOKEN_KEY] = token
        return None
    user, started = found
    st.session_state[USER_KEY] = user
    st.session_state[LOGIN_AT_KEY] = started
    st.session_state[TOKEN_KEY] = token
    return user


def sso_configured() -> bool:
    """Whether .streamlit/secrets.toml configures an OIDC provider for st.login."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return False
    if not section:
        return False
    return "client_id" in section or any(hasattr(v, "keys") for v in section.values())


def sso_provider() -> str | None:
    """The named provider ([auth.NAME] in secrets), or None for the single unnamed one."""
    section = st.secrets.get("auth") or {}
    named = [k for k, v in section.items() if hasattr(v, "keys")]
    return named[0] if named and "client_id" not in section else None


def _sso_identity() -> str | None:
    """The e-mail the identity provider vouches for, when sign-on is configured and someone signed on."""
    if not sso_configured():
        return None
    try:
        info = st.user.to_dict()
    except Exception:
        return None
    if not info.get("is_logged_in") or info.get("email_verified") is False:
        return None
    email = info.get("email")
    return str(email) if email else None


def _try_sso(path: str) -> User | None:
    """Map a signed-on identity to its account in the users table (role and units come from there)."""
    identity = _sso_identity()
    if identity is None or st.session_state.get("sso_refused") == identity:
        return None
    try:
        user = access.sso_user(path, identity)  # audits the sign-on or its refusal
        login(user, how="sso")
    except UserError:
        st.session_state["sso_refused"] = identity  # refused (and audited) once, not on every rerun
        st.session_state[MESSAGE_KEY] = (
            "单点登录的账号在本系统没有登记或已停用，请联系管理员。",
            "Your single sign-on identity has no enabled account here; ask an administrator.",
        )
        return None
    return user


def _check_session(user: User) -> User | None:
    """The user if their session is still good; otherwise end it (expired, disabled, removed)."""
    live = _live_user(str(store_path()), user.user_name)
    started = st.session_state.get(LOGIN_AT_KEY)
    token = st.session_state.get(TOKEN_KEY)
    if live is None:
        logout("disabled", ("账号已停用，会话已结束。", "Your account was disabled; the session has ended."))
        return None
    if not isinstance(token, str) or not _live_token(str(store_path()), token):
        logout("revoked", ("会话已结束，请重新登录。", "Your session has ended; please log in again."))
        return None
    if not isinstance(started, datetime) or auth.session_expired(started, settings()):
        logout("expired", ("会话已过期，请重新登录。", "Your session has expired; please log in again."))
        return None
    return live


def gate() -> Access:
    """Decide, before any page runs, who this session is and what it may see.

    Sets the session's scope (from the logged-in user; everything on an open store; nothing when a
    login is needed and nobody is logged in), its role and its audit recorder, on every run, so a value
    left in session state by anyone else is overwritten.
    """
    store_facts = facts()
    user = current_user()
    if user is not None:
        user = _check_session(user)
    if user is None:
        user = _resume()
    if user is None:
        user = _try_sso(str(store_path()))
    cookie.keep(st.session_state.get(TOKEN_KEY) if user else None, settings().auth.session_minutes)
    if user is not None:
        scope, name = user.scope, user.user_name
    else:
        scope, name = (NOTHING if store_facts.required else EVERYTHING), ANONYMOUS
    gate_access = Access(required=store_facts.required, imported=store_facts.imported, user=user)
    st.session_state[USER_KEY] = user
    st.session_state[SCOPE_KEY] = scope
    st.session_state[ROLE_KEY] = gate_access.role
    st.session_state["user_name"] = user.user_name if user else None
    if getattr(st.session_state.get(HOOK_KEY), "user_name", None) != name:
        st.session_state[HOOK_KEY] = make_recorder(name)
    return gate_access


def require_role(*roles: str) -> None:
    """Stop the page unless this session has one of `roles` (defence in depth behind the navigation)."""
    if current_role() not in roles:
        st.error(tr("您没有访问此页面的权限。", "You are not allowed to open this page."), icon=":material/block:")
        st.stop()


def unprotected_banner() -> None:
    st.warning(
        tr(
            "登录已在设置中关闭（auth.required = false），但本数据库含导入的人员考核数据：任何能打开本页面的人都能看到全部数据。"
            "请管理员尽快在 settings.toml 中恢复登录。",
            "Login is turned off in settings (auth.required = false) although this store holds imported personnel "
            "records: anyone who can open this page sees everything. An administrator should turn login back on in "
            "settings.toml.",
        ),
        icon=":material/lock_open:",
    )


def account_box(gate_access: Access) -> None:
    """Who is logged in, with a logout button (sidebar)."""
    user = gate_access.user
    if user is None:
        return
    with st.sidebar:
        role = i18n.pick(ROLE_LABELS.get(user.role, (user.role, user.role)), lang())
        units = (
            tr("全部单位", "all units")
            if user.scope.units is None
            else tr(f"{len(user.scope.units)} 个单位", f"{len(user.scope.units)} units")
        )
        st.caption(f"{safe(user.user_name)} · {role} · {units}")
        if st.button(tr("退出登录", "Log out"), icon=":material/logout:", key="logout"):
            via_sso = _sso_identity() is not None
            logout()
            if via_sso:
                st.logout()
            st.rerun()
