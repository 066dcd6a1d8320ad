"""Hostile uploads: a bounded fuzz of the importer (hypothesis, derandomised so CI sees the same cases).

Every input ends in a result ('imported', 'partial', 'duplicate', 'refused') or a UserError (what the app
shows as a clear message), never another exception; and a refused file leaves every table of the store
exactly as it was (no partial write). Three kinds of input: random bytes under upload-like names, random
CSV text with the Chinese headers real exports use (in UTF-8, GB18030 and UTF-16, comma or tab separated,
with formulas, blanks and junk in the cells), and the real xlsx samples mutated (bytes flipped, truncated,
sheet XML or shared strings rewritten, zip members dropped). The preview the Data page shows first is
held to the same rule.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import store
from analytics.errors import UserError
from analytics.importer import import_bytes, preview_bytes

SAMPLES = Path(__file__).parent / "samples"
XLSX_SAMPLES = sorted(SAMPLES.glob("*.xlsx"))
RESULTS = {"imported", "partial", "duplicate", "refused"}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HEADERS = [
    "人员编号", "工号", "姓名", "单位", "所在单位", "单位类型", "内设机构", "职务层次", "职务职级", "人员类别",
    "年度", "季度", "考核期", "等次", "考核等次", "得分", "评鉴人", "年度考核等次", "结果运用", "日期", "金额",
    "一季度", "二季度", "三季度", "四季度", "备注", "序号", "性别", "您对考核工作的满意度",
]  # fmt: skip
CELLS = st.one_of(
    st.sampled_from(
        [
            "好",
            "较好",
            "一般",
            "较差",
            "不确定等次",
            "优秀",
            "称职",
            "2024",
            "2024Q1",
            "2024年第一季度",
            "1",
            "5",
            "",
            " ",
            "NULL",
            "=1+1",
            "+cmd|' /C calc'!A0",
            "@SUM(A1)",
            "-1",
            "100.5",
            "1e309",
            "常山县财政局",
            "张三",
            "\u3000",
            "9" * 40,
        ]
    ),  # fmt: skip
    st.text(max_size=12),
    st.integers(-(10**12), 10**12).map(str),
)
NAMES = st.sampled_from(["上传.csv", "上传.xlsx", "上传.xls", "上传.txt", "../../etc/passwd.csv", "无扩展名", "a.CSV"])


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A store holding a real quarterly import and a survey, so a partial write would show in the counts."""
    path = tmp_path_factory.mktemp("fuzz") / "store.duckdb"
    for sample in ("平时考核_宽表_GBK.csv", "平时考核问卷_2024.xlsx"):
        assert import_bytes(path, (SAMPLES / sample).read_bytes(), sample).status == "imported"
    return path


def counts(db: Path) -> dict[str, int]:
    con = store.connect(db, read_only=True)
    try:
        return store.table_counts(con)
    finally:
        con.close()


TALLY: dict[str, dict[str, int]] = {}


def check(db: Path, content: bytes, name: str, partial: bool, kind: str) -> None:
    """The rule every input must follow (and a tally of outcomes for the report)."""
    with contextlib.suppress(UserError):
        preview_bytes(content, name)
    before = counts(db)
    try:
        outcome = import_bytes(db, content, name, partial=partial, user="fuzz").status
    except UserError:
        outcome = "user_error"
    after = counts(db)
    assert outcome in RESULTS | {"user_error"}
    if outcome in ("refused", "user_error", "duplicate"):
        assert after == before, f"{outcome} but the store changed: {before} -> {after}"
    else:
        assert after["imports"] == before["imports"] + 1
    tally = TALLY.setdefault(kind, {})
    tally[outcome] = tally.get(outcome, 0) + 1


@FUZZ
@given(content=st.binary(max_size=4096), name=NAMES, partial=st.booleans())
def test_random_bytes(db, content, name, partial):
    check(db, content, name, partial, "bytes")


