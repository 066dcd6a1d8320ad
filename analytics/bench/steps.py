"""The work each benchmark child process does and times (see measure.run_group).

Every function here runs in a fresh spawned process, does its setup untimed, times its steps with a
Clock and returns Clock.result(...) plus the answers the parent checks against the pandas baseline.
DuckDB prints a progress bar on stdout for long queries; children send stdout to /dev/null so that the
benchmark's own log stays readable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl

from analytics.bench.measure import Clock

RANK_CHECK_COLUMNS = ["person_id", "lane", "rank"]


def _quiet() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _settings():
    from analytics.settings import load_settings

    return load_settings()


def _load(db: str, clock: Clock | None = None):
    """The whole province as AssessmentData (timed as 'load dataset' when a clock is given)."""
    from analytics import store
    from analytics.dataset import load_dataset

    settings = _settings()
    con = store.connect(Path(db), read_only=True)
    try:
        if clock is None:
            return load_dataset(con, settings), settings
        return clock.step("load dataset", load_dataset, con, settings), settings
    finally:
        con.close()


def _period(year: int, quarter: int) -> str:
    return f"{year}Q{quarter}"


# ----------------------------------------------------------------------------- import, ours and baseline


def import_end_to_end(kind: str, paths: list[str], store_dir: str, year: int, quarter: int, check: str) -> dict:
    """Import the files into a fresh store, load it, rank the quarter by lane, check quotas."""
    _quiet()
    import pandas  # noqa: F401  DuckDB imports it on its first bound parameter; the baseline has it loaded too

    from analytics import store
    from analytics.dataset import load_dataset
    from analytics.importer import import_paths
    from analytics.quota import quarterly_quota
    from analytics.rankings import rank_people

    folder = Path(store_dir)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = folder / "store.duckdb"
    settings = _settings()
    clock = Clock()
    results = clock.step("import", import_paths, db, paths)
    refused = [f"{r.file_name}: {r.status} {r.message or ''}" for r in results if r.status != "imported"]
    if refused:
        return {"steps": {}, "refused": refused}
    rows = sum(r.rows or 0 for r in results)
    clock.steps["import"]["rows"] = rows
    con = store.connect(db, read_only=True)
    try:
        data = clock.step("load", load_dataset, con, settings)
    finally:
        con.close()
    ranked = clock.step("rank", rank_people, data, settings, period=_period(year, quarter))
    quota = clock.step("quota", quarterly_quota, data, settings)
    clock.add("end to end", ["import", "load", "rank", "quota"], rows=rows)
    ranked.select(RANK_CHECK_COLUMNS).write_parquet(check)
    grades = data.quarterly.group_by("grade").len().sort("grade").rows()
    answers = {"rows": rows, "grades": {str(g): int(n) for g, n in grades}, "over_quota": int(quota["over"].sum()),
               "ranked": int(ranked["rank"].is_not_null().sum())}  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    return clock.result(answers=answers, refused=refused)


def baseline_end_to_end(
    kind: str, paths: list[str], year: int, quarter: int, check: str, engine: str | None = None
) -> dict:
    """The pandas script on the same files (analytics.bench.baseline), with pandas' default engine or `engine`."""
    _quiet()
    import gc

    from analytics.bench import baseline
    from analytics.bench.measure import peak_mb, reset_peak

    gc.collect()
    reset_peak()
    out, ranked = baseline.run(kind, paths, year, quarter, engine)
    peak = peak_mb()  # the script runs as one piece: one peak for all its parts
    t = out["timings"]
    clock = Clock()
    rows = out["answers"]["rows"]
    for name in ("import", "rank", "quota"):
        clock.steps[name] = {"seconds": t[name], "cpu_s": out["cpu"][name], "peak_mb": peak,
                             "rows": rows if name == "import" else None}  # fmt: skip
    clock.add("end to end", ["import", "rank", "quota"], rows=rows)
    pl.from_pandas(ranked[RANK_CHECK_COLUMNS]).write_parquet(check)
    return clock.result(answers=out["answers"])


def _raw_read(kind: str, path: str) -> pl.DataFrame:
    """The file's rows as they are, by the fastest reader there is (no checks, no normalising)."""
    if kind == "xlsx":
        import fastexcel

        book = fastexcel.read_excel(path)
        top = book.load_sheet(0, header_row=None, n_rows=20).to_polars()
        header = next(i for i, row in enumerate(top.iter_rows()) if "姓名" in row)
        return book.load_sheet(0, header_row=header, dtype_coercion="coerce").to_polars()
    if kind == "gb18030":
        with open(path, "rb") as fh:
            text = fh.read().decode("gb18030")
        return pl.read_csv(text.encode("utf-8"), infer_schema=False)
    return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")


def floor_import(kind: str, paths: list[str], store_dir: str) -> dict:
    """The floor under any import: the raw read, then one bulk insert of those rows into a fresh DuckDB file."""
    _quiet()
    import duckdb

    folder = Path(store_dir)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    clock = Clock()
    frames = clock.step("floor read", lambda: [_raw_read(kind, p) for p in paths])
    rows = sum(f.height for f in frames)
    clock.steps["floor read"]["rows"] = rows

    def insert() -> None:
        con = duckdb.connect(str(folder / "floor.duckdb"))
        try:
            for i, frame in enumerate(frames):
                _rows = frame.to_arrow()  # noqa: F841 (read by DuckDB's replacement scan)
                con.execute(f"CREATE TABLE t{i} AS SELECT * FROM _rows")
        finally:
            con.close()

    clock.step("floor insert", insert, rows=rows)
    clock.add("floor", ["floor read", "floor insert"], rows=rows)
    shutil.rmtree(folder, ignore_errors=True)
    return clock.result()


