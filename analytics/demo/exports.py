"""The demo store written as the files users actually bring, to test the importer on them.

| file | shape |
|---|---|
| 平时考核_长表_NN.xlsx (one workbook: 平时考核_长表.xlsx) | long; merged title row, a blank row, header, data, signature footer (填表人/审核人/制表日期); periods as `2024年第一季度`; split into workbooks of at most `max_rows_per_workbook` data rows |
| 平时考核_宽表_GB18030.csv | wide: one row per person and year, 一季度..四季度, 备注; GB18030, CRLF |
| 平时考核_长表_UTF8.csv | long with other header spellings (工号, 所在单位, 考核年度, Q1..Q4, 综合得分, 审核人) |
| 年度考核.csv | annual grades with the year's counts of 好/较好/一般/较差; UTF-8 with BOM |
| 结果运用.xlsx | outcome records (split like the quarterly workbooks when large), dates written `2025/3/1`, 金额 |
| 平时考核问卷.xlsx | the staff survey as a questionnaire platform exports it |

Everything streams year by year and workbooks are written by analytics.demo.workbook (vectorised
sheet XML), so a province of 1,000,000 people x 20 quarters exports in minutes with little memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl

from analytics.demo.workbook import ReportSheet, write_report
from analytics.vocab import QUARTER_NAMES_ZH

QUARTER_ZH = {1: "一季度", 2: "二季度", 3: "三季度", 4: "四季度"}
SIGNATURE = ("填表人：王芳", "审核人：李建国")
MADE_ON = "制表日期：2026年1月15日"

_LONG_CSV = {
    "person_id": "工号",
    "name": "姓名",
    "unit": "所在单位",
    "unit_type": "单位类别",
    "section": "科室",
    "position_level": "层级",
    "rank": "职务职级",
    "staff_type": "身份",
    "year": "考核年度",
    "q": "考核季度",
    "grade": "等次",
    "score": "综合得分",
    "reviewer": "审核人",
    "工作实绩": "工作实绩",
    "工作作风": "工作作风",
    "特殊群体": "特殊群体",
}
_PERSON_ZH = {
    "person_id": "人员编号",
    "name": "姓名",
    "unit": "单位",
    "unit_type": "单位类型",
    "section": "内设机构",
    "position_level": "职务层次",
    "rank": "职级",
    "staff_type": "人员类别",
}
_LONG_XLSX = {
    **_PERSON_ZH,
    "特殊群体": "特殊群体",
    "period": "季度",
    "grade": "考核等次",
    "score": "得分",
    "工作实绩": "工作实绩",
    "工作作风": "工作作风",
    "reviewer": "评鉴人",
}


def _read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.execute(sql, params or []).pl()


def _quarterly(con, year: int) -> pl.DataFrame:
    """One year's quarterly rows with the sub-scores and special group taken out of `extra`."""
    return _read(
        con,
        """SELECT *, json_extract(extra, '$.工作实绩')::DOUBLE AS 工作实绩, json_extract(extra, '$.工作作风')::DOUBLE AS 工作作风,
                  json_extract_string(extra, '$.特殊群体') AS 特殊群体
           FROM quarterly WHERE year = ? ORDER BY quarter, person_id""",
        [year],
    )


def _title(con) -> str:
    years = con.sql("SELECT min(year), max(year) FROM quarterly").fetchone()
    place = con.sql("SELECT unit FROM quarterly WHERE unit LIKE '%县%' LIMIT 1").fetchone()
    county = place[0][: place[0].index("县") + 1] if place else "某县"
    span = f"{years[0]}—{years[1]}" if years[0] != years[1] else f"{years[0]}"
    return f"{county}{span}年度公务员平时考核结果汇总表"


