"""One run of Puzzle's MIP step: every scenario with every constraint set, solved exactly.

For each scenario of ``subblock_stats.json`` the arguments select (a single one: no
scenario folder; several: one folder each, named as :func:`scenario_folder_names` says) and
each constraint set (a folder named as the reference names it), the run writes
``replacement_metrics_and_stats.json`` (every replacement with its stats in that scenario),
``solutions.json`` (a list of one solution with the reference's keys) and
``solution_repr_0.txt``; with a teacher (a validation folder), also ``solution_0.config.json``:
the teacher's ``config.json`` with the chosen blocks.

Everything is read and checked before anything is solved, and everything is solved before
anything is written: bad input writes nothing. A constraint set that no choice meets in a
scenario (or that the time limit stops before any choice is found) writes nothing in its
folder and is reported; the others are written.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError
from block_config._io import atomic_write
from block_config._search import (
    Bound,
    InfeasibleConstraintError,
    ReplacementChoice,
    SearchStatus,
    search_replacements,
)
from block_config.puzzletron._constraints import ConstraintSet, bound_of
from block_config.puzzletron._files import PuzzleInputError, get_number, is_number
from block_config.puzzletron._replacements import Replacement, Teacher
from block_config.puzzletron._scenarios import MissingSubblockError, Scenario, block_stats

__all__ = [
    "PuzzleFailure",
    "PuzzleProblem",
    "PuzzleSolution",
    "block_repr",
    "solution_repr",
    "solve_problem",
]


# --------------------------------------------------------------------------- text forms


def _subblock_repr(config: Mapping[str, Any] | None, name: str) -> str:
    if config is None:
        return f"  {name}  none"
    if name == "attention" and config.get("mamba") is not None:
        name = "mamba"
    if name == "ffn" and config.get("moe") is not None:
        name = "moe"
    text = f"  {name}"
    if config.get("no_op"):
        return text + "  no_op".ljust(8)
    if config.get("replace_with_linear"):
        return text + "  linear".ljust(8)
    if name == "ffn":
        return text + f"  intermediate_{config['intermediate_size']}".ljust(8)
    if name == "attention":
        return text + f"  kv_heads_{config['num_key_value_heads']}".ljust(8)
    if name == "mamba":
        mamba = config["mamba"]
        return text + f"  num_heads_{mamba['num_heads']}  head_dim_{mamba['head_dim']}".ljust(8)
    moe = config["moe"]
    return text + (
        f"  num_experts_{moe['num_local_experts']}"
        f"  expert_intermediate_dim_{moe['expert_intermediate_dim']}"
        f"  shared_expert_intermediate_dim_{moe['shared_expert_intermediate_dim']}"
        f"  num_experts_per_tok_{moe['num_experts_per_tok']}"
    ).ljust(8)


def block_repr(block: BlockConfig) -> str:
    """A block in one line, as the reference's ``block_repr`` shows it
    (``  attention  kv_heads_8  ffn  intermediate_14336``); a parallel block shows its
    members between ``parallel[`` and ``]``, separated by ``|``."""
    if block.parallel_blocks is not None:
        return "  parallel[" + " |".join(block_repr(m) for m in block.parallel_blocks) + " ]"
    data = dataclasses.asdict(block)
    return _subblock_repr(data["attention"], "attention") + _subblock_repr(data["ffn"], "ffn")


def solution_repr(blocks: Sequence[BlockConfig]) -> str:
    """``block_<i>:`` and the block's :func:`block_repr`, one line per chosen block."""
    lines = [f"block_{index}:".ljust(9) + block_repr(block) for index, block in enumerate(blocks)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- one problem


@attrs.frozen(kw_only=True, eq=False)
class PuzzleProblem:
    """One scenario with one constraint set, checked and ready to solve."""

    scenario: Scenario
    constraint_set: ConstraintSet
    folder: Path
    #: Every replacement's entry with its ``stats`` in this scenario and its ``block_repr``.
    entries: dict[str, dict[str, Any]]
    #: The replacements the objective can rank (a NaN or infinite objective is dropped).
    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    #: The MIP constraints before the non-block part is taken off (as ``puzzle_args`` says).
    mip_constraints: dict[str, Any]
    bounds: dict[str, Bound]
    #: Per constrained or reported stat: each kept replacement's value.
    columns: dict[str, list[int | float]]
    objective_values: list[int | float]
    offsets: dict[str, int | float]
    layers: tuple[int, ...]
    blocks: dict[str, BlockConfig]
    spans: dict[str, tuple[int, ...]]


@attrs.frozen(kw_only=True, eq=False)
class PuzzleSolution:
    """A solved problem: the ``solutions.json`` entry and what the run writes beside it."""

    problem: PuzzleProblem
    status: SearchStatus
    gap: float
    solution: dict[str, Any]
    chosen_blocks: tuple[BlockConfig, ...]


@attrs.frozen(kw_only=True, eq=False)
class PuzzleFailure:
    """A problem with no solution: infeasible, or stopped by the time limit before any."""

    problem: PuzzleProblem
    message: str


def _lookup_offset(non_block: Mapping[str, Any], name: str, scenario: Scenario) -> int | float:
    """The non-block part of a stat: ``non_block[x]`` for ``stats.x``, else 0."""
    parts = name.split(".")
    if len(parts) != 2 or parts[0] != "stats" or parts[1] not in non_block:
        return 0
    value = non_block[parts[1]]
    if not is_number(value) or not math.isfinite(value):
        raise PuzzleInputError.one(
            scenario.source,
            (scenario.index, "non_block", parts[1]),
            f"is needed for {name!r}; expected a finite number, got {value!r}",
        )
    return value  # type: ignore[no-any-return]


def prepare_problem(
    replacements: Mapping[str, Replacement],
    scenario: Scenario,
    constraint_set: ConstraintSet,
    *,
    objective: str,
    report: Sequence[str],
    folder: Path,
) -> PuzzleProblem:
    """Check one scenario with one constraint set; every input problem is located."""
    entries: dict[str, dict[str, Any]] = {}
    for key, replacement in replacements.items():
        try:
            stats = block_stats(scenario, replacement.block, replacement.parent_layer_indices[0])
        except MissingSubblockError as error:
            raise PuzzleInputError.one(
                replacement.source,
                (*replacement.path, "block_config", error.side),
                f"{scenario.source} scenario $[{scenario.index}]: {error}",
            ) from None
        entry = dict(replacement.data)
        entry["stats"] = stats
        entry["block_repr"] = block_repr(replacement.block)
        entries[key] = entry
    layers = tuple(sorted({i for r in replacements.values() for i in r.parent_layer_indices}))
    kept, dropped, values = [], [], []
    for key, replacement in replacements.items():
        value = get_number(
            entries[key], objective, replacement.source, replacement.path, finite=False
        )
        if math.isfinite(value):
            kept.append(key)
            values.append(value)
        else:
            dropped.append(key)
    still = {i for key in kept for i in replacements[key].parent_layer_indices}
    lost = [layer for layer in layers if layer not in still]
    if lost:
        raise PuzzleInputError.one(
            "--objective",
            (),
            f"{objective!r} is NaN or infinite for every replacement of parent layers {lost}",
        )
    mip = constraint_set.to_mip(scenario.args, scenario.source, (scenario.index, "args"))
    bounds: dict[str, Bound] = {}
    for name, value in mip.items():
        bound = bound_of(value, constraint_set.source, (*constraint_set.path, name))
        if bound is not None:
            bounds[name] = bound
    names = [*mip, *(name for name in report if name not in mip)]
    columns = {
        name: [_stat(entries[key], name, replacements[key], scenario) for key in kept]
        for name in names
    }
    offsets = {name: _lookup_offset(scenario.non_block, name, scenario) for name in names}
    return PuzzleProblem(
        scenario=scenario,
        constraint_set=constraint_set,
        folder=folder,
        entries=entries,
        kept=tuple(kept),
        dropped=tuple(dropped),
        mip_constraints=mip,
        bounds=bounds,
        columns=columns,
        objective_values=values,
        offsets=offsets,
        layers=layers,
        blocks={key: replacements[key].block for key in kept},
        spans={key: replacements[key].parent_layer_indices for key in kept},
    )


def _stat(
    entry: Mapping[str, Any], name: str, replacement: Replacement, scenario: Scenario
) -> int | float:
    """A constrained or reported value of a replacement. A block stat comes from the
    scenario's subblocks: a missing or null one is reported there, naming the block."""
    try:
        return get_number(entry, name, replacement.source, replacement.path)
    except PuzzleInputError as error:
        parts = name.split(".")
        if len(parts) != 2 or parts[0] != "stats":
            raise
        value = entry["stats"].get(parts[1])
        found = "null" if parts[1] in entry["stats"] else "absent"
        raise PuzzleInputError.one(
            scenario.source,
            (scenario.index, "subblocks"),
            f"{name!r} is needed, but is {found} for {replacement.id} "
            f"(parent layer {replacement.parent_layer_indices[0]}:{block_repr(replacement.block)})"
            + ("" if value is None else f": {value!r}"),
        ) from error


def _total(values: Sequence[int | float], offset: int | float) -> int | float:
    """A sum as the reference writes it: an int when every term is an int."""
    if all(type(v) is int for v in values) and type(offset) is int:
        return sum(values) + offset
    return math.fsum([*values, offset])


def solve_problem(
    problem: PuzzleProblem,
    *,
    objective: str,
    maximize: bool,
    time_limit: float | None,
    puzzle_args: Mapping[str, Any],
) -> PuzzleSolution | PuzzleFailure:
    """Solve one problem exactly; its ``solutions.json`` entry, or why there is none."""
    spans = [problem.spans[key] for key in problem.kept]
    try:
        choice: ReplacementChoice = search_replacements(
            spans,
            [float(v) for v in problem.objective_values],
            {name: [float(v) for v in column] for name, column in problem.columns.items()},
            problem.bounds,
            offsets={name: float(v) for name, v in problem.offsets.items()},
            maximize=maximize,
            time_limit=time_limit,
        )
    except InfeasibleConstraintError as error:
        return PuzzleFailure(problem=problem, message=str(error))
    except TimeoutError as error:
        return PuzzleFailure(problem=problem, message=str(error))
    positions = list(choice.chosen)
    chosen_keys = [problem.kept[i] for i in positions]
    chosen = []
    for key in chosen_keys:
        entry = dict(problem.entries[key])
        entry["child_block_configs"] = entry["block_config"]
        chosen.append(entry)
    total_costs: dict[str, Any] = {
        name: _total([column[i] for i in positions], problem.offsets[name])
        for name, column in problem.columns.items()
    }
    args = problem.scenario.args
    runtime = total_costs.get("stats.runtime_ms")
    if (
        runtime is not None
        and runtime != 0
        and is_number(args.get("batch_size"))
        and is_number(args.get("generation_seq_len"))
    ):
        total_costs["throughput"] = 1000 * args["batch_size"] * args["generation_seq_len"] / runtime
    blocks = tuple(problem.blocks[key] for key in chosen_keys)
    solution = {
        "chosen_replacements": chosen,
        "total_value": {objective: choice.value},
        "total_costs": total_costs,
        "puzzle_args": dict(puzzle_args),
        "subblock_stats": args,
        "chosen_block_configs": [entry["block_config"] for entry in chosen],
        "solution_repr": solution_repr(blocks),
        "solver": {"name": "HiGHS", "status": choice.status.replace("_", " "), "gap": choice.gap},
    }
    return PuzzleSolution(
        problem=problem,
        status=choice.status,
        gap=choice.gap,
        solution=solution,
        chosen_blocks=blocks,
    )


def dump_json(data: Any) -> str:
    """JSON as the reference's writer writes it: ``json.dumps`` with an indent of 2."""
    return json.dumps(data, indent=2)


def write_solution(solved: PuzzleSolution, teacher: Teacher | None) -> list[Path]:
    """Write one solved problem's files; the paths written."""
    folder = solved.problem.folder
    written = [
        atomic_write(
            folder / "replacement_metrics_and_stats.json", dump_json(solved.problem.entries)
        ),
        atomic_write(folder / "solution_repr_0.txt", solved.solution["solution_repr"]),
        atomic_write(folder / "solutions.json", dump_json([solved.solution])),
    ]
    if teacher is not None:
        child = teacher.model.with_block_configs(solved.chosen_blocks)
        target = folder / "solution_0.config.json"
        try:
            written.append(child.save(target))
        except BlockConfigError:  # what the teacher's legacy dialect cannot express
            written.append(child.save(target, dialect="native"))
    return written
