"""``python -m block_config.puzzletron.run_puzzle``: Puzzle's MIP step, drop-in.

Takes the reference pipeline's flags (``modelopt/torch/puzzletron/mip/run_puzzle.py``) and
writes the same tree; chooses with HiGHS, proven optimal (or says the time limit stopped it
and with what gap), and says which constraint cannot be met where the reference writes
``[]``. Needs the ``search`` extra (SciPy); ``--puzzle_profile`` needs the ``yaml`` extra.
``block-config puzzle-mip`` is the same command.

Exit codes: 0 every scenario and constraint set solved; 1 invalid input, or a constraint set
that no choice meets (the others are written); 2 usage error; 3 SciPy or PyYAML missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from block_config._errors import describe
from block_config._search import _solver
from block_config.puzzletron._constraints import ConstraintSet, constraint_sets
from block_config.puzzletron._files import PuzzleInputError, read_json, read_yaml
from block_config.puzzletron._puzzle import (
    PuzzleFailure,
    PuzzleProblem,
    PuzzleSolution,
    prepare_problem,
    solve_problem,
    write_solution,
)
from block_config.puzzletron._replacements import (
    Replacement,
    Teacher,
    read_gathered_metrics,
    read_validation_dir,
    replacements_from_mapping,
)
from block_config.puzzletron._scenarios import (
    read_scenarios,
    scenario_folder_names,
    select_scenario,
)

__all__ = ["PuzzleArgs", "PuzzleRun", "UsageError", "add_arguments", "main", "run_puzzle"]

#: The flags, in the reference's order (the order of ``puzzle_args`` in ``solutions.json``).
FLAGS = (
    "puzzle_profile",
    "single_block_replacement_validation_dir",
    "gathered_metrics_path",
    "subblock_stats_path",
    "subblock_stats_args",
    "objective",
    "mip_constraints",
    "human_constraints",
    "report_additional_costs",
    "output_path",
    "max_seconds_per_solution",
    "metric_overrides",
    "bigger_is_better",
)
_PATHS = (
    "puzzle_profile",
    "single_block_replacement_validation_dir",
    "gathered_metrics_path",
    "subblock_stats_path",
    "output_path",
)
_JSON = ("subblock_stats_args", "mip_constraints", "human_constraints", "metric_overrides")


@attrs.frozen(kw_only=True)
class PuzzleArgs:
    """The reference's flags. JSON flags hold parsed JSON; paths are :class:`Path` or None."""

    puzzle_profile: Path | None = None
    single_block_replacement_validation_dir: Path | None = None
    gathered_metrics_path: Path | None = None
    subblock_stats_path: Path | None = None
    subblock_stats_args: Any = None
    objective: str | None = None
    mip_constraints: Any = None
    human_constraints: Any = None
    report_additional_costs: tuple[str, ...] = ()
    output_path: Path | None = None
    max_seconds_per_solution: float | None = 60.0
    metric_overrides: Any = None
    bigger_is_better: bool = False

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> PuzzleArgs:
        """From parsed flags (see :func:`add_arguments`)."""
        values = {name: getattr(namespace, name) for name in FLAGS}
        values["report_additional_costs"] = tuple(values["report_additional_costs"] or ())
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The flags as ``puzzle_args`` in ``solutions.json`` holds them (paths as text)."""
        result: dict[str, Any] = {}
        for name in FLAGS:
            value = getattr(self, name)
            if isinstance(value, Path):
                value = str(value)
            elif name == "report_additional_costs":
                value = list(value)
            result[name] = value
        return result


@attrs.frozen(kw_only=True, eq=False)
class PuzzleRun:
    """What a run solved, what it could not, what it wrote, and its warnings."""

    solutions: tuple[PuzzleSolution, ...]
    failures: tuple[PuzzleFailure, ...]
    written: tuple[Path, ...]
    warnings: tuple[str, ...]


def _path(text: str) -> Path | None:
    return None if text == "" else Path(text)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The reference's flags, with its names, types and defaults."""
    parser.add_argument("--puzzle_profile", type=_path, help="a YAML file of flags")
    parser.add_argument(
        "--single_block_replacement_validation_dir",
        type=_path,
        default=None,
        help="a folder of *solution*.json files and teacher.json",
    )
    parser.add_argument(
        "--gathered_metrics_path",
        type=_path,
        default=None,
        help="gathered metrics (replacement_<i> entries); instead of the validation folder",
    )
    parser.add_argument("--subblock_stats_path", type=_path, help="subblock_stats.json")
    parser.add_argument(
        "--subblock_stats_args",
        type=_json,
        help="JSON: the scenario (an object) or scenarios (a list) to solve for",
    )
    parser.add_argument("--objective", type=str, help="e.g. metrics.lm_loss")
    parser.add_argument("--mip_constraints", type=_json, help="JSON: an object or a list")
    parser.add_argument("--human_constraints", type=_json, help="JSON: an object or a list")
    parser.add_argument(
        "--report_additional_costs",
        type=str,
        action="append",
        default=[],
        help="a stat whose total is reported, not constrained (repeatable)",
    )
    parser.add_argument("--output_path", type=_path, help="where the results go")
    parser.add_argument("--max_seconds_per_solution", type=_seconds, default=60.0)
    parser.add_argument("--metric_overrides", type=_json, default=None)
    parser.add_argument(
        "--bigger_is_better",
        action="store_true",
        help="maximise the objective (an accuracy), rather than minimise it (a loss)",
    )


