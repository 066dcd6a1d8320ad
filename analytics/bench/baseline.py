"""What users do today, written as a competent analyst would: pandas + openpyxl.

The same import, normalisation, lane ranking and quota check as the product, on the same
files, so the benchmark can compare times and check that both give the same answers.
It knows the files' layout in advance (header row, footer, quarter spellings), as a script
written for one export would; the product finds all of that by itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.vocab import QUARTERLY_GRADE_ALIASES

COLUMNS = {"人员编号": "person_id", "工号": "person_id", "姓名": "name", "单位": "unit", "所在单位": "unit",
           "单位类型": "unit_type", "内设机构": "section", "科室": "section", "职务层次": "position_level",
           "年度": "year", "季度": "quarter", "考核等次": "grade", "等次": "grade", "得分": "score",
           "审核人": "reviewer", "评鉴人": "reviewer"}
QUARTER_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4}
WIDE_QUARTERS = {"一季度": 1, "二季度": 2, "三季度": 3, "四季度": 4}


def _header_row(path: Path) -> int:
    """0-based row of the header: the first row whose cells include 姓名 (openpyxl, read-only)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        for i, row in enumerate(book.worksheets[0].iter_rows(max_row=20, values_only=True)):
            if "姓名" in row:
                return i
    finally:
        book.close()
    raise ValueError(f"{path}: no header")


def _quarter(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = text.astype(str).str.extract(r"(\d{4})\D*(?:第)?([一二三四1-4])")
    year = pd.to_numeric(parts[0])
    quarter = parts[1].replace(QUARTER_WORDS).astype(int)
    return year, quarter


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns=lambda c: COLUMNS.get(str(c).strip(), str(c).strip()))
    df = df[df["name"].notna() & df["grade"].notna()].copy()
    df["grade"] = df["grade"].astype(str).str.strip().str.lower().map(QUARTERLY_GRADE_ALIASES)
    if df["quarter"].dtype == object:
        year, quarter = _quarter(df["quarter"])
        df["year"] = df["year"].fillna(year) if "year" in df else year
        df["quarter"] = quarter
    df["year"] = df["year"].astype(int)
    df["quarter"] = df["quarter"].astype(int)
    return df


def read_xlsx(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_excel(p, engine="openpyxl", header=_header_row(p), dtype={"工号": str, "人员编号": str})
              for p in paths]
    return _normalise(pd.concat(frames, ignore_index=True))


def read_wide_csv(path: Path, encoding: str = "gb18030") -> pd.DataFrame:
    df = pd.read_csv(path, encoding=encoding, dtype=str)
    ids = [c for c in df.columns if c not in WIDE_QUARTERS and not c.endswith("得分")]
    long = df.melt(id_vars=ids, value_vars=list(WIDE_QUARTERS), var_name="quarter", value_name="grade")
    long["quarter"] = long["quarter"].map(WIDE_QUARTERS)
    return _normalise(long)


def read_long_csv(path: Path) -> pd.DataFrame:
    return _normalise(pd.read_csv(path, encoding="utf-8-sig", dtype={"人员编号": str, "工号": str}))


def lane_ranking(df: pd.DataFrame, year: int, quarter: int) -> pd.DataFrame:
    """Rank people by score within unit type x position level, competition ties."""
    q = df[(df["year"] == year) & (df["quarter"] == quarter) & df["score"].notna()].copy()
    q["lane"] = q["unit_type"].astype(str) + "·" + q["position_level"].astype(str)
    q["rank"] = q.groupby("lane")["score"].rank(method="min", ascending=False).astype(int)
    return q[["lane", "person_id", "score", "rank"]].sort_values(["lane", "rank", "person_id"])


def quota_check(df: pd.DataFrame, cap: float = 0.4) -> pd.DataFrame:
    graded = df[df["grade"].isin(["好", "较好", "一般", "较差"])]
    graded = graded.assign(is_good=graded["grade"].eq("好"))
    g = graded.groupby(["unit", "year", "quarter"]).agg(n=("grade", "size"), good=("is_good", "sum"))
    g["quota"] = np.floor(cap * g["n"]).astype(int).clip(lower=1)
    g["over"] = g["good"] > g["quota"]
    return g.reset_index()


def run(kind: str, paths: list[str], year: int, quarter: int) -> dict:
    """One end-to-end baseline run: read + normalise, rank one quarter, check quotas."""
    files = [Path(p) for p in paths]
    t0 = time.perf_counter()
    if kind == "xlsx":
        df = read_xlsx(files)
    elif kind == "gb18030":
        df = read_wide_csv(files[0])
    else:
        df = read_long_csv(files[0])
    t_import = time.perf_counter() - t0
    ranked = lane_ranking(df, year, quarter) if "score" in df else None
    quota = quota_check(df)
    total = time.perf_counter() - t0
    return {"seconds": total, "rows": len(df), "import_s": round(t_import, 3),
            "ranked": 0 if ranked is None else len(ranked), "over_quota": int(quota["over"].sum()),
            "checksum": _checksum(df)}


def _checksum(df: pd.DataFrame) -> str:
    counts = df.groupby("grade").size().sort_index()
    return ";".join(f"{k}={v}" for k, v in counts.items()) + f";n={len(df)}"


