"""登录 · Log in: user name and password (argon2id hashes, lockout after repeated failures), or single sign-on.

The only page a session sees while the store needs a login and nobody is logged in; a link to any other
page (a bookmark, a shared `/flags?flag=…`) shows this page under that address and, after the login, the
page itself with its parameters. Every attempt is audited by analytics.auth; one answer for every refusal
never says whether the name exists, the password was wrong or the account is locked. Nothing here names
a path on the server.
"""

from __future__ import annotations

import streamlit as st

from analytics import access
from analytics.errors import UserError
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "登录",
    "Log in",
    (
        "考核数据属于个人信息，仅限有权限的人员查看；每次查看人员档案和导出都会记录。",
        "Assessment records are personal information, open only to those entitled to them; "
        "every profile viewed and every export is recorded.",
    ),
)
if message := st.session_state.pop(ui.MESSAGE_KEY, None):
    st.info(tr(*message), icon=":material/info:")

user = ui.current_user()
if user is not None:
    st.success(tr(f"已登录：{ui.safe(user.user_name)}", f"Logged in as {ui.safe(user.user_name)}"))
    st.stop()

facts = access.store_facts(ui.store_path(), ui.settings())
if facts.users == 0:
    st.warning(
        tr(
            "本数据库还没有任何账号。请管理员在服务器上创建第一个管理员账号：",
            "This store has no accounts yet. An administrator creates the first one on the server:",
        ),
        icon=":material/person_add:",
    )
    st.code("python -m analytics users add admin --role admin --db <本应用的数据库文件>", language="bash")

LOGIN_ERROR = "login_error"


def _submit() -> None:
    """The form's callback: the login is settled before the run it starts, so that run draws the page the
    address names (a deep link with its parameters, else the role's first page) without drawing this form again."""
    name, password = st.session_state.get("login_name"), st.session_state.get("login_password")
    try:
        ui.login(access.login(ui.store_path(), name or "", password or "", ui.settings()))
    except UserError as exc:  # LoginRefused, or no session could be stored
        st.session_state[LOGIN_ERROR] = str(exc)


left, _ = st.columns([1, 1.4])
with left:
    with st.form("login_form", enter_to_submit=True):
        st.text_input(tr("用户名", "User name"), key="login_name", max_chars=100, autocomplete="username")
        st.text_input(
            tr("密码", "Password"),
            type="password",
            key="login_password",
            max_chars=200,
            autocomplete="current-password",
        )
        st.form_submit_button(tr("登录", "Log in"), type="primary", icon=":material/login:", on_click=_submit)
    if refused := st.session_state.pop(LOGIN_ERROR, None):
        st.error(ui.safe(refused), icon=":material/block:")
    if ui.sso_configured():
        st.divider()
        if st.button(tr("单点登录", "Sign in with single sign-on"), icon=":material/key:", key="sso_login"):
            st.login(ui.sso_provider())
