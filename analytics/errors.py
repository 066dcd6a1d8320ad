"""Errors a user can act on. The CLI prints them and exits 2; the app shows them; never a stack trace."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a request that cannot be met; the message says what and where."""

    exit_code = 2
