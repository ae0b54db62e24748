"""The search: equal to exhaustive enumeration, budgets never exceeded, errors that say why."""

from __future__ import annotations

import itertools
import math
import pickle
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from block_config import (
    BlockConfig,
    BlockConfigError,
    Budgets,
    CandidateLibrary,
    InfeasibleBudgetError,
    ModelArchitecture,
    SearchResult,
    SolverNotInstalledError,
    _search,
    build_candidates,
    model_stats,
    search,
    sweep,
)

pytest.importorskip("scipy", reason="the search needs the search extra (scipy)")

EXAMPLES = Path(__file__).parent.parent / "examples"
HYBRID = EXAMPLES / "hybrid-native.config.json"

BATCH, LENGTH = 3, 32
NAMES = ("max_params", "max_active_params", "max_weight_bytes", "max_kv_bytes")


def child_values(parent: ModelArchitecture, blocks: list[BlockConfig]) -> dict[str, int]:
    """A child's value for every budget, recounted from scratch with model_stats."""
    stats = model_stats(parent.with_block_configs(blocks))
    return {
        "max_params": stats.total_params,
        "max_active_params": stats.active_params,
        "max_weight_bytes": stats.weight_bytes,
        "max_kv_bytes": stats.kv_cache_bytes(BATCH, LENGTH),
    }


def assert_within(result: SearchResult, budgets: Budgets) -> None:
    """Every budget holds for the returned child, recounted independently of the search."""
    values = child_values(result.child, list(result.blocks))
    for name, limit in budgets.limits().items():
        assert values[name] <= limit, (name, values[name], limit)
    assert result.stats == model_stats(result.child)


def exhaustive(
    library: CandidateLibrary, budgets: Budgets, *, maximize: bool = False
) -> tuple[float, dict[str, int]] | None:
    """The best score over every choice that meets the budgets (None: no choice does)."""
    parent = library.parent
    best: float | None = None
    smallest: dict[str, int] = {}
    for choice in itertools.product(*library.layers):
        values = child_values(parent, [candidate.block for candidate in choice])
        for name, value in values.items():
            smallest[name] = min(smallest.get(name, value), value)
        if all(values[name] <= limit for name, limit in budgets.limits().items()):
            score = math.fsum(candidate.score or 0.0 for candidate in choice)
            if best is None or (score > best if maximize else score < best):
                best = score
    return None if best is None else (best, smallest)


# ---------------------------------------------------------------------------- instances

PARENT_FIELDS: dict[str, Any] = {
    "hidden_size": 16,
    "num_attention_heads": 4,
    "vocab_size": 50,
    "torch_dtype": "bfloat16",
}


def random_block(rng: random.Random) -> dict[str, Any]:
    precision = rng.choice(["bf16", "fp8", "nvfp4", None])
    attention: dict[str, Any]
    roll = rng.random()
    if roll < 0.5:
        attention = {"num_key_value_heads": rng.choice([1, 2, 4]), "weights_precision": precision}
        if rng.random() < 0.2:
            attention["llama4"] = {"attention_chunk_size": rng.choice([8, 64])}
    elif roll < 0.65:
        attention = {
            "mamba": {"state_dim": 4, "num_heads": 2, "head_dim": 4, "num_groups": 1},
        }
    elif roll < 0.8:
        attention = {"replace_with_linear": True, "num_key_value_heads": 4}
    else:
        attention = {"no_op": True}
    ffn: dict[str, Any]
    roll = rng.random()
    if roll < 0.5:
        ffn = {"intermediate_size": rng.randint(1, 64), "weights_precision": precision}
    elif roll < 0.7:
        experts = rng.randint(2, 4)
        ffn = {
            "moe": {
                "num_local_experts": experts,
                "num_experts_per_tok": rng.randint(1, experts),
                "expert_intermediate_dim": rng.choice([4, 8]),
                "shared_expert_intermediate_dim": rng.choice([0, 8]),
            }
        }
    elif roll < 0.85:
        ffn = {"replace_with_linear": True, "intermediate_size": 16}
    else:
        ffn = {"no_op": True}
    return {"attention": attention, "ffn": ffn}


