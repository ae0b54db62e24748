"""Constraint sets as ``run_puzzle`` takes them: MIP constraints on stats, or human ones.

A MIP constraint bounds the total of a stat (``stats.memory_mib``, ``stats.runtime_ms``, any
dotted key of a replacement) by a maximum, a ``[minimum, maximum]`` pair (either may be
null) or nothing (null: the total is only reported); ``stats.active_params`` may be given as
``"3B"`` (billions). Human constraints (``target_memory`` MiB, ``target_throughput`` tokens
per second, ``target_latency_seconds``, ``target_time_to_first_token`` seconds,
``num_params``, ``stats.has_attention``) become MIP constraints with the scenario's
``batch_size`` and ``generation_seq_len``, as the reference turns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from block_config._errors import Path as ProblemPath
from block_config._errors import describe
from block_config._search import Bound
from block_config.puzzletron._files import PuzzleInputError, is_number

__all__ = ["HUMAN_CONSTRAINTS", "ConstraintSet", "constraint_sets"]

#: The human constraints the reference accepts.
HUMAN_CONSTRAINTS = (
    "target_memory",
    "target_throughput",
    "target_latency_seconds",
    "target_time_to_first_token",
    "num_params",
    "stats.has_attention",
)

ConstraintKind = Literal["mip", "human"]


def _size(num: float) -> str:
    """``7G``, ``350M``: the reference's short form of a parameter count in its folder names."""
    for unit in ("", "K", "M", "G", "T"):
        if abs(num) < 1000.0:
            return f"{num:g}{unit}"
        num /= 1000.0
    return f"{num:.1f}P"


