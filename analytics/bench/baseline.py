"""What users do today, written as a competent analyst would: pandas, with its default engines
(openpyxl for xlsx, the C parser for CSV) or its fastest (calamine for xlsx, pyarrow for CSV).

The same import, normalisation, lane ranking and quota check as the product, on the same files, so
the benchmark can time both and check that they give the same answers. The script knows its files in
advance (header row found by looking for 姓名, column spellings, quarter spellings), as a script written
for one set of exports would; the product finds all of that by itself.

Rules mirrored from the product so the answers can be compared:
- lane = 单位类型·职务层次; lanes with fewer than 5 people are pooled into 单位类型·合并, then 合并赛道;
- a lane ranks the people with a score by score (those without one get no rank); a lane where nobody
  has a score ranks by grade points (好 4 … 较差 1); competition ranking (1, 2, 2, 4), best first;
  不确定等次 gets no rank;
- quota per unit and quarter: max(floor(0.4 n), 1) with n = people graded 好/较好/一般/较差.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.vocab import GRADE_POINTS, QUARTERLY_GRADE_ALIASES

COLUMNS = {
    "人员编号": "person_id", "工号": "person_id", "姓名": "name", "单位": "unit", "所在单位": "unit",
    "单位类型": "unit_type", "单位类别": "unit_type", "内设机构": "section", "科室": "section",
    "职务层次": "position_level", "层级": "position_level", "年度": "year", "考核年度": "year",
    "季度": "quarter", "考核季度": "quarter", "考核等次": "grade", "等次": "grade", "得分": "score",
    "综合得分": "score", "审核人": "reviewer", "评鉴人": "reviewer",
}  # fmt: skip
QUARTER_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
WIDE_QUARTERS = {"一季度": 1, "二季度": 2, "三季度": 3, "四季度": 4}
MIN_LANE = 5
CAP = 0.4


# ----------------------------------------------------------------------------- reading


# pandas' engines: the default ones, and the fastest a user would pick (pandas' own docs name them).
ENGINES = {"xlsx": ("openpyxl", "calamine"), "gb18030": ("c", "pyarrow"), "utf8": ("c", "pyarrow")}
DEFAULT_ENGINE = {kind: engines[0] for kind, engines in ENGINES.items()}
FASTEST_ENGINE = {kind: engines[1] for kind, engines in ENGINES.items()}


def _header_row(path: Path, engine: str = "openpyxl") -> int:
    """0-based row of the header: the first of the first 20 rows whose cells include 姓名 (with the same engine)."""
    top = pd.read_excel(path, engine=engine, header=None, nrows=20, dtype=str)
    for i, row in enumerate(top.itertuples(index=False)):  # 20 rows, not the data
        if "姓名" in row:
            return i
    raise ValueError(f"{path}: no header")


def _quarter(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """('2024年第一季度' | 'Q1' | '一季度') -> (year or NaN, quarter 1-4)."""
    text = text.astype(str)
    year = pd.to_numeric(text.str.extract(r"(\d{4})", expand=False), errors="coerce")
    quarter = text.str.extract(r"([一二三四1-4])(?:季度)?\s*$", expand=False).map(QUARTER_WORDS)
    return year, quarter


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """English column names, footer and blank rows dropped, grades and quarters normalised."""
    df = df.rename(columns=lambda c: COLUMNS.get(str(c).strip(), str(c).strip()))
    df = df[df["name"].notna() & df["grade"].notna()].copy()
    df["person_id"] = df["person_id"].astype(str).str.strip()
    df["grade"] = df["grade"].astype(str).str.strip().str.lower().map(QUARTERLY_GRADE_ALIASES)
    if df["quarter"].dtype == object:
        year, quarter = _quarter(df["quarter"])
        df["year"] = df["year"].fillna(year) if "year" in df else year
        df["quarter"] = quarter
    df["year"] = pd.to_numeric(df["year"]).astype(int)
    df["quarter"] = df["quarter"].astype(int)
    if "score" in df:
        df["score"] = pd.to_numeric(df["score"], errors="coerce")
    return df


def read_xlsx(paths: list[Path], engine: str = "openpyxl") -> pd.DataFrame:
    frames = [pd.read_excel(p, engine=engine, header=_header_row(p, engine), dtype={"人员编号": str, "工号": str})
              for p in paths]  # fmt: skip
    return normalise(pd.concat(frames, ignore_index=True))


def read_wide_csv(paths: list[Path], engine: str = "c", encoding: str = "gb18030") -> pd.DataFrame:
    # With the pyarrow engine, dtype=str would turn empty cells into the text 'None': its own types are kept.
    dtype = str if engine == "c" else None
    df = pd.concat([pd.read_csv(p, encoding=encoding, dtype=dtype, engine=engine) for p in paths], ignore_index=True)
    ids = [c for c in df.columns if c not in WIDE_QUARTERS and not c.endswith("得分")]
    long = df.melt(id_vars=ids, value_vars=list(WIDE_QUARTERS), var_name="quarter", value_name="grade")
    long["quarter"] = long["quarter"].map(WIDE_QUARTERS)
    return normalise(long)


def read_long_csv(paths: list[Path], engine: str = "c") -> pd.DataFrame:
    frames = [pd.read_csv(p, encoding="utf-8-sig", dtype={"人员编号": str, "工号": str}, engine=engine) for p in paths]
    return normalise(pd.concat(frames, ignore_index=True))


READERS = {"xlsx": read_xlsx, "gb18030": read_wide_csv, "utf8": read_long_csv}


# ----------------------------------------------------------------------------- lane ranking and quota


def _pool_small_lanes(people: pd.DataFrame) -> pd.DataFrame:
    for target in (people["unit_type"].fillna("?") + "·合并", "合并赛道"):
        small = people.groupby("lane")["person_id"].transform("nunique") < MIN_LANE
        people.loc[small, "lane"] = target[small] if isinstance(target, pd.Series) else target
    return people


def lane_ranking(df: pd.DataFrame, year: int, quarter: int) -> pd.DataFrame:
    """Everyone graded in the quarter with their lane and rank (competition ties, best = 1)."""
    q = df[(df["year"] == year) & (df["quarter"] == quarter)].copy()
    if "score" not in q:
        q["score"] = np.nan
    q["points"] = q["grade"].map(GRADE_POINTS)
    q["lane"] = q["unit_type"].fillna("?").astype(str) + "·" + q["position_level"].fillna("?").astype(str)
    people = _pool_small_lanes(q[["person_id", "unit_type", "lane", "score", "points"]].reset_index(drop=True))
    none_scored = people.groupby("lane")["score"].transform(lambda s: s.isna().all())
    people["value"] = np.where(none_scored, people["points"], people["score"])
    people["rank"] = people.groupby("lane")["value"].rank(method="min", ascending=False)
    return people[["lane", "person_id", "value", "rank"]].sort_values(["lane", "rank", "person_id"])


def quota_check(df: pd.DataFrame, cap: float = CAP) -> pd.DataFrame:
    """Per unit and quarter: people graded, people with 好, quota, over."""
    graded = df[df["grade"].isin(list(GRADE_POINTS))]
    good = graded[graded["grade"] == "好"]
    keys = ["unit", "year", "quarter"]
    g = graded.groupby(keys)["person_id"].nunique().rename("n").to_frame()
    g["good"] = good.groupby(keys)["person_id"].nunique().reindex(g.index, fill_value=0)
    # + 1e-9: 0.4 * n is a hair under the integer for some n in floating point; the rule means the integer
    g["quota"] = np.floor(cap * g["n"] + 1e-9).astype(int).clip(lower=1)
    g["over"] = g["good"] > g["quota"]
    return g.reset_index()


# ----------------------------------------------------------------------------- one run


def run(kind: str, paths: list[str], year: int, quarter: int, engine: str | None = None) -> tuple[dict, pd.DataFrame]:
    """Read + normalise, rank one quarter, check quotas (pandas' default engine unless `engine`);
    (timings and answers, the ranking)."""
    files = [Path(p) for p in paths]
    marks = [(time.perf_counter(), time.process_time())]
    df = READERS[kind](files, engine=engine or DEFAULT_ENGINE[kind])
    marks.append((time.perf_counter(), time.process_time()))
    ranked = lane_ranking(df, year, quarter)
    marks.append((time.perf_counter(), time.process_time()))
    quota = quota_check(df)
    marks.append((time.perf_counter(), time.process_time()))
    answers = {
        "rows": len(df),
        "grades": {str(k): int(v) for k, v in df["grade"].value_counts().sort_index().items()},
        "over_quota": int(quota["over"].sum()),
        "ranked": int(ranked["rank"].notna().sum()),
    }
    parts = ("import", "rank", "quota")
    timings = {p: marks[i + 1][0] - marks[i][0] for i, p in enumerate(parts)}
    cpu = {p: marks[i + 1][1] - marks[i][1] for i, p in enumerate(parts)}
    return {"timings": timings, "cpu": cpu, "answers": answers}, ranked
