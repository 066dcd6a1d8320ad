"""Checks on an uploaded file before any parser sees it: size, type, decompressed size, sheet size.

An xlsx is a zip: a few kilobytes can expand to gigabytes (a zip bomb), so the central
directory's declared sizes and compression ratios are checked before the workbook is opened.
A sheet's <dimension ref="A1:XFD1048576"> makes the reader reserve memory for every cell it
declares (17 billion cells, 512 GiB), so each sheet's declared extent and a text file's column
count are checked too. The parse itself then runs in a child process with the memory and time
limits below (analytics.parse_isolation), for whatever these checks cannot see.
The file's type comes from its bytes, not from its name; names are never used as paths.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass

from analytics.errors import UserError

MB = 1024 * 1024
GIB = 1024 * MB


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 16 * GIB


# A parse may use at most this much address space: beyond physical memory a reader that fills what it
# reserved would wake the OOM killer instead of failing its allocation.
_PARSE_CEILING = max(2 * GIB, _physical_memory() * 3 // 4)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 200 * MB  # what one upload may weigh
    max_unzipped_bytes: int = 2048 * MB  # what an xlsx may expand to
    max_ratio: float = 200.0  # expansion of one member (real sheets compress ~10-30x)
    max_members: int = 10_000
    max_columns: int = 2_000  # real exports have tens of columns; Excel's last column XFD is 16,384
    max_cells: int = 200_000_000  # declared rows x columns of one sheet
    parse_memory_bytes: int = min(8 * GIB, _PARSE_CEILING)  # address space of the child process that parses
    parse_seconds: float = 600.0  # wall time of that child


DEFAULT_LIMITS = Limits()  # uploads through the app
# Files the operator names on the command line are theirs already: size limits are wide, but a sheet
# declaring the whole grid, or a parse that runs away, still ends with a message, not an abort.
FILE_LIMITS = Limits(
    max_bytes=64 * 1024 * MB,
    max_unzipped_bytes=64 * 1024 * MB,
    max_cells=2_000_000_000,
    parse_memory_bytes=min(64 * GIB, _PARSE_CEILING),
    parse_seconds=3600.0,
)
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
        _check_dimensions(content, file_name, limits)
    elif kind == "text":
        _check_text_columns(content, file_name, limits)
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


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Za-z]+)?(\d+)?(?::([A-Za-z]+)(\d+))?\"")
_HEAD_BYTES = 64 * 1024  # the dimension element comes first in a sheet's XML


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


def _check_dimensions(content: bytes, file_name: str, limits: Limits) -> None:
    """Each worksheet's declared extent (from A1 to its last corner) within the column and cell limits."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        for member in book.infolist():
            if not (member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")):
                continue
            try:
                with book.open(member) as stream:
                    head = stream.read(_HEAD_BYTES)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError):
                continue  # a damaged part: the reader (in its limited worker) says what is wrong
            found = _DIMENSION.search(head)
            if not found:
                continue
            col_a, row_a, col_b, row_b = found.groups()
            cols = max(_column_number(col_a or b"A"), _column_number(col_b or b"A"))
            rows = max(int(row_a or 1), int(row_b or 1))
            ref = found.group(0).split(b'"')[1].decode("ascii", "replace")
            sheet = member.filename.rsplit("/", 1)[-1]
            if cols > limits.max_columns or rows * cols > limits.max_cells:
                raise UserError(
                    f"{file_name}: 工作表 {sheet} 声明的范围 {ref} 有 {rows:,} 行 × {cols:,} 列，超过上限"
                    f"（{limits.max_columns:,} 列、{limits.max_cells:,} 个单元格）；请在 Excel 中删除多余的行列后另存再试 / "
                    f"sheet {sheet} declares the range {ref}, {rows:,} rows x {cols:,} columns, over the limit "
                    f"({limits.max_columns:,} columns, {limits.max_cells:,} cells); delete the stray rows and columns in Excel and save again"
                )


def _check_text_columns(content: bytes, file_name: str, limits: Limits) -> None:
    """A delimited file's first line within the column limit (any of the delimiters the importer accepts)."""
    first = content[: 1024 * 1024].split(b"\n", 1)[0]
    widest = max(first.count(d) for d in (b",", b"\t", b";", b"|", "，".encode()))
    if widest + 1 > limits.max_columns:
        raise UserError(
            f"{file_name}: 第 1 行有 {widest + 1:,} 列，超过上限 {limits.max_columns:,} 列 / "
            f"line 1 has {widest + 1:,} columns, over the {limits.max_columns:,}-column limit"
        )
