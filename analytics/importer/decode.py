"""Bytes -> UTF-8 text for delimited files, in a fixed order: BOM, then UTF-8, then GB18030.

Statistical guessing misreads short GBK files, so there is no guessing: a BOM decides; otherwise a file
that is valid UTF-8 is UTF-8; otherwise it must be GB18030 (a superset of GBK and GB2312, what Chinese
Windows Excel writes). Large GB18030 files go through the system `iconv` when present (measured ~2x
faster than Python's codec, the bottleneck on big exports), falling back to Python.
"""

from __future__ import annotations

import codecs
import shutil
import subprocess

import polars as pl

from analytics.errors import UserError

ICONV_MIN_BYTES = 1 << 20  # below this, starting a process costs more than it saves

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def to_utf8(content: bytes, file_name: str = "") -> tuple[bytes, str]:
    """(UTF-8 bytes without BOM, encoding name) for a text file; UserError when it is not text.

    >>> to_utf8("姓名".encode("gb18030"))
    (b'\\xe5\\xa7\\x93\\xe5\\x90\\x8d', 'gb18030')
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return _via_python(content, encoding, file_name), "utf-8-bom" if encoding == "utf-8-sig" else "utf-16"
    if _is_utf8(content):
        return _checked(content, file_name), "utf-8"
    if len(content) >= ICONV_MIN_BYTES:
        converted = _via_iconv(content)
        if converted is not None:
            return _checked(converted, file_name), "gb18030"
    return _via_python(content, "gb18030", file_name), "gb18030"


def _is_utf8(content: bytes) -> bool:
    """Valid UTF-8, checked by Polars' validator: 2.5x faster than Python decoding the file into a str it
    then drops (0.65 s for a 300 MB export), and without that str's memory."""
    try:
        pl.Series([content], dtype=pl.Binary).cast(pl.Utf8)
    except pl.exceptions.ComputeError:
        return False
    return True


def _via_python(content: bytes, encoding: str, file_name: str) -> bytes:
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        raise UserError(
            f"{file_name}: 不是表格：内容既不是 Excel 工作簿，也不是 UTF-8 或 GB18030/GBK 文本，请另存为 xlsx 或 UTF-8 CSV。"
            f" / not a table: neither a workbook nor UTF-8 or GB18030/GBK text; save it as xlsx or UTF-8 CSV"
        ) from None
    return _checked(text.lstrip("\ufeff").encode("utf-8"), file_name)


def _via_iconv(content: bytes) -> bytes | None:
    """GB18030 -> UTF-8 with the system iconv; None when iconv is absent or refuses the bytes."""
    iconv = shutil.which("iconv")
    if iconv is None:
        return None
    try:
        done = subprocess.run([iconv, "-f", "GB18030", "-t", "UTF-8"], input=content, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _checked(utf8: bytes, file_name: str) -> bytes:
    """Refuse binary content that happens to decode (NUL bytes, mostly control characters)."""
    sample = utf8[:65536]
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if b"\x00" in sample or controls > max(8, len(sample) // 100):
        raise UserError(
            f"{file_name}: 这是二进制文件，不是表格（xlsx、xls、csv、txt）。 / binary data, not a table (xlsx, xls, csv, txt)"
        )
    return utf8
