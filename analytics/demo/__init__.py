"""The demo city: a realistic, deterministic county of civil servants with planted patterns.

`build_demo(db_path, persons=2000, seed=7)` fills a fresh store with quarterly grades (12 quarters,
2023Q1-2025Q4), annual grades, outcome records, a staff survey and `demo_truth` (what was planted
where, for evaluating the detectors). `write_exports(db_path, out_dir)` writes the same data as the
files users bring (xlsx with a title row and signature footer, GB18030 wide CSV, ...).

Modules, one concept each: city (units, sections, people, reviewers), truth (which units carry which
pattern), grades (scores and quarterly grades), annual, outcomes, survey, exports; build ties them.
"""

from analytics.demo.build import build_demo, generate

__all__ = ["build_demo", "generate", "write_exports"]


def write_exports(db_path, out_dir, max_rows_per_workbook: int = 500_000):
    """The demo store as real-looking export files (see analytics.demo.exports)."""
    from analytics.demo.exports import write_exports as _write

    return _write(db_path, out_dir, max_rows_per_workbook=max_rows_per_workbook)
