"""Access control end to end (AppTest): the role matrix, bypass attempts, login, lockout, expiry, audit.

The store: a small demo city (500 people, 22 units) plus one imported file, so a login is required.
Unit A = 花坪乡. A head of A and an inspector scoped to A must find no trace of any other unit
(people's names, person ids, unit names) anywhere: every rendered element's text (markdown, tables'
contents, metrics, options, charts' data) and the bytes of every download the page offers.
A researcher sees the research pages only, with pseudonyms instead of names.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from analytics import access, audit, auth, store
from analytics.dataset import Scope, load_dataset
from analytics.detectors import run_detectors
from analytics.importer import import_bytes
from analytics.settings import load_settings
from analytics.sql_workspace import run_query

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
UNIT_A = "花坪乡"
PASSWORD = "correct-horse-9"
ANALYSIS_PAGES = ["pages/overview.py", "pages/rankings.py", "pages/flags.py", "pages/outcomes.py", "pages/person.py"]
RESEARCH_PAGES = ["pages/research_survey.py", "pages/research_sql.py"]
ADMIN_PAGES = ["pages/data.py", "pages/admin.py"]
ALL_PAGES = ANALYSIS_PAGES + RESEARCH_PAGES + ADMIN_PAGES
TITLES = {"pages/data.py": "### 数据导入", "pages/admin.py": "### 用户与审计"}
USERS = {
    "boss": ("admin", None),
    "head_a": ("head", [UNIT_A]),
    "insp_a": ("inspector", [UNIT_A]),
    "res": ("researcher", None),
}
# Who may open which page (the navigation); every other page is unreachable.
ALLOWED = {
    "admin": set(ALL_PAGES),
    "head": set(ANALYSIS_PAGES + RESEARCH_PAGES),
    "inspector": set(ANALYSIS_PAGES + RESEARCH_PAGES),
    "researcher": set(RESEARCH_PAGES),
}

IMPORTED_CSV = (
    "人员编号,姓名,单位,单位类型,内设机构,职务层次,年度,季度,等次,得分\r\n"
    + "".join(f"Z{i:03d},导入者{i},花坪乡,乡镇街道,综合办,一般干部,2025,4,较好,{80 + i}\r\n" for i in range(1, 4))
).encode("utf-8")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _navigation_mode(monkeypatch):
    """Every AppTest runs through app.py's st.navigation (see tests/test_app.py)."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict:
    """The store, its users, and the traces of the units outside A."""
    from analytics.demo import build_demo

    db = tmp_path_factory.mktemp("access") / "store.duckdb"
    build_demo(db, persons=500, seed=7)
    result = import_bytes(db, IMPORTED_CSV, "平时考核_导入.csv")
    assert result.status == "imported"
    con = store.connect(db)
    try:
        for name, (role, units) in USERS.items():
            auth.add_user(con, name, role, PASSWORD, units)
        everyone = load_dataset(con, load_settings())
    finally:
        con.close()
    q = everyone.quarterly
    inside = q.filter(pl.col("unit") == UNIT_A)
    outside = q.filter(pl.col("unit") != UNIT_A)
    a_people = set(inside["name"]) | set(inside["reviewer"].drop_nulls())
    b_names = (set(outside["name"]) | set(outside["reviewer"].drop_nulls())) - a_people
    b_names = {n for n in b_names if not any(n in a for a in a_people)}  # 叶宏 is part of A's 叶宏杰
    b_units = {u for u in outside["unit"].unique() if u not in UNIT_A}
    return {
        "db": db,
        "b_ids": set(outside["person_id"]),
        "b_names": b_names,
        "b_units": b_units,
        "b_person": outside["person_id"][0],
        "all_names": set(q["name"]) | set(q["reviewer"].drop_nulls()),
        "all_ids": set(q["person_id"]),
    }


