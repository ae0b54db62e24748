"""Puzzle's MIP step, drop-in: the reference pipeline's artefacts read, solved exactly.

The reference (NVIDIA Model-Optimizer, ``modelopt/torch/puzzletron``) measures candidate
blocks on a GPU and chooses among them with PuLP/CBC in ``mip/run_puzzle.py``. This package
reads its files without torch or omegaconf and solves the same program with HiGHS:

* :func:`read_gathered_metrics`, :func:`read_validation_dir`, :func:`read_replacement_library`:
  the replacements (one child block for one or more consecutive parent layers);
* :func:`read_scenarios`, :func:`select_scenario`, :func:`block_stats`: ``subblock_stats.json``;
* :func:`constraint_sets`: ``--mip_constraints`` and ``--human_constraints``;
* :func:`run_puzzle` with :class:`PuzzleArgs`: the whole step, writing the reference's tree.

``python -m block_config.puzzletron.run_puzzle`` (or ``block-config puzzle-mip``) takes the
reference's flags. Needs the ``search`` extra (SciPy); ``--puzzle_profile`` the ``yaml`` one.
"""

from __future__ import annotations

from block_config.puzzletron._constraints import HUMAN_CONSTRAINTS, ConstraintSet, constraint_sets
from block_config.puzzletron._files import PuzzleInputError
from block_config.puzzletron._puzzle import (
    PuzzleFailure,
    PuzzleProblem,
    PuzzleSolution,
    block_repr,
    solution_repr,
)
from block_config.puzzletron._replacements import (
    Replacement,
    Teacher,
    read_gathered_metrics,
    read_replacement_library,
    read_validation_dir,
)
from block_config.puzzletron._scenarios import (
    Scenario,
    block_stats,
    read_scenarios,
    scenario_folder_names,
    select_scenario,
)
from block_config.puzzletron.run_puzzle import PuzzleArgs, PuzzleRun, UsageError, run_puzzle

__all__ = [
    "HUMAN_CONSTRAINTS",
    "ConstraintSet",
    "PuzzleArgs",
    "PuzzleFailure",
    "PuzzleInputError",
    "PuzzleProblem",
    "PuzzleRun",
    "PuzzleSolution",
    "Replacement",
    "Scenario",
    "Teacher",
    "UsageError",
    "block_repr",
    "block_stats",
    "constraint_sets",
    "read_gathered_metrics",
    "read_replacement_library",
    "read_scenarios",
    "read_validation_dir",
    "run_puzzle",
    "scenario_folder_names",
    "select_scenario",
    "solution_repr",
]
