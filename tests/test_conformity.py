"""docs/conformity.md: every test it names exists, and its rows are in order."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFORMITY = ROOT / "docs" / "conformity.md"


def _rows() -> list[list[str]]:
    rows = []
    for line in CONFORMITY.read_text(encoding="utf-8").splitlines():
        if line.startswith("| R") and not line.startswith("| R |"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    }


def test_every_named_test_exists() -> None:
    rows = _rows()
    assert len(rows) > 40
    for row in rows:
        shown_by = row[-1]
        current: Path | None = None
        references = re.findall(r"`([^`]+)`", shown_by)
        assert references, row[0]
        for reference in references:
            path, _, name = reference.partition("::")
            if path:
                current = ROOT / path
                assert current.exists(), (row[0], path)
            if name:
                assert current is not None and current.suffix == ".py", (row[0], name)
                assert name in _tests_in(current), (row[0], reference)


def _first_number(cell: str) -> tuple[int, str]:
    match = re.match(r"R(\d+)([a-z]?)", cell)
    assert match, cell
    return int(match[1]), match[2]


def test_rows_are_in_order_of_requirement_number() -> None:
    numbers = [_first_number(row[0]) for row in _rows()]
    assert numbers == sorted(numbers)
