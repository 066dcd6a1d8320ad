"""The shape the project promises (STYLE.md): analytics never imports streamlit; pages only render."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_analytics_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "analytics").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_pages_do_no_querying_or_aggregating():
    pattern = re.compile(r"(con|conn|db)\.(sql|execute)\(|group_by\(|\.agg\(|import duckdb")
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "pages").rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_cli_help_lists_every_command(capsys):
    from analytics.cli import build_parser

    text = build_parser().format_help()
    for command in ("import", "imports", "undo", "demo"):
        assert re.search(rf"^\s+{command}\s", text, re.M), f"`{command}` missing from --help"


def test_outcomes_and_the_outcome_rule_detector_do_not_import_each_other():
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parent.parent / "analytics" / "outcomes.py"
    imported = {
        node.module for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
    }  # fmt: skip
    assert not any(m.startswith("analytics.detectors") for m in imported), imported
