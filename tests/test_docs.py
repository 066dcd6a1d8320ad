"""The docs are tested: README shows the stored tables as the schema defines them, every command, every setting section."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from analytics import schema
from analytics.cli import build_parser
from analytics.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_stored_tables_match_the_schema():
    assert schema.markdown() in README, "README's Stored tables section differs: paste `python -m analytics tables`"


def test_readme_names_every_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    missing = [name for name in sub.choices if f"`{name}" not in README]
    assert missing == []


def test_readme_names_every_settings_section():
    missing = [f.name for f in dataclasses.fields(Settings) if f"`{f.name}`" not in README]
    assert missing == []


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README


def test_the_command_table_names_the_module_that_registers_each_command():
    import argparse
    import importlib

    from analytics import cli

    registered = {}
    for name in cli.modules():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"analytics.cli.{name}").register(sub)
        registered |= dict.fromkeys(sub.choices, name)
    assert registered == cli.COMMANDS


def test_one_command_parses_with_its_module_alone():
    from analytics import cli

    args = cli.build_parser("import").parse_args(["import", "a.csv", "--db", "x.duckdb"])
    assert args.command == "import" and args.func.__module__ == "analytics.cli.importing"
    sub = next(a for a in cli.build_parser("import")._actions if a.dest == "command")
    assert set(sub.choices) == {"import", "preview", "imports", "undo"}
