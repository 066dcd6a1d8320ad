"""Per-store secrets (pseudonym key, session-signing key ...), made on first use, never in the store.

Each secret is 32 random bytes (`secrets.token_hex`) in a file beside the store,
`<store>.secrets/<purpose>.key`, the folder 0700 and the file 0600. It is not a table, so no query
(the SQL workspace copies tables into an in-memory sandbox that cannot open files) and no export can
show it. A copy of the store without this folder gets new secrets: pseudonyms and sessions change.

    from analytics.secrets_store import store_secret
    key = store_secret("data/kaohe.duckdb", "session")   # hex text, the same on every call
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from functools import cache, lru_cache
from pathlib import Path

from analytics.errors import UserError

_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BYTES = 32


def secrets_dir(db: str | os.PathLike) -> Path:
    """The folder holding a store's secrets: `<store file name>.secrets` beside it."""
    p = Path(db)
    return p.parent / f"{p.name}.secrets"


def store_secret(db: str | os.PathLike | None, purpose: str) -> str:
    """The store's secret for `purpose` (hex), created on first use; None or ':memory:' -> one per process."""
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"purpose must be a short lower-case name, got {purpose!r}")
    if db is None or str(db) in ("", ":memory:"):
        return _process_secret(purpose)
    return _file_secret(str(Path(db).resolve()), purpose)


@cache
def _process_secret(purpose: str) -> str:
    del purpose  # cache key only: one secret per purpose per process
    return secrets.token_hex(_BYTES)


@lru_cache(maxsize=64)
def _file_secret(db: str, purpose: str) -> str:
    folder = secrets_dir(db)
    path = folder / f"{purpose}.key"
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Write a temp file, then link it into place: link fails if another process won the race,
        # and nobody ever reads a half-written key.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{purpose}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp makes the file 0600
                handle.write(secrets.token_hex(_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
        return _read(path)
    except OSError as exc:
        raise UserError(
            f"无法创建或读取密钥文件 {path} / cannot create or read the secret file: {exc.strerror or exc}"
        ) from None


def _read(path: Path) -> str:
    text = path.read_text(encoding="ascii").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise UserError(f"密钥文件已损坏 {path} / the secret file is damaged; remove it to make a new one")
    return text