class RollingWorkbooks:
    """Report workbooks of at most `max_rows` data rows each: name_01.xlsx, name_02.xlsx ... (name.xlsx when one)."""

    def __init__(
        self,
        out: Path,
        stem: str,
        sheet: str,
        columns: list[str],
        max_rows: int,
        title: str | None = None,
        footer: list[str | None] | None = None,
    ):
        self.out, self.stem, self.sheet, self.columns = out, stem, sheet, columns
        self.max_rows, self.title, self.footer = max(1, max_rows), title, footer
        self.paths: list[Path] = []
        self.current: ReportSheet | None = None

    def _next(self) -> ReportSheet:
        if self.current is not None:
            self._close_current()
        path = self.out / f"{self.stem}_{len(self.paths) + 1:02d}.xlsx"
        self.paths.append(path)
        self.current = ReportSheet(path, self.sheet, ["序号", *self.columns], title=self.title)
        return self.current

    def _close_current(self) -> None:
        if self.footer:
            self.current.footer(self.footer)
        self.current.close()

    def write(self, frame: pl.DataFrame) -> None:
        done = 0
        while done < frame.height:
            book = self.current if self.current and self.current.rows_written < self.max_rows else self._next()
            take = min(self.max_rows - book.rows_written, frame.height - done)
            part = frame.slice(done, take).select(self.columns)
            first = book.rows_written + 1
            book.write(part.with_columns(pl.int_range(first, first + take).alias("序号")))
            done += take

    def close(self) -> list[Path]:
        if self.current is None:
            self._next()
        self._close_current()
        if len(self.paths) == 1:  # a single workbook carries the plain name
            single = self.out / f"{self.stem}.xlsx"
            self.paths[0].replace(single)
            self.paths = [single]
        return self.paths


def _long_xlsx_frame(q: pl.DataFrame) -> pl.DataFrame:
    period = pl.concat_str(
        [
            pl.col("year").cast(pl.Utf8),
            pl.lit("年"),
            pl.col("quarter").replace_strict(QUARTER_NAMES_ZH, return_dtype=pl.Utf8),
        ]
    )
    return q.with_columns(period=period).select([pl.col(k).alias(v) for k, v in _LONG_XLSX.items()])


def _wide_frame(q: pl.DataFrame) -> pl.DataFrame:
    person = list(_PERSON_ZH)
    wide = q.with_columns(pl.col("quarter").replace_strict(QUARTER_ZH, return_dtype=pl.Utf8).alias("q")).pivot(
        on="q", index=[*person, "year"], values="grade", aggregate_function="first"
    )
    for name in QUARTER_ZH.values():
        if name not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name))
    notes = q.group_by("person_id", "year").agg(pl.col("特殊群体").drop_nulls().first().alias("备注"))
    wide = wide.join(notes, on=["person_id", "year"], how="left").sort("year", "person_id")
    return wide.select(
        *[pl.col(c).alias(z) for c, z in _PERSON_ZH.items()],
        pl.col("year").alias("年度"),
        *QUARTER_ZH.values(),
        pl.col("备注"),
    )


def _long_csv_frame(q: pl.DataFrame) -> pl.DataFrame:
    return q.with_columns(pl.concat_str([pl.lit("Q"), pl.col("quarter").cast(pl.Utf8)]).alias("q")).select(
        [pl.col(k).alias(v) for k, v in _LONG_CSV.items()]
    )


def _quarterly_files(con, out: Path, max_rows: int) -> list[Path]:
    """The three quarterly exports, written a year at a time."""
    books = RollingWorkbooks(
        out,
        "平时考核_长表",
        "平时考核",
        list(_LONG_XLSX.values()),
        max_rows,
        title=_title(con),
        footer=[SIGNATURE[0], None, None, None, SIGNATURE[1], None, None, None, MADE_ON],
    )
    wide_path, long_path = out / "平时考核_宽表_GB18030.csv", out / "平时考核_长表_UTF8.csv"
    years = [y for (y,) in con.sql("SELECT DISTINCT year FROM quarterly ORDER BY 1").fetchall()]
    with wide_path.open("wb") as wide_csv, long_path.open("wb") as long_csv:
        for i, year in enumerate(years):
            q = _quarterly(con, year)
            books.write(_long_xlsx_frame(q))
            text = _wide_frame(q).write_csv(line_terminator="\r\n", null_value="", include_header=i == 0)
            wide_csv.write(text.encode("gb18030"))
            _long_csv_frame(q).write_csv(long_csv, null_value="", include_header=i == 0)
    return [*books.close(), wide_path, long_path]


