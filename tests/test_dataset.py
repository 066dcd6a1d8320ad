"""load_dataset reads the quarterly rows from the tables behind the view: the same frame the view gives."""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa
from polars.testing import assert_frame_equal

from analytics import store
from analytics.dataset import EVERYTHING, Scope, _read_with_lanes, load_dataset
from analytics.schema import ANNUAL, OUTCOMES, QUARTERLY
from analytics.settings import LaneRule, Lanes, Settings

# 王五 moves from 财政局 to 税务局; 李四 has no section and no position level (the default lane shows '?'); the
# lane rule names 窗口服务 units; 赵六's file gave an explicit lane.
ROWS = pl.DataFrame(
    {
        "person_id": ["P1", "P1", "P2", "P2", "P2", "P3", "P4"],
        "name": ["李四", "李四", "王五", "王五", "王五", "赵六", "钱七"],
        "unit": ["财政局", "财政局", "财政局", "税务局", "税务局", "税务局", "政务服务中心"],
        "unit_type": ["综合管理", "综合管理", "综合管理", "行政执法", "行政执法", "行政执法", "窗口服务"],
        "section": [None, None, "办公室", "征管科", "征管科", "征管科", "窗口一科"],
        "position_level": [None, None, "一般干部", "一般干部", "一般干部", "中层正职", "一般干部"],
        "lane": [None, None, None, None, None, "执法骨干", None],
        "year": [2024, 2024, 2024, 2024, 2025, 2025, 2025],
        "quarter": [1, 2, 1, 2, 1, 1, 1],
        "grade": ["好", "较好", "一般", "好", "好", "较好", "好"],
        "score": [91.0, 85.5, None, 90.0, 88.0, 87.0, 92.0],
        "import_id": [1, 1, 1, 2, 2, 2, 2],
        "source_row": [2, 3, 4, 2, 3, 4, 5],
    },
    schema_overrides={"year": pl.Int32, "quarter": pl.Int32, "import_id": pl.Int32, "source_row": pl.Int32},
)
SETTINGS = Settings().replace(lanes=Lanes(rules=(LaneRule("窗口", unit_types=("窗口服务",)),)))


def _store(path, rows: pl.DataFrame = ROWS):
    con = store.connect(path)
    store.insert_frame(con, "quarterly", rows)
    return con


def test_the_quarterly_frame_is_the_views_rows_with_their_lanes_in_and_out_of_scope(tmp_path):
    con = _store(tmp_path / "s.duckdb")
    try:
        for scope in (EVERYTHING, Scope(units=frozenset({"税务局"})), Scope(units=frozenset({"无此单位"}))):
            got = load_dataset(con, SETTINGS, scope).quarterly
            assert_frame_equal(got, _read_with_lanes(con, QUARTERLY, scope, SETTINGS), check_exact=True)
        lanes = load_dataset(con, SETTINGS).quarterly["lane"].to_list()
        assert lanes == ["综合管理·?", "综合管理·?", "综合管理·一般干部", "行政执法·一般干部", "行政执法·一般干部",
                         "执法骨干", "窗口"]  # fmt: skip
        assert load_dataset(con, SETTINGS, Scope(units=frozenset({"税务局"}))).quarterly["person_id"].to_list() == [
            "P2",
            "P2",
            "P3",
        ]
    finally:
        con.close()


def test_a_store_in_the_old_layout_is_read_through_its_quarterly_table(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for table in (ANNUAL, OUTCOMES):
        con.execute(table.ddl())
    _rows = ROWS.with_columns(  # noqa: F841 (read by DuckDB by name)
        *(pl.lit(None, dtype=t).alias(c) for c, t in QUARTERLY.polars_schema().items() if c not in ROWS.columns)
    ).select(QUARTERLY.column_names)
    con.execute("CREATE TABLE quarterly AS SELECT * FROM _rows")
    con.close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = load_dataset(con, SETTINGS).quarterly
        assert_frame_equal(got, _read_with_lanes(con, QUARTERLY, EVERYTHING, SETTINGS), check_exact=True)
        assert got.height == ROWS.height
    finally:
        con.close()


def test_rows_keep_the_order_they_were_written_in_when_read_on_several_threads(tmp_path):
    n = 300_000  # several row groups, so DuckDB scans them on several threads
    rows = pl.DataFrame(
        {"person_id": (pl.int_range(n, eager=True) % 5000).cast(pl.Utf8), "unit": pl.repeat("财政局", n, eager=True),
         "year": pl.repeat(2024, n, eager=True, dtype=pl.Int32), "quarter": pl.repeat(1, n, eager=True, dtype=pl.Int32),
         "source_row": pl.int_range(n, eager=True).cast(pl.Int32)}
    )  # fmt: skip
    con = _store(tmp_path / "big.duckdb", rows)
    try:
        con.execute("SET threads = 4")
        assert load_dataset(con, SETTINGS).quarterly["source_row"].equals(rows["source_row"])
    finally:
        con.close()


def _string_bytes(column: pl.Series) -> int:
    """Bytes of the column's string data buffers (each buffer once), as Arrow string views hold them."""
    array = column.to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    buffers = {b.address: b.size for chunk in chunks for b in chunk.buffers()[2:] if b is not None}
    return sum(buffers.values())


def test_a_persons_attributes_are_held_once_not_copied_onto_every_quarter(tmp_path):
    unit = "某某市某某区人力资源和社会保障局综合执法大队"  # longer than a string view holds inline
    n = 20_000
    rows = pl.DataFrame(
        {"person_id": (pl.int_range(n, eager=True) % 100).cast(pl.Utf8), "unit": pl.repeat(unit, n, eager=True),
         "year": pl.repeat(2024, n, eager=True, dtype=pl.Int32), "quarter": pl.repeat(1, n, eager=True, dtype=pl.Int32)}
    )  # fmt: skip
    con = _store(tmp_path / "s.duckdb", rows)
    try:
        quarterly = load_dataset(con, SETTINGS).quarterly
    finally:
        con.close()
    assert quarterly["unit"].to_list() == [unit] * n
    # 100 people, one attribute set each: a copy per row would be n times the name's bytes.
    assert _string_bytes(quarterly["unit"]) <= 100 * len(unit.encode()) * 2
