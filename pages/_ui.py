"""What every page shares: language, the sidebar filters, cached analytics, safe downloads, the start screen.

Pages call `ui.call(func, ui.DATA, ui.SETTINGS, ...)` instead of calling analytics directly so that
results are cached by the store file's identity (path + mtime + size), the user's scope and the
sidebar filters: a filter change reruns only what it changes, an import invalidates everything.
Every data read goes through `current_scope()` (access control sets `st.session_state["scope"]`).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from analytics import access, auth, export, i18n, overview, store
from analytics.auth import ROLE_LABELS, User
from analytics.dataset import EVERYTHING, AssessmentData, Scope, frames, load_dataset
from analytics.errors import UserError
from analytics.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings

# Placeholders a page passes to `call` for what the cache fills in.
DATA = "@data"  # scoped data narrowed to the sidebar's units and lanes
FULL = "@full"  # scoped data, all units and lanes (rankings compare against the whole lane)
SETTINGS = "@settings"

LANG_KEY = "lang"
PERIOD_KEY = "f_period"
LANE_KEY = "f_lane"
UNITS_KEY = "f_units"
ALL = "__all__"

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

_CSS = """
<style>
[data-testid="stHeader"] {height: 2.2rem; background: transparent;}
.block-container {padding-top: 2.4rem; padding-bottom: 0.4rem;}
[data-testid="stMetric"] {padding: 0.25rem 0.6rem;}
[data-testid="stMetricValue"] {font-size: 1.55rem;}
[data-testid="stMetricLabel"] p {font-size: 0.85rem;}
h1, h2, h3 {font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;}
[data-testid="stStatusWidget"] {visibility: hidden;}
</style>
"""

# Streamlit's file uploader speaks English only: swap its words for ours (CSS only, no user text).
_UPLOADER_CSS = """
<style>
[data-testid="stFileUploaderDropzoneInstructions"] {display: none;}
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] {font-size: 0;}
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"]::after {content: "%s"; font-size: 0.9rem;}
[data-testid="stFileUploaderDropzone"]:not(:has([data-testid="stFileChips"]))::after {
  content: "%s"; font-size: 0.85rem; color: #607d8b; margin-left: 0.8rem;}
</style>
"""


# ----------------------------------------------------------------------------- language


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


# ----------------------------------------------------------------------------- store and scope


def audit(action: str, target: str, detail: dict | None = None) -> None:
    """Record an auditable action (person viewed, flag opened, export, import, undo, SQL run).

    The recorder is `st.session_state["audit_hook"]`, installed by `gate()` on every run of app.py;
    without one (a page run on its own in a test) nothing is recorded."""
    recorder()(action, target, detail or {})


def recorder() -> Callable[[str, str, dict], None]:
    """The audit recorder of this session, taken now so that deferred downloads can call it later."""
    hook = st.session_state.get(HOOK_KEY)
    return hook if callable(hook) else (lambda action, target, detail: None)


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


def _file_identity() -> tuple[str, int, int, int]:
    """(path, mtime, size, wal mtime): changes whenever anyone writes to the store, audit rows included."""
    path = store_path()
    wal = Path(str(path) + ".wal")
    if not path.exists():
        return (str(path), 0, 0, 0)
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size, wal.stat().st_mtime_ns if wal.exists() else 0)


# file identity -> the identity of the data it holds. Every viewed profile writes an audit row, which
# changes the file; keying caches on the file alone would recompute everything after each view.
_CANONICAL: dict[tuple, tuple] = {}
_BY_VERSION: dict[tuple, tuple] = {}
_IDENTITY_LOCK = threading.Lock()


def store_identity() -> tuple[str, int, int, int]:
    """The store's data identity: (path, mtime, size, wal mtime) of the first file state that held this data.

    Changes when the data change (imports, undo, a rebuilt demo city, from any process); writes that
    touch only users or the audit log keep it (analytics.access.data_version tells them apart).
    """
    raw = _file_identity()
    if raw[1] == 0:
        return raw
    with _IDENTITY_LOCK:
        known = _CANONICAL.get(raw)
    if known is not None:
        return known
    version = (raw[0], access.data_version(raw[0]))
    with _IDENTITY_LOCK:
        if len(_CANONICAL) > 4096:  # a long-running server: forget old states
            _CANONICAL.clear()
            _BY_VERSION.clear()
        canonical = _BY_VERSION.setdefault(version, raw)
        _CANONICAL[raw] = canonical
    return canonical


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
    """Scoped data read once per store version; the connection is closed straight away."""
    path = Path(identity[0])
    if not path.exists():
        return frames()
    units, pseudonymise = scope_key
    scope = Scope(units=None if units is None else frozenset(units), pseudonymise=pseudonymise)
    con = store.connect(path, read_only=True)
    try:
        data = load_dataset(con, _settings(settings_identity), scope)
    finally:
        con.close()
    # The overview's per-dataset summary, built with the data it summarises: filter changes then narrow it.
    return overview.prepare(data)


@st.cache_resource(max_entries=32, show_spinner=False)
def _filtered(identity: tuple, scope_key: tuple, settings_identity: tuple, filter_key: tuple) -> AssessmentData:
    units, lanes = filter_key
    return overview.restrict(_dataset(identity, scope_key, settings_identity), units=units, lanes=lanes)


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
    full = _dataset(identity, scope_key, settings_identity)
    narrowed = _filtered(identity, scope_key, settings_identity, filter_key)
    fill = {DATA: narrowed, FULL: full, SETTINGS: _settings(settings_identity)}
    real_args = [fill.get(a, a) if isinstance(a, str) else a for a in args]
    real_kwargs = {k: (fill.get(v, v) if isinstance(v, str) else v) for k, v in kwargs}
    return _resolve(target)(*real_args, **real_kwargs)


def call(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """func(*args, **kwargs) with DATA/FULL/SETTINGS filled in, cached per store version, scope and filters.

    Results are shared between reruns: treat them as read-only (Polars frames are).
    """
    uses_filters = DATA in args or DATA in kwargs.values()
    fkey = filter_key() if uses_filters else ((), ())
    target = f"{func.__module__}:{func.__qualname__}"
    return _cached_call(
        store_identity(),
        _scope_key(current_scope()),
        _settings_identity(),
        fkey,
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


# ----------------------------------------------------------------------------- access control

USER_KEY = "user"
SCOPE_KEY = "scope"
ROLE_KEY = "role"
LOGIN_AT_KEY = "login_at"
HOOK_KEY = "audit_hook"
MESSAGE_KEY = "login_message"
JUST_LOGGED_IN = "just_logged_in"
ANONYMOUS = "anonymous"  # nobody logged in on a store that needs no login (the demo city, or auth turned off)
LOGGED_OUT = "logged_out"  # nobody logged in on a store that needs a login: only the login page
VIEW_ACTIONS = ("view_person", "open_flag")  # recorded once per change, not on every rerun
NOTHING = Scope(units=frozenset(), pseudonymise=True)


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


@st.cache_resource(max_entries=8, show_spinner=False)
def _facts(identity: tuple, settings_identity: tuple) -> access.StoreFacts:
    return access.store_facts(identity[0], _settings(settings_identity))


def facts() -> access.StoreFacts:
    """Whether this store needs a login (cached per data version and settings)."""
    return _facts(store_identity(), _settings_identity())


@st.cache_data(ttl=15, max_entries=256, show_spinner=False)
def _live_user(path: str, user_name: str) -> User | None:
    """The user as the store has them now (role or units changed, disabled): re-read every 15 s at most."""
    return access.current_user(path, user_name)


def forget_user_cache() -> None:
    """After an account change: every session re-reads its user on its next run."""
    _live_user.clear()


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
    """Imports and undo: admins, and anyone on a store that needs no login (the demo city)."""
    return current_role() in ("admin", ANONYMOUS)


def _fresh_session() -> None:
    """Forget everything a previous user left in this session (results, picks, filters) but the language."""
    keep = st.session_state.get(LANG_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if keep:
        st.session_state[LANG_KEY] = keep


def login(user: User, how: str = "password") -> None:
    """Start a session for `user` (after analytics.auth.authenticate or a single sign-on) and audit it."""
    _fresh_session()
    st.session_state[USER_KEY] = user
    st.session_state[LOGIN_AT_KEY] = datetime.now()
    st.session_state[HOOK_KEY] = make_recorder(user.user_name)
    st.session_state[JUST_LOGGED_IN] = True
    audit("login", user.user_name, {"role": user.role, "how": how})


def logout(reason: str = "logout", message: tuple[str, str] | None = None) -> None:
    """End the session (button, expiry, disabled account); the next run shows the login page if one is needed."""
    user = current_user()
    if user is not None:
        make_recorder(user.user_name)("logout", user.user_name, {"reason": reason})
    _fresh_session()
    if message:
        st.session_state[MESSAGE_KEY] = message


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
        user = access.sso_user(path, identity)
    except UserError:
        st.session_state["sso_refused"] = identity  # audit the refusal once, not on every rerun
        make_recorder(identity)("login_failed", identity, {"how": "sso"})
        st.session_state[MESSAGE_KEY] = (
            "单点登录的账号在本系统没有登记或已停用，请联系管理员。",
            "Your single sign-on identity has no enabled account here; ask an administrator.",
        )
        return None
    login(user, how="sso")
    return user


def _check_session(user: User) -> User | None:
    """The user if their session is still good; otherwise end it (expired, disabled, removed)."""
    live = _live_user(str(store_path()), user.user_name)
    started = st.session_state.get(LOGIN_AT_KEY)
    if live is None:
        logout("disabled", ("账号已停用，会话已结束。", "Your account was disabled; the session has ended."))
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
        user = _try_sso(str(store_path()))
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


# Enough to stop links, images, inline HTML, emphasis, code, tables and formulas made from data.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~$])")


def safe(text: Any) -> str:
    """Text from data or users, escaped so Markdown shows it as written (no links, images, formatting)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


# ----------------------------------------------------------------------------- filters


def filter_key() -> tuple[tuple[str, ...], tuple[str, ...]]:
    units = tuple(sorted(st.session_state.get(UNITS_KEY) or ()))
    lane = st.session_state.get(LANE_KEY)
    return units, (() if lane in (None, ALL) else (lane,))


def selected_period() -> tuple[int, int] | None:
    """(year, quarter) chosen in the sidebar, None when there is no quarterly data."""
    label_ = st.session_state.get(PERIOD_KEY)
    if not label_:
        known = overview.periods(full_data())
        label_ = known[-1] if known else None
    return overview.parse_period(label_) if label_ else None


def selected_lane() -> str | None:
    lane = st.session_state.get(LANE_KEY)
    return None if lane in (None, ALL) else lane


def selected_units() -> tuple[str, ...]:
    return tuple(st.session_state.get(UNITS_KEY) or ())


def _keep_valid(key: str, options: list, multi: bool = False) -> None:
    """Drop a remembered choice the current store no longer has (after an undo, another store)."""
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if multi:
        st.session_state[key] = [v for v in (value or []) if v in options]
    elif value not in options:
        del st.session_state[key]


def sidebar() -> None:
    """Language switch and the filters every page shares (kept in session state across pages)."""
    with st.sidebar:
        st.segmented_control(
            tr("语言", "Language"),
            options=["zh", "en"],
            key=LANG_KEY,
            selection_mode="single",
            required=True,
            format_func=lambda code: {"zh": "中文", "en": "English"}[code],
            label_visibility="collapsed",
        )
        full = full_data()
        if full.quarterly.height == 0:
            return
        periods = list(reversed(overview.periods(full)))
        lanes = overview.lanes(full)
        units = overview.units(full)
        _keep_valid(PERIOD_KEY, periods)
        _keep_valid(LANE_KEY, [ALL, *lanes])
        _keep_valid(UNITS_KEY, units, multi=True)
        words = lang()  # captured now: the labels must not change language after this run
        st.selectbox(tr("期次", "Period"), periods, key=PERIOD_KEY, format_func=lambda v: period_text(v, words))
        all_lanes = tr("全部赛道", "All lanes")
        st.selectbox(
            tr("赛道", "Lane"), [ALL, *lanes], key=LANE_KEY, format_func=lambda v: all_lanes if v == ALL else v
        )
        st.multiselect(tr("单位", "Units"), units, key=UNITS_KEY, placeholder=tr("全部单位", "All units"))
        st.caption(tr(f"数据：{store_path().name}", f"Store: {store_path().name}"))


def period_text(label_: str, language: str | None = None) -> str:
    """'2024年第一季度' / '2024 Q1' for a period label."""
    year, quarter = overview.parse_period(label_)
    return f"{year}年第{'一二三四'[quarter - 1]}季度" if (language or lang()) == "zh" else f"{year} Q{quarter}"


def filters_caption() -> None:
    """One line saying which filters shape this page."""
    units = selected_units()
    lane = selected_lane()
    parts = [
        tr("全部单位", "all units") if not units else tr(f"{len(units)} 个单位", f"{len(units)} units"),
        lane or tr("全部赛道", "all lanes"),
    ]
    st.caption(tr("筛选：", "Filters: ") + " · ".join(parts))


# ----------------------------------------------------------------------------- page frame


def _through_navigation() -> None:
    """Make sure the page runs inside app.py's navigation.

    With a pages/ folder, Streamlit's first run in a fresh server treats a deep link (/flags) the old
    way and runs the page file alone, without app.py's navigation, layout and sidebar. Switch that
    mode off and run again: the same page then runs through app.py.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no such mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_setup(title_zh: str, title_en: str, caption: tuple[str, str] | None = None) -> None:
    """Compact CSS and the page title."""
    _through_navigation()
    st.html(
        _CSS
        + _UPLOADER_CSS
        % (tr("选择文件", "Browse files"), tr("拖放文件到此处，或点击选择", "Drag files here, or browse"))
    )
    st.markdown(f"### {tr(title_zh, title_en)}")
    if caption:
        st.caption(tr(*caption))


def is_empty() -> bool:
    return full_data().is_empty


def start_screen() -> None:
    """Friendly first screen for an empty store: how to import, or build the demo city.

    Only for those who may import: a user limited to some units, or logged out, just hears that
    nothing is within their access (the demo button would replace the whole store).
    """
    if not can_import() or current_scope() != EVERYTHING:
        st.info(
            tr("您的权限范围内没有考核数据。", "There is no assessment data within your access."),
            icon=":material/info:",
        )
        return
    st.info(tr("还没有考核数据。", "There is no assessment data yet."), icon=":material/info:")
    left, right = st.columns(2)
    with left:
        st.markdown(tr("#### 导入自己的数据", "#### Import your own exports"))
        st.markdown(
            tr(
                "在 **数据** 页上传平时考核、年度考核、结果运用或问卷导出文件（xlsx、xls、csv），先预览再导入。\n\n"
                "也可以在命令行导入：",
                "Upload quarterly, annual, outcome or survey exports (xlsx, xls, csv) on the **Data** page, preview, then import.\n\n"
                "Or from the command line:",
            )
        )
        st.code(f"python -m analytics import 平时考核_2024.xlsx --db {store_path()}", language="bash")
        st.page_link(PAGES["data"], label=tr("前往数据页", "Go to the Data page"), icon=":material/upload_file:")
    with right:
        st.markdown(tr("#### 先看演示城市", "#### Try the demo city"))
        st.markdown(
            tr(
                "演示城市有约 2000 名干部、十二个季度的等次、年度考核和结果运用，并埋设了轮流坐庄、老好人等问题。",
                "The demo city has about 2,000 staff, twelve quarters of grades, annual grades and outcomes, with planted "
                "rotation, lenient reviewers and rule breaks.",
            )
        )
        st.code("python -m analytics demo --db data/demo.duckdb\nKAOHE_DB=data/demo.duckdb make run", language="bash")
        build = optional("analytics.demo", "build_demo")
        if build is not None and st.button(
            tr("在当前数据库生成演示数据", "Build the demo city in this store"), icon=":material/auto_awesome:"
        ):
            with st.spinner(tr("正在生成演示城市……", "Building the demo city…")):
                build(store_path(), seed=7)
            clear_caches()
            st.rerun()


def require_data() -> AssessmentData:
    """The filtered data, or the start screen (and stop) when the store is empty."""
    if is_empty():
        start_screen()
        st.stop()
    return data()


# ----------------------------------------------------------------------------- tables and downloads


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


# ----------------------------------------------------------------------------- shared analytics


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


def flags() -> pl.DataFrame:
    """Flags within the sidebar's units and lane."""
    units, lanes = filter_key()
    return overview.restrict_frame(all_flags(), units=units or None, lanes=lanes or None)
