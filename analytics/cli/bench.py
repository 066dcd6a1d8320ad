"""`python -m analytics bench`: time import, rankings, detectors and the overview at province scale."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from analytics.errors import UserError

HELP = """\
Build a province with the demo generator (default 200,000 people x 12 quarters = ~2.3 M quarterly rows),
write it as real exports (xlsx workbooks of at most 500,000 rows, GB18030 wide CSV, UTF-8 long CSV) under
--workdir, then time each step (median of repeats, min and max, peak memory), each repeat in a fresh
process: import of each file kind into a fresh store; lane rankings for a quarter and a year; quota
checks; every detector over all units (rotation with its Monte Carlo null); the overview page's data,
cold and on a filter change. The same import + normalisation + lane ranking + quota check is run as a
pandas script on the same files, with pandas' default engines (openpyxl, C) and its fastest (calamine for
xlsx, pyarrow for CSV), its answers checked equal to ours, and the ratios printed; beside them the floor
(the fastest raw read plus one bulk insert) and whole processes timed from start to exit. Then the app in
headless Chromium (skipped, saying why, without /usr/bin/chromium or nginx): the first page after
`streamlit run` against a bare Streamlit page, N users at once on one process, and p50/p95 against N
users for 1 and 3 replicas behind nginx (deploy/nginx.conf).
Every size in --scales is run too (ours only, unless --baseline-scales), and each step's growth
exponent (log-log slope) printed.
Targets are reported as met / not met. Provinces are kept in --workdir and reused by later runs.

examples:
  make bench                                            the default run (about 30 minutes the first time)
  python -m analytics bench --persons 50000 --scales 50000 --repeats 1      a quick look
  python -m analytics bench --persons 50000 --no-app                        without the browser part
  python -m analytics bench --scales 50000,200000,1000000 --json bench.json  with the 1M-people province
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark at province scale against pandas + openpyxl", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--persons", type=int, default=200_000, metavar="N", help="people in the main province (200000)")
    p.add_argument("--quarters", type=int, default=12, metavar="T", help="quarters of results (default 12)")
    p.add_argument("--repeats", type=int, default=3, metavar="R", help="runs per step; the median is reported (3)")
    p.add_argument("--scales", default="50000,200000", metavar="N,N",
                   help="sizes (people) for the scaling exponents (default 50000,200000)")  # fmt: skip
    p.add_argument("--budget", type=float, default=120.0, metavar="S",
                   help="stop repeating a group of steps once its runs took S seconds (default 120)")  # fmt: skip
    p.add_argument("--workdir", default="bench_out", metavar="DIR", help="provinces, stores and reports (bench_out/)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON (default WORKDIR/bench.json)")
    p.add_argument("--markdown", metavar="FILE", help="write the report as markdown (default WORKDIR/bench.md)")
    p.add_argument("--skip-baseline", action="store_true", help="do not run the pandas + openpyxl baseline")
    p.add_argument(
        "--baseline-scales",
        action="store_true",
        help="run the baseline at every --scales size up to 500,000 people too (default: main size only)",
    )
    p.add_argument(
        "--no-app",
        action="store_true",
        help="leave out the app in a browser (cold start, simultaneous users, 1 and 3 replicas behind nginx)",
    )
    p.add_argument("--users", default="10,20", metavar="N,N", help="simultaneous users for the app load test (10,20)")
    p.add_argument("--regenerate", action="store_true", help="rebuild the provinces even when --workdir has them")
    p.add_argument("--seed", type=int, default=7, metavar="S", help="demo generator seed (default 7)")
    p.set_defaults(func=run)


def _scales(text: str, option: str = "--scales", least: int = 50) -> list[int]:
    try:
        sizes = [int(s.replace("_", "").strip()) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"{option} takes counts separated by commas, e.g. 50000,200000; got {text!r}") from None
    if not sizes or any(s < least for s in sizes):
        raise UserError(f"every {option} count must be at least {least}")
    return sizes


def run(args: argparse.Namespace) -> int:
    from analytics.bench.runner import run_bench, write_outputs

    if args.persons < 50:
        raise UserError("--persons must be at least 50")
    if not 4 <= args.quarters <= 80:
        raise UserError("--quarters must be between 4 and 80 (the detectors need at least 4)")
    if args.repeats < 1:
        raise UserError("--repeats must be at least 1")
    workdir = Path(args.workdir)
    command = _command(args)
    result = run_bench(persons=args.persons, quarters=args.quarters, repeats=args.repeats, scales=_scales(args.scales),
                       workdir=workdir, skip_baseline=args.skip_baseline, budget_s=args.budget, seed=args.seed,
                       regenerate=args.regenerate, baseline_scales=args.baseline_scales, app=not args.no_app,
                       users=tuple(_scales(args.users, "--users", 1)), command=command, log=_log)  # fmt: skip
    json_path = Path(args.json) if args.json else workdir / "bench.json"
    md_path = Path(args.markdown) if args.markdown else workdir / "bench.md"
    text = write_outputs(result, json_path, md_path)
    print()
    print(text)
    print(f"results -> {json_path}, {md_path}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (for the report)."""
    parts = [
        "python -m analytics bench",
        f"--persons {args.persons}",
        f"--quarters {args.quarters}",
        f"--repeats {args.repeats}",
        f"--scales {args.scales}",
        f"--workdir {shlex.quote(str(args.workdir))}",
    ]
    parts += ["--skip-baseline"] if args.skip_baseline else []
    parts += ["--baseline-scales"] if args.baseline_scales else []
    return " ".join(parts)


def _log(message: str) -> None:
    print(message, flush=True)
