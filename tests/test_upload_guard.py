"""Uploads are checked for size, real type and decompressed size before parsing."""

from __future__ import annotations

import io
import zipfile

import pytest

from analytics.errors import UserError
from analytics.upload_guard import Limits, check_upload, sniff_type


def _xlsx_like(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_real_samples_pass(samples):
    assert check_upload((samples / "平时考核_2024_长表.xlsx").read_bytes(), "a.xlsx") == "xlsx"
    assert check_upload((samples / "平时考核_宽表_GBK.csv").read_bytes(), "b.csv") == "text"


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"\x00\x01\x02\x03" * 100, "not a table"),
        (_xlsx_like({"hello.txt": b"hi"}), "zip archive"),
        (b"PK\x03\x04garbage", "zip archive"),
    ],
    ids=["empty", "binary", "zip-without-workbook", "damaged-zip"],  # the zip bytes hold a timestamp: not stable ids
)
def test_refusals_say_what_is_wrong(content, message):
    with pytest.raises(UserError, match=message):
        check_upload(content, "x.xlsx")


def test_oversized_upload_refused():
    with pytest.raises(UserError, match="over the 1 MB limit"):
        check_upload(b"a,b\n" * 300_000, "big.csv", Limits(max_bytes=1024 * 1024))


def test_zip_bomb_refused_before_parsing():
    bomb = _xlsx_like({"[Content_Types].xml": b"<x/>", "xl/worksheets/sheet1.xml": b"0" * (60 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    with pytest.raises(UserError, match="zip bomb|expands to"):
        check_upload(bomb, "bomb.xlsx", Limits(max_unzipped_bytes=50 * 1024 * 1024))
    with pytest.raises(UserError, match="zip bomb"):
        check_upload(bomb, "bomb.xlsx")


def test_type_comes_from_bytes_not_name():
    assert sniff_type("姓名,单位\n张三,财政局\n".encode("gb18030")) == "text"
    assert sniff_type(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100) == "xls"
