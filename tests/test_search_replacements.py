"""search_replacements: equal to exhaustive enumeration and to a CBC run of the same program
(where PuLP is installed), bounds never exceeded, errors that say which constraint fails."""

from __future__ import annotations

import itertools
import math
import pickle
import random
import warnings
from typing import Any

import pytest
from puzzle_workspace import covers

from block_config import (
    Bound,
    InfeasibleConstraintError,
    ReplacementChoice,
    search_replacements,
)

pytest.importorskip("scipy", reason="the search needs the search extra (scipy)")

Instance = tuple[list[list[int]], list[float], dict[str, list[float]]]


def random_instance(rng: random.Random, layers: int, per_layer: int, spans: int) -> Instance:
    """Single-layer replacements for every layer, plus ``spans`` two- or three-layer ones."""
    parent_layers: list[list[int]] = []
    for layer in range(layers):
        parent_layers += [[layer]] * per_layer
    for _ in range(spans):
        width = rng.choice([w for w in (2, 3) if w <= layers])
        start = rng.randrange(0, layers - width + 1)
        parent_layers.append(list(range(start, start + width)))
    count = len(parent_layers)
    values = [round(rng.uniform(0.0, 1.0), 6) for _ in range(count)]
    stats = {
        "memory_mib": [round(rng.uniform(10, 100), 3) * len(p) for p in parent_layers],
        "runtime_ms": [round(rng.uniform(0.1, 2.0), 4) for _ in range(count)],
        "has_attention": [float(rng.random() < 0.6) for _ in range(count)],
    }
    return parent_layers, values, stats


def exhaustive(
    instance: Instance,
    layers: int,
    constraints: dict[str, Bound],
    offsets: dict[str, float],
    maximize: bool,
) -> float | None:
    spans, values, stats = instance
    best: float | None = None
    for chosen in covers(spans, layers):
        totals = {
            name: math.fsum([*(stats[name][i] for i in chosen), offsets.get(name, 0.0)])
            for name in constraints
        }
        if not all(bound.admits(totals[name]) for name, bound in constraints.items()):
            continue
        value = math.fsum(values[i] for i in chosen)
        if best is None or (value > best if maximize else value < best):
            best = value
    return best


def cbc(*args: Any) -> float | None:
    """:func:`cbc_program`, quiet about PuLP 3.3 announcing its 4.0 spellings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cbc_program(*args)


def cbc_program(
    instance: Instance,
    constraints: dict[str, Bound],
    offsets: dict[str, float],
    maximize: bool,
) -> float | None:
    """The reference step's program, written with PuLP and solved with CBC."""
    pulp: Any = pytest.importorskip("pulp")
    spans, values, stats = instance
    problem = pulp.LpProblem("cover", pulp.LpMaximize if maximize else pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{i}", cat=pulp.LpBinary) for i in range(len(spans))]
    by_layer: dict[int, list[Any]] = {}
    for variable, span in zip(x, spans, strict=True):
        for layer in span:
            by_layer.setdefault(layer, []).append(variable)
    for variables in by_layer.values():
        problem += pulp.lpSum(variables) == 1
    for name, bound in constraints.items():
        total = pulp.lpSum(v * c for v, c in zip(x, stats[name], strict=True))
        offset = offsets.get(name, 0.0)
        if bound.maximum is not None:
            problem += total <= bound.maximum - offset
        if bound.minimum is not None:
            problem += total >= bound.minimum - offset
    problem += pulp.lpSum(v * c for v, c in zip(x, values, strict=True))
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    if problem.status != pulp.LpStatusOptimal:
        return None
    return math.fsum(values[i] for i, v in enumerate(x) if v.varValue > 0.5)


CASES = [
    # (max or [min, max] per stat, offsets, maximize)
    ({"memory_mib": (None, 0.55)}, {}, False),
    ({"memory_mib": (None, 0.55), "runtime_ms": (None, 0.8)}, {"memory_mib": 12.5}, True),
    ({"runtime_ms": (0.9, None)}, {"runtime_ms": 0.25}, False),
    ({"memory_mib": (0.4, 0.6), "has_attention": (None, 0.5)}, {}, False),
    ({"memory_mib": (0.4, 0.6), "has_attention": (0.5, 0.5)}, {}, True),
]


def bounds_for(instance: Instance, layers: int, spec: dict[str, Any]) -> dict[str, Bound]:
    """Bounds at fractions of each stat's range over single-layer choices."""
    _, _, stats = instance
    result = {}
    for name, (low, high) in spec.items():
        top = sum(sorted(stats[name])[-layers:])
        result[name] = Bound(
            minimum=None if low is None else low * top,
            maximum=None if high is None else high * top,
        )
    return result


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("spec", "offsets", "maximize"), CASES)
def test_equals_enumeration(
    seed: int, spec: dict[str, Any], offsets: dict[str, float], maximize: bool
) -> None:
    rng = random.Random(seed)
    layers = rng.randint(2, 5)
    instance = random_instance(rng, layers, rng.randint(1, 3), rng.randint(0, 4))
    constraints = bounds_for(instance, layers, spec)
    expected = exhaustive(instance, layers, constraints, offsets, maximize)
    spans, values, stats = instance
    if expected is None:
        with pytest.raises(InfeasibleConstraintError):
            search_replacements(
                spans, values, stats, constraints, offsets=offsets, maximize=maximize
            )
        return
    choice = search_replacements(
        spans, values, stats, constraints, offsets=offsets, maximize=maximize
    )
    assert choice.status == "optimal"
    assert choice.value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert sorted(layer for i in choice.chosen for layer in spans[i]) == list(range(layers))
    for name, bound in constraints.items():
        assert bound.admits(choice.totals[name]), (name, choice.totals[name], bound)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("spec", "offsets", "maximize"), CASES)
