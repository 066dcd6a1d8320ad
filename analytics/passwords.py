"""Password policy and user-name hygiene: what an account may be called and protected with.

A password is refused when it is shorter than MIN_LENGTH, mostly one or two repeated characters,
contains the user name, or is on the shipped list of passwords attackers try first
(common_passwords.txt, compared case-insensitively). User names are NFKC-normalised and trimmed,
so ' admin' and the full-width 'ａｄｍｉｎ' are the same account as 'admin'.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from analytics.errors import UserError

MIN_LENGTH = 10
MIN_DISTINCT = 4  # '1212121212' or ten spaces have the length but nothing to guess
MAX_NAME = 64
_COMMON = Path(__file__).with_name("common_passwords.txt")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


def clean_name(user_name: str | None) -> str:
    """The canonical form of a typed user name (NFKC, no surrounding whitespace); '' when nothing is left."""
    return unicodedata.normalize("NFKC", user_name or "").strip()


def check_name(user_name: str | None) -> str:
    """The cleaned name, or UserError when it is empty, too long or holds control characters."""
    name = clean_name(user_name)
    if not name:
        raise UserError("用户名不能为空 / the user name is empty")
    if len(name) > MAX_NAME:
        raise UserError(f"用户名过长（最多 {MAX_NAME} 个字符）/ the user name is longer than {MAX_NAME} characters")
    if any(unicodedata.category(ch)[0] in "CZ" for ch in name):
        raise UserError("用户名不能含空白或控制字符 / the user name must not hold spaces or control characters")
    return name


def password_problem(user_name: str, password: str) -> tuple[str, str] | None:
    """Why `password` is too weak for `user_name`, in Chinese and English; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符", f"the password needs at least {MIN_LENGTH} characters"
    if not password.strip() or len(set(password)) < MIN_DISTINCT:
        return (
            f"密码至少要有 {MIN_DISTINCT} 个不同的字符",
            f"the password needs at least {MIN_DISTINCT} different characters",
        )
    folded, name = password.casefold(), clean_name(user_name).casefold()
    if name and (name in folded or folded in name):
        return "密码不能包含用户名", "the password must not contain the user name"
    if folded.strip() in common_passwords():
        return "这是常见密码，容易被猜中", "this is a common password that attackers try first"
    return None


def check_password(user_name: str, password: str) -> None:
    problem = password_problem(user_name, password)
    if problem:
        raise UserError(f"密码不符合要求：{problem[0]} / password refused: {problem[1]}")