VALID = {  # plausible values per header, so many files get past the header check into the rows
    "人员编号": st.from_regex(r"CS[0-9]{4}", fullmatch=True), "姓名": st.sampled_from(["张三", "李四", "王五", "赵六"]),
    "单位": st.sampled_from(["常山县财政局", "城关镇"]), "年度": st.sampled_from(["2024", "2025"]),
    "季度": st.sampled_from(["1", "2", "3", "4", "第一季度"]), "等次": st.sampled_from(["好", "较好", "一般", "较差"]),
    "得分": st.floats(0, 100).map(lambda v: f"{v:.1f}"), "年度考核等次": st.sampled_from(["优秀", "称职", "基本称职"]),
}  # fmt: skip
QUARTERLY_HEADERS = ["人员编号", "姓名", "单位", "年度", "季度", "等次"]


@st.composite
def csv_files(draw) -> tuple[bytes, str]:
    if draw(st.booleans()):  # a real header set, shuffled, with extras
        headers = draw(st.permutations(QUARTERLY_HEADERS + draw(st.lists(st.sampled_from(HEADERS), max_size=3))))
    else:
        headers = draw(st.lists(st.one_of(st.sampled_from(HEADERS), st.text(max_size=6)), min_size=1, max_size=9))
    junk = draw(st.floats(0, 1))  # how much of each column is junk
    rows = draw(st.lists(st.tuples(*[
        st.one_of(VALID[h], CELLS) if h in VALID and junk < 0.7 else CELLS for h in headers
    ]), max_size=25))  # fmt: skip
    sep = draw(st.sampled_from([",", "\t"]))
    title = draw(st.sampled_from(["", "2024年平时考核结果汇总表\n", "\n\n"]))
    footer = draw(st.sampled_from(["", "\n制表人：张三  审核人：李四\n"]))
    quote = lambda v: '"' + v.replace('"', '""') + '"' if any(c in v for c in ',\t"\n\r') else v  # noqa: E731
    text = title + "\n".join(sep.join(quote(v) for v in row) for row in [headers, *rows]) + footer
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    return text.encode(encoding, errors="replace"), draw(st.sampled_from(["平时考核.csv", "导出.txt", "年度.csv"]))


@settings(FUZZ, max_examples=100)
@given(file=csv_files(), partial=st.booleans())
def test_random_csv_with_chinese_headers(db, file, partial):
    content, name = file
    check(db, content, name, partial, "csv")


def _rezip(original: bytes, change) -> bytes:
    """The workbook with its members passed through change(name, data) -> data or None (dropped)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info.filename, data)
    return out.getvalue()


@st.composite
def mutated_xlsx(draw) -> bytes:
    original = XLSX_SAMPLES[draw(st.integers(0, len(XLSX_SAMPLES) - 1))].read_bytes()
    how = draw(st.sampled_from(["flip", "truncate", "sheet", "strings", "drop"]))
    if how == "flip":
        data = bytearray(original)
        for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[pos] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    junk = draw(st.binary(min_size=1, max_size=64))
    at = draw(st.floats(0, 1))

    def splice(data: bytes) -> bytes:
        cut = int(len(data) * at)
        return data[:cut] + junk + data[cut:]

    if how == "sheet":
        return _rezip(original, lambda n, d: splice(d) if n.startswith("xl/worksheets/") else d)
    if how == "strings":
        text = draw(st.text(max_size=20)).replace("<", "").replace("&", "")
        return _rezip(original, lambda n, d: d.replace(b"<t>", b"<t>" + text.encode(), 3) if n.endswith("sharedStrings.xml") else d)  # fmt: skip
    member = draw(st.sampled_from(["xl/workbook.xml", "xl/sharedStrings.xml", "[Content_Types].xml", "xl/styles.xml"]))
    return _rezip(original, lambda n, d: None if n == member else d)


@FUZZ
@given(content=mutated_xlsx(), partial=st.booleans())
def test_mutated_real_xlsx_samples(db, content, partial):
    check(db, content, "样本.xlsx", partial, "xlsx")


def test_fuzz_tally_covers_both_outcomes():
    """Runs after the three fuzz tests (file order): the inputs reached both success and refusal."""
    if len(TALLY) < 3:
        pytest.skip("run with the fuzz tests above")
    print("fuzz tally:", TALLY)
    outcomes = {o for kind in TALLY.values() for o in kind}
    assert outcomes & {"imported", "partial", "duplicate"} and outcomes & {"refused", "user_error"}
