"""`users` and `audit`: manage who may log in to the app, and read the audit log."""

from __future__ import annotations

import argparse
import getpass
import sys

from analytics import audit, auth
from analytics.cli._common import add_db, add_output, emit, open_store
from analytics.errors import UserError

USERS_HELP = """\
Manage app users (stored in the store's `users` table, passwords hashed with argon2id).

examples:
  python -m analytics users add wang --role head --units 常山县财政局,常山县税务局
  python -m analytics users add li --role inspector            # all units
  python -m analytics users add chen --role head --units 新设局 --allow-unknown-unit   # unit not imported yet
  python -m analytics users add zhao --role researcher --password-stdin < pw.txt
  python -m analytics users list
  python -m analytics users disable wang
  python -m analytics users passwd wang

roles: admin (imports, undo, users), head (listed units only), inspector (listed units or all),
researcher (pseudonymised data, small groups suppressed).
passwords: at least 10 characters, 4 different ones, not containing the user name, not a common password.
names are trimmed (' admin' is 'admin'). Every change is audited as cli:<OS user>."""


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass("密码 password: ")
    if first != getpass.getpass("再次输入 again: "):
        raise UserError("the two passwords differ")
    return first


def _run_users(args: argparse.Namespace) -> int:
    con = open_store(args, read_only=args.action == "list")
    try:
        if args.action == "list":
            emit(auth.list_users(con), args)
            return 0
        if not args.name:
            raise UserError(f"`users {args.action}` needs a user name")
        actor = audit.os_actor()  # every change is audited in its own transaction, as the OS user
        if args.action == "add":
            if not args.role:
                raise UserError(
                    f"`users add` needs --role ({', '.join(auth.ROLES)}): no account gets a role by default"
                )
            units = [u.strip() for u in args.units.split(",") if u.strip()] if args.units else None
            user = auth.add_user(con, args.name, args.role, _password(args), units,
                                 allow_unknown_units=args.allow_unknown_unit, actor=actor)  # fmt: skip
            name = user.user_name
        elif args.action == "passwd":
            auth.set_password(con, args.name, _password(args), actor=actor)
            name = args.name.strip()
        else:
            auth.set_disabled(con, args.name, args.action == "disable", actor=actor)
            name = args.name.strip()
        print(f"{args.action}: {name}")
        return 0
    finally:
        con.close()


def _run_audit(args: argparse.Namespace) -> int:
    con = open_store(args)
    try:
        emit(audit.read_log(con, args.user, args.action, args.limit), args)
    finally:
        con.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "users",
        help="add, list, disable/enable users and change passwords",
        description=USERS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=("add", "list", "disable", "enable", "passwd"))
    p.add_argument("name", nargs="?", help="user name")
    p.add_argument("--role", choices=auth.ROLES, help="role for `add` (required)")
    p.add_argument("--units", help="comma-separated units in scope (required for heads; inspectors: default all)")
    p.add_argument(
        "--allow-unknown-unit",
        action="store_true",
        help="accept --units the store does not hold yet (normally refused as a likely typo)",
    )
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_db(p)
    add_output(p)
    p.set_defaults(func=_run_users)

    a = sub.add_parser(
        "audit",
        help="read the audit log (who viewed, exported, imported what)",
        description="The audit log, newest first. Example: python -m analytics audit --action export",
    )
    a.add_argument("--user", help="only this user")
    a.add_argument("--action", choices=audit.ACTIONS, help="only this action")
    a.add_argument("--limit", type=int, default=10_000)
    add_db(a)
    add_output(a)
    a.set_defaults(func=_run_audit)
