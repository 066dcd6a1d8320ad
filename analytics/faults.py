"""Faults of the machine rather than of the input: a damaged or unreadable store, a full disk.

`explain` turns such an exception into a plain (Chinese, English) message naming the store, so the
CLI exits 2 and the app shows it instead of a stack trace. Anything else returns None (a bug: let it show).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import duckdb

_FULL = ("no space left on device", "disk is full", "not enough space")
_LOCKED = ("could not set lock", "conflicting lock", "being used by another process")
_DAMAGED = ("not a valid duckdb database", "could not read enough bytes", "checksum", "corrupt", "serialization")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(word in str(exc).lower() for word in _FULL)


def is_locked(exc: BaseException) -> bool:
    """Another process holds the store's lock (DuckDB's own words for it)."""
    return isinstance(exc, duckdb.Error) and any(word in str(exc).lower() for word in _LOCKED)


def is_closing(exc: BaseException) -> bool:
    """This process is closing the file's last connection while another thread opens it (DuckDB's words)."""
    return isinstance(exc, duckdb.Error) and "unique file handle conflict" in str(exc).lower()


def disk_full(where: str | os.PathLike) -> tuple[str, str]:
    return (
        f"磁盘空间不足，无法写入 {where}；本次操作已撤回，数据库未改变。请清理磁盘后重试",
        f"the disk is full: cannot write {where}; the operation was rolled back and the store is unchanged. "
        f"Free some space and try again",
    )


def explain(exc: BaseException, store: str | os.PathLike, hide_paths: bool = False) -> tuple[str, str] | None:
    """(zh, en) for a store or disk fault, or None when `exc` is neither.

    hide_paths (the app): the store is named by its file name only, never by its place on the server.
    """
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    if hide_paths:
        folder = str(Path(store).resolve().parent)
        first = first.replace(str(store), Path(store).name).replace(folder + os.sep, "").replace(folder, "")
        store = Path(store).name
        if isinstance(exc, OSError) and exc.filename:
            exc.filename = Path(str(exc.filename)).name
    text = first.lower()
    if is_disk_full(exc):
        return disk_full(Path(store).parent if not hide_paths else "数据目录 data folder")
    if isinstance(exc, duckdb.Error):
        if is_locked(exc):
            return (
                f"数据库 {store} 正被另一个程序占用（如正在导入），请稍后再试",
                f"the store {store} is in use by another program (an import, perhaps); try again shortly",
            )
        if isinstance(exc, (duckdb.IOException, duckdb.SerializationException)) or any(w in text for w in _DAMAGED):
            return (
                f"数据库 {store} 无法读取：文件已损坏、被截断或不是本系统的数据库（{first}）。请从备份恢复，"
                f"或用 `python -m analytics import` 重新导入原始文件",
                f"the store {store} cannot be read: the file is damaged, truncated or not a store of this "
                f"product ({first}). Restore it from a backup, or import the original files again",
            )
        return None
    if isinstance(exc, PermissionError):
        return (f"没有权限读写 {exc.filename or store}", f"no permission to read or write {exc.filename or store}")
    if isinstance(exc, IsADirectoryError):
        return (
            f"{exc.filename or store} 是目录，不是数据库文件",
            f"{exc.filename or store} is a folder, not a store file",
        )
    if isinstance(exc, OSError):
        reason = os.strerror(exc.errno) if exc.errno else first
        return (
            f"无法读写 {exc.filename or store}：{reason}",
            f"cannot read or write {exc.filename or store}: {reason}",
        )
    return None
