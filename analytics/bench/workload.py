"""The province the benchmark works on: a demo store at scale and its quarterly results as real exports.

`province(workdir, persons, quarters, seed)` builds (or reuses) <workdir>/data/p<persons>_q<quarters>_s<seed>/
with `demo.duckdb` (analytics.demo.build_demo: quarterly, annual, outcomes) and `exports/`:
the long xlsx split into workbooks of at most 500,000 rows (merged title row, signature footer), the wide
GB18030 CSV and the long UTF-8 CSV, exactly as analytics.demo.exports writes them. A manifest written
last marks a complete build, so an interrupted one is rebuilt and a finished one reused.

The demo also writes the annual and outcome files; the benchmark imports the quarterly ones.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

MANIFEST = "manifest.json"
MAX_ROWS_PER_WORKBOOK = 500_000
FORMATS = ("xlsx", "gb18030", "utf8")


@dataclass(frozen=True)
class Province:
    """A built province: its store, its export files per format, and its size."""

    folder: Path
    db: Path
    files: dict[str, list[str]]
    persons: int
    quarters: int
    rows: int
    units: int
    summary: dict

    @property
    def latest(self) -> tuple[int, int]:
        """(year, quarter) of the last quarter, the one ranked in the checks."""
        return tuple(self.summary["latest"])


def province(workdir: Path, persons: int, quarters: int = 12, seed: int = 7, log=print,
             regenerate: bool = False) -> Province:  # fmt: skip
    """The province of this size, built now or reused from an earlier run."""
    folder = Path(workdir) / "data" / f"p{persons}_q{quarters}_s{seed}"
    manifest = folder / MANIFEST
    if manifest.exists() and not regenerate:
        found = json.loads(manifest.read_text(encoding="utf-8"))
        if all(Path(f).exists() for files in found["files"].values() for f in files):
            log(f"  reusing {folder}")
            return _province(folder, found)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    from analytics.demo import build_demo

    summary = build_demo(folder / "demo.duckdb", persons=persons, seed=seed, quarters=quarters, survey=False)
    log(f"  demo store: {summary['quarterly']:,} quarterly rows, {summary['units']:,} units ({summary['seconds']} s)")
    built = time.perf_counter()
    files = write_quarterly_exports(folder / "demo.duckdb", folder / "exports")
    log(f"  exports written in {time.perf_counter() - built:.0f} s")
    with duckdb.connect(str(folder / "demo.duckdb"), read_only=True) as con:
        latest = con.sql("SELECT year, quarter FROM quarterly ORDER BY year DESC, quarter DESC LIMIT 1").fetchone()
    found = {
        "persons": persons, "quarters": quarters, "seed": seed, "files": files, "latest": list(latest),
        "summary": {k: v for k, v in summary.items() if k != "planted"},
        "build_seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    manifest.write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    return _province(folder, found)


def _province(folder: Path, found: dict) -> Province:
    s = found["summary"]
    return Province(folder=folder, db=folder / "demo.duckdb", files=found["files"], persons=found["persons"],
                    quarters=found["quarters"], rows=int(s["quarterly"]), units=int(s["units"]),
                    summary={**s, "latest": found["latest"], "build_seconds": found.get("build_seconds")})  # fmt: skip


def write_quarterly_exports(db: Path, out: Path, max_rows: int = MAX_ROWS_PER_WORKBOOK) -> dict[str, list[str]]:
    """The demo's exports (analytics.demo.write_exports); the quarterly files by format."""
    from analytics.demo import write_exports

    return _classify(write_exports(db, out, max_rows_per_workbook=max_rows))


def split_delimited(path: str | Path, max_bytes: int) -> list[str]:
    """A CSV cut at line ends into parts of at most max_bytes, each starting with the header line.

    For files over the importer's upload limit: the parts sit beside the file (…_part01.csv) and are
    reused when they exist. The encoding is kept (header and rows are cut as bytes at newlines).
    """
    path = Path(path)
    content = path.read_bytes()
    header_end = content.index(b"\n") + 1
    header, body = content[:header_end], content[header_end:]
    room = max_bytes - len(header)
    parts, start = [], 0
    while start < len(body):
        end = len(body) if len(body) - start <= room else body.rindex(b"\n", start, start + room) + 1
        parts.append(body[start:end])
        start = end
    targets = []
    for i, part in enumerate(parts, 1):
        target = path.with_name(f"{path.stem}_part{i:02d}{path.suffix}")
        if not target.exists() or target.stat().st_size != len(header) + len(part):
            target.write_bytes(header + part)
        targets.append(str(target))
    return targets


def _classify(paths: list[Path]) -> dict[str, list[str]]:
    names = {p.name: str(p) for p in paths}
    return {
        "xlsx": sorted(v for k, v in names.items() if k.startswith("平时考核_长表") and k.endswith(".xlsx")),
        "gb18030": [v for k, v in names.items() if k == "平时考核_宽表_GB18030.csv"],
        "utf8": [v for k, v in names.items() if k == "平时考核_长表_UTF8.csv"],
    }
