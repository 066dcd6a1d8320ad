"""The quarterly view over narrow facts and distinct person attributes; old stores migrate on open."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import polars as pl

from analytics import quarterly_store, snapshots, store
from analytics.schema import QUARTERLY, QUARTERLY_FACTS, QUARTERLY_PEOPLE, TABLES

# Two people; 王五 moves from 财政局 to 税务局 between quarters, 李四 has no section (NULL attributes match).
ROWS = pl.DataFrame(
    {
        "person_id": ["P1", "P1", "P2", "P2", "P2"],
        "name": ["李四", "李四", "王五", "王五", "王五"],
        "unit": ["财政局", "财政局", "财政局", "税务局", "税务局"],
        "section": [None, None, "办公室", "征管科", "征管科"],
        "year": [2024, 2024, 2024, 2024, 2025],
        "quarter": [1, 2, 1, 2, 1],
        "grade": ["好", "较好", "一般", "好", "好"],
        "score": [91.0, 85.5, None, 90.0, 88.0],
        "extra": [None, '{"备注":"借调"}', None, None, None],
        "import_id": [1, 1, 1, 2, 2],
        "source_row": [2, 3, 4, 2, 3],
    },
    schema_overrides={"year": pl.Int32, "quarter": pl.Int32, "import_id": pl.Int32, "source_row": pl.Int32},
)


def _documented(frame: pl.DataFrame) -> pl.DataFrame:
    schema = QUARTERLY.polars_schema()
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(schema[c]).alias(c) for c in QUARTERLY.column_names]
    )


def _old_layout_store(path) -> None:
    """A store as written before the split: `quarterly` a table (without the later `month` and `lane`)."""
    con = duckdb.connect(str(path))
    old = replace(QUARTERLY, view=False, columns=tuple(c for c in QUARTERLY.columns if c[0] not in ("month", "lane")))
    for table in TABLES:
        if table is QUARTERLY:
            con.execute(old.ddl())
        elif table not in (QUARTERLY_PEOPLE, QUARTERLY_FACTS):
            con.execute(table.ddl())
    con.register("rows", ROWS.to_arrow())
    con.execute("INSERT INTO quarterly BY NAME SELECT * FROM rows")
    con.close()


def test_an_old_store_is_migrated_on_open_with_every_row_and_the_same_data_version(tmp_path):
    db = tmp_path / "old.duckdb"
    _old_layout_store(db)
    con = duckdb.connect(str(db), read_only=True)
    before = con.execute("SELECT * FROM quarterly").pl()
    version, sample = snapshots.data_version(con), snapshots._sample(con)  # a snapshot of the old store reads
    con.close()

    con = store.connect(db)  # a write-open migrates
    try:
        kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'quarterly'").fetchone()
        after = con.execute("SELECT * FROM quarterly").pl()
        assert kind == ("VIEW",)
        assert after.columns == QUARTERLY.column_names and dict(after.schema) == QUARTERLY.polars_schema()
        assert after.equals(_documented(before))  # same rows, same order; the added columns NULL
        assert con.execute("SELECT count(*) FROM quarterly_people").fetchone()[0] == 3  # 李四, 王五 twice
        assert con.execute("SELECT count(*) FROM quarterly_facts").fetchone()[0] == ROWS.height
        assert snapshots.data_version(con) == version  # the flags computed on the old layout still apply
        assert snapshots._sample(con) == sample
    finally:
        con.close()
    con = store.connect(db)  # opening again changes nothing
    try:
        assert con.execute("SELECT * FROM quarterly").pl().equals(after)
    finally:
        con.close()


def test_insert_keeps_one_row_per_attribute_set_and_reads_back_as_written(tmp_path):
    con = store.connect(tmp_path / "new.duckdb")
    try:
        assert store.insert_frame(con, "quarterly", ROWS.filter(pl.col("import_id") == 1)) == 3
        assert store.insert_frame(con, "quarterly", ROWS.filter(pl.col("import_id") == 2)) == 2
        people = con.execute("SELECT person_id, unit, section FROM quarterly_people ORDER BY person_key").fetchall()
        assert people == [("P1", "财政局", None), ("P2", "财政局", "办公室"), ("P2", "税务局", "征管科")]
        assert con.execute("SELECT * FROM quarterly").pl().equals(_documented(ROWS))

        assert quarterly_store.delete_import(con, 2) == 2  # undo: the facts, and the attribute set nobody uses now
        assert con.execute("SELECT count(*) FROM quarterly_people").fetchone()[0] == 2
        assert con.execute("SELECT * FROM quarterly").pl().equals(_documented(ROWS.filter(pl.col("import_id") == 1)))
    finally:
        con.close()


def test_undo_of_an_import_removes_its_quarterly_rows_and_their_people(tmp_path, samples):
    from analytics.importer import import_bytes, undo

    db = tmp_path / "s.duckdb"
    first = import_bytes(db, (samples / "平时考核_宽表_GBK.csv").read_bytes(), "平时考核_宽表_GBK.csv")
    assert first.status == "imported" and first.rows == 368
    assert undo(db, first.import_id) == 368
    con = store.connect(db, read_only=True)
    try:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM quarterly), (SELECT count(*) FROM quarterly_people)"
        ).fetchone()
    finally:
        con.close()
    assert counts == (0, 0)


def test_the_view_reads_rows_in_the_order_they_were_written_even_when_read_in_parallel(tmp_path):
    n = 300_000  # several row groups, so DuckDB joins them on several threads
    rows = pl.DataFrame(
        {"person_id": (pl.int_range(n, eager=True) % 5000).cast(pl.Utf8), "year": pl.repeat(2024, n, eager=True),
         "source_row": pl.int_range(n, eager=True).cast(pl.Int32)}
    )  # fmt: skip
    con = store.connect(tmp_path / "big.duckdb")
    try:
        con.execute("SET threads = 4")
        store.insert_frame(con, "quarterly", rows)
        assert con.execute("SELECT source_row FROM quarterly").pl()["source_row"].equals(rows["source_row"])
    finally:
        con.close()
