"""Issue 14's attacks on logins, accounts, sessions and audit, retried as they were made (items 3, 4, 6, 9, 10).

Each test repeats one row of the issue's table: parallel guesses racing the lockout, weak passwords, a
padded name, a head of a unit that does not exist, `users add` without a role, a name that exists
answering differently, CLI writes without an audit row, a login whose audit write fails, a reload or a
shared link losing the session, a visitor locking the open demo store, the undo box keeping an old pick,
and the store's path on a page.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash
from test_access import _navigation_mode, no_exception, rendered_text, title  # noqa: F401  (autouse fixture)

from analytics import access, audit, auth, sessions, store
from analytics.importer import import_bytes
from analytics.secrets_store import store_secret
from analytics.settings import Auth, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PASSWORD = "correct-horse-9"
UNIT = "测试局"


def quarterly_csv(tag: str, people: int = 3) -> bytes:
    header = "人员编号,姓名,单位,单位类型,内设机构,职务层次,年度,季度,等次,得分\r\n"
    rows = "".join(
        f"{tag}{i:03d},{tag}员{i},{UNIT},综合管理,办公室,一般干部,2025,1,较好,{80 + i}\r\n" for i in range(people)
    )
    return (header + rows).encode("utf-8")


def cli(db: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *argv, "--db", str(db)],
        input=stdin, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture
def db(tmp_path) -> Path:
    """A store with one imported file (so login is required) and one admin."""
    path = tmp_path / "store.duckdb"
    assert import_bytes(path, quarterly_csv("A"), "平时考核_A.csv", user="setup").status == "imported"
    con = store.connect(path)
    try:
        auth.add_user(con, "boss", "admin", PASSWORD)
    finally:
        con.close()
    return path


def open_app(db: Path, monkeypatch, token: str | None = None) -> AppTest:
    """A fresh browser session on the app (a reload is one), sending `token` as its session cookie."""
    from pages._ui import cookie

    monkeypatch.setenv("KAOHE_DB", str(db))
    monkeypatch.setattr(cookie, "browser_token", lambda: token)
    return AppTest.from_file(APP, default_timeout=120).run()


def log_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    return next(b for b in at.button if b.label == "登录").click().run()


def failures(db: Path, name: str) -> list[dict]:
    return [json.loads(d) for d in access.read_audit(db, name, "login_failed")["detail"]]


# ----------------------------------------------------------------------------- lockout (item 3)


def test_nineteen_parallel_wrong_guesses_then_the_right_password_is_refused_while_locked(db):
    settings = load_settings()
    limit = settings.auth.max_failed_logins
    start = threading.Barrier(19)
    answers: list[str] = []

    def guess(i: int) -> None:
        start.wait()  # all 19 at once, each on its own connection, as 19 browser sessions would
        try:
            access.login(db, "boss", f"wrong-guess-{i:02d}", settings)
            answers.append("accepted")
        except auth.LoginRefused as exc:
            answers.append(str(exc))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(19)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [auth.REFUSED] * 19
    with pytest.raises(auth.LoginRefused) as refused:
        access.login(db, "boss", PASSWORD, settings)
    assert str(refused.value) == auth.REFUSED
    # Every failure audited; only `limit` guesses were ever checked against the hash in this lock window.
    reasons = [f["reason"] for f in failures(db, "boss")]
    assert len(reasons) == 20
    assert reasons.count("wrong password") == limit and reasons.count("locked") == 20 - limit
    con = store.connect(db)
    try:
        locked_until = con.execute("SELECT locked_until FROM users WHERE user_name = 'boss'").fetchone()[0]
        assert locked_until > datetime.now()
        later = locked_until + timedelta(seconds=1)
        assert auth.authenticate(con, "boss", PASSWORD, settings, now=later).role == "admin"
    finally:
        con.close()


def test_unknown_locked_disabled_and_wrong_all_read_the_same(db):
    s = Settings().replace(auth=Auth(max_failed_logins=2, lock_minutes=15))
    con = store.connect(db)
    try:
        auth.add_user(con, "locked_one", "inspector", PASSWORD)
        auth.add_user(con, "gone", "inspector", PASSWORD)
        auth.set_disabled(con, "gone")
        for _ in range(2):
            with pytest.raises(auth.LoginRefused):
                auth.authenticate(con, "locked_one", "nope-nope-nope", s)
        answers = set()
        for name, password in [("nobody", PASSWORD), ("locked_one", PASSWORD), ("gone", PASSWORD), ("boss", "x")]:
            with pytest.raises(auth.LoginRefused) as refused:
                auth.authenticate(con, name, password, s)
            answers.add(str(refused.value))
    finally:
        con.close()
    assert answers == {auth.REFUSED} and "已锁定" not in auth.REFUSED.split("，")[0]
    assert failures(db, "nobody")[0]["reason"] == "unknown"
    assert failures(db, "locked_one")[0]["reason"] == "locked"


# ----------------------------------------------------------------------------- accounts (item 3)


@pytest.mark.parametrize(
    "password",
    ["12345678", " " * 8, " " * 12, "wangwei", "wangwei123", "WangWei2025!", "1212121212", "password123", "Qwertyuiop"],
)
def test_weak_passwords_are_refused_by_the_cli(db, password):
    run = cli(db, "users", "add", "wangwei", "--role", "inspector", "--password-stdin", stdin=password + "\n")
    assert run.returncode == 2 and "密码" in run.stderr and "Traceback" not in run.stderr
    assert "wangwei" not in access.list_users(db)["user_name"].to_list()


def test_a_strong_password_is_accepted(db):
    run = cli(db, "users", "add", "wangwei", "--role", "inspector", "--password-stdin", stdin="tea-kettle-bridge\n")
    assert run.returncode == 0, run.stderr


def test_a_padded_or_full_width_name_is_the_same_account(db):
    con = store.connect(db)
    try:
        created = auth.add_user(con, " admin\u3000", "admin", PASSWORD)
        assert created.user_name == "admin"
        for twin in ("admin", "Admin", "ａｄｍｉｎ"):
            with pytest.raises(auth.UserError, match="exists"):
                auth.add_user(con, twin, "admin", PASSWORD)
        assert auth.authenticate(con, "  ａｄｍｉｎ ", PASSWORD, load_settings()).user_name == "admin"
        with pytest.raises(auth.UserError, match="空白"):
            auth.add_user(con, "ad min", "admin", PASSWORD)
    finally:
        con.close()
    assert access.list_users(db)["user_name"].to_list() == ["admin", "boss"]


def test_a_head_of_a_unit_the_store_does_not_hold_is_refused(db):
    typo = cli(db, "users", "add", "chen", "--role", "head", "--units", "测试局X", "--password-stdin", stdin=PASSWORD)
    assert typo.returncode == 2 and "测试局X" in typo.stderr and "--allow-unknown-unit" in typo.stderr
    real = cli(db, "users", "add", "chen", "--role", "head", "--units", UNIT, "--password-stdin", stdin=PASSWORD)
    assert real.returncode == 0, real.stderr
    ahead = cli(db, "users", "add", "zhou", "--role", "head", "--units", "新设局", "--allow-unknown-unit",
                "--password-stdin", stdin=PASSWORD)  # fmt: skip
    assert ahead.returncode == 0, ahead.stderr
    assert access.current_user(db, "zhou").units == frozenset({"新设局"})


def test_users_add_without_a_role_exits_2_and_makes_nobody(db):
    run = cli(db, "users", "add", "X", "--password-stdin", stdin=PASSWORD)
    assert run.returncode == 2 and "--role" in run.stderr and "Traceback" not in run.stderr
    assert "X" not in access.list_users(db)["user_name"].to_list()


# ----------------------------------------------------------------------------- audit of every write (item 6)


def test_cli_imports_undos_and_account_changes_are_audited_as_the_os_user(db, tmp_path):
    export = tmp_path / "平时考核_B.csv"
    export.write_bytes(quarterly_csv("B"))
    assert cli(db, "import", str(export)).returncode == 0
    imports = access.read_audit(db, None, "import")
    me = audit.os_actor()
    assert me.startswith("cli:") and imports["user_name"][0] == me and imports["target"][0] == "平时考核_B.csv"
    con = store.connect(db)
    try:
        by = dict(con.execute("SELECT file_name, imported_by FROM imports").fetchall())
    finally:
        con.close()
    assert by == {"平时考核_A.csv": "setup", "平时考核_B.csv": me}
    assert cli(db, "undo", "2").returncode == 0
    undone = access.read_audit(db, None, "undo")
    assert undone["user_name"][0] == me and undone["target"][0] == "import #2"
    assert json.loads(undone["detail"][0])["rows"] == 3
    assert cli(db, "users", "passwd", "boss", "--password-stdin", stdin="another-long-one\n").returncode == 0
    changed = access.read_audit(db, me, "user_change")
    assert changed["target"][0] == "boss" and json.loads(changed["detail"][0])["action"] == "passwd"


def _audit_refuses(db: Path, action: str) -> None:
    """Make every audit row of `action` fail to write, as a full disk or a damaged table would."""
    con = store.connect(db)
    try:
        con.execute("DROP TABLE audit_log")
        con.execute(
            f"""CREATE TABLE audit_log ("at" TIMESTAMP, user_name VARCHAR, action VARCHAR CHECK (action <> '{action}'),
                target VARCHAR, detail JSON)"""
        )
    finally:
        con.close()


def test_a_login_whose_audit_write_fails_gets_no_session(db, monkeypatch):
    _audit_refuses(db, "login")
    with pytest.raises(auth.LoginRefused) as refused:
        access.login(db, "boss", PASSWORD, load_settings())
    assert str(refused.value) == auth.NOT_AUDITED
    at = log_in(open_app(db, monkeypatch), "boss")
    no_exception(at)
    assert at.session_state["user"] is None and title(at) == "### 登录"
    assert any("审计" in e.value for e in at.error)
    con = store.connect(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    finally:
        con.close()


# ----------------------------------------------------------------------------- sessions (item 4)


def test_tokens_are_signed_expiring_and_revocable(db):
    key = bytes.fromhex(store_secret(db, "session"))
    con = store.connect(db)
    try:
        now = datetime.now()
        token = sessions.issue(con, key, "boss", 60, now)
        assert sessions.check(con, key, token, now)[0] == "boss"
        forged = token.replace(token.split(".")[1], sessions._b64(b"intruder"))
        assert sessions.check(con, key, forged, now) is None  # another name under the same signature
        assert sessions.check(con, b"k" * 32, token, now) is None  # another store's secret
        assert sessions.check(con, key, token, now + timedelta(minutes=61)) is None  # expired
        assert sessions.check(con, key, "v1.garbage", now) is None
        assert sessions.revoke(con, key, token, "logout", now)
        assert sessions.check(con, key, token, now) is None
    finally:
        con.close()
    assert str(db) not in token and PASSWORD not in token


def test_reload_keeps_the_session_and_logout_ends_it(db, monkeypatch):
    at = log_in(open_app(db, monkeypatch), "boss")
    no_exception(at)
    token = at.session_state["session_token"]
    assert at.session_state["user"].user_name == "boss" and token
    reloaded = open_app(db, monkeypatch, token)  # a new browser session sending the cookie
    no_exception(reloaded)
    assert reloaded.session_state["user"].user_name == "boss" and title(reloaded) != "### 登录"
    assert json.loads(access.read_audit(db, "boss", "login")["detail"][0])["how"] == "session"
    reloaded.button(key="logout").click().run()
    assert title(reloaded) == "### 登录"
    again = open_app(db, monkeypatch, token)  # the copied cookie after logout
    assert again.session_state["user"] is None and title(again) == "### 登录"


@pytest.mark.parametrize("change", ["disable", "passwd"])
def test_disabling_or_a_new_password_revokes_the_cookie(db, monkeypatch, change):
    con = store.connect(db)
    try:
        auth.add_user(con, "li", "inspector", PASSWORD)
    finally:
        con.close()
    token = log_in(open_app(db, monkeypatch), "li").session_state["session_token"]
    assert open_app(db, monkeypatch, token).session_state["user"].user_name == "li"
    access.change_user(db, change, "li", password="brand-new-secret", actor="boss")
    assert open_app(db, monkeypatch, token).session_state["user"] is None


def test_a_deep_link_opened_logged_out_lands_on_its_page_after_login(db, monkeypatch):
    monkeypatch.setenv("KAOHE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at._page_hash = calc_hash("person")  # the browser asks for /person?person=A001, as a shared link does
    at.query_params["person"] = "A001"
    at.run()
    no_exception(at)
    assert title(at) == "### 登录"  # the login form under the link's address, not Streamlit's "Page not found"
    at = log_in(at, "boss")
    no_exception(at)
    assert title(at) == "### 立体画像" and at.session_state["person_pick"] == "A001"
    assert at.query_params["person"] == "A001"


def test_a_page_the_role_lacks_says_so_in_chinese(db, monkeypatch):
    con = store.connect(db)
    try:
        auth.add_user(con, "insp", "inspector", PASSWORD)
    finally:
        con.close()
    at = log_in(open_app(db, monkeypatch), "insp")
    at._page_hash = calc_hash("admin")
    at.run()
    no_exception(at)
    assert title(at) == "### 无权访问" and "boss" not in rendered_text(at)


# ----------------------------------------------------------------------------- the open demo store (item 10)


@pytest.fixture
def open_store(tmp_path) -> Path:
    from analytics.demo import build_demo

    path = tmp_path / "demo.duckdb"
    build_demo(path, persons=120, seed=3)
    return path


def test_a_visitor_cannot_import_into_the_open_store_without_making_the_admin_first(open_store, monkeypatch):
    at = open_app(open_store, monkeypatch)
    assert at.session_state["role"] == "anonymous"
    at.switch_page("pages/data.py").run()
    no_exception(at)
    assert len(at.file_uploader) == 0 and any("管理员账号" in i.value for i in at.info)
    at.text_input(key="first_admin_name").input("visitor")
    at.text_input(key="first_admin_password").input("12345678")
    at.text_input(key="first_admin_again").input("12345678")
    next(b for b in at.button if b.label == "创建并登录").click().run()
    assert any("密码" in e.value for e in at.error) and access.list_users(open_store).height == 0
    at.text_input(key="first_admin_password").input(PASSWORD)
    at.text_input(key="first_admin_again").input(PASSWORD)
    next(b for b in at.button if b.label == "创建并登录").click().run()
    no_exception(at)
    assert at.session_state["user"].role == "admin" and len(at.file_uploader) == 1
    # Another visitor finds accounts already there: imports ask for an administrator's login.
    other = open_app(open_store, monkeypatch)
    other.switch_page("pages/data.py").run()
    assert len(other.file_uploader) == 0 and any("管理员登录" in i.value for i in other.info)
    with pytest.raises(auth.UserError, match="已有账号"):
        access.create_first_admin(open_store, "second", PASSWORD, load_settings())


def test_no_page_shows_the_store_path(db, tmp_path, monkeypatch):
    empty = tmp_path / "fresh" / "store.duckdb"
    import_bytes(empty, quarterly_csv("C"), "平时考核_C.csv")  # login required, no accounts yet
    login_page = open_app(empty, monkeypatch)
    assert any("users add admin" in c.value for c in login_page.code)
    seen = rendered_text(login_page)
    at = log_in(open_app(db, monkeypatch), "boss")
    for page in ("pages/data.py", "pages/admin.py", "pages/overview.py"):
        at.switch_page(page).run()
        no_exception(at)
        seen += rendered_text(at)
    assert str(tmp_path) not in seen and "/tmp" not in seen


def test_the_undo_box_targets_the_newest_import_and_names_it(db, monkeypatch):
    at = log_in(open_app(db, monkeypatch), "boss")
    import_bytes(db, quarterly_csv("D", people=4), "平时考核_D.csv", user="boss")  # import #2
    at.switch_page("pages/data.py").run()
    box = next(s for s in at.selectbox if s.label == "撤销导入")
    assert box.value == 2
    box.set_value(1).run()  # the admin looks at the older one ...
    import_bytes(db, quarterly_csv("E", people=5), "平时考核_E.csv", user="boss")  # ... someone imports #3
    at.run()
    box = next(s for s in at.selectbox if s.label == "撤销导入")
    assert box.value == 3  # the box shows, and so targets, the new import, not the stale pick
    sure = next(c for c in at.checkbox if c.label.startswith("确认撤销"))
    assert "#3" in sure.label and "平时考核_E.csv" in sure.label.replace("\\", "") and "5 行" in sure.label
    sure.check().run()
    next(b for b in at.button if b.label == "撤销").click().run()
    no_exception(at)
    con = store.connect(db, read_only=True)
    try:
        statuses = dict(con.execute("SELECT import_id, status FROM imports").fetchall())
    finally:
        con.close()
    assert statuses == {1: "imported", 2: "imported", 3: "undone"}
    assert access.read_audit(db, "boss", "undo")["target"].to_list() == ["import #3"]


# ----------------------------------------------------------------------------- the same, in a real browser


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_in_a_browser_a_shared_link_survives_login_and_a_reload_keeps_the_session(db, tmp_path):
    from test_browser import browser_tab, serve, settle

    def shows(tab, heading: str) -> bool:
        """Wait until the page's title is `heading` (the first load compiles the app: give it time)."""
        settle(tab)
        tab.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=60_000)
        return tab.get_by_text("Page not found").count() == 0

    with serve(db, tmp_path / "server.log") as base, browser_tab() as tab:
        tab.goto(f"{base}/person?person=A001")  # a link someone shared, opened logged out
        assert shows(tab, "登录") and "/person?person=A001" in tab.url
        tab.get_by_label("用户名").fill("boss")
        tab.get_by_label("密码").fill(PASSWORD)
        tab.get_by_role("button", name="登录").click()
        assert shows(tab, "立体画像")
        assert "person=A001" in tab.url and tab.get_by_text("A员1").count() >= 1
        assert [c["name"] for c in tab.context.cookies()].count("kaohe_session") == 1

        tab.reload()  # a reload (and a bookmark, a new tab) keeps the session
        assert shows(tab, "立体画像") and tab.get_by_text("boss").count() >= 1
        tab.goto(f"{base}/data")
        assert shows(tab, "数据导入")

        tab.get_by_role("button", name="退出登录").click()
        assert shows(tab, "登录")
        tab.reload()
        assert shows(tab, "登录")  # the revoked cookie opens nothing
        assert tab.get_by_role("button", name="退出登录").count() == 0
