"""Guards for the ``python -O`` run (``nox -s tests_optimized``).

``-O`` strips ``assert`` statements: the library must not check input with them, and the
suite's own asserts must still run (pytest rewrites them in test modules), or an ``-O`` run
would pass without checking anything.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "block_config"


def test_asserts_in_tests_still_run() -> None:
    with pytest.raises(AssertionError):
        assert sys.flags.optimize < 0  # never true: only a stripped assert would pass


def _is_narrowing(test: ast.expr) -> bool:
    """``x is not None`` (or a chain of them): a hint for the type checker, not a check."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return all(_is_narrowing(value) for value in test.values)
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


def test_the_library_checks_no_input_with_assert() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        found += [
            f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node.test)}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Assert)
        ]
    checks = [
        line
        for line in found
        if not _is_narrowing(ast.parse(line.split(": ", 1)[1], mode="eval").body)
    ]
    assert checks == []
    assert found  # the scan sees the narrowing asserts there are
