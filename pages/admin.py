"""用户与审计 · Users and audit (administrators only): accounts and roles, and the audit log with its export.

Accounts can be added, disabled or enabled and given a new password here or with `python -m analytics users`;
every change is audited. The audit log is append-only: this page reads and exports it, nothing edits it.
"""

from __future__ import annotations

import streamlit as st

from analytics import access, audit, i18n, overview
from analytics.auth import MIN_PASSWORD, ROLE_LABELS, ROLES
from analytics.errors import UserError
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "用户与审计",
    "Users and audit",
    (
        "角色：管理员（导入、撤销、用户）；部门负责人（所列单位）；督查巡察（所列单位或全部）；研究人员（假名化、小组隐藏）。",
        "Roles: administrator (imports, undo, users); department head (listed units); inspector (listed units or "
        "all); researcher (pseudonymised, small groups hidden).",
    ),
)
ui.require_role("admin")
lang = ui.lang()
me = ui.current_user()
db = ui.store_path()


def role_label(role: str) -> str:
    return i18n.pick(ROLE_LABELS.get(role, (role, role)), lang)


def change(action: str, name: str, **kwargs) -> None:
    """Apply one account change (audited as this admin in the same transaction), and say how it went."""
    try:
        access.change_user(db, action, name, actor=me.user_name if me else None, **kwargs)
    except UserError as exc:
        st.error(ui.safe(str(exc)))
        return
    ui.forget_user_cache()
    st.session_state["admin_message"] = tr(f"已完成：{action} {name}", f"Done: {action} {name}")
    st.rerun()


users_tab, log_tab = st.tabs([tr("用户", "Users"), tr("审计日志", "Audit log")])

with users_tab:
    if msg := st.session_state.pop("admin_message", None):
        st.success(ui.safe(msg))
    users = access.list_users(db)
    ui.show_table(i18n.translate_values(users, ["role"], {r: role_label(r) for r in ROLES}), height=260)

    add_col, manage_col = st.columns(2)
    with add_col, st.form("add_user", clear_on_submit=True):
        st.markdown(tr("**新增用户**", "**Add a user**"))
        name = st.text_input(tr("用户名", "User name"), max_chars=100, key="new_user_name")
        role = st.selectbox(tr("角色", "Role"), ROLES, format_func=role_label, key="new_user_role")
        units = st.multiselect(
            tr("单位（部门负责人必填；督查巡察留空 = 全部）", "Units (heads: required; inspectors: empty = all)"),
            ui.call(overview.units, ui.FULL),
            key="new_user_units",
        )
        password = st.text_input(
            tr(f"初始密码（至少 {MIN_PASSWORD} 位，不含用户名，非常见密码）",
               f"Initial password ({MIN_PASSWORD}+ characters, without the user name, not a common one)"),
            type="password", max_chars=200, key="new_user_password",
        )  # fmt: skip
        if st.form_submit_button(tr("新增", "Add"), icon=":material/person_add:"):
            change("add", name, role=role, password=password,
                   units=units if role in ("head", "inspector") else None)  # fmt: skip

    with manage_col, st.container(border=True):
        st.markdown(tr("**停用、启用、重设密码**", "**Disable, enable, reset a password**"))
        names = users["user_name"].to_list()
        if not names:
            st.caption(tr("还没有用户。", "No users yet."))
        else:
            who = st.selectbox(tr("用户", "User"), names, key="manage_user")
            with st.container(horizontal=True):
                if st.button(
                    tr("停用", "Disable"), key="disable_user", disabled=me is not None and who == me.user_name
                ):
                    change("disable", who)
                if st.button(tr("启用", "Enable"), key="enable_user"):
                    change("enable", who)
            new_password = st.text_input(tr("新密码", "New password"), type="password", max_chars=200, key="reset_pw")
            if st.button(tr("重设密码（并解除锁定）", "Reset the password (and unlock)"), key="reset_user"):
                change("passwd", who, password=new_password)

with log_tab:
    c1, c2, c3 = st.columns([1, 1, 1])
    who = c1.text_input(tr("用户", "User"), key="audit_user", max_chars=100)
    action = c2.selectbox(tr("操作", "Action"), [None, *audit.ACTIONS], key="audit_action",
                          format_func=lambda a: tr("全部", "all") if a is None else a)  # fmt: skip
    limit = c3.number_input(tr("最多行数", "Rows"), 10, 100_000, 1000, step=100, key="audit_limit")
    log = access.read_audit(db, who.strip() or None, action, int(limit))
    st.caption(tr(f"{log.height} 条记录，最新在前。", f"{log.height} events, newest first."))
    ui.show_table(log, height=420)
    ui.downloads(log, "audit_log", key="dl_audit", translate=False)
