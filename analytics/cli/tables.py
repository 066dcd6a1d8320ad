"""`tables`: the documented store tables, for researchers writing SQL."""

from __future__ import annotations

import argparse

from analytics import schema


def _run(args: argparse.Namespace) -> int:
    print(schema.markdown())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tables",
        help="print the documented store tables and their columns (markdown)",
        description="The tables of the store, one row per what, and every column's meaning. "
        "Query them with the SQL workspace or the DuckDB CLI.",
    )
    p.set_defaults(func=_run)
