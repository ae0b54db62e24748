"""Test, type-check and lint sessions. ``nox`` runs the default set; ``nox -s NAME`` one of them."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "tests_optimized", "typecheck", "lint", "interop"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
# The tests run on every Python in PYTHONS that the machine has; a missing one is skipped
# (and said so in nox's summary), so `nox` works wherever at least one of them exists.
nox.options.error_on_missing_interpreters = False

#: Every Python the package declares (the classifiers in pyproject.toml) and tests on.
PYTHONS = ["3.11", "3.12", "3.13"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return nox.project.dependency_groups(PYPROJECT, name)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite against the installed package, on each Python of PYTHONS."""
    session.install(".", *_group("test"))
    session.run("pytest", *session.posargs)


#: The transformers release whose configuration classes the interop session reads with.
TRANSFORMERS = "transformers==5.25.0"


@nox.session
def interop(session: nox.Session) -> None:
    """What the per-layer writer writes, read by transformers' own configuration classes
    (no torch: configs only)."""
    session.install(".", *_group("interop"))
    session.install("--no-deps", TRANSFORMERS)
    session.run("pytest", "tests/test_per_layer.py", "-k", "transformers", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the typed API contract in typings/."""
    session.install(".", *_group("typecheck"))
    session.run("mypy", "--strict", "src", "tests", "typings")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, the linter and the formatter check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def tests_optimized(session: nox.Session) -> None:
    """The whole test suite under ``python -O``: no behaviour may hang on an ``assert``."""
    session.install(".", *_group("test"))
    session.run(
        "python",
        "-O",
        "-m",
        "pytest",
        # pytest warns that -O strips asserts outside test modules; tests/test_optimized.py
        # checks that those in the tests still run and that the library relies on none.
        "-W",
        "ignore:assertions not in test modules:pytest.PytestConfigWarning",
        *session.posargs,
    )


#: Cases the ``fuzz`` session runs (the default test run has 12,000); ``nox -s fuzz -- N``
#: runs N instead.
FUZZ_CASES = 400_000


@nox.session
def fuzz(session: nox.Session) -> None:
    """The fuzz suite with many more cases than the default run (not in the default set),
    and the long memory and adversarial cases (inputs at the limits) the default run skips."""
    session.install(".", *_group("test"))
    cases = session.posargs[0] if session.posargs else str(FUZZ_CASES)
    session.run(
        "pytest",
        "tests/test_fuzz.py",
        "tests/test_memory.py",
        "tests/test_adversarial.py",
        "-p",
        "no:cacheprovider",
        env={"BLOCK_CONFIG_FUZZ_CASES": cases},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark against a dataclass baseline, pydantic and msgspec (``-- --quick``: short),
    then the search on 162 layers x 1,000 candidates (``-- --search``: that one alone), then
    Puzzle's MIP step on 162 layers x 2,000 replacements beside the reference's CBC
    (``-- --puzzle``: that one alone; not in ``--quick``).

    Not in the default set: a full run takes minutes. The peers (PuLP, which brings CBC,
    included) are pinned in the ``bench`` dependency group.
    """
    session.install(".[search]", *_group("bench"))
    session.run("python", "benchmarks/bench.py", *session.posargs)
