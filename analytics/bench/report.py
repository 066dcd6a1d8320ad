"""The benchmark's verdicts and output: ratios to the baseline, growth exponents, targets, markdown and JSON.

Targets are printed as met / not met; nothing here asserts them (a slow machine is a finding, not an
error). A growth exponent is the least-squares slope of log(median seconds) against log(quarterly rows)
over the scales run: 1 means time grows like the data.
"""

from __future__ import annotations

import math
import os
import platform
from importlib import metadata

LIBRARIES = ("polars", "duckdb", "pyarrow", "fastexcel", "numpy", "scipy", "scikit-learn", "pandas", "openpyxl",
             "xlsxwriter", "streamlit")  # fmt: skip
FORMAT_LABEL = {"xlsx": "xlsx", "gb18030": "GB18030 CSV (wide)", "utf8": "UTF-8 CSV (long)"}
UNITS_TARGET = 15_000
SHORT_S = 0.05  # steps faster than this at the largest scale are too short for a meaningful exponent


# ----------------------------------------------------------------------------- machine


def machine() -> dict:
    """Cores, memory, CPU, OS, Python and library versions, load average now."""
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "cores": os.cpu_count(), "memory_gb": _memory_gb(), "cpu": _cpu_model(), "os": platform.platform(),
        "python": platform.python_version(), "libraries": versions, "load_average": _load(),
    }  # fmt: skip


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        return round(kb / 1024**2, 1)
    except (OSError, StopIteration):
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        return platform.processor() or None


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------------------- numbers


def ratio(baseline_s: float | None, ours_s: float | None) -> float | None:
    """How many times faster ours is (baseline time / our time)."""
    if not baseline_s or not ours_s:
        return None
    return baseline_s / ours_s


def exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(seconds) on log(rows); None with fewer than two sizes."""
    pts = [(math.log(r), math.log(s)) for r, s in points if r > 0 and s > 0]
    if len(pts) < 2 or len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def scaling(scales: list[dict]) -> list[dict]:
    """Per step of ours: median wall and CPU seconds at each size, and their growth exponents.

    The CPU exponent (process CPU time, all threads) is the one judged: on a shared machine other work
    stretches wall time unevenly between sizes, while the CPU a step needs follows its algorithm.
    """
    names: dict[str, None] = {}
    for s in scales:
        names.update({st["step"]: None for st in s["steps"]})
    rows = []
    for name in names:
        found = [(s["rows"], st) for s in scales for st in s["steps"] if st["step"] == name]
        wall = [(r, st["median_s"]) for r, st in found]
        cpu = [(r, st.get("median_cpu_s")) for r, st in found if st.get("median_cpu_s") == st.get("median_cpu_s")]
        k, k_cpu = exponent(wall), exponent([(r, c) for r, c in cpu if c])
        largest = max(wall)[1] if wall else 0
        rows.append({
            "step": name, "seconds": {str(r): round(t, 4) for r, t in wall},
            "cpu_seconds": {str(r): round(c, 4) for r, c in cpu if c},
            "exponent": None if k is None else round(k, 3), "exponent_cpu": None if k_cpu is None else round(k_cpu, 3),
            "short": largest < SHORT_S,
        })  # fmt: skip
    return rows


def judged_exponent(g: dict) -> float | None:
    """The exponent a step is judged on: CPU time where measured, else wall time."""
    return g.get("exponent_cpu") if g.get("exponent_cpu") is not None else g["exponent"]


# ----------------------------------------------------------------------------- targets


def _target(name: str, measured, limit, met: bool | None, note: str = "") -> dict:
    return {"target": name, "measured": measured, "limit": limit, "met": met, "note": note}


def targets(main: dict, comparison: list[dict], growth: list[dict], app: dict | None = None) -> list[dict]:
    """The issue's targets, each met, not met, or not measured (None), with a note on how it was judged."""
    out = _app_targets(app) if app else []
    by_format = {c["format"]: c for c in comparison}
    x = by_format.get("xlsx")
    out.append(_target("xlsx import >= 10x pandas + openpyxl", _fmt_x(x and x["import_ratio"]), ">= 10x",
                       _at_least(x and x["import_ratio"], 10)))  # fmt: skip
    for fmt in ("gb18030", "utf8"):
        c = by_format.get(fmt)
        out.append(_target(f"{FORMAT_LABEL[fmt]} import + lane ranking + quota >= 3x, end to end",
                           _fmt_x(c and c["e2e_ratio"]), ">= 3x", _at_least(c and c["e2e_ratio"], 3)))  # fmt: skip
    for c in comparison:
        if c.get("fastest_engine"):
            need = 2.0 if c["format"] == "xlsx" else 1.0
            out.append(_target(f"{FORMAT_LABEL[c['format']]} import >= {need:g}x pandas {c['fastest_engine']} (its read alone)",
                               _fmt_x(c["fastest_ratio"]), f">= {need:g}x", _at_least(c["fastest_ratio"], need)))  # fmt: skip
        if c.get("floor_s"):
            out.append(_target(f"{FORMAT_LABEL[c['format']]} import within 1.3x of the floor (raw read + bulk insert)",
                               None if c["floor_ratio"] is None else f"{c['floor_ratio']:.2f}x", "<= 1.3x",
                               None if c["floor_ratio"] is None else c["floor_ratio"] <= 1.3,
                               f"floor {_s(c['floor_s'])} = read {_s(c['floor_read_s'])} + insert {_s(c['floor_insert_s'])}"))  # fmt: skip
    out.append(_detectors_target(main, growth))
    steps = {s["step"]: s for s in main["steps"]}
    cold = steps.get("overview, cold")
    out.append(_target("overview data, cached dataset, cold < 300 ms", _ms(cold), "< 300 ms",
                       None if cold is None else cold["median_s"] < 0.3))  # fmt: skip
    changes = [s for n, s in steps.items() if n.startswith("overview, filter")]
    worst = max(changes, key=lambda s: s["median_s"]) if changes else None
    out.append(_target("overview data on a filter change < 50 ms", _ms(worst), "< 50 ms",
                       None if worst is None else worst["median_s"] < 0.05,
                       f"slowest filter: {worst['step']}" if worst else ""))  # fmt: skip
    peak = max(main["steps"], key=lambda s: s["peak_mb"]) if main["steps"] else None
    out.append(_target(f"peak memory < 4 GB at {main['rows']:,} rows",
                       None if peak is None else f"{peak['peak_mb'] / 1024:.2f} GB", "< 4 GB",
                       None if peak is None else peak["peak_mb"] < 4096,
                       f"largest: {peak['step']}" if peak else ""))  # fmt: skip
    judged = [(g["step"], judged_exponent(g)) for g in growth if judged_exponent(g) is not None and not g["short"]]
    over = [f"{step} {k:.2f}" for step, k in judged if k > 1.1]
    out.append(
        _target(
            "every step's growth exponent <= 1.1 (CPU time)",
            None if not judged else f"max {max(k for _, k in judged):.2f}",
            "<= 1.1",
            None if not judged else not over,
            ("above: " + "; ".join(over)) if over else f"steps under {SHORT_S * 1000:.0f} ms not judged",
        )
    )
    return out


COLD_RATIO = 1.5  # first page after `streamlit run`, against a bare Streamlit page of the same shape
SESSION_S = 5.0  # each of 20 simultaneous sessions has its overview within this
SESSIONS = 20


def _app_targets(app: dict) -> list[dict]:
    if app.get("skipped"):
        why = f"skipped: {app['skipped']}"
        return [
            _target(f"first page within {COLD_RATIO}x of a bare Streamlit page", None, f"<= {COLD_RATIO}x", None, why)
        ]
    out = [_target(f"first page within {COLD_RATIO}x of a bare Streamlit page", f"{app['cold_ratio']:.2f}x",
                   f"<= {COLD_RATIO}x", app["cold_ratio"] <= COLD_RATIO,
                   f"bare {app['cold_bare_s']:.2f} s, ours {app['cold_ours_s']:.2f} s (flags stored beforehand)")]  # fmt: skip
    many = [r for r in app.get("logins", []) if r["users"] == SESSIONS and r.get("page", "ours") == "ours"
            and r.get("client", "protocol") == "protocol"]  # fmt: skip
    if many:
        r = many[0]
        out.append(_target(f"{SESSIONS} simultaneous sessions each see the overview < {SESSION_S:g} s (one process)",
                           None if r["slowest_s"] is None else f"slowest {r['slowest_s']:.2f} s", f"< {SESSION_S:g} s",
                           None if r["slowest_s"] is None else r["failed"] == 0 and r["slowest_s"] < SESSION_S,
                           f"p50 {r['p50_s']} s, p95 {r['p95_s']} s, failed {r['failed']}"))  # fmt: skip
    return out