# --------------------------------------------------------------------------- the profile


def _profile_value(name: str, value: Any, source: str) -> Any:
    """A profile's value for flag ``name``, checked as the flag's type."""
    where = (name,)
    if name in _PATHS:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise PuzzleInputError.one(source, where, f"expected a path, got {describe(value)}")
        return Path(value)
    if name == "objective":
        if not isinstance(value, str):
            raise PuzzleInputError.one(source, where, f"expected a string, got {describe(value)}")
        return value
    if name == "report_additional_costs":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PuzzleInputError.one(source, where, "expected a list of strings")
        return tuple(value)
    if name == "max_seconds_per_solution":
        if value is not None and (type(value) not in (int, float) or not value > 0):
            raise PuzzleInputError.one(
                source, where, f"expected a positive number or null, got {describe(value)}"
            )
        return None if value is None else float(value)
    if name == "bigger_is_better":
        if type(value) is not bool:
            raise PuzzleInputError.one(source, where, f"expected a bool, got {describe(value)}")
        return value
    return value


def apply_profile(args: PuzzleArgs) -> tuple[PuzzleArgs, dict[str, Any]]:
    """The flags with the profile's values (which win, as in the reference, except for the
    constraints and scenarios, where a flag wins), and the profile."""
    if args.puzzle_profile is None:
        return args, {}
    source = str(args.puzzle_profile)
    profile = read_yaml(args.puzzle_profile)
    if profile is None:
        profile = {}
    if not isinstance(profile, dict):
        raise PuzzleInputError.one(source, (), f"expected a mapping, got {describe(profile)}")
    changes = {
        name: _profile_value(name, profile[name], source)
        for name in FLAGS
        if name in profile
        and name not in ("mip_constraints", "human_constraints", "subblock_stats_args")
    }
    return attrs.evolve(args, **changes), profile


class UsageError(Exception):
    """Flags that do not make a run (exit 2)."""