def _annual_csv(con, out: Path) -> Path:
    target = out / "年度考核.csv"
    years = [y for (y,) in con.sql("SELECT DISTINCT year FROM annual ORDER BY 1").fetchall()]
    with target.open("wb") as f:
        f.write(b"\xef\xbb\xbf")
        for i, year in enumerate(years):
            a = _read(
                con,
                """SELECT *, json_extract(extra, '$.好次数')::INT AS g, json_extract(extra, '$.较好次数')::INT AS fg,
                          json_extract(extra, '$.一般次数')::INT AS av, json_extract(extra, '$.较差次数')::INT AS po,
                          json_extract_string(extra, '$.特殊群体') AS 特殊群体
                   FROM annual WHERE year = ? ORDER BY person_id""",
                [year],
            )
            frame = a.select(
                *[pl.col(c).alias(z) for c, z in _PERSON_ZH.items()],
                pl.col("year").alias("年度"),
                pl.col("g").alias("好次数"),
                pl.col("fg").alias("较好次数"),
                pl.col("av").alias("一般次数"),
                pl.col("po").alias("较差次数"),
                pl.col("score").alias("得分"),
                pl.col("annual_grade").alias("年度考核等次"),
                "特殊群体",
            )
            frame.write_csv(f, null_value="", include_header=i == 0)
    return target


def _outcomes_xlsx(con, out: Path, max_rows: int) -> list[Path]:
    columns = ["人员编号", "姓名", "单位", "日期", "考核年度", "运用类型", "说明", "金额"]
    books = RollingWorkbooks(out, "结果运用", "结果运用", columns, max_rows)
    years = [y for (y,) in con.sql("SELECT DISTINCT year(date) FROM outcomes ORDER BY 1").fetchall()]
    for year in years:
        o = _read(con, "SELECT * FROM outcomes WHERE year(date) = ? ORDER BY date, person_id, outcome", [year])
        books.write(
            o.select(
                pl.col("person_id").alias("人员编号"),
                pl.col("name").alias("姓名"),
                pl.col("unit").alias("单位"),
                pl.format(
                    "{}/{}/{}", pl.col("date").dt.year(), pl.col("date").dt.month(), pl.col("date").dt.day()
                ).alias("日期"),
                pl.col("year").alias("考核年度"),
                pl.col("outcome_raw").alias("运用类型"),
                pl.col("detail").alias("说明"),
                pl.col("amount").alias("金额"),
            )
        )
    return books.close()


def survey_sheet(con) -> pl.DataFrame:
    """The stored survey back in its export shape: 序号, attributes, one column per question."""
    items = _read(con, "SELECT item_id, position, item_text, item_type FROM survey_items ORDER BY position")
    if items.height == 0:
        return pl.DataFrame()
    respondents = _read(
        con, "SELECT respondent_id, unit, attributes, source_row FROM survey_respondents ORDER BY source_row"
    )
    answers = (
        _read(con, "SELECT respondent_id, item_id, answer FROM survey_answers")
        .group_by("respondent_id", "item_id", maintain_order=True)
        .agg(pl.col("answer").str.join("、"))
    )
    questions = items.filter(pl.col("item_type") != "attribute")
    wide = answers.join(questions.select("item_id", "item_text"), on="item_id").pivot(
        on="item_text", index="respondent_id", values="answer"
    )
    attributes = [t for t in items.filter(pl.col("item_type") == "attribute")["item_text"] if t != "单位"]
    base = respondents.select(
        pl.col("respondent_id").alias("序号"),
        pl.col("unit").alias("单位"),
        *[pl.col("attributes").str.json_path_match(f"$.{a}").alias(a) for a in attributes],
        pl.col("respondent_id"),
    )
    frame = base.join(wide, on="respondent_id", how="left").drop("respondent_id")
    ordered = ["序号", "单位", *attributes, *[t for t in questions["item_text"] if t in frame.columns]]
    return frame.select(ordered)


def write_exports(
    db_path: str | os.PathLike, out_dir: str | os.PathLike, max_rows_per_workbook: int = 500_000
) -> list[Path]:
    """Write the demo store as real-looking export files into out_dir; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path), read_only=True) as con:
        files = _quarterly_files(con, out, max_rows_per_workbook)
        files.append(_annual_csv(con, out))
        files += _outcomes_xlsx(con, out, max_rows_per_workbook)
        survey = survey_sheet(con)
    if survey.height:
        files.append(write_report(survey, out / "平时考核问卷.xlsx", "问卷"))
    return files
