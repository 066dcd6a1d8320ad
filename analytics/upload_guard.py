"""Checks on an uploaded file before any parser sees it: size, type, and decompressed size.

An xlsx is a zip: a few kilobytes can expand to gigabytes (a zip bomb), so the central
directory's declared sizes and compression ratios are checked before the workbook is opened.
The file's type comes from its bytes, not from its name; names are never used as paths.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from analytics.errors import UserError

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 200 * MB  # what one upload may weigh
    max_unzipped_bytes: int = 2048 * MB  # what an xlsx may expand to
    max_ratio: float = 200.0  # expansion of one member (real sheets compress ~10-30x)
    max_members: int = 10_000


DEFAULT_LIMITS = Limits()  # uploads through the app
# Files the operator names on the command line are theirs already: only type and zip-bomb checks bind.
FILE_LIMITS = Limits(max_bytes=64 * 1024 * MB, max_unzipped_bytes=64 * 1024 * MB)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff_type(content: bytes) -> str:
    """'xlsx', 'xls', 'zip' (a zip that is no workbook), 'text' or 'binary', from the bytes."""
    if content.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(content)).namelist()
        except zipfile.BadZipFile:
            return "zip"
        return "xlsx" if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names) else "zip"
    if content.startswith(_OLE2):
        return "xls"
    head = content[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return "text"
    # Text has no NUL bytes (UTF-16 without BOM is not accepted) and few control characters.
    controls = sum(b < 9 or 13 < b < 32 for b in head)
    return "binary" if b"\x00" in head or controls > len(head) // 20 else "text"


def check_upload(content: bytes, file_name: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Refuse oversized, disguised or bomb-like files with a clear message; return the sniffed type."""
    size = len(content)
    if size == 0:
        raise UserError(f"{file_name}: 文件是空的 / the file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise UserError(f"{file_name}: 文件过大 / {size / MB:.0f} MB is over the {limits.max_bytes / MB:.0f} MB limit")
    kind = sniff_type(content)
    if kind == "binary":
        raise UserError(f"{file_name}: 不是表格 / not a table (binary content that is neither xlsx, xls nor text)")
    if kind == "zip":
        raise UserError(
            f"{file_name}: 工作簿损坏或不是工作簿 / a zip archive or a damaged xlsx, not a readable workbook"
        )
    if kind == "xlsx":
        _check_zip(content, file_name, limits)
    return kind


def _check_zip(content: bytes, file_name: str, limits: Limits) -> None:
    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except zipfile.BadZipFile as exc:
        raise UserError(f"{file_name}: 工作簿损坏 / damaged workbook ({exc})") from None
    if len(members) > limits.max_members:
        raise UserError(
            f"{file_name}: 工作簿结构异常 / {len(members)} parts inside the workbook, over the {limits.max_members} limit"
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise UserError(
            f"{file_name}: 解压后过大 / expands to {total / MB:.0f} MB, over the {limits.max_unzipped_bytes / MB:.0f} MB limit"
        )
    worst = max(members, key=lambda m: m.file_size / max(m.compress_size, 1))
    ratio = worst.file_size / max(worst.compress_size, 1)
    if ratio > limits.max_ratio and worst.file_size > 10 * MB:
        raise UserError(
            f"{file_name}: 疑似压缩炸弹 / part {worst.filename!r} expands {ratio:.0f}-fold, which looks like a zip bomb"
        )