def random_library(rng: random.Random) -> CandidateLibrary:
    layers = rng.randint(1, 4)
    parent = ModelArchitecture(
        **PARENT_FIELDS,
        tie_word_embeddings=rng.random() < 0.5,
        block_configs=[random_block(rng) for _ in range(layers)],
    )
    rows = []
    for index in range(layers):
        count = rng.randint(1, 4)
        blocks = [parent.block_configs[index]]
        blocks += [BlockConfig.from_dict(random_block(rng)) for _ in range(count - 1)]
        # Scores in eighths: exact sums, and ties are common.
        rows.append([(block, rng.randint(-8, 24) / 8) for block in blocks])
    return CandidateLibrary.from_blocks(parent, rows)


def random_budgets(rng: random.Random, library: CandidateLibrary) -> Budgets:
    """Budgets on a random subset of the costs, each between the smallest and largest value."""
    parent = library.parent
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for choice in itertools.product(*library.layers):
        values = child_values(parent, [candidate.block for candidate in choice])
        for name, value in values.items():
            low[name] = min(low.get(name, value), value)
            high[name] = max(high.get(name, value), value)
    chosen: dict[str, Any] = {}
    for name in NAMES:
        if rng.random() < 0.6:
            # Now and then below the smallest value: infeasible.
            chosen[name] = max(
                0, rng.randint(low[name] - (high[name] - low[name]) // 8, high[name])
            )
    return Budgets(**chosen, batch_size=BATCH, sequence_length=LENGTH)


@pytest.mark.parametrize("seed", range(150))
def test_the_search_equals_exhaustive_enumeration_on_small_random_instances(seed: int) -> None:
    rng = random.Random(seed)
    library = random_library(rng)
    budgets = random_budgets(rng, library)
    maximize = rng.random() < 0.3
    expected = exhaustive(library, budgets, maximize=maximize)
    if expected is None:
        with pytest.raises(InfeasibleBudgetError):
            search(library, budgets, maximize=maximize)
        return
    result = search(library, budgets, maximize=maximize)
    assert result.status == "optimal"
    assert result.gap == 0.0
    assert result.score == expected[0]
    assert result.score == math.fsum(c.score or 0.0 for c in result.candidates)
    assert_within(result, budgets)
    for layer, (choice, candidate) in enumerate(
        zip(result.choices, result.candidates, strict=True)
    ):
        assert library.layers[layer][choice] is candidate


def test_an_infeasible_budget_is_named_with_the_smallest_value_any_choice_reaches() -> None:
    rng = random.Random(7)
    library = random_library(rng)
    result = exhaustive(library, Budgets())
    assert result is not None
    smallest = result[1]
    budgets = Budgets(
        max_params=smallest["max_params"] - 1,
        max_weight_bytes=smallest["max_weight_bytes"],  # reachable: not named
        max_kv_bytes=0 if smallest["max_kv_bytes"] else None,
        batch_size=BATCH,
        sequence_length=LENGTH,
    )
    with pytest.raises(InfeasibleBudgetError) as error:
        search(library, budgets)
    assert error.value.smallest["max_params"] == smallest["max_params"]
    assert "max_weight_bytes" not in error.value.smallest
    assert not error.value.jointly
    assert f"--max-params {smallest['max_params'] - 1:,}" in str(error.value)
    assert f"reaches: {smallest['max_params']:,}" in str(error.value)
    again = pickle.loads(pickle.dumps(error.value))
    assert str(again) == str(error.value)


def _two_way_library() -> CandidateLibrary:
    """One layer: a big attention without FFN, or a wide FFN without attention."""
    parent = ModelArchitecture(
        **PARENT_FIELDS,
        block_configs=[{"attention": {"num_key_value_heads": 4}, "ffn": {"intermediate_size": 64}}],
    )
    attention_only = BlockConfig.from_dict(
        {"attention": {"num_key_value_heads": 4}, "ffn": {"no_op": True}}
    )
    ffn_only = BlockConfig.from_dict(
        {"attention": {"no_op": True}, "ffn": {"intermediate_size": 64}}
    )
    return CandidateLibrary.from_blocks(parent, [[(attention_only, 1.0), (ffn_only, 2.0)]])


def test_budgets_that_each_can_be_met_but_not_together_are_told_as_such() -> None:
    library = _two_way_library()
    attention_only, ffn_only = library.layers[0]
    parent_stats = model_stats(library.parent)
    model_level = parent_stats.total_params - sum(layer.params for layer in parent_stats.layers)
    # attention-only: fewer params than the FFN-only block, but a KV cache.
    assert attention_only.params < ffn_only.params
    assert attention_only.kv_cache_bytes_per_token > 0 == ffn_only.kv_cache_bytes_per_token
    budgets = Budgets(
        max_params=model_level + attention_only.params,  # the FFN-only block does not fit
        max_kv_bytes=0,  # the attention-only block does not fit
        batch_size=1,
        sequence_length=1,
    )
    with pytest.raises(InfeasibleBudgetError, match="cannot all be met at once") as error:
        search(library, budgets)
    assert error.value.jointly
    assert set(error.value.smallest) == {"max_params", "max_kv_bytes"}
    assert error.value.smallest["max_kv_bytes"] == 0


def test_single_candidate_layers_give_the_parent_or_nothing() -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = CandidateLibrary.from_blocks(parent, [[(b, 0.5)] for b in parent.block_configs])
    total = model_stats(parent).total_params
    result = search(library, Budgets(max_params=total))
    assert result.blocks == parent.block_configs
    assert result.choices == (0,) * parent.num_hidden_layers
    assert result.score == 0.5 * parent.num_hidden_layers
    with pytest.raises(InfeasibleBudgetError, match=f"reaches: {total:,}"):
        search(library, Budgets(max_params=total - 1))


def test_a_layer_of_tied_candidates_gives_an_optimal_choice_within_budget() -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(parent, kv_heads=[2, 1], no_op=True, ffn_fractions=[0.5])
    tied = library.with_scores([[1.0] * len(layer) for layer in library.layers])
    limit = model_stats(parent).total_params * 3 // 4
    result = search(tied, Budgets(max_params=limit))
    assert result.status == "optimal"
    assert result.score == 1.0 * parent.num_hidden_layers
    assert_within(result, Budgets(max_params=limit))


def test_without_budgets_every_layer_takes_its_best_score() -> None:
    library = build_candidates(ModelArchitecture.load(HYBRID), no_op=True, linear=True)
    rng = random.Random(3)
    scores = [[rng.random() for _ in layer] for layer in library.layers]
    result = search(library.with_scores(scores))
    assert list(result.choices) == [row.index(min(row)) for row in scores]
    result = search(library.with_scores(scores), maximize=True)
    assert list(result.choices) == [row.index(max(row)) for row in scores]


def test_a_missing_score_names_the_layer_and_candidate() -> None:
    library = build_candidates(ModelArchitecture.load(HYBRID), no_op=True)
    scores: list[list[float | None]] = [[0.0] * len(layer) for layer in library.layers]
    scores[1][2] = None
    scores[3][0] = None
    with pytest.raises(BlockConfigError) as error:
        search(library.with_scores(scores))
    assert [str(p) for p in error.value.problems] == [
        "$.layers[1][2].score: layer 1, candidate 2 has no score; the search needs a finite "
        "score for every candidate",
        "$.layers[3][0].score: layer 3, candidate 0 has no score; the search needs a finite "
        "score for every candidate",
    ]


def test_a_missing_solver_is_a_dedicated_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)
    library = _two_way_library()
    with pytest.raises(SolverNotInstalledError, match=r"pip install 'block-config\[search\]'"):
        search(library)
    assert issubclass(SolverNotInstalledError, ImportError)


