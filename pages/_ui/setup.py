"""Before the first import into an open store (the demo city): create the administrator account first.

An open store needs no login until it holds imported data; an anonymous visitor's import would then
switch the login on with no account to log in with. So nobody imports anonymously: on a store without
accounts the Data page asks for the first administrator (who is logged in at once), and on one with
accounts it asks an administrator to log in.
"""

from __future__ import annotations

import streamlit as st

from analytics import access, passwords
from analytics.errors import UserError
from pages._ui.cache import settings, store_path
from pages._ui.lang import safe, tr
from pages._ui.session import current_role, login
from pages._ui.state import ANONYMOUS, PAGES


def require_admin_for_import() -> None:
    """Stop the page for anonymous visitors, offering the first-admin form or the way to log in."""
    if current_role() != ANONYMOUS:
        return
    if access.store_facts(store_path(), settings()).users:  # not the cached facts: accounts change them
        st.info(tr("导入和撤销需要管理员登录。", "Imports and undo need an administrator to log in."),
                icon=":material/lock:")  # fmt: skip
        st.page_link(PAGES["login"], label=tr("登录", "Log in"), icon=":material/login:")
        st.stop()
    st.info(
        tr(
            "导入数据前请先创建管理员账号：导入人员数据后，打开本应用需要登录。",
            "Create the administrator account before the first import: once personnel records are imported, "
            "the app asks for a login.",
        ),
        icon=":material/person_add:",
    )
    with st.form("first_admin"):
        name = st.text_input(tr("管理员用户名", "Administrator's user name"), max_chars=64, key="first_admin_name")
        first = st.text_input(
            tr(f"密码（至少 {passwords.MIN_LENGTH} 位，不含用户名，非常见密码）",
               f"Password ({passwords.MIN_LENGTH}+ characters, without the user name, not a common one)"),
            type="password", max_chars=200, key="first_admin_password", autocomplete="new-password",
        )  # fmt: skip
        again = st.text_input(tr("再次输入密码", "The password again"), type="password", max_chars=200,
                              key="first_admin_again", autocomplete="new-password")  # fmt: skip
        created = st.form_submit_button(tr("创建并登录", "Create and log in"), type="primary")
    if created:
        if first != again:
            st.error(tr("两次输入的密码不一致。", "The two passwords differ."))
        else:
            try:
                login(access.create_first_admin(store_path(), name, first, settings()))
            except UserError as exc:
                st.error(safe(str(exc)), icon=":material/block:")
            else:
                st.rerun()
    st.stop()
