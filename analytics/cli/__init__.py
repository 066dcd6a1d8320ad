"""The command line: `python -m analytics COMMAND ...`.

Each module in this package (not starting with '_') defines `register(subparsers)`, which adds
its commands and sets `func=` on each; commands return an exit status. Errors a user can act on
are raised as UserError and printed without a stack trace, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import duckdb

from analytics import faults, store
from analytics.errors import UserError
from analytics.settings import SettingsError

DESCRIPTION = """\
考核分析 kaohe analytics: civil-servant assessment data (平时考核, 年度考核, 结果运用, 问卷)
imported into an embedded store, ranked within lanes, and checked for rotation, leniency and
rule breaks. Every command takes --db PATH (default: $KAOHE_DB or data/kaohe.duckdb).

Start with:  python -m analytics demo            build the demo city
             python -m analytics import FILE...  import your own exports
             python -m analytics COMMAND --help  details of one command
"""


# The module that registers each command: a run of one command imports that module alone, not every
# command's dependencies (SciPy for the detectors, the appeal packs): a second of every `import` run.
# tests/test_docs.py checks this table against what the modules register.
COMMANDS = {
    "appeals": "appeals", "appeal-pack": "appeals", "whatif": "appeals", "bench": "bench", "demo": "demo",
    "flags": "flags", "evaluate": "flags", "import": "importing", "preview": "importing", "imports": "importing",
    "undo": "importing", "outcomes": "outcomes", "register": "outcomes", "rank": "rank", "quota": "rank",
    "tables": "tables", "users": "users", "audit": "users",
}  # fmt: skip


def modules() -> list[str]:
    return sorted(i.name for i in pkgutil.iter_modules(__path__) if not i.name.startswith("_"))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or only with `command`'s module when it is a known command."""
    parser = argparse.ArgumentParser(
        prog="python -m analytics", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in [COMMANDS[command]] if command in COMMANDS else modules():
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, SettingsError) as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except (duckdb.Error, OSError) as exc:  # a damaged or locked store, a full disk: a message, not a traceback
        explained = faults.explain(exc, store.db_path(getattr(args, "db", None)))
        if explained is None:
            raise
        print(f"错误 error: {explained[0]} / {explained[1]}", file=sys.stderr)
        return 2
