"""The benchmark run: build each province, time every step, compare with the baseline, write the report.

Per size (the main size and every scaling size): the province (workload.py), then these groups, each
repeated in fresh processes (measure.py):
- import xlsx / GB18030 CSV / UTF-8 CSV into a fresh store, then load, rank the latest quarter, check
  quotas (end to end); the pandas + openpyxl baseline on the same files; their answers compared;
- lane rankings (a quarter, a year, units) and quota checks on the province store;
- every detector over all units, rotation's Monte Carlo null included;
- the overview page's analytics, cold and on filter changes.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl

from analytics.bench import app_load, baseline, report, workload
from analytics.bench.measure import StepResult, run_group

DEFAULT_SCALES = (50_000, 200_000)
BASELINE_MAX_PERSONS = 500_000  # with baseline_scales: the pandas + openpyxl script takes many minutes beyond this
IMPORT_STEPS = ("import", "end to end")
SPLIT_BYTES = 190 << 20  # under analytics.upload_guard's 200 MB: a CSV over it is measured in parts


def run_bench(persons: int = 200_000, quarters: int = 12, repeats: int = 3, scales=DEFAULT_SCALES,
              workdir: str | Path = "bench_out", skip_baseline: bool = False, budget_s: float = 120.0,
              seed: int = 7, regenerate: bool = False, baseline_scales: bool = False, app: bool = True,
              users=(10, 20), replicas=(1, 3), command: str = "python -m analytics bench", log=print) -> dict:  # fmt: skip
    """Run the whole benchmark; returns the result (also what the JSON holds)."""
    started = time.perf_counter()
    workdir = Path(workdir)
    (workdir / "checks").mkdir(parents=True, exist_ok=True)
    sizes = [persons] + sorted({int(s) for s in scales} - {persons})  # the main size first: it matters most
    result = {"command": command, "machine": report.machine(), "scales": [], "notes": [],
              "config": {"persons": persons, "quarters": quarters, "repeats": repeats, "scales": sizes,
                         "budget_s": budget_s, "seed": seed, "skip_baseline": skip_baseline,
                         "baseline_scales": baseline_scales}}  # fmt: skip
    comparison_main: list[dict] = []
    for size in sizes:
        log(f"== {size:,} people x {quarters} quarters")
        with_baseline = not skip_baseline and (size == persons or (baseline_scales and size <= BASELINE_MAX_PERSONS))
        if not skip_baseline and not with_baseline:
            result["notes"].append(f"baseline not run at {size:,} people (ours only, for the growth exponents)")
        scale, comparison = run_scale(workdir, size, quarters, repeats, budget_s, seed, with_baseline, regenerate, log)
        result["scales"].append(scale)
        result["notes"] += [f"{size:,} people: {e}" for e in scale["errors"]]
        if size == persons:
            result["main"], comparison_main = scale, comparison
    result["comparison"] = comparison_main
    if app:  # the app as users meet it: cold start, simultaneous logins, replicas behind nginx
        log(f"== the app on the {persons:,}-people province (headless Chromium)")
        result["app"] = app_load.run_app_bench(result["main"]["db"], workdir, users=users, replicas=replicas, log=log)
        if result["app"].get("skipped"):
            log(f"  app: skipped: {result['app']['skipped']}")
    result["scaling"] = report.scaling(result["scales"])
    result["targets"] = report.targets(result["main"], comparison_main, result["scaling"], result.get("app"))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_end"] = report.machine()["load_average"]
    return result


def run_scale(workdir: Path, persons: int, quarters: int, repeats: int, budget_s: float, seed: int,
              with_baseline: bool, regenerate: bool, log) -> tuple[dict, list[dict]]:  # fmt: skip
    """Every step at one size; (the size's steps and facts, the comparison with the baseline)."""
    p = build_province(workdir, persons, quarters, seed, regenerate, log)
    year, quarter = p.latest
    checks = workdir / "checks"
    steps: list[StepResult] = []
    comparison, errors = [], []
    for kind in workload.FORMATS:
        ours_check, base_check = (
            checks / f"{persons}_ours_{kind}.parquet",
            checks / f"{persons}_baseline_{kind}.parquet",
        )
        args = dict(kind=kind, paths=p.files[kind], year=year, quarter=quarter)
        ours, ours_out = run_group(f"import {kind}", "analytics.bench.steps:import_end_to_end",
                                   dict(args, store_dir=str(workdir / "stores" / kind), check=str(ours_check)),
                                   repeats, budget_s, log)  # fmt: skip
        errors += _problems(ours_out)
        if _over_size_limit(ours_out) and kind != "xlsx":
            args["paths"] = workload.split_delimited(p.files[kind][0], SPLIT_BYTES)
            errors.append(f"{kind}: measured on {len(args['paths'])} parts of at most {SPLIT_BYTES >> 20} MB instead")
            log(f"    {kind}: over the importer's size limit; measuring on {len(args['paths'])} parts instead")
            ours, ours_out = run_group(f"import {kind}", "analytics.bench.steps:import_end_to_end",
                                       dict(args, store_dir=str(workdir / "stores" / kind), check=str(ours_check)),
                                       repeats, budget_s, log)  # fmt: skip
            errors += _problems(ours_out)
        steps += [_renamed(ours[n], f"{n} {kind}") for n in IMPORT_STEPS if n in ours]
        entry = {"format": kind, "ours": {n: s.as_dict() for n, s in ours.items()}}
        if with_baseline:
            base, base_out = run_group(f"baseline {kind}", "analytics.bench.steps:baseline_end_to_end",
                                       dict(args, check=str(base_check)), repeats, budget_s, log)  # fmt: skip
            errors += _problems(base_out)
            entry["baseline"] = {n: s.as_dict() for n, s in base.items()}
            if "answers" in ours_out and "answers" in base_out:
                entry["check"] = compare(ours_out["answers"], base_out["answers"], ours_check, base_check)
        if with_baseline:
            engine = baseline.FASTEST_ENGINE[kind]
            fast, fast_out = run_group(f"baseline {kind} {engine}", "analytics.bench.steps:baseline_end_to_end",
                                       dict(args, check=str(checks / f"{persons}_fastest_{kind}.parquet"),
                                            engine=engine), repeats, budget_s, log)  # fmt: skip
            errors += _problems(fast_out)
            entry["fastest"] = {"engine": engine, **{n: s.as_dict() for n, s in fast.items()}}
            if "answers" in ours_out and "answers" in fast_out:
                entry["fastest_check"] = compare(ours_out["answers"], fast_out["answers"], ours_check,
                                                 checks / f"{persons}_fastest_{kind}.parquet")  # fmt: skip
        floor, floor_out = run_group(f"floor {kind}", "analytics.bench.steps:floor_import",
                                     dict(kind=kind, paths=args["paths"], store_dir=str(workdir / "stores" / "floor")),
                                     repeats, budget_s, log)  # fmt: skip
        errors += _problems(floor_out)
        entry["floor"] = {n: s.as_dict() for n, s in floor.items()}
        steps += [_renamed(floor[n], f"{n} {kind}") for n in ("floor read", "floor insert", "floor") if n in floor]
        entry["process"] = {}
        for engine in ("ours", baseline.FASTEST_ENGINE[kind]) if with_baseline else ("ours",):
            whole, whole_out = run_group(f"whole process {kind} {engine}", "analytics.bench.steps:whole_process",
                                         dict(kind=kind, paths=args["paths"], engine=engine,
                                              store_dir=str(workdir / "stores" / "process")),
                                         repeats, budget_s, log)  # fmt: skip
            errors += _problems(whole_out)
            entry["process"].update({n: s.as_dict() for n, s in whole.items()})
            steps += [_renamed(w, f"{n} {kind}") for n, w in whole.items()]
        comparison.append(_comparison_row(entry))
    flags_path = checks / f"{persons}_flags.parquet"
    flags_path.unlink(missing_ok=True)
    groups = [
        ("rankings", "rankings_and_quota", dict(db=str(p.db), year=year, quarter=quarter)),
        ("detectors", "detectors", dict(db=str(p.db), flags_out=str(flags_path))),
        ("overview", "overview_page", dict(db=str(p.db), flags_path=str(flags_path), year=year, quarter=quarter)),
    ]
    extras = {}
    for group, func, kwargs in groups:
        found, extras[group] = run_group(group, f"analytics.bench.steps:{func}", kwargs, repeats, budget_s, log)
        errors += _problems(extras[group])
        steps += list(found.values())
    scale = {"persons": persons, "quarters": quarters, "rows": p.rows, "units": p.units, "db": str(p.db),
             "sections": p.summary.get("sections"), "files": {k: [Path(f).name for f in v] for k, v in p.files.items()},
             "file_mb": {k: round(sum(Path(f).stat().st_size for f in v) / 2**20, 1) for k, v in p.files.items()},
             "build_seconds": p.summary.get("build_seconds"), "ranked_period": f"{year}Q{quarter}",
             "flags": extras["detectors"].get("flags"), "overview_filters": extras["overview"].get("filters"),
             "steps": [s.as_dict() for s in steps], "comparison": comparison, "errors": errors}  # fmt: skip
    return scale, comparison


def _over_size_limit(extra: dict) -> bool:
    """The importer refused a file for its size (analytics.upload_guard's limit)."""
    return any("MB limit" in r for r in extra.get("refused") or [])


def _problems(extra: dict) -> list[str]:
    """A group's failure, or files the importer refused (the benchmark's files should all import)."""
    found = [extra["error"]] if extra.get("error") else []
    return found + [f"importer refused {r}" for r in extra.get("refused") or []]


def build_province(workdir: Path, persons: int, quarters: int, seed: int, regenerate: bool, log) -> workload.Province:
    """The province, built in a child process (DuckDB's progress bars stay out of the log)."""
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        p = pool.submit(_quiet_province, str(workdir), persons, quarters, seed, regenerate).result()
    took = time.perf_counter() - started
    log(f"  province: {p.rows:,} quarterly rows, {p.units:,} units, files in {p.folder} "
        f"({'reused' if took < 5 else f'built in {took:.0f} s'})")  # fmt: skip
    return p


def _quiet_province(workdir: str, persons: int, quarters: int, seed: int, regenerate: bool) -> workload.Province:
    from analytics.bench.steps import _quiet

    _quiet()
    return workload.province(Path(workdir), persons, quarters, seed, log=lambda *_: None, regenerate=regenerate)


def _renamed(step: StepResult, name: str) -> StepResult:
    return StepResult(name, step.group, step.seconds, step.peaks_mb, step.rows, step.cpu_s, step.load)


def _comparison_row(entry: dict) -> dict:
    ours, base = entry["ours"], entry.get("baseline") or {}

    def med(d: dict, step: str) -> float | None:
        return d[step]["median_s"] if step in d else None

    row = {"format": entry["format"], "ours_import_s": med(ours, "import"), "baseline_import_s": med(base, "import"),
           "ours_e2e_s": med(ours, "end to end"), "baseline_e2e_s": med(base, "end to end"),
           "ours_rank_s": med(ours, "rank"), "baseline_rank_s": med(base, "rank"),
           "ours_peak_mb": ours.get("end to end", {}).get("peak_mb"),
           "baseline_peak_mb": base.get("end to end", {}).get("peak_mb"),
           "check": entry.get("check"), "detail": entry}  # fmt: skip
    fast, floor, process = entry.get("fastest") or {}, entry.get("floor") or {}, entry.get("process") or {}
    row |= {"fastest_engine": fast.get("engine"), "fastest_import_s": med(fast, "import"),
            "fastest_e2e_s": med(fast, "end to end"), "fastest_check": entry.get("fastest_check"),
            "floor_s": med(floor, "floor"), "floor_read_s": med(floor, "floor read"),
            "floor_insert_s": med(floor, "floor insert"),
            "process_ours_s": med(process, "whole process, ours"),
            "process_fastest_s": med(process, f"whole process, pandas {fast.get('engine')}")}  # fmt: skip
    row["fastest_ratio"] = report.ratio(row["fastest_import_s"], row["ours_import_s"])
    row["floor_ratio"] = report.ratio(row["ours_import_s"], row["floor_s"])  # ours / floor: 1.0 = at the floor
    row["process_ratio"] = report.ratio(row["process_fastest_s"], row["process_ours_s"])
    row["import_ratio"] = report.ratio(row["baseline_import_s"], row["ours_import_s"])
    row["e2e_ratio"] = report.ratio(row["baseline_e2e_s"], row["ours_e2e_s"])
    row["rank_ratio"] = report.ratio(row["baseline_rank_s"], row["ours_rank_s"])
    return row


def compare(ours: dict, base: dict, ours_ranks: Path, base_ranks: Path) -> dict:
    """Same row count, grade counts, over-quota count, and the same lane and rank for every person."""
    differences = []
    for key in ("rows", "grades", "over_quota", "ranked"):
        if ours[key] != base[key]:
            differences.append(f"{key}: ours {ours[key]} baseline {base[key]}")
    a = pl.read_parquet(ours_ranks).with_columns(pl.col("rank").cast(pl.Int64))
    b = pl.read_parquet(base_ranks).with_columns(pl.col("rank").cast(pl.Int64))
    joined = a.join(b, on="person_id", how="full", suffix="_baseline", coalesce=True)
    differ = joined.filter(
        pl.col("lane").ne_missing(pl.col("lane_baseline")) | pl.col("rank").ne_missing(pl.col("rank_baseline"))
    )
    if differ.height:
        differences.append(f"{differ.height:,} people with another lane or rank, e.g. {differ.head(3).rows()}")
    return {"equal": not differences, "differences": differences, "rows": ours["rows"], "ranked": ours["ranked"],
            "over_quota": ours["over_quota"], "people_compared": joined.height}  # fmt: skip


def write_outputs(result: dict, json_path: Path | None, markdown_path: Path | None) -> str:
    """Write the JSON and markdown (where asked); returns the markdown."""
    text = report.markdown(result)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if markdown_path:
        Path(markdown_path).parent.mkdir(parents=True, exist_ok=True)
        Path(markdown_path).write_text(text, encoding="utf-8")
    return text