_CLIENTS = {"protocol": "protocol", "browser": "Chromium tabs"}


def _app_lines(app: dict | None) -> list[str]:
    if not app:
        return []
    if app.get("skipped"):
        return ["", f"The app (cold start, many users, replicas): skipped, {app['skipped']}."]
    lines = ["", f"The app (store {app['store']}; flags stored first in {app['flags_s']} s): first page after "
             f"`streamlit run` in headless Chromium: a bare page of 5 metrics + 3 charts {app['cold_bare_s']:.2f} s, "
             f"ours {app['cold_ours_s']:.2f} s ({app['cold_ratio']:.2f}x).", "",
             "Users at once: each one's seconds from the first request to the overview's 5 metrics and 3 charts all "
             "sent (ours: after logging in). `protocol` users speak Streamlit's websocket protocol without drawing "
             "(what the server delivers); Chromium tabs draw the page on this same machine, so they also measure the "
             "browsers. The bare page is the floor.", "",
             "| page | client | replicas | behind nginx | users at once | p50 | p95 | slowest | failed |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in app.get("logins", []) + app.get("replicas", []):
        if r.get("skipped"):
            lines.append(f"| ours | — | {r['replicas']} | — | — | — | — | — | skipped: {r['skipped']} |")
            continue
        lines.append(f"| {r.get('page', 'ours')} | {_CLIENTS[r.get('client', 'browser')]} | {r['replicas']} | "
                     f"{'yes' if r['proxy'] else 'no'} | {r['users']} | {_s(r['p50_s'])} | "
                     f"{_s(r['p95_s'])} | {_s(r['slowest_s'])} | {r['failed']} |")  # fmt: skip
    return lines


def _detectors_target(main: dict, growth: list[dict]) -> dict:
    steps = {s["step"]: s for s in main["steps"]}
    total = steps.get("all detectors")
    if total is None:
        return _target("all detectors, 15,000 units x 12 quarters < 60 s", None, "< 60 s", None, "not run")
    units = main.get("units") or 0
    k = next((judged_exponent(g) for g in growth if g["step"] == "all detectors" and judged_exponent(g)), 1.0)
    if units >= UNITS_TARGET:
        return _target(f"all detectors, {units:,} units x {main['quarters']} quarters < 60 s",
                       f"{total['median_s']:.1f} s", "< 60 s", total["median_s"] < 60)  # fmt: skip
    projected = total["median_s"] * (UNITS_TARGET / units) ** max(k, 1.0) if units else None
    note = (f"measured {total['median_s']:.1f} s on {units:,} units; projected to {UNITS_TARGET:,} units with "
            f"exponent {max(k, 1.0):.2f}")  # fmt: skip
    return _target(f"all detectors, {UNITS_TARGET:,} units x {main['quarters']} quarters < 60 s",
                   None if projected is None else f"{projected:.1f} s (projected)", "< 60 s",
                   None if projected is None else projected < 60, note)  # fmt: skip


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def _fmt_x(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:.1f}x" if value >= 1 else f"{value:.2g}x"


def _ms(step: dict | None) -> str | None:
    return None if step is None else f"{step['median_s'] * 1000:.0f} ms"


# ----------------------------------------------------------------------------- markdown


def _s(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def _num(value) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def markdown(result: dict) -> str:
    """The whole report as markdown: setting, main table, comparison, targets, scaling."""
    m, main = result["machine"], result["main"]
    lib = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    lines = [
        f"### Benchmark: {main['persons']:,} people x {main['quarters']} quarters = {main['rows']:,} quarterly rows, "
        f"{main['units']:,} units",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB, {m['cpu'] or 'CPU unknown'}; {m['os']}; Python {m['python']}; "
        f"{lib}. Load average at start {m['load_average']}, at end {result.get('load_average_end')}. "
        f"Command: `{result['command']}` ({result['wall_seconds'] / 60:.1f} min in all). Median of repeats (min–max); "
        f"each repeat in a fresh process; CPU = process CPU time, all threads; load = 1-minute load average as the "
        f"runs started (above {m['cores']} the machine was shared and wall times stretch).",
        "",
        "| step | median | min–max | runs | rows/s | CPU | peak memory | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in main["steps"]:
        lines.append(f"| {s['step']} | {_s(s['median_s'])} | {_s(s['min_s'])}–{_s(s['max_s'])} | {s['repeats']} | "
                     f"{_num(s['rows_per_s'])} | {_s(s.get('median_cpu_s'))} | {s['peak_mb']:,.0f} MB | "
                     f"{_load_text(s.get('load_average'))} |")  # fmt: skip
    if result["comparison"]:
        lines += ["", "Against the pandas + openpyxl baseline (same files, same process tree; times are medians):", "",
                  "| file | baseline import | ours import | ratio | baseline end to end | ours end to end | ratio | "
                  "same answers |", "|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for c in result["comparison"]:
            lines.append(
                f"| {FORMAT_LABEL[c['format']]} | {_s(c['baseline_import_s'])} | {_s(c['ours_import_s'])} | "
                f"{_fmt_x(c['import_ratio']) or '—'} | {_s(c['baseline_e2e_s'])} | {_s(c['ours_e2e_s'])} | "
                f"{_fmt_x(c['e2e_ratio']) or '—'} | {_check_text(c['check'])} |"
            )
        lines += ["", "End to end = read/import + normalise, lane ranking of the latest quarter, quota check "
                  "(ours: import into a fresh store, load, rank_people, quarterly_quota)."]  # fmt: skip
    if any(c.get("floor_s") for c in result["comparison"]):
        lines += ["", "Against pandas' fastest engine and the floor (floor = the fastest raw read, fastexcel or Polars, plus one "
                  "bulk insert into a fresh DuckDB file; whole process = from starting Python to its exit):", "",
                  "| file | pandas engine | pandas read | ours import | ratio | floor | ours / floor | "
                  "whole process: ours | whole process: pandas | same answers |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for c in result["comparison"]:
            floor = "—" if c.get("floor_ratio") is None else f"{c['floor_ratio']:.2f}x"
            lines.append(
                f"| {FORMAT_LABEL[c['format']]} | {c.get('fastest_engine') or '—'} | {_s(c.get('fastest_import_s'))} | "
                f"{_s(c['ours_import_s'])} | {_fmt_x(c.get('fastest_ratio')) or '—'} | {_s(c.get('floor_s'))} | {floor} | "
                f"{_s(c.get('process_ours_s'))} | {_s(c.get('process_fastest_s'))} | {_check_text(c.get('fastest_check'))} |"
            )
    lines += _app_lines(result.get("app"))
    lines += ["", "| target | measured | verdict | note |", "|---|---|---|---|"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['measured'] or '—'} | {_verdict(t['met'])} | {t['note']} |")
    if len(result["scales"]) > 1:
        sizes = sorted(s["rows"] for s in result["scales"])
        lines += ["", "Scaling (median wall seconds by quarterly rows; exponent = log-log slope, 1 = linear; "
                  "the CPU-time exponent is the one judged):", "",
                  "| step | " + " | ".join(f"{r:,} rows" for r in sizes) + " | exponent (wall) | exponent (CPU) |",
                  "|---|" + "---:|" * (len(sizes) + 2)]  # fmt: skip
        for g in result["scaling"]:
            cells = [_s(g["seconds"].get(str(r))) for r in sizes]
            short = " (short)" if g["short"] else ""
            k = "—" if g["exponent"] is None else f"{g['exponent']:.2f}"
            kc = "—" if g.get("exponent_cpu") is None else f"{g['exponent_cpu']:.2f}{short}"
            lines.append(f"| {g['step']} | " + " | ".join(cells) + f" | {k} | {kc} |")
    if result.get("notes"):
        lines += ["", *[f"- {n}" for n in result["notes"]]]
    return "\n".join(lines) + "\n"


def _load_text(loads: list | None) -> str:
    found = sorted(x for x in loads or [] if x is not None)
    return "—" if not found else f"{found[len(found) // 2]:.1f}"


def _check_text(check: dict | None) -> str:
    if not check:
        return "—"
    if check["equal"]:
        return f"yes ({check['rows']:,} rows, {check['ranked']:,} ranks, {check['over_quota']:,} over quota)"
    return "**no**: " + "; ".join(check["differences"])
