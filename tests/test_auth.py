"""Users, password hashing, lockout, scope by role, audit log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import polars as pl
import pytest

from analytics import audit, auth, store
from analytics.settings import Auth, Settings


@pytest.fixture
def con(tmp_db):
    c = store.connect(tmp_db)
    store.insert_frame(
        c, "quarterly", pl.DataFrame({"person_id": ["P1"], "unit": ["财政局"]})
    )  # heads are scoped to real units
    yield c
    c.close()


def test_password_is_hashed_with_argon2id(con):
    auth.add_user(con, "wang", "head", "s3cret-pass", ["财政局"])
    stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored


def test_login_scope_by_role(con):
    s = Settings()
    auth.add_user(con, "wang", "head", "s3cret-pass", ["财政局"])
    auth.add_user(con, "li", "inspector", "s3cret-pass")
    auth.add_user(con, "zhao", "researcher", "s3cret-pass")
    head = auth.authenticate(con, "wang", "s3cret-pass", s)
    assert head.scope.units == frozenset({"财政局"}) and not head.scope.pseudonymise
    assert auth.authenticate(con, "li", "s3cret-pass", s).scope.units is None
    assert auth.authenticate(con, "zhao", "s3cret-pass", s).scope.pseudonymise


def test_head_needs_units(con):
    with pytest.raises(auth.UserError, match="units"):
        auth.add_user(con, "wang", "head", "s3cret-pass")


def test_lockout_after_repeated_failures_then_unlock(con):
    s = Settings().replace(auth=Auth(max_failed_logins=3, lock_minutes=15))
    auth.add_user(con, "wang", "admin", "s3cret-pass")
    t0 = datetime(2026, 1, 1, 9, 0)
    for _ in range(3):
        with pytest.raises(auth.LoginRefused):
            auth.authenticate(con, "wang", "bad-password", s, now=t0)
    with pytest.raises(auth.LoginRefused):
        auth.authenticate(con, "wang", "s3cret-pass", s, now=t0 + timedelta(minutes=5))
    reasons = [json.loads(d)["reason"] for d in audit.read_log(con, "wang", "login_failed")["detail"]]
    assert reasons == ["locked", "wrong password", "wrong password", "wrong password"]  # newest first
    assert auth.authenticate(con, "wang", "s3cret-pass", s, now=t0 + timedelta(minutes=16)).role == "admin"
    assert con.execute("SELECT failed_logins, locked_until FROM users").fetchone() == (0, None)


def test_a_right_password_within_the_allowed_tries_resets_the_count(con):
    s = Settings().replace(auth=Auth(max_failed_logins=3, lock_minutes=15))
    auth.add_user(con, "wang", "admin", "s3cret-pass")
    for _ in range(2):
        with pytest.raises(auth.LoginRefused):
            auth.authenticate(con, "wang", "bad-password", s)
    assert auth.authenticate(con, "wang", "s3cret-pass", s).role == "admin"  # the third try, right: in
    assert con.execute("SELECT failed_logins FROM users").fetchone()[0] == 0


def test_unknown_user_and_wrong_password_read_the_same(con):
    auth.add_user(con, "wang", "admin", "s3cret-pass")
    with pytest.raises(auth.LoginRefused) as a:
        auth.authenticate(con, "nobody", "s3cret-pass", Settings())
    with pytest.raises(auth.LoginRefused) as b:
        auth.authenticate(con, "wang", "wrong-pass", Settings())
    assert str(a.value) == str(b.value)


def test_disabled_user_cannot_log_in(con):
    auth.add_user(con, "wang", "admin", "s3cret-pass")
    auth.set_disabled(con, "wang")
    with pytest.raises(auth.LoginRefused) as refused:
        auth.authenticate(con, "wang", "s3cret-pass", Settings())
    assert str(refused.value) == auth.REFUSED
    assert json.loads(audit.read_log(con, "wang", "login_failed")["detail"][0])["reason"] == "disabled"


def test_login_required_once_data_is_imported(con):
    assert not auth.auth_required(con, Settings())
    con.execute("INSERT INTO imports (import_id, kind, status) VALUES (1, 'quarterly', 'imported')")
    assert auth.auth_required(con, Settings())
    assert not auth.auth_required(con, Settings().replace(auth=Auth(required=False)))


def test_session_expiry():
    s = Settings().replace(auth=Auth(session_minutes=30))
    t0 = datetime(2026, 1, 1, 9, 0)
    assert not auth.session_expired(t0, s, now=t0 + timedelta(minutes=29))
    assert auth.session_expired(t0, s, now=t0 + timedelta(minutes=31))


def test_audit_is_appended_and_read_newest_first(con):
    audit.record(con, "wang", "view_person", "P000001")
    audit.record(con, "wang", "export", "rankings.csv", {"rows": 10})
    log = audit.read_log(con, user_name="wang")
    assert log["action"].to_list() == ["export", "view_person"]


def test_users_cli_add_list_disable(tmp_db):
    def run(*argv, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "analytics", *argv, "--db", str(tmp_db)], input=stdin, capture_output=True, text=True
        )

    added = run(
        "users", "add", "wang", "--role", "head", "--units", "财政局", "--allow-unknown-unit", "--password-stdin",
        stdin="s3cret-pass\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run("users", "list")
    assert listed.returncode == 0 and "wang" in listed.stdout and "argon2" not in listed.stdout
    bad = run("users", "add", "wu", "--role", "head", "--password-stdin", stdin="s3cret-pass\n")
    assert bad.returncode == 2 and "units" in bad.stderr and "Traceback" not in bad.stderr
    assert run("users", "disable", "wang").returncode == 0
    log = run("audit", "--action", "user_change").stdout
    assert log.count("user_change") == 2 and f"{audit.os_actor()},user_change,wang" in log
