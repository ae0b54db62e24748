"""Puzzle's MIP step at full scale: 162 parent layers, 2,000 replacements per layer.

Each parent layer gets 1,800 single-layer replacements and, for every layer but the last,
200 two-layer replacements starting there (one block for layers i and i+1): 323,800 in all.
Every replacement has three measured stats (``memory_mib``, ``runtime_ms``, ``num_params``)
and a loss, drawn from a fixed seed the way measured data behaves: a replacement's stats are
its block's (a size between 0 and 1) times a per-layer factor with noise, its loss falls with
its size, also with noise. The constraints: 55% of the parent's memory, 60% of its runtime and
at most 65% of its parameters, with a non-block part on memory and parameters.

The program is solved by :func:`block_config.search_replacements` (what ``puzzle-mip`` runs)
and, when PuLP is installed, by CBC as the reference step builds it (one binary per
replacement, each layer covered once, one row per constraint) with the reference's default
time cap of 60 s. Times are wall-clock; the ratio of the two is measured in the same run.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from typing import Any

import block_config
from block_config import Bound, search_replacements

LAYERS = 162
SINGLE = 1_800
SPANS = 200
#: The reference's default --max_seconds_per_solution.
CBC_SECONDS = 60.0


def instance(seed: int = 0) -> tuple[list[list[int]], list[float], dict[str, list[float]]]:
    """The replacements: parent layers, losses and the three stats."""
    rng = random.Random(seed)
    spans: list[list[int]] = []
    losses: list[float] = []
    stats: dict[str, list[float]] = {"memory_mib": [], "runtime_ms": [], "num_params": []}
    layer_scale = [rng.uniform(0.6, 1.4) for _ in range(LAYERS)]
    for layer in range(LAYERS):
        for width, count in ((1, SINGLE), (2, SPANS)):
            if layer + width > LAYERS:
                continue
            scale = sum(layer_scale[layer : layer + width])
            for _ in range(count):
                size = rng.random()
                spans.append(list(range(layer, layer + width)))
                stats["memory_mib"].append(
                    round(scale * (40 + 600 * size) * rng.uniform(0.95, 1.05), 3)
                )
                stats["runtime_ms"].append(
                    round(scale * (0.05 + 0.9 * size) * rng.uniform(0.9, 1.1), 5)
                )
                stats["num_params"].append(
                    float(int(scale * 1.6e9 * size * rng.uniform(0.97, 1.03)))
                )
                # Two layers in one block lose more than one layer replaced by the same size.
                losses.append(round(width * (1 - size) ** 2 * rng.uniform(0.8, 1.2) * 0.01, 7))
    return spans, losses, stats


def cbc(
    spans: list[list[int]],
    losses: list[float],
    stats: dict[str, list[float]],
    bounds: dict[str, Bound],
    offsets: dict[str, float],
) -> tuple[str, float | None, float]:
    """The reference's program in PuLP, solved by CBC with its default time cap."""
    import pulp

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        problem = pulp.LpProblem("multi_layer_replacement", pulp.LpMinimize)
        x = [pulp.LpVariable(f"choice_{i}", cat=pulp.LpBinary) for i in range(len(spans))]
        by_layer: dict[int, list[Any]] = {}
        for variable, span in zip(x, spans, strict=True):
            for layer in span:
                by_layer.setdefault(layer, []).append(variable)
        for chosen in by_layer.values():
            problem += pulp.lpSum(chosen) == 1
        for name, bound in bounds.items():
            total = pulp.lpSum(v * c for v, c in zip(x, stats[name], strict=True))
            if bound.maximum is not None:
                problem += total <= bound.maximum - offsets.get(name, 0.0)
        problem += pulp.lpSum(v * c for v, c in zip(x, losses, strict=True))
        problem.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=CBC_SECONDS))
    elapsed = time.perf_counter() - started
    status = pulp.LpStatus[problem.status]
    if problem.status != pulp.LpStatusOptimal:
        return status, None, elapsed
    value = math.fsum(losses[i] for i, v in enumerate(x) if v.varValue > 0.5)
    return status, value, elapsed


def run(repeat: int = 1) -> None:
    """Solve the instance with HiGHS (and CBC when PuLP is installed); print both."""
    spans, losses, stats = instance()
    offsets = {"memory_mib": 2_000.0, "num_params": 2.1e9}
    teacher = {
        name: math.fsum(
            column[i] for i, span in enumerate(spans) if len(span) == 1 and i % SINGLE == 0
        )
        for name, column in stats.items()
    }
    # The first single replacement of each layer stands in for the teacher's block.
    bounds = {
        "memory_mib": Bound(maximum=round(0.55 * teacher["memory_mib"] + offsets["memory_mib"])),
        "runtime_ms": Bound(maximum=round(0.60 * teacher["runtime_ms"], 3)),
        "num_params": Bound(maximum=round(0.65 * teacher["num_params"] + offsets["num_params"])),
    }
    times = []
    choice = None
    for _ in range(repeat):
        started = time.perf_counter()
        choice = search_replacements(spans, losses, stats, bounds, offsets=offsets)
        times.append(time.perf_counter() - started)
    assert choice is not None
    ours = sorted(times)[len(times) // 2]
    print()
    print(
        f"puzzle MIP: {LAYERS} layers x {SINGLE + SPANS:,} replacements "
        f"({len(spans):,}, two-layer spans included), 3 constraints, "
        f"block-config {block_config.__version__}"
    )
    spanned = sum(1 for i in choice.chosen if len(spans[i]) > 1)
    print(
        f"  HiGHS (search_replacements)  {ours:8.2f} s  {choice.status}, "
        f"loss {choice.value:.7f}, {len(choice.chosen)} replacements ({spanned} spans)"
    )
    for name, bound in bounds.items():
        assert bound.admits(choice.totals[name])
        print(f"    {name:<12} {choice.totals[name]:>18,.3f} of {bound.maximum:,.3f}")
    try:
        import pulp  # noqa: F401
    except ImportError:
        print("  CBC: PuLP is not installed (pip install pulp); not compared")
        return
    status, value, elapsed = cbc(spans, losses, stats, bounds, offsets)
    shown = "no solution" if value is None else f"loss {value:.7f}"
    print(
        f"  CBC (PuLP, {CBC_SECONDS:g} s cap)        {elapsed:8.2f} s  {status}, {shown}"
        f"  ({elapsed / ours:.1f}x the HiGHS time)"
    )
    if value is not None:
        difference = (value - choice.value) / choice.value
        print(f"    CBC's loss over the proven optimum: {difference:+.2e} (relative)")


if __name__ == "__main__":
    run()
