"""Arguments and output shared by the commands."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
import polars as pl

from analytics import export, faults, store
from analytics.errors import UserError
from analytics.settings import Settings, load_settings


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="store file (default: $KAOHE_DB or data/kaohe.duckdb)")
    p.add_argument("--settings", metavar="TOML", help="settings file (default: $KAOHE_SETTINGS or settings.toml)")


def add_output(p: argparse.ArgumentParser, default: str = "csv") -> None:
    p.add_argument("--format", choices=export.FORMATS, default=default, help=f"output format (default {default})")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "settings", None))


def open_store(args: argparse.Namespace, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the store named by --db; a clear error when there is none yet."""
    path = store.db_path(getattr(args, "db", None))
    if read_only and not path.exists():
        raise UserError(
            f"no store at {path}: run `python -m analytics demo` or `python -m analytics import FILE` first"
        )
    try:
        return store.connect(path, read_only=read_only)
    except (duckdb.Error, OSError) as exc:
        explained = faults.explain(exc, path) or (f"无法打开数据库 {path}", f"cannot open the store {path}: {exc}")
        raise UserError(" / ".join(explained)) from None


def emit(frame: pl.DataFrame, args: argparse.Namespace) -> None:
    """Write a result table as --format to --out (or stdout)."""
    try:
        export.write_table(frame, args.format, args.out)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.out:
        print(f"{frame.height} rows -> {Path(args.out)}", flush=True)