def test_equals_cbc_on_larger_cases(
    seed: int, spec: dict[str, Any], offsets: dict[str, float], maximize: bool
) -> None:
    rng = random.Random(1000 + seed)
    layers = 24
    instance = random_instance(rng, layers, 8, 30)
    constraints = bounds_for(instance, layers, spec)
    expected = cbc(instance, constraints, offsets, maximize)
    spans, values, stats = instance
    if expected is None:
        with pytest.raises(InfeasibleConstraintError):
            search_replacements(
                spans, values, stats, constraints, offsets=offsets, maximize=maximize
            )
        return
    choice = search_replacements(
        spans, values, stats, constraints, offsets=offsets, maximize=maximize
    )
    assert choice.value == pytest.approx(expected, rel=1e-9)


def test_totals_include_the_offsets_and_every_stat() -> None:
    choice = search_replacements(
        [[0], [1], [0, 1]],
        [1.0, 1.0, 5.0],
        {"a": [1.0, 2.0, 0.5], "b": [10.0, 20.0, 1.0]},
        {"a": Bound(maximum=104.0)},
        offsets={"a": 100.0},
    )
    assert choice.chosen == (0, 1)
    assert choice.totals == {"a": 103.0, "b": 30.0}
    assert choice.value == 2.0


def test_an_unmeetable_maximum_names_the_smallest_total() -> None:
    with pytest.raises(InfeasibleConstraintError) as caught:
        search_replacements(
            [[0], [0], [1]],
            [0.0, 1.0, 0.0],
            {"memory": [3.0, 2.0, 4.0], "runtime": [1.0, 1.0, 1.0]},
            {"memory": Bound(maximum=5.0), "runtime": Bound(maximum=9.0)},
            offsets={"memory": 0.5},
        )
    error = caught.value
    assert error.unmet == ("memory",)
    assert error.reach["memory"] == (6.5, 7.5)
    assert "memory <= 5 (the smallest any choice reaches: 6.5)" in str(error)
    assert "runtime" not in str(error)
    assert pickle.loads(pickle.dumps(error)).reach == error.reach


def test_an_unmeetable_minimum_names_the_largest_total() -> None:
    with pytest.raises(InfeasibleConstraintError, match=r"largest any choice reaches: 7"):
        search_replacements(
            [[0], [0], [1]], [0.0, 1.0, 0.0], {"m": [3.0, 2.0, 4.0]}, {"m": Bound(minimum=8.0)}
        )


def test_constraints_met_alone_but_not_together() -> None:
    with pytest.raises(InfeasibleConstraintError) as caught:
        search_replacements(
            [[0], [0]],
            [0.0, 0.0],
            {"a": [1.0, 5.0], "b": [5.0, 1.0]},
            {"a": Bound(maximum=2.0), "b": Bound(maximum=2.0)},
        )
    assert caught.value.jointly
    assert caught.value.unmet == ()
    assert "cannot all be met at once" in str(caught.value)


def test_no_cover_at_all() -> None:
    with pytest.raises(InfeasibleConstraintError, match="covers every parent layer") as caught:
        search_replacements([[0, 1], [1, 2]], [0.0, 0.0], {}, {})
    assert not caught.value.covered


def test_an_uncovered_layer_is_named() -> None:
    with pytest.raises(ValueError, match=r"no replacement covers parent layers \[2\]"):
        search_replacements([[0], [1]], [0.0, 0.0], {}, {}, num_layers=3)


@pytest.mark.parametrize(
    ("values", "stats", "match"),
    [
        ([math.nan], {}, "value of replacement 0"),
        ([0.0], {"m": [math.inf]}, "stat 'm' of replacement 0"),
        ([0.0, 1.0], {}, "2 values for 1 replacements"),
    ],
)
def test_bad_numbers_are_refused(values: list[float], stats: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        search_replacements([[0]], values, stats, {})


def test_a_constraint_on_an_unknown_stat_is_refused() -> None:
    with pytest.raises(ValueError, match="constraint 'm': no such stat"):
        search_replacements([[0]], [0.0], {}, {"m": Bound(maximum=1.0)})


def test_bounds() -> None:
    assert Bound(maximum=math.inf) == Bound()
    assert Bound(minimum=1, maximum=2).describe() == "in [1, 2]"
    assert Bound(minimum=1).admits(1.0)
    assert not Bound(maximum=1).admits(1.0000001)
    with pytest.raises(ValueError, match="maximum must be a number"):
        Bound(maximum=math.nan)
    with pytest.raises(ValueError, match="minimum 3 is above maximum 2"):
        Bound(minimum=3, maximum=2)


def test_no_replacements_is_refused() -> None:
    with pytest.raises(ValueError, match="no replacements"):
        search_replacements([], [], {}, {})


def test_the_result_is_plain_data() -> None:
    choice = search_replacements([[0]], [2.0], {"m": [1.0]}, {})
    assert isinstance(choice, ReplacementChoice)
    assert choice == ReplacementChoice(
        status="optimal", gap=0.0, chosen=(0,), value=2.0, totals={"m": 1.0}
    )


def test_enumeration_helper_finds_every_cover() -> None:
    spans = [[0], [1], [2], [0, 1], [1, 2], [0, 1, 2]]
    assert sorted(covers(spans, 3)) == sorted([(0, 1, 2), (0, 4), (3, 2), (5,)])
    assert len(list(itertools.chain(covers(spans, 3)))) == 4