def _scenario_args(args: PuzzleArgs, profile: dict[str, Any]) -> tuple[list[Any], str]:
    if args.subblock_stats_args is not None:
        given, source = args.subblock_stats_args, "--subblock_stats_args"
    elif "subblock_stats_args" in profile:
        given, source = profile["subblock_stats_args"], str(args.puzzle_profile)
    else:
        raise UsageError(
            "subblock_stats_args must be given by --subblock_stats_args or in the puzzle profile"
        )
    items = [given] if isinstance(given, dict) else given
    prefix: tuple[Any, ...] = () if source.startswith("--") else ("subblock_stats_args",)
    if not isinstance(items, list) or not items:
        raise PuzzleInputError.one(source, prefix, "expected an object or a non-empty list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            path = (*prefix, index) if isinstance(given, list) else prefix
            raise PuzzleInputError.one(source, path, f"expected an object, got {describe(item)}")
    return items, source


def _constraint_sets(args: PuzzleArgs, profile: dict[str, Any]) -> list[ConstraintSet]:
    if args.mip_constraints is not None:
        return constraint_sets("mip", args.mip_constraints, "--mip_constraints")
    if args.human_constraints is not None:
        return constraint_sets("human", args.human_constraints, "--human_constraints")
    source = str(args.puzzle_profile)
    if "mip_constraints" in profile:
        return constraint_sets("mip", profile["mip_constraints"], source, ("mip_constraints",))
    if "human_constraints" in profile:
        return constraint_sets(
            "human", profile["human_constraints"], source, ("human_constraints",)
        )
    raise UsageError(
        "constraints must be given by --mip_constraints or --human_constraints, or in the "
        "puzzle profile"
    )


# --------------------------------------------------------------------------- the run


def _replacements(args: PuzzleArgs) -> tuple[dict[str, Replacement], Teacher | None]:
    teacher = None
    if args.gathered_metrics_path is not None:
        replacements = read_gathered_metrics(args.gathered_metrics_path)
    elif args.single_block_replacement_validation_dir is not None:
        replacements, teacher = read_validation_dir(args.single_block_replacement_validation_dir)
    else:
        raise UsageError(
            "give --gathered_metrics_path or --single_block_replacement_validation_dir"
        )
    if args.metric_overrides is not None:
        replacements = {
            **replacements,
            **replacements_from_mapping(args.metric_overrides, "--metric_overrides"),
        }
    return replacements, teacher


def run_puzzle(args: PuzzleArgs) -> PuzzleRun:
    """Run the MIP step as the reference's ``run_puzzle`` does (see the module's docs).

    Raises :class:`PuzzleInputError` (nothing written) for bad input, :class:`UsageError` for
    missing flags and :class:`SolverNotInstalledError` without SciPy.
    """
    _solver()
    args, profile = apply_profile(args)
    missing = [
        name
        for name in ("subblock_stats_path", "objective", "output_path")
        if getattr(args, name) is None
    ]
    if missing:
        raise UsageError("the following arguments are required: " + ", ".join(missing))
    assert args.subblock_stats_path is not None
    assert args.objective is not None
    assert args.output_path is not None
    wanted, wanted_source = _scenario_args(args, profile)
    sets = _constraint_sets(args, profile)
    replacements, teacher = _replacements(args)
    stats_source = str(args.subblock_stats_path)
    scenarios = read_scenarios(read_json(args.subblock_stats_path), stats_source)
    folders = scenario_folder_names(wanted)
    if len(set(folders)) != len(folders):
        raise PuzzleInputError.one(
            wanted_source, (), f"two scenarios would share a folder: {folders}"
        )
    problems: list[tuple[PuzzleProblem, dict[str, Any]]] = []
    for index, (scenario_args, folder) in enumerate(zip(wanted, folders, strict=True)):
        flag_path: tuple[Any, ...] = (index,) if len(wanted) > 1 else ()
        if not wanted_source.startswith("--"):
            flag_path = ("subblock_stats_args", *flag_path)
        scenario = select_scenario(scenarios, scenario_args, stats_source, wanted_source, flag_path)
        for constraint_set in sets:
            problem = prepare_problem(
                replacements,
                scenario,
                constraint_set,
                objective=args.objective,
                report=args.report_additional_costs,
                folder=args.output_path / folder / constraint_set.name,
            )
            puzzle_args = args.to_dict()
            puzzle_args["mip_constraints"] = problem.mip_constraints
            puzzle_args["human_constraints"] = (
                constraint_set.constraints if constraint_set.kind == "human" else None
            )
            puzzle_args["subblock_stats_args"] = scenario_args
            problems.append((problem, puzzle_args))
    notes = [
        f"{problem.folder}: dropped {len(problem.dropped)} replacements whose "
        f"{args.objective!r} is NaN or infinite: {', '.join(problem.dropped)}"
        for problem, _ in problems
        if problem.dropped
    ]
    outcomes = [
        solve_problem(
            problem,
            objective=args.objective,
            maximize=args.bigger_is_better,
            time_limit=args.max_seconds_per_solution,
            puzzle_args=puzzle_args,
        )
        for problem, puzzle_args in problems
    ]
    solved = [o for o in outcomes if isinstance(o, PuzzleSolution)]
    failed = [o for o in outcomes if isinstance(o, PuzzleFailure)]
    written: list[Path] = []
    for solution in solved:
        written += write_solution(solution, teacher)
    return PuzzleRun(
        solutions=tuple(solved),
        failures=tuple(failed),
        written=tuple(written),
        warnings=tuple(notes),
    )


def build_parser(
    prog: str = "python -m block_config.puzzletron.run_puzzle",
) -> argparse.ArgumentParser:
    """The parser of the module's command."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Puzzle's MIP step, drop-in: the reference's flags, an exact solver.",
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    from block_config._cli._boundary import EXIT_USAGE, run_command
    from block_config._cli.puzzle_mip import run

    parser = build_parser()
    try:
        namespace = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    return run_command(run, namespace)


if __name__ == "__main__":
    sys.exit(main())