def _part(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "-".join(f"{name}_{item}" for item in value)
    return f"{name}_{value}"


def _billions(value: Any, source: str, path: ProblemPath) -> Any:
    if isinstance(value, list):
        return [_billions(item, source, (*path, i)) for i, item in enumerate(value)]
    if isinstance(value, str):
        try:
            return float(value.replace("B", "")) * 1e9
        except ValueError:
            raise PuzzleInputError.one(
                source, path, f"expected a number or billions like '3B', got {value!r}"
            ) from None
    return value


def _as_billions_text(value: Any) -> Any:
    if isinstance(value, list):
        return [_as_billions_text(item) for item in value]
    if is_number(value):
        return f"{value / 1e9}B"
    return value


def bound_of(value: Any, source: str, path: ProblemPath) -> Bound | None:
    """A MIP constraint's value as a :class:`Bound`; None for null (reported only)."""
    if value is None:
        return None
    if is_number(value):
        return Bound(maximum=float(value))
    if isinstance(value, list) and len(value) == 2:
        for index, item in enumerate(value):
            if item is not None and not is_number(item):
                raise PuzzleInputError.one(
                    source, (*path, index), f"expected a number or null, got {describe(item)}"
                )
        try:
            return Bound(
                minimum=None if value[0] is None else float(value[0]),
                maximum=None if value[1] is None else float(value[1]),
            )
        except ValueError as error:
            raise PuzzleInputError.one(source, path, str(error)) from None
    raise PuzzleInputError.one(
        source,
        path,
        f"expected a maximum, a [minimum, maximum] pair or null, got {describe(value)}",
    )


@attrs.frozen(kw_only=True, eq=False)
class ConstraintSet:
    """One set of constraints, MIP or human, and the folder name the reference gives it."""

    kind: ConstraintKind
    constraints: dict[str, Any]
    name: str
    source: str
    path: ProblemPath

    def to_mip(
        self, scenario_args: Mapping[str, Any], scenario_source: str, scenario_path: ProblemPath
    ) -> dict[str, Any]:
        """The MIP constraints (by stat) for a scenario with these ``args``."""
        if self.kind == "mip":
            return dict(self.constraints)
        for key in ("batch_size", "generation_seq_len"):
            if not is_number(scenario_args.get(key)):
                raise PuzzleInputError.one(
                    scenario_source,
                    (*scenario_path, key),
                    "human constraints need the scenario's batch_size and generation_seq_len "
                    f"as numbers, got {describe(scenario_args.get(key))}",
                )
        batch = scenario_args["batch_size"]
        length = scenario_args["generation_seq_len"]
        given = self.constraints
        result: dict[str, Any] = {}
        if "target_memory" in given:
            result["stats.memory_mib"] = given["target_memory"]
        latencies = []
        if "target_throughput" in given:
            latencies.append(batch * length / given["target_throughput"])
        if "target_latency_seconds" in given:
            latencies.append(given["target_latency_seconds"])
        if latencies:
            result["stats.runtime_ms"] = 1000 * min(latencies)
        if "target_time_to_first_token" in given:
            result["stats.prefill_runtime_ms"] = 1000 * given["target_time_to_first_token"]
        if "num_params" in given:
            result["stats.num_params"] = given["num_params"]
        if "stats.has_attention" in given:
            result["stats.has_attention"] = given["stats.has_attention"]
        return result


def _check_value(
    kind: ConstraintKind, key: str, value: Any, source: str, path: ProblemPath
) -> None:
    if kind == "human" and key in (
        "target_throughput",
        "target_latency_seconds",
        "target_time_to_first_token",
    ):
        if not is_number(value):
            raise PuzzleInputError.one(source, path, f"expected a number, got {describe(value)}")
        if key == "target_throughput" and value == 0:
            raise PuzzleInputError.one(source, path, "must not be zero")
        return
    bound_of(value, source, path)


def constraint_set(
    kind: ConstraintKind, data: Any, source: str, path: ProblemPath
) -> ConstraintSet:
    """One constraint set from its mapping, checked, with its folder name."""
    if not isinstance(data, dict) or not data:
        raise PuzzleInputError.one(
            source, path, f"expected a non-empty object of constraints, got {describe(data)}"
        )
    constraints = dict(data)
    for key in constraints:
        if not isinstance(key, str):
            raise PuzzleInputError.one(source, path, f"expected string keys, got {key!r}")
        if kind == "human" and key not in HUMAN_CONSTRAINTS:
            raise PuzzleInputError.one(
                source,
                (*path, key),
                f"is not a human constraint; the human constraints are {list(HUMAN_CONSTRAINTS)}",
            )
    if "stats.active_params" in constraints:
        constraints["stats.active_params"] = _billions(
            constraints["stats.active_params"], source, (*path, "stats.active_params")
        )
    for key, value in constraints.items():
        _check_value(kind, key, value, source, (*path, key))
    shown = dict(constraints)
    if "stats.active_params" in shown:
        shown["stats.active_params"] = _as_billions_text(shown["stats.active_params"])
    if kind == "human":
        if "target_memory" in shown:
            shown["target_memory"] = f"{shown['target_memory']}MiB"
        if "num_params" in shown:
            value = shown["num_params"]
            shown["num_params"] = (
                [_size(v) if is_number(v) else v for v in value]
                if isinstance(value, list)
                else _size(value)
                if is_number(value)
                else value
            )
    name = "-".join(_part(key, value) for key, value in shown.items()).replace(".", "_")
    return ConstraintSet(kind=kind, constraints=constraints, name=name, source=source, path=path)


def constraint_sets(
    kind: ConstraintKind, data: Any, source: str, path: ProblemPath = ()
) -> list[ConstraintSet]:
    """A constraint set (an object) or several (a list of objects)."""
    if isinstance(data, list):
        if not data:
            raise PuzzleInputError.one(source, path, "expected at least one constraint set")
        sets = [constraint_set(kind, item, source, (*path, i)) for i, item in enumerate(data)]
    else:
        sets = [constraint_set(kind, data, source, path)]
    names: dict[str, int] = {}
    for index, item in enumerate(sets):
        if item.name in names:
            raise PuzzleInputError.one(
                source,
                item.path,
                f"has the same folder name {item.name!r} as constraint set {names[item.name]}",
            )
        names[item.name] = index
    return sets