def whole_process(kind: str, paths: list[str], store_dir: str, engine: str) -> dict:
    """Seconds from starting a new Python process to its exit: `python -m analytics import` into a fresh
    store, or the pandas script reading the same files with `engine` (interpreter start and imports included)."""
    _quiet()
    import subprocess
    import sys
    import time

    folder = Path(store_dir)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if engine == "ours":
        command = [sys.executable, "-m", "analytics", "import", *paths, "--db", str(folder / "store.duckdb")]
        name = "whole process, ours"
    else:
        script = ("import sys; from pathlib import Path; from analytics.bench import baseline; "
                  "baseline.READERS[sys.argv[1]]([Path(p) for p in sys.argv[3:]], engine=sys.argv[2])")  # fmt: skip
        command = [sys.executable, "-c", script, kind, engine, *paths]
        name = f"whole process, pandas {engine}"
    started, cpu = time.perf_counter(), os.times()
    done = subprocess.run(command, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    seconds, after = time.perf_counter() - started, os.times()
    shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0:
        return {"steps": {}, "error": f"{name}: exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    import resource

    child_cpu = (after.children_user - cpu.children_user) + (after.children_system - cpu.children_system)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the one child this process ran
    return {"steps": {name: {"seconds": seconds, "cpu_s": child_cpu, "peak_mb": peak, "rows": None}}}


# ----------------------------------------------------------------------------- analytics on the store


def rankings_and_quota(db: str, year: int, quarter: int) -> dict:
    """Lane rankings for a quarter and a year, unit rankings, quota checks."""
    _quiet()
    from analytics.quota import annual_quota, quarterly_quota
    from analytics.rankings import rank_people, rank_units

    clock = Clock()
    data, settings = _load(db, clock)
    n = data.quarterly.height
    clock.step("rank people, quarter", rank_people, data, settings, period=_period(year, quarter), rows=n)
    clock.step("rank people, year", rank_people, data, settings, year=year, rows=n)
    clock.step("rank units, quarter", rank_units, data, settings, period=_period(year, quarter), rows=n)
    clock.step("quota, quarterly", quarterly_quota, data, settings, rows=n)
    clock.step("quota, annual", annual_quota, data, settings, rows=data.annual.height)
    return clock.result()


def detectors(db: str, flags_out: str, seed: int = 0) -> dict:
    """Every registered detector over all units (rotation with its Monte Carlo null), and the sum."""
    _quiet()
    from analytics.detectors import registry

    data, settings = _load(db)
    clock = Clock()
    found, names, counts = [], [], {}
    for detector in registry():
        name = f"detector {detector.kind}"
        if name in clock.steps:  # two detectors of one kind (leniency, quota live in one module)
            name = f"{name} ({detector.name_en})"
        flags = clock.step(name, detector.detect, data, settings, seed, rows=data.quarterly.height)
        names.append(name)
        counts[name] = flags.height
        found.append(flags)
    clock.add("all detectors", names, rows=data.quarterly.height)
    flags = pl.concat([f for f in found if f.height]) if any(f.height for f in found) else found[0]
    flags.write_parquet(flags_out)
    return clock.result(flags=counts, units=data.quarterly["unit"].n_unique())


def overview_page(db: str, flags_path: str, year: int, quarter: int) -> dict:
    """The overview page's analytics: cold (dataset and flags cached, nothing else) and on filter changes."""
    _quiet()
    from analytics import overview

    data, settings = _load(db)
    data = overview.prepare(data)  # the page builds its summary with the cached dataset (pages/_ui.py), untimed
    flags = pl.read_parquet(flags_path) if Path(flags_path).exists() else _no_flags()
    lane = data.quarterly.group_by("lane").len().sort("len", descending=True)["lane"][0]
    units = tuple(overview.units(data)[:10])
    clock = Clock()
    n = data.quarterly.height
    ranked = clock.step("overview, cold", page_calls, data, flags, settings, year, quarter, (), (), None, rows=n)
    clock.step("overview, filter: lane", page_calls, data, flags, settings, year, quarter, (), (lane,), ranked, rows=n)
    clock.step("overview, filter: 10 units", page_calls, data, flags, settings, year, quarter, units, (), ranked,
               rows=n)  # fmt: skip
    return clock.result(filters={"lane": lane, "units": list(units)})


def _no_flags() -> pl.DataFrame:
    from analytics.detectors import FLAG_SCHEMA

    return pl.DataFrame(schema=FLAG_SCHEMA)


def page_calls(full, flags, settings, year: int, quarter: int, units: tuple, lanes: tuple, ranked):
    """What pages/overview.py (with pages/_ui.py) computes on one run, given the cached dataset and flags.

    Cached by the page and so not recomputed here: the dataset, the flags, and the lane ranking when
    `ranked` is given (it is cached on the full data, whatever the filters). Not cached by the page, so
    computed on every run: the sidebar's periods, lanes and units. Returns the lane ranking.
    """
    from analytics import overview
    from analytics.rankings import rank_people

    periods = overview.periods(full)  # sidebar and selected_period
    overview.lanes(full)
    overview.units(full)
    assert periods, "no quarters"
    data = overview.restrict(full, units=units, lanes=lanes)  # ui._filtered
    overview.headline(data, settings, year, quarter)
    shown = overview.restrict_frame(flags, units=units or None, lanes=lanes or None)  # ui.flags
    overview.flags_by_kind(shown)
    overview.grade_mix(data, last=8)
    overview.good_share_by_unit(data, last=8, top=12)
    if ranked is None:
        ranked = rank_people(full, settings, period=_period(year, quarter))
    overview.lane_extremes(overview.restrict_frame(ranked, units, lanes), k=2)
    overview.strongest(shown, k=6)
    return ranked