@pytest.fixture
def downloads(monkeypatch) -> list:
    """Every download button a page offers: (file name, data or its on-click callable)."""
    offered = []
    original = st.download_button

    def spy(label, data, file_name=None, *args, **kwargs):
        offered.append((file_name, data))
        return original(label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    return offered


def open_app(db: Path, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("KAOHE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def log_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()


def as_user(city: dict, monkeypatch, name: str) -> AppTest:
    at = log_in(open_app(city["db"], monkeypatch), name)
    no_exception(at)
    assert at.session_state["user"].user_name == name
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


# ----------------------------------------------------------------------------- reading what a user sees


def _strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
        if value[:1] in "{[":
            with contextlib.suppress(ValueError):
                _strings(json.loads(value), out)  # a chart's spec: its data
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


def rendered_text(at: AppTest) -> str:
    """All text of the rendered tree: every element's proto strings, tables' cells, charts' data."""
    out: list[str] = []

    def walk(node) -> None:
        if getattr(node, "type", None) == "arrow_data_frame":
            out.append(node.value.to_csv())
        proto = getattr(node, "proto", None)
        if proto is not None and getattr(node, "type", None) != "arrow_data_frame":
            _strings(MessageToDict(proto), out)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out).replace("\\", "")  # markdown escapes of ui.safe


def download_text(offered: list) -> str:
    """The content of every offered download, made as a click would make it.

    A table offered as CSV, xlsx and Parquet is read once (the CSV): the formats carry the same frame.
    """
    out = []
    stems = {name.rsplit(".", 1)[0] for name, _ in offered if name.endswith(".csv")}
    for file_name, data in offered:
        stem, fmt = file_name.rsplit(".", 1)
        if fmt in ("xlsx", "parquet") and stem in stems:
            continue
        if fmt == "pdf" and any(name == f"{stem}.html" for name, _ in offered):
            continue  # printed from the report HTML offered beside it, which is read
        content = data() if callable(data) else data
        content = content.encode() if isinstance(content, str) else content
        if file_name.endswith(".xlsx"):
            with zipfile.ZipFile(io.BytesIO(content)) as book:
                out += [book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml")]
        elif file_name.endswith(".parquet"):
            out.append(pl.read_parquet(io.BytesIO(content)).write_csv())
        else:
            out.append(content.decode("utf-8-sig"))
    return "\n".join(out)


def traces_of_other_units(text: str, city: dict) -> list[str]:
    found = [t for t in city["b_ids"] | city["b_units"] if t in text]
    return found + [n for n in city["b_names"] if len(n) >= 2 and n in text]


def real_names(text: str, city: dict) -> list[str]:
    return [n for n in city["all_names"] | city["all_ids"] if len(n) >= 2 and n in text]


def title(at: AppTest) -> str:
    return next((m.value for m in at.markdown if m.value.startswith("### ")), "")


PAGE_TITLES = {
    "pages/overview.py": "### 一屏掌控",
    "pages/rankings.py": "### 赛道排名",
    "pages/flags.py": "### 预警核查",
    "pages/outcomes.py": "### 结果运用",
    "pages/person.py": "### 立体画像",
    "pages/research_survey.py": "### 问卷分析",
    "pages/research_sql.py": "### SQL 查询",
    **TITLES,
}


def run_sql_on_page(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="sql_text").input(sql)
    return next(b for b in at.button if b.label == "运行").click().run()


# ----------------------------------------------------------------------------- the role matrix


@pytest.mark.parametrize("user_name", list(USERS))
def test_role_matrix(city, monkeypatch, downloads, user_name):
    """Each role x each page: reachable or not; what it shows and offers to download stays in scope."""
    role = USERS[user_name][0]
    at = as_user(city, monkeypatch, user_name)
    seen_other_units = []
    for page in ALL_PAGES:
        downloads.clear()
        if page not in ALLOWED[role]:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(page)  # not in this role's navigation: no link, no URL reaches it
            continue
        at.switch_page(page).run()
        if page == "pages/research_sql.py":
            at = run_sql_on_page(at, "SELECT person_id, name, reviewer, unit FROM quarterly")
        no_exception(at)
        assert title(at) == PAGE_TITLES[page], (role, page)
        shown = rendered_text(at) + "\n" + download_text(downloads)
        if role in ("head", "inspector"):
            assert traces_of_other_units(shown, city) == [], (role, page)
        if role == "researcher":
            assert real_names(shown, city) == [], (role, page)
        if role == "admin":
            seen_other_units += traces_of_other_units(shown, city)
    if role == "admin":
        assert seen_other_units, "the admin sees every unit: the check above can see other units' traces"


# ----------------------------------------------------------------------------- bypass attempts


def test_link_to_another_units_person_shows_nothing_of_them(city, monkeypatch, downloads):
    at = as_user(city, monkeypatch, "head_a")
    at.query_params["person"] = city["b_person"]
    at.switch_page("pages/person.py").run()
    no_exception(at)
    assert any("不在您的权限范围" in w.value for w in at.warning)
    shown = rendered_text(at) + download_text(downloads)
    assert city["b_person"] not in shown and traces_of_other_units(shown, city) == []


def test_link_to_another_units_flag_shows_nothing_of_it(city, monkeypatch):
    con = store.connect(city["db"], read_only=True)
    try:
        everyone = load_dataset(con, load_settings())
    finally:
        con.close()
    flags = run_detectors(everyone, load_settings(), kinds=["leniency", "rotation", "quota"])
    other = flags.filter(pl.col("unit") != UNIT_A)
    assert other.height, "the city has flags outside unit A"
    at = as_user(city, monkeypatch, "head_a")
    at.query_params["flag"] = other["flag_id"][0]
    at.switch_page("pages/flags.py").run()
    no_exception(at)
    assert traces_of_other_units(rendered_text(at), city) == []


def test_injected_filter_and_scope_in_session_state_change_nothing(city, monkeypatch):
    at = as_user(city, monkeypatch, "head_a")
    other_unit = sorted(city["b_units"])[0]
    at.session_state["f_units"] = [other_unit]
    at.session_state["scope"] = Scope()  # everything: the gate must overwrite it
    at.session_state["role"] = "admin"
    for page in ("pages/overview.py", "pages/rankings.py"):
        at.switch_page(page).run()
        no_exception(at)
        assert traces_of_other_units(rendered_text(at), city) == [], page
        assert at.multiselect(key="f_units").options == [UNIT_A]  # the sidebar's unit list
        assert at.session_state["f_units"] == []  # the injected unit was dropped
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/data.py")
    assert at.session_state["scope"] == Scope(units=frozenset({UNIT_A}))


def test_sql_workspace_keeps_a_head_in_their_units(city):
    head = auth.User("head_a", "head", frozenset({UNIT_A}))
    q = "SELECT unit, person_id, name FROM quarterly WHERE unit <> '花坪乡'"
    assert run_query(city["db"], q, scope=head.scope).height == 0
    units = run_query(city["db"], "SELECT DISTINCT unit FROM quarterly UNION SELECT DISTINCT unit FROM annual",
                      scope=head.scope)  # fmt: skip
    assert set(units["unit"]) == {UNIT_A}
    people = "SELECT count(*) AS n, count(DISTINCT unit) AS units FROM survey_respondents"
    mine, everyone = run_query(city["db"], people, scope=head.scope), run_query(city["db"], people)
    assert 0 < mine["n"][0] < everyone["n"][0] and mine["units"][0] == 1
    for hidden in ("imports", "rejected_rows", "users", "audit_log"):
        with pytest.raises(auth.UserError):
            run_query(city["db"], f"SELECT * FROM {hidden}", scope=head.scope)
    with pytest.raises(auth.UserError):
        run_query(city["db"], f"SELECT * FROM read_csv('{city['db']}')", scope=head.scope)


def test_pages_run_without_the_gate_fail_closed(city, monkeypatch):
    """A page script run on its own (no app.py) on a store needing login shows nothing and allows nothing."""
    monkeypatch.setenv("KAOHE_DB", str(city["db"]))
    for page in ("pages/person.py", "pages/data.py", "pages/admin.py"):
        at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
        no_exception(at)
        assert real_names(rendered_text(at), city) == [], page
        assert not at.file_uploader and not at.button, page


# ----------------------------------------------------------------------------- login, lockout, expiry, logout


def test_login_required_on_a_store_with_an_import_and_not_on_the_demo(city, tmp_path, monkeypatch):
    at = open_app(city["db"], monkeypatch)
    no_exception(at)
    assert title(at) == "### 登录"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/person.py")  # logged out, the navigation holds the login page alone
    at.query_params["person"] = city["b_person"]
    at.run()  # a link with a person in it: still the login page, nothing of them
    assert title(at) == "### 登录" and real_names(rendered_text(at), city) == []

    from analytics.demo import build_demo

    demo = tmp_path / "demo.duckdb"
    build_demo(demo, persons=120, seed=3)
    at = open_app(demo, monkeypatch)
    no_exception(at)
    assert title(at) == "### 一屏掌控"
    assert at.session_state["role"] == "anonymous"

    # On an open store one may still log in (the Account page), and then sees only one's own units.
    con = store.connect(demo)
    try:
        unit = con.execute("SELECT min(unit) FROM quarterly").fetchone()[0]
        auth.add_user(con, "demo_head", "head", PASSWORD, [unit])
    finally:
        con.close()
    at.switch_page("pages/login.py").run()
    at = log_in(at, "demo_head")
    no_exception(at)
    assert title(at) == "### 一屏掌控" and at.session_state["scope"].units == frozenset({unit})
    assert at.metric[1].value == "1"  # units


def test_wrong_passwords_lock_the_account_via_the_login_page(city, monkeypatch):
    con = store.connect(city["db"])
    try:
        auth.add_user(con, "victim", "inspector", PASSWORD, [UNIT_A])
    finally:
        con.close()
    at = open_app(city["db"], monkeypatch)
    for _ in range(load_settings().auth.max_failed_logins):
        at = log_in(at, "victim", "not-the-password")
        assert any("wrong" in e.value for e in at.error)
    at = log_in(at, "victim", PASSWORD)
    assert any("locked" in e.value for e in at.error)
    assert at.session_state["user"] is None and title(at) == "### 登录"
    failures = access.read_audit(city["db"], "victim", "login_failed")
    assert failures.height == load_settings().auth.max_failed_logins + 1


def test_session_expires_and_logout_ends_it(city, monkeypatch):
    at = as_user(city, monkeypatch, "insp_a")
    at.session_state["login_at"] = datetime.now() - timedelta(minutes=load_settings().auth.session_minutes + 1)
    at.run()
    no_exception(at)
    assert title(at) == "### 登录" and at.session_state["user"] is None
    assert any("过期" in i.value for i in at.info)

    at = as_user(city, monkeypatch, "insp_a")
    at.button(key="logout").click().run()
    assert title(at) == "### 登录" and at.session_state["user"] is None
    assert access.read_audit(city["db"], "insp_a", "logout").height >= 2  # expiry and button


def test_disabled_account_loses_its_session(city, monkeypatch):
    from pages import _ui

    con = store.connect(city["db"])
    try:
        auth.add_user(con, "leaver", "head", PASSWORD, [UNIT_A])
    finally:
        con.close()
    at = as_user(city, monkeypatch, "leaver")
    access.change_user(city["db"], "disable", "leaver")
    _ui.forget_user_cache()
    at.run()
    assert title(at) == "### 登录" and at.session_state["user"] is None


# ----------------------------------------------------------------------------- audit


def test_profile_view_and_export_are_audited(city, monkeypatch, downloads):
    before = access.read_audit(city["db"], "head_a").height
    at = as_user(city, monkeypatch, "head_a")
    at.switch_page("pages/person.py").run()
    no_exception(at)
    viewed = access.read_audit(city["db"], "head_a", "view_person")
    assert viewed.height >= 1 and viewed["target"][0] == at.session_state["person_pick"]
    at.run()  # a rerun of the same profile is not a second view
    assert access.read_audit(city["db"], "head_a", "view_person").height == viewed.height
    form = next(d for name, d in downloads if name.startswith("考核登记表"))
    form()  # the registration form, made as a click makes it
    exports = access.read_audit(city["db"], "head_a", "export")
    assert exports["target"][0].startswith("考核登记表_")
    logins = access.read_audit(city["db"], "head_a", "login")
    assert logins.height >= 1
    assert access.read_audit(city["db"], "head_a").height > before


def test_admin_page_adds_a_user_and_audits_it(city, monkeypatch):
    at = as_user(city, monkeypatch, "boss")
    at.switch_page("pages/admin.py").run()
    no_exception(at)
    at.text_input(key="new_user_name").input("newhead")
    at.selectbox(key="new_user_role").set_value("head")
    at.multiselect(key="new_user_units").set_value([UNIT_A])
    at.text_input(key="new_user_password").input(PASSWORD)
    next(b for b in at.button if b.label == "新增").click().run()
    no_exception(at)
    users = access.list_users(city["db"])
    assert "newhead" in users["user_name"].to_list()
    change = access.read_audit(city["db"], "boss", "user_change")
    assert change["target"][0] == "newhead"
    log = audit.read_log(store.connect(city["db"], read_only=True, fresh=True), "boss")  # the log: not in snapshots
    assert log.height >= 2


# ----------------------------------------------------------------------------- auth off, single sign-on


def test_auth_turned_off_in_settings_shows_a_banner_on_every_page(city, tmp_path, monkeypatch):
    settings = tmp_path / "settings.toml"
    settings.write_text("[auth]\nrequired = false\n", encoding="utf-8")
    monkeypatch.setenv("KAOHE_SETTINGS", str(settings))
    at = open_app(city["db"], monkeypatch)
    for page in ("pages/overview.py", "pages/rankings.py"):
        at.switch_page(page).run()
        no_exception(at)
        assert title(at) == PAGE_TITLES[page]
        assert any("auth.required = false" in w.value for w in at.warning), page


SSO_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-secret",
    "client_id": "kaohe",
    "client_secret": "test",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}


def test_single_sign_on_maps_the_identity_to_its_account(city, monkeypatch):
    con = store.connect(city["db"])
    try:
        auth.add_user(con, "wang@example.gov.cn", "head", PASSWORD, [UNIT_A])
    finally:
        con.close()
    monkeypatch.setenv("KAOHE_DB", str(city["db"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = SSO_SECRETS
    at.user = {"is_logged_in": True, "email": "wang@example.gov.cn"}
    at.run()
    no_exception(at)
    assert at.session_state["user"].user_name == "wang@example.gov.cn"
    assert at.session_state["scope"] == Scope(units=frozenset({UNIT_A}))

    stranger = AppTest.from_file(APP, default_timeout=120)
    stranger.secrets["auth"] = SSO_SECRETS
    stranger.user = {"is_logged_in": True, "email": "nobody@example.gov.cn"}
    stranger.run()
    assert title(stranger) == "### 登录" and stranger.session_state["user"] is None
    assert any(b.label == "单点登录" for b in stranger.button)
    assert access.read_audit(city["db"], "nobody@example.gov.cn", "login_failed").height == 1


# ----------------------------------------------------------------------------- hostile text in the data

HOSTILE = [
    '=HYPERLINK("http://evil.example","点我")',
    "![x](http://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
]


def test_hostile_names_are_shown_as_text_and_downloaded_defused(tmp_path, monkeypatch, downloads):
    db = tmp_path / "hostile.duckdb"
    rows = "".join(
        f'H{i},"{name.replace(chr(34), chr(34) * 2)}",测试局,综合管理,办公室,一般干部,2025,{q},{"好" if i else "较好"},{80 + i}\r\n'
        for i, name in enumerate(HOSTILE)
        for q in (1, 2)
    )
    content = ("人员编号,姓名,单位,单位类型,内设机构,职务层次,年度,季度,等次,得分\r\n" + rows).encode("utf-8")
    assert import_bytes(db, content, "恶意.csv").status == "imported"
    con = store.connect(db)
    try:
        auth.add_user(con, "boss", "admin", PASSWORD)
    finally:
        con.close()
    at = log_in(open_app(db, monkeypatch), "boss")
    for pid, name in zip(("H0", "H1", "H2"), HOSTILE, strict=True):
        downloads.clear()
        at.query_params["person"] = pid
        at.switch_page("pages/person.py").run()
        no_exception(at)
        heading = next(m.value for m in at.markdown if m.value.startswith("#### "))
        assert heading.replace("\\", "") == f"#### {name}"  # shown as written...
        if "[" in name or "<" in name:
            assert heading != f"#### {name}"  # ...because Markdown's link, image and HTML syntax is escaped
        form = next(d for n, d in downloads if n.startswith("考核登记表_"))()
        with zipfile.ZipFile(io.BytesIO(form)) as book:
            sheets = " ".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/"))
        assert "<f>" not in sheets  # no formula cells, whatever the names say
    downloads.clear()
    at.switch_page("pages/rankings.py").run()
    ranking = next(d for n, d in downloads if n.startswith("rankings_") and n.endswith(".csv"))().decode("utf-8-sig")
    assert "'=HYPERLINK" in ranking  # defused: a spreadsheet shows it as text, never runs it
    assert '"=HYPERLINK' not in ranking and ",=HYPERLINK" not in ranking
