"""``block-config puzzle-mip``: Puzzle's MIP step, drop-in (the reference's flags).

The same command as ``python -m block_config.puzzletron.run_puzzle``; see
:mod:`block_config.puzzletron`.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from block_config._cli._boundary import (
    EXIT_INVALID,
    EXIT_OK,
    error_line,
    invalid,
    missing_dependency,
    note_failure,
    usage,
    warning_line,
)
from block_config._cli._common import add_command
from block_config._search import SolverNotInstalledError
from block_config.puzzletron import PuzzleArgs, PuzzleInputError, UsageError, run_puzzle
from block_config.puzzletron.run_puzzle import add_arguments

_DESCRIPTION = """\
Reads what the reference pipeline (NVIDIA Model-Optimizer's puzzletron) measured: the
replacements (--gathered_metrics_path, or --single_block_replacement_validation_dir with its
teacher.json) and subblock_stats.json; chooses one replacement per parent layer (a
replacement may span several layers) with an exact solver under --mip_constraints or
--human_constraints; writes OUTPUT_PATH/[SCENARIO/]CONSTRAINTS/solutions.json,
replacement_metrics_and_stats.json and solution_repr_0.txt as the reference does, and with a
teacher solution_0.config.json (the teacher's config with the chosen blocks).

A constraint set no choice meets writes nothing and exits 1 naming each constraint that
cannot be met and the total any choice reaches. Needs: pip install 'block-config[search]'
(and [yaml] for --puzzle_profile)."""


def register(commands: Any) -> None:
    """Add ``puzzle-mip`` to the command's subparsers."""
    parser = add_command(
        commands,
        "puzzle-mip",
        "Puzzle's MIP step on the reference pipeline's files, solved exactly",
        _DESCRIPTION,
        run,
    )
    add_arguments(parser)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Run the MIP step; print each solution's status and totals, each failure's cause."""
    try:
        outcome = run_puzzle(PuzzleArgs.from_namespace(args))
    except SolverNotInstalledError as error:
        missing_dependency(str(error))
    except ImportError as error:  # PyYAML, for --puzzle_profile
        missing_dependency(str(error))
    except UsageError as error:
        usage(str(error))
    except PuzzleInputError as error:
        invalid(error.source, error)
    for note in outcome.warnings:
        print(warning_line(note), file=sys.stderr)
    for solution in outcome.solutions:
        folder = solution.problem.folder
        status = (
            "optimal" if solution.status == "optimal" else (f"time limit, gap {solution.gap:.3g}")
        )
        value = next(iter(solution.solution["total_value"].values()))
        print(f"{folder / 'solutions.json'}: {status}; objective {value:.10g}", file=out)
        for name, total in solution.solution["total_costs"].items():
            print(f"  {name}: {total:.10g}", file=out)
    for failure in outcome.failures:
        print(error_line(f"{failure.problem.folder}: {failure.message}"), file=sys.stderr)
    if outcome.failures:
        note_failure(EXIT_INVALID)
        return EXIT_INVALID
    return EXIT_OK
