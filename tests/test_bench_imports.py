"""bench/, testkit/ and scenariogen/ stand on their own: none of them imports the test suite.

What a benchmark shares with the tests (harnesses, cassettes, sample reports) lives in testkit/
or scenariogen/, which both import; tests/ may change its internals without breaking bench/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDALONE = ("bench", "testkit", "scenariogen")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_imported_modules_reads_both_import_forms(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import tests.llm\nfrom tests.git.repos import deployment\nfrom . import x\nimport os\n"
    )
    assert imported_modules(sample) == ["tests.llm", "tests.git.repos", "os"]


@pytest.mark.parametrize("package", STANDALONE)
def test_package_never_imports_the_test_suite(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name == "tests" or name.startswith("tests.")
    ]
    assert offenders == []