# ---------------------------------------------------------------------------- exactness


def test_a_budget_a_solver_tolerance_let_through_is_cut_off_and_solved_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A solver that admits rows over their bound (as a floating-point tolerance may) still
    gives the exact optimum: the recount finds the excess, and that choice is cut off."""
    real = _search._budget_row
    calls = {"solves": 0}

    def sloppy(*args: Any) -> Any:
        coefficients, bound = real(*args)
        if coefficients is None:
            return coefficients, bound
        # Admit up to the largest coefficient over the bound.
        return coefficients, bound + max(value for _, value in coefficients)

    real_solve = _search._solve

    def counting(*args: Any) -> Any:
        calls["solves"] += 1
        return real_solve(*args)

    monkeypatch.setattr(_search, "_budget_row", sloppy)
    monkeypatch.setattr(_search, "_solve", counting)
    cut_off = 0
    for seed in range(60):
        rng = random.Random(1000 + seed)
        library = random_library(rng)
        budgets = random_budgets(rng, library)
        expected = exhaustive(library, budgets)
        calls["solves"] = 0
        if expected is None:
            with pytest.raises(InfeasibleBudgetError):
                search(library, budgets)
            continue
        result = search(library, budgets)
        assert result.score == expected[0]
        assert_within(result, budgets)
        cut_off += calls["solves"] > 1
    assert cut_off > 5  # the loosened rows did let choices over budget through


def test_budgets_of_a_trillion_are_met_to_the_unit() -> None:
    """Costs near 1e12 with odd sizes: budgets at reachable totals and one unit below them."""
    layers = 4
    parent = ModelArchitecture(
        hidden_size=30_000,
        num_attention_heads=8,
        vocab_size=1_000_003,
        block_configs=[
            {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 3_000_001}}
        ]
        * layers,
    )
    rng = random.Random(11)
    rows = []
    for index in range(layers):
        blocks = [parent.block_configs[index]]
        for _ in range(4):
            kv = rng.choice([1, 2, 4, 8])
            size = rng.randint(1_000_000, 3_000_001)
            blocks.append(
                BlockConfig.from_dict(
                    {"attention": {"num_key_value_heads": kv}, "ffn": {"intermediate_size": size}}
                )
            )
        rows.append([(block, rng.randint(0, 40) / 8) for block in blocks])
    library = CandidateLibrary.from_blocks(parent, rows)
    assert model_stats(parent).total_params > 10**12
    # Every choice, recounted once: (total parameters, score).
    table = [
        (
            model_stats(parent.with_block_configs([c.block for c in choice])).total_params,
            math.fsum(c.score or 0.0 for c in choice),
        )
        for choice in itertools.product(*library.layers)
    ]
    totals = sorted({total for total, _ in table})
    for total in totals[:: max(1, len(totals) // 40)]:
        for limit in (total, total - 1):
            fitting = [score for value, score in table if value <= limit]
            if not fitting:
                with pytest.raises(InfeasibleBudgetError):
                    search(library, Budgets(max_params=limit))
                continue
            result = search(library, Budgets(max_params=limit))
            assert result.stats.total_params <= limit
            assert result.score == min(fitting)


# ---------------------------------------------------------------------------- results


def test_the_result_as_json_data() -> None:
    library = _two_way_library()
    result = search(library, Budgets(max_kv_bytes=0, batch_size=1, sequence_length=10))
    data = result.to_dict()
    assert data["status"] == "optimal"
    assert data["score"] == 2.0
    assert data["choices"] == [1]
    assert data["kv_cache_bytes"] == 0
    assert data["total_params"] == result.stats.total_params
    assert data["blocks"] == [library.layers[0][1].block.to_dict()]
    assert data["budgets"] == {"max_kv_bytes": 0}
    assert search(library).to_dict()["kv_cache_bytes"] is None


def test_a_sweep_traces_scores_that_never_worsen_as_the_budget_grows() -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(parent, kv_heads=[2, 1], no_op=True, ffn_fractions=[0.5, 0.25])
    rng = random.Random(5)
    scored = library.with_scores(
        [[0.0] + [rng.random() for _ in layer[1:]] for layer in library.layers]
    )
    total = model_stats(parent).total_params
    values = [total // 10, total // 2, total * 3 // 4, total]
    points = sweep(scored, "max_params", values)
    assert [point.value for point in points] == values
    assert points[0].result is None  # a tenth of the parent cannot be reached
    scores = [point.result.score for point in points if point.result is not None]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] == 0.0  # the whole parent fits
    for point in points[1:]:
        assert point.result is not None
        assert point.result.score == search(scored, Budgets(max_params=point.value)).score
        assert point.result.stats.total_params <= point.value


def test_a_time_limit_still_gives_a_result_within_budget() -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(parent, kv_heads=[2, 1], no_op=True, ffn_fractions=[0.5])
    scored = library.with_scores([[float(i) for i in range(len(row))] for row in library.layers])
    budgets = Budgets(max_params=model_stats(parent).total_params // 2)
    result = search(scored, budgets, time_limit=60)
    assert result.status in ("optimal", "time_limit")
    assert result.gap >= 0.0
    assert_within(result, budgets)


@pytest.mark.parametrize("limit", [0, -1, math.nan, math.inf, "1", True])
def test_a_time_limit_must_be_a_positive_number_of_seconds(limit: Any) -> None:
    with pytest.raises(ValueError, match="time_limit must be a positive number of seconds"):
        search(_two_way_library(), time_limit=limit)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"max_params": -1}, "max_params must be an int >= 0 or None, got -1"),
        ({"max_params": 1.0}, "max_params must be an int >= 0 or None, got 1.0"),
        ({"max_weight_bytes": True}, "got True"),
        ({"max_kv_bytes": 10}, "max_kv_bytes needs batch_size and sequence_length"),
        ({"max_kv_bytes": 10, "batch_size": 1}, "needs batch_size and sequence_length"),
    ],
)
def test_budgets_are_checked(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Budgets(**fields)


def test_a_sweep_names_only_known_budgets() -> None:
    with pytest.raises(ValueError, match="budget must be one of"):
        sweep(_two_way_library(), "max_layers", [1])  # type: ignore[arg-type]


def test_stray_solver_output_on_file_descriptor_1_is_kept_off_stdout(
    capfd: pytest.CaptureFixture[str],
) -> None:
    print("before", flush=True)
    with _search._quiet_stdout():
        import os

        os.write(1, b"HighsMipSolverData stray line\n")
    print("after", flush=True)
    assert capfd.readouterr().out == "before\nafter\n"


@pytest.mark.parametrize("seed", range(20))
def test_dominance_keeps_exactly_the_candidates_nothing_earlier_dominates(seed: int) -> None:
    rng = random.Random(seed)
    count, budgets = rng.randint(1, 60), rng.randint(1, 3)
    objective = [rng.randint(0, 5) / 2 for _ in range(count)]
    costs = [[rng.randint(0, 6) for _ in range(count)] for _ in range(budgets)]

    def dominates(j: int, i: int) -> bool:
        if objective[j] > objective[i] or any(c[j] > c[i] for c in costs):
            return False
        mine = (objective[i], *(c[i] for c in costs), i)
        return (objective[j], *(c[j] for c in costs), j) < mine

    expected = [i for i in range(count) if not any(dominates(j, i) for j in range(count))]
    assert _search._undominated(objective, costs) == expected
    # Costs past 64 bits take the Python-int path, with the same answer.
    huge = [[value + 2**70 for value in row] for row in costs]
    assert _search._undominated(objective, huge) == expected


def test_the_docstring_examples_hold() -> None:
    import doctest

    failures, attempted = doctest.testmod(_search, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0
    assert failures == 0


def test_a_solver_stopped_by_the_time_limit_gives_its_choice_and_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy import optimize

    real = optimize.milp

    def stopped(*args: Any, **kwargs: Any) -> Any:
        assert kwargs["options"]["time_limit"] <= 5
        result = real(*args, **kwargs)
        result.status, result.mip_gap = 1, 0.05  # as HiGHS reports a time limit
        return result

    monkeypatch.setattr(optimize, "milp", stopped)
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(parent, kv_heads=[2, 1], no_op=True)
    scored = library.with_scores([[float(i) for i in range(len(row))] for row in library.layers])
    budgets = Budgets(max_params=model_stats(parent).total_params // 2)
    result = search(scored, budgets, time_limit=5)
    assert result.status == "time_limit"
    assert result.gap == 0.05
    assert_within(result, budgets)

    def nothing(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        result.status, result.x = 1, None  # stopped before any choice was found
        return result

    monkeypatch.setattr(optimize, "milp", nothing)
    with pytest.raises(TimeoutError, match=r"the time limit \(5 s\) stopped the solver before"):
        search(scored, budgets, time_limit=5)
