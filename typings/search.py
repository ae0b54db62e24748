"""The typed contract of candidate libraries and the search, as a user calls them.

Never executed: ``mypy --strict`` checks it (the ``typecheck`` nox session), with
``warn_unused_ignores`` on, so every ``# type: ignore[...]`` line below must stay an error.
"""

from __future__ import annotations

from typing import Any, assert_type

from block_config import (
    LIBRARY_FORMAT_VERSION,
    BlockConfig,
    Budgets,
    Candidate,
    CandidateLibrary,
    InfeasibleBudgetError,
    LayerStats,
    ModelArchitecture,
    ModelStats,
    SearchResult,
    SearchStatus,
    SolverNotInstalledError,
    SweepPoint,
    build_candidates,
    search,
    sweep,
)

parent = ModelArchitecture.load("examples/hybrid-native.config.json")
library = build_candidates(
    parent, kv_heads=[2, 1], ffn_fractions=[0.5], linear=True, no_op=True, experts=[32]
)
assert_type(library, CandidateLibrary)
assert_type(library.layers, tuple[tuple[Candidate, ...], ...])
assert_type(library.num_candidates, int)
assert_type(LIBRARY_FORMAT_VERSION, int)

candidate = library.layers[0][0]
assert_type(candidate.block, BlockConfig)
assert_type(candidate.stats, LayerStats)
assert_type(candidate.score, float | None)
assert_type(candidate.params, int)
assert_type(candidate.kv_cache_bytes_per_token, int)
assert_type(candidate.costs(), dict[str, int])

scored = library.with_scores([[0.0] * len(layer) for layer in library.layers])
assert_type(scored, CandidateLibrary)
assert_type(scored.to_mapping(), dict[str, Any])
assert_type(CandidateLibrary.load("library.json", parent), CandidateLibrary)
assert_type(CandidateLibrary.from_mapping({"layers": []}, parent), CandidateLibrary)
assert_type(CandidateLibrary.from_blocks(parent, [[parent.block_configs[0]]]), CandidateLibrary)

budgets = Budgets(max_params=10**9, max_kv_bytes=2**30, batch_size=8, sequence_length=4096)
assert_type(budgets.limits(), dict[str, int])
result = search(scored, budgets, maximize=False, time_limit=60.0)
assert_type(result, SearchResult)
assert_type(result.status, SearchStatus)
assert_type(result.score, float)
assert_type(result.gap, float)
assert_type(result.choices, tuple[int, ...])
assert_type(result.blocks, tuple[BlockConfig, ...])
assert_type(result.child, ModelArchitecture)
assert_type(result.stats, ModelStats)
assert_type(result.kv_cache_bytes, int | None)
assert_type(result.to_dict(), dict[str, Any])

points = sweep(scored, "max_params", [10**9, 2 * 10**9], budgets)
assert_type(points, tuple[SweepPoint, ...])
assert_type(points[0].result, SearchResult | None)

try:
    search(scored)
except InfeasibleBudgetError as error:
    assert_type(error.smallest, dict[str, int])
except SolverNotInstalledError as missing:
    assert_type(missing, SolverNotInstalledError)

# Budgets are keyword-only, results frozen, and only the four budgets can be swept.
Budgets(10**9)  # type: ignore[call-arg]
result.score = 0.0  # type: ignore[misc]
sweep(scored, "max_layers", [1])  # type: ignore[arg-type]
