"""The typed contract of spans, measured stats, search_replacements and the puzzletron
package, as a user calls them.

Never executed: ``mypy --strict`` checks it (the ``typecheck`` nox session), with
``warn_unused_ignores`` on, so every ``# type: ignore[...]`` line below must stay an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

from block_config import (
    Bound,
    Budgets,
    Candidate,
    CandidateLibrary,
    InfeasibleConstraintError,
    ModelArchitecture,
    ReplacementChoice,
    SearchStatus,
    SpanCandidate,
    SpanSearchResult,
    search_replacements,
    search_spans,
)
from block_config.puzzletron import (
    ConstraintSet,
    PuzzleArgs,
    PuzzleInputError,
    PuzzleRun,
    PuzzleSolution,
    Replacement,
    Scenario,
    block_repr,
    block_stats,
    constraint_sets,
    read_gathered_metrics,
    read_replacement_library,
    read_scenarios,
    read_validation_dir,
    run_puzzle,
    scenario_folder_names,
    select_scenario,
    solution_repr,
)

bound = Bound(minimum=1.0, maximum=2.5)
assert_type(bound.minimum, float | None)
assert_type(bound.admits(2.0), bool)
choice = search_replacements(
    [[0], [1], [0, 1]],
    [0.5, 0.25, 0.6],
    {"memory_mib": [1.0, 2.0, 2.5]},
    {"memory_mib": bound},
    offsets={"memory_mib": 0.5},
    maximize=True,
    time_limit=10.0,
)
assert_type(choice, ReplacementChoice)
assert_type(choice.chosen, tuple[int, ...])
assert_type(choice.value, float)
assert_type(choice.totals, dict[str, float])
assert_type(choice.status, SearchStatus)

parent = ModelArchitecture.load("examples/hybrid-native.config.json")
block = parent.block_configs[1]
library = CandidateLibrary.from_blocks(
    parent,
    [[(b, 0.0, {"runtime_ms": 1.0})] for b in parent.block_configs],
    spans=[((1, 2), block, 0.5, {"runtime_ms": 1.5})],
    non_block={"runtime_ms": 2.0},
)
assert_type(library.spans, tuple[SpanCandidate, ...])
assert_type(library.non_block, dict[str, float])
assert_type(library.format_version, int)
assert_type(library.layers[0][0].measured, dict[str, float])
assert_type(library.spans[0].parent_layer_indices, tuple[int, ...])
result = search_spans(library, Budgets(max_params=10**9), {"runtime_ms": Bound(maximum=9.0)})
assert_type(result, SpanSearchResult)
assert_type(result.chosen, tuple[Candidate | SpanCandidate, ...])
assert_type(result.parent_layer_indices, tuple[tuple[int, ...], ...])
assert_type(result.measured, dict[str, float])
assert_type(result.to_dict(), dict[str, Any])

try:
    search_spans(library)
except InfeasibleConstraintError as error:
    assert_type(error.reach, dict[str, tuple[float, float]])
    assert_type(error.unmet, tuple[str, ...])

run = run_puzzle(
    PuzzleArgs(
        gathered_metrics_path=Path("gathered.json"),
        subblock_stats_path=Path("subblock_stats.json"),
        subblock_stats_args=[{"batch_size": 256}],
        objective="metrics.lm_loss",
        mip_constraints={"stats.memory_mib": 78000},
        output_path=Path("mip"),
    )
)
assert_type(run, PuzzleRun)
assert_type(run.solutions, tuple[PuzzleSolution, ...])
assert_type(run.solutions[0].solution, dict[str, Any])
assert_type(run.written, tuple[Path, ...])

replacements = read_gathered_metrics(Path("gathered.json"))
assert_type(replacements, dict[str, Replacement])
assert_type(read_validation_dir(Path("validation"))[0], dict[str, Replacement])
assert_type(read_replacement_library(Path("replacement_library.json")), list[dict[str, Any]])
scenarios = read_scenarios([{"args": {}}], "subblock_stats.json")
scenario = select_scenario(scenarios, {"batch_size": 256}, "s.json", "--subblock_stats_args", ())
assert_type(scenario, Scenario)
assert_type(block_stats(scenario, block, 3), dict[str, Any])
assert_type(block_repr(block), str)
assert_type(solution_repr([block]), str)
assert_type(scenario_folder_names([{"batch_size": 1}]), list[str])
sets = constraint_sets("human", {"target_memory": 78000}, "--human_constraints")
assert_type(sets, list[ConstraintSet])
assert_type(sets[0].name, str)

try:
    read_gathered_metrics(Path("gathered.json"))
except PuzzleInputError as bad:
    assert_type(bad.source, str)

# Bounds are keyword-only; constraint sets are "mip" or "human".
Bound(1.0, 2.0)  # type: ignore[call-arg]
constraint_sets("other", {}, "x")  # type: ignore[arg-type]
