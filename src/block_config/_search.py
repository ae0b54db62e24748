"""The search: one candidate per layer, the best total score, every budget met exactly.

A mixed-integer program over binary ``x[l][c]`` (candidate ``c`` chosen for layer ``l``):
exactly one candidate per layer, the sum of the chosen scores minimised (or maximised), and
one linear constraint per budget on the whole child model, counted as :func:`model_stats`
counts it (embeddings, ``lm_head`` and the final norm included). The solver is HiGHS through
``scipy.optimize.milp`` (the ``search`` extra).

Exactness. Costs and budgets are ints up to about 1e12; the solver works in floating point
with tolerances. So that no tolerance decides a budget:

* each budget row is written in small exact integers: each layer's cheapest candidate is
  moved into the right-hand side, and the row is divided by the gcd of its coefficients (the
  bound rounded down, which for integer sums changes nothing);
* candidates that another candidate of the same layer dominates (no better score, no lower
  cost in any budget) are dropped, which keeps the optimum and shrinks the program;
* every solution is recounted with :func:`model_stats`; should a tolerance have let a budget
  be exceeded, that exact choice is cut off (``sum of its x <= layers - 1``: no other choice
  is excluded) and the program solved again, until the recount fits or the program is
  proven infeasible. The result is optimal for the exact problem, not a relaxation of it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
import typing
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import attrs

from block_config._candidates import Candidate, CandidateLibrary, SpanCandidate
from block_config._config import BlockConfig
from block_config._converter import unstructure_block_configs
from block_config._errors import BlockConfigError, Problem
from block_config._model import ModelArchitecture
from block_config._stats import LayerStats, ModelStats, model_stats

__all__ = [
    "Bound",
    "BudgetName",
    "Budgets",
    "InfeasibleBudgetError",
    "InfeasibleConstraintError",
    "ReplacementChoice",
    "SearchResult",
    "SearchStatus",
    "SolverNotInstalledError",
    "SpanSearchResult",
    "SweepPoint",
    "search",
    "search_replacements",
    "search_spans",
    "sweep",
]

#: The budgets a search can set, as ``Budgets`` fields and ``--max-...`` options name them.
BudgetName = Literal["max_params", "max_active_params", "max_weight_bytes", "max_kv_bytes"]
BUDGET_NAMES: tuple[BudgetName, ...] = typing.get_args(BudgetName)
#: ``optimal``: proven optimal. ``time_limit``: the best solution found when the time limit
#: stopped the solver; :attr:`SearchResult.gap` says how far from optimal it may be.
SearchStatus = Literal["optimal", "time_limit"]

_INSTALL_HINT = "the search needs a MIP solver: pip install 'block-config[search]'"
# Re-solves after a recount found a budget exceeded (each cuts off one choice); past this
# the solver is not to be trusted with the instance.
_MAX_CUTS = 1000
# Costs from here on are compared in Python ints rather than numpy's 64-bit ones.
_INT64_SAFE = 2**62
# Cost comparisons done at once by the dominance test (bounds its memory to a few MiB).
_COMPARISONS = 2**22


class SolverNotInstalledError(ImportError):
    """The MIP solver (SciPy's HiGHS) is not installed; the message says which extra brings it."""


class InfeasibleBudgetError(ValueError):
    """No choice of candidates meets the budgets.

    ``smallest`` maps each budget that cannot be met to the smallest value any choice reaches
    for it; when every budget can be met alone but not all at once, it maps every budget set
    to its smallest value, and ``jointly`` is True.
    """

    def __init__(
        self, limits: dict[str, int], smallest: dict[str, int], *, jointly: bool = False
    ) -> None:
        self.limits = dict(limits)
        self.smallest = dict(smallest)
        self.jointly = jointly
        parts = [
            f"{_option(name)} {limits[name]:,} (the smallest any choice reaches: {value:,})"
            for name, value in smallest.items()
        ]
        if jointly:
            message = "the budgets cannot all be met at once, though each can alone: " + "; ".join(
                parts
            )
        else:
            message = "no choice of candidates meets " + "; ".join(parts)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_infeasible, (self.limits, self.smallest, self.jointly))


def _rebuild_infeasible(
    limits: dict[str, int], smallest: dict[str, int], jointly: bool
) -> InfeasibleBudgetError:
    return InfeasibleBudgetError(limits, smallest, jointly=jointly)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _budget(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise ValueError(f"{attribute.name} must be an int >= 0 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class Budgets:
    """Upper bounds on the whole child model; None: no bound.

    ``max_kv_bytes`` bounds the KV cache of ``batch_size`` sequences of ``sequence_length``
    tokens (as :meth:`ModelStats.kv_cache_bytes` counts it) and needs both.
    """

    max_params: int | None = attrs.field(default=None, validator=_budget)
    max_active_params: int | None = attrs.field(default=None, validator=_budget)
    max_weight_bytes: int | None = attrs.field(default=None, validator=_budget)
    max_kv_bytes: int | None = attrs.field(default=None, validator=_budget)
    batch_size: int | None = attrs.field(default=None, validator=_budget)
    sequence_length: int | None = attrs.field(default=None, validator=_budget)

    def __attrs_post_init__(self) -> None:
        if self.max_kv_bytes is not None and (
            self.batch_size is None or self.sequence_length is None
        ):
            raise ValueError("max_kv_bytes needs batch_size and sequence_length")

    def limits(self) -> dict[str, int]:
        """The budgets that are set, by name."""
        return {name: value for name in BUDGET_NAMES if (value := getattr(self, name)) is not None}


@attrs.frozen(kw_only=True)
class SearchResult:
    """The chosen child: one candidate per layer, its score, and its recounted costs."""

    status: SearchStatus
    #: The sum of the chosen candidates' scores.
    score: float
    #: The solver's relative gap between ``score`` and the best bound: 0.0 when optimal.
    gap: float
    #: The index of the chosen candidate in each layer of the library.
    choices: tuple[int, ...]
    #: The chosen candidates, one per layer.
    candidates: tuple[Candidate, ...]
    #: The parent with the chosen blocks (its other keys kept).
    child: ModelArchitecture
    #: ``model_stats(child)``: the recount every budget was checked against.
    stats: ModelStats
    budgets: Budgets
    #: The child's KV cache for the budgets' batch and length; None without them.
    kv_cache_bytes: int | None

    @property
    def blocks(self) -> tuple[BlockConfig, ...]:
        """The chosen blocks, one per layer."""
        return self.child.block_configs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data: the shape of ``block-config search --json``."""
        return {
            "status": self.status,
            "score": self.score,
            "gap": self.gap,
            "total_params": self.stats.total_params,
            "active_params": self.stats.active_params,
            "weight_bytes": self.stats.weight_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "kv_cache_bytes_per_token": self.stats.kv_cache_bytes_per_token,
            "mamba_state_bytes_per_sequence": self.stats.mamba_state_bytes_per_sequence,
            "budgets": self.budgets.limits(),
            "choices": list(self.choices),
            "scores": [candidate.score for candidate in self.candidates],
            "blocks": unstructure_block_configs(self.blocks),
        }


@attrs.frozen(kw_only=True)
class SweepPoint:
    """One budget value of a sweep and the best child under it (None: infeasible)."""

    value: int
    result: SearchResult | None


# --------------------------------------------------------------------------- costs


def _values(result_stats: ModelStats, budgets: Budgets) -> dict[str, int]:
    """The child's value for every budget name (KV only when batch and length are known)."""
    values = {
        "max_params": result_stats.total_params,
        "max_active_params": result_stats.active_params,
        "max_weight_bytes": result_stats.weight_bytes,
    }
    if budgets.batch_size is not None and budgets.sequence_length is not None:
        values["max_kv_bytes"] = result_stats.kv_cache_bytes(
            budgets.batch_size, budgets.sequence_length
        )
    return values


def _layer_cost(stats: LayerStats, name: str, budgets: Budgets) -> int:
    """One layer's share of a budget: what :func:`_values` adds up for it."""
    if name == "max_params":
        return stats.params
    if name == "max_active_params":
        return stats.active_params
    if name == "max_weight_bytes":
        return stats.weight_bytes
    assert budgets.batch_size is not None
    assert budgets.sequence_length is not None
    return budgets.batch_size * stats.kv_cache_bytes(budgets.sequence_length)


@attrs.frozen
class _Problem:
    """The program in exact integers: per layer, the kept candidates and their costs."""

    #: Per layer, the library indexes of the candidates kept (not dominated).
    kept: tuple[tuple[int, ...], ...]
    #: Per layer and kept candidate, the objective coefficient (scores, negated to maximise).
    objective: tuple[tuple[float, ...], ...]
    #: Per budget name: per layer and kept candidate, the cost; and the model-level constant.
    costs: dict[str, tuple[tuple[int, ...], ...]]
    constants: dict[str, int]


def _scores(library: CandidateLibrary) -> list[list[float]]:
    problems = []
    scores = []
    for index, layer in enumerate(library.layers):
        row = []
        for position, candidate in enumerate(layer):
            if candidate.score is None:
                problems.append(
                    Problem(
                        ("layers", index, position, "score"),
                        f"layer {index}, candidate {position} has no score; the search needs a "
                        "finite score for every candidate",
                    )
                )
            else:
                row.append(candidate.score)
        scores.append(row)
    if problems:
        raise BlockConfigError(problems)
    return scores


def _constants(library: CandidateLibrary, budgets: Budgets, names: Sequence[str]) -> dict[str, int]:
    """What the model holds outside its layers, per budget, exactly as model_stats counts it."""
    stats = model_stats(library.parent)
    values = _values(stats, budgets)
    return {
        name: values[name] - sum(_layer_cost(layer, name, budgets) for layer in stats.layers)
        for name in names
    }


def _undominated(
    objective: Sequence[float], costs: Sequence[Sequence[int]] | Sequence[Sequence[float]]
) -> list[int]:
    """Indexes of the candidates no other candidate dominates (ties: the first one stays).

    ``b`` dominates ``a`` when it is no worse in the objective and in every cost. Dropping
    dominated candidates keeps an optimal choice: any choice using ``a`` stays feasible and
    no worse with ``b``.
    """
    import numpy as np

    if not costs:
        return [min(range(len(objective)), key=lambda i: (objective[i], i))]
    if any(value >= _INT64_SAFE for row in costs for value in row):
        order = sorted(
            range(len(objective)), key=lambda i: (objective[i], *(c[i] for c in costs), i)
        )
        kept: list[int] = []  # past 64 bits: the same test, in Python ints
        for i in order:
            if not any(all(c[j] <= c[i] for c in costs) for j in kept):
                kept.append(i)
        return sorted(kept)
    # In order of objective (then costs, then index), a candidate is dominated exactly when
    # an earlier one costs no more in every budget (what dominates that one dominates it too).
    # Compared a block of rows at a time against all earlier candidates.
    exact = all(type(value) is int for row in costs for value in row)
    table = np.array(costs, dtype=np.int64 if exact else np.float64).T  # a row per candidate
    keys = [table[:, k] for k in reversed(range(len(costs)))]
    ranked = np.lexsort((*keys, np.asarray(objective, dtype=np.float64)))
    ordered = table[ranked]
    count = len(ranked)
    step = max(1, _COMPARISONS // max(count, 1))
    dominated = np.zeros(count, dtype=bool)
    for start in range(1, count, step):
        stop = min(start + step, count)
        # covers[r, j]: candidate j (ranked before row r) costs no more in every budget.
        covers = np.arange(stop)[None, :] < np.arange(start, stop)[:, None]
        for column in ordered.T:
            covers &= column[None, :stop] <= column[start:stop, None]
        dominated[start:stop] = covers.any(axis=1)
    kept_index = ranked[~dominated].tolist()
    return sorted(kept_index)


def _build(library: CandidateLibrary, budgets: Budgets, maximize: bool) -> _Problem:
    scores = _scores(library)
    names = list(budgets.limits())
    sign = -1.0 if maximize else 1.0
    all_costs = {
        name: [
            [_layer_cost(candidate.stats, name, budgets) for candidate in layer]
            for layer in library.layers
        ]
        for name in names
    }
    kept, objective = [], []
    costs: dict[str, list[tuple[int, ...]]] = {name: [] for name in names}
    for index, row in enumerate(scores):
        values = [sign * score for score in row]
        keep = _undominated(values, [all_costs[name][index] for name in names])
        kept.append(tuple(keep))
        objective.append(tuple(values[i] for i in keep))
        for name in names:
            costs[name].append(tuple(all_costs[name][index][i] for i in keep))
    return _Problem(
        kept=tuple(kept),
        objective=tuple(objective),
        costs={name: tuple(rows) for name, rows in costs.items()},
        constants=_constants(library, budgets, names),
    )


def _check_alone(problem: _Problem, budgets: Budgets) -> dict[str, int]:
    """The smallest value each budget can reach; raises for those that no choice meets."""
    limits = budgets.limits()
    smallest = {
        name: problem.constants[name] + sum(min(row) for row in problem.costs[name])
        for name in limits
    }
    unmet = {name: value for name, value in smallest.items() if value > limits[name]}
    if unmet:
        raise InfeasibleBudgetError(limits, unmet)
    return smallest


# --------------------------------------------------------------------------- the solver


@attrs.frozen
class _Solution:
    status: SearchStatus
    gap: float
    #: Per layer, the position among the kept candidates.
    picks: tuple[int, ...]


def _solver() -> Any:
    try:
        from scipy import optimize, sparse
    except ImportError:
        raise SolverNotInstalledError(_INSTALL_HINT) from None
    return optimize, sparse


_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send the process's stdout (file descriptor 1) to the null device for a while.

    HiGHS, as SciPy builds it, writes stray lines straight to file descriptor 1 whatever its
    display option says; they would land in the middle of ``search --json`` output.
    """
    with _STDOUT_LOCK:
        with contextlib.suppress(Exception):  # a replaced sys.stdout may not flush
            sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no stdout at all: nothing to protect
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 1)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _milp(
    c: Any,
    matrix: Any,
    lower: Sequence[float],
    upper: Sequence[float],
    time_limit: float | None,
    *,
    tight: bool = False,
) -> Any:
    """HiGHS on ``min c x``, ``lower <= matrix x <= upper``, ``x`` binary; SciPy's result.

    Both gaps are 0: the answer is proven optimal, not within HiGHS's default absolute gap
    of 1e-6 (SciPy does not name that option; it passes it to HiGHS as it is, and says so).
    ``tight`` also lowers HiGHS's integrality and row tolerances from 1e-6 and 1e-7 to 1e-9:
    with float costs, the defaults once let a choice 1e-6 (relative) from the optimum be
    called optimal on the 162-layer benchmark.
    """
    import warnings

    optimize, _ = _solver()
    import numpy as np

    options: dict[str, Any] = {"disp": False, "mip_rel_gap": 0.0, "mip_abs_gap": 0.0}
    if tight:
        options["mip_feasibility_tolerance"] = 1e-9
        options["primal_feasibility_tolerance"] = 1e-9
    if time_limit is not None:
        options["time_limit"] = max(time_limit, 0.001)
    with _quiet_stdout(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
        return optimize.milp(
            c,
            integrality=np.ones(len(c)),
            bounds=optimize.Bounds(0, 1),
            constraints=optimize.LinearConstraint(matrix, np.array(lower), np.array(upper)),
            options=options,
        )


def _solve(
    problem: _Problem,
    limits: dict[str, int],
    cuts: Sequence[tuple[int, ...]],
    time_limit: float | None,
) -> _Solution | None:
    """Solve the program (with ``cuts``, choices excluded); None when proven infeasible."""
    _, sparse = _solver()
    import numpy as np

    # Layers with one candidate left are fixed: no variables for them.
    free = [layer for layer, kept in enumerate(problem.kept) if len(kept) > 1]
    starts = {}
    count = 0
    for layer in free:
        starts[layer] = count
        count += len(problem.kept[layer])
    picks = [0] * len(problem.kept)
    if count == 0:
        return _Solution("optimal", 0.0, tuple(picks))
    c = np.empty(count)
    for layer in free:
        c[starts[layer] : starts[layer] + len(problem.kept[layer])] = problem.objective[layer]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[int] = []
    lower: list[float] = []
    upper: list[float] = []
    for row, layer in enumerate(free):
        width = len(problem.kept[layer])
        rows += [row] * width
        cols += range(starts[layer], starts[layer] + width)
        vals += [1] * width
        lower.append(1)
        upper.append(1)
    row = len(free)
    for name, limit in limits.items():
        coefficients, bound = _budget_row(problem, name, limit, free, starts)
        if coefficients is None:
            continue  # no choice can exceed it
        for column, value in coefficients:
            rows.append(row)
            cols.append(column)
            vals.append(value)
        lower.append(-np.inf)
        upper.append(bound)
        row += 1
    for cut in cuts:
        for layer in free:
            rows.append(row)
            cols.append(starts[layer] + cut[layer])
            vals.append(1)
        lower.append(-np.inf)
        upper.append(len(free) - 1)
        row += 1
    matrix = sparse.csr_array(
        (np.array(vals, dtype=float), (np.array(rows), np.array(cols))), shape=(row, count)
    )
    result = _milp(c, matrix, lower, upper, time_limit)
    if result.status == 2:  # infeasible
        return None
    if result.x is None:
        if result.status == 1:
            raise TimeoutError("the time limit stopped the solver before it found any choice")
        raise RuntimeError(f"the solver failed: {result.message}")
    x = result.x
    for layer in free:
        start = starts[layer]
        segment = x[start : start + len(problem.kept[layer])]
        picks[layer] = int(np.argmax(segment))
    if result.status == 0:
        return _Solution("optimal", 0.0, tuple(picks))
    gap = float(result.mip_gap) if result.mip_gap is not None else math.inf
    return _Solution("time_limit", gap, tuple(picks))


def _budget_row(
    problem: _Problem, name: str, limit: int, free: Sequence[int], starts: dict[int, int]
) -> tuple[list[tuple[int, int]] | None, int]:
    """One budget as ``sum(coefficient * x) <= bound`` in small exact integers.

    Each layer's cheapest candidate moves to the right-hand side (coefficients >= 0), and
    the row is divided by the gcd of its coefficients, the bound rounded down. None when no
    choice can exceed the budget.
    """
    rest = limit - problem.constants[name]
    entries = []
    worst = 0
    for layer, row in enumerate(problem.costs[name]):
        cheapest = min(row)
        rest -= cheapest
        if layer in starts:
            worst += max(row) - cheapest
            entries += [
                (starts[layer] + position, cost - cheapest)
                for position, cost in enumerate(row)
                if cost != cheapest
            ]
    if worst <= rest:
        return None, 0
    divisor = math.gcd(*(value for _, value in entries))
    return [(column, value // divisor) for column, value in entries], rest // divisor


# --------------------------------------------------------------------------- the search


def search(
    library: CandidateLibrary,
    budgets: Budgets | None = None,
    *,
    maximize: bool = False,
    time_limit: float | None = None,
) -> SearchResult:
    """The child with the best total score that meets every budget.

    Minimises the sum of the chosen candidates' scores (``maximize=True``: maximises it).
    ``time_limit`` (seconds) stops the solver early with its best choice so far
    (``status == "time_limit"`` and the relative ``gap``). Raises
    :class:`InfeasibleBudgetError` when no choice meets the budgets,
    :class:`BlockConfigError` when a candidate has no score (``$.layers[3][7].score``),
    :class:`SolverNotInstalledError` without the ``search`` extra, :class:`TimeoutError`
    when the time limit passes before any choice is found, and ``ValueError`` for a library
    with spans (:func:`search_spans` chooses among them).

    >>> from block_config import Budgets, ModelArchitecture, build_candidates, search
    >>> parent = ModelArchitecture(hidden_size=64, num_attention_heads=8, vocab_size=100,
    ...     block_configs=[{"attention": {"num_key_value_heads": 8},
    ...                     "ffn": {"intermediate_size": 256}}] * 2)
    >>> library = build_candidates(parent, no_op=True)
    >>> scored = library.with_scores([[0.0, 1.0, 2.0, 5.0], [0.0, 3.0, 1.0, 5.0]])
    >>> result = search(scored, Budgets(max_params=80_000))
    >>> result.choices, result.score, result.stats.total_params <= 80_000
    ((1, 2), 2.0, True)
    """
    if budgets is None:
        budgets = Budgets()
    if time_limit is not None and not (
        type(time_limit) in (int, float) and time_limit > 0 and math.isfinite(time_limit)
    ):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if library.spans:
        raise ValueError("the library holds spans: search_spans chooses among them")
    _solver()  # tell of a missing solver before any work
    problem = _build(library, budgets, maximize)
    smallest = _check_alone(problem, budgets)
    limits = budgets.limits()
    deadline = None if time_limit is None else time.monotonic() + time_limit
    cuts: list[tuple[int, ...]] = []
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        try:
            solution = _solve(problem, limits, cuts, remaining)
        except TimeoutError:
            raise TimeoutError(
                f"the time limit ({time_limit:g} s) stopped the solver before it found any "
                "choice that meets the budgets"
            ) from None
        if solution is None:
            # Each budget alone can be met (checked above), so only their sum is too tight.
            raise InfeasibleBudgetError(limits, smallest, jointly=True)
        result = _result(library, problem, solution, budgets)
        values = _values(result.stats, budgets)
        if all(values[name] <= limit for name, limit in limits.items()):
            return result
        # A solver tolerance let a budget be exceeded: cut off exactly this choice.
        if len(cuts) >= _MAX_CUTS:
            raise RuntimeError(
                f"the solver kept returning choices that exceed the budgets ({_MAX_CUTS} "
                "re-solves); the instance is too badly conditioned for it"
            )
        cuts.append(solution.picks)


def _result(
    library: CandidateLibrary, problem: _Problem, solution: _Solution, budgets: Budgets
) -> SearchResult:
    choices = tuple(problem.kept[layer][pick] for layer, pick in enumerate(solution.picks))
    candidates = tuple(library.layers[layer][choice] for layer, choice in enumerate(choices))
    child = library.parent.with_block_configs(candidate.block for candidate in candidates)
    stats = model_stats(child)
    kv = None
    if budgets.batch_size is not None and budgets.sequence_length is not None:
        kv = stats.kv_cache_bytes(budgets.batch_size, budgets.sequence_length)
    score = math.fsum(candidate.score or 0.0 for candidate in candidates)
    return SearchResult(
        status=solution.status,
        score=score,
        gap=solution.gap,
        choices=choices,
        candidates=candidates,
        child=child,
        stats=stats,
        budgets=budgets,
        kv_cache_bytes=kv,
    )


def sweep(
    library: CandidateLibrary,
    budget: BudgetName,
    values: Iterable[int],
    budgets: Budgets | None = None,
    *,
    maximize: bool = False,
    time_limit: float | None = None,
) -> tuple[SweepPoint, ...]:
    """The best child under each of ``values`` for ``budget``, the other ``budgets`` fixed.

    The points trace the Pareto front of score against that budget; a value no choice
    meets gives a point whose ``result`` is None. ``time_limit`` applies to each solve.
    """
    if budget not in BUDGET_NAMES:
        raise ValueError(f"budget must be one of {BUDGET_NAMES}, got {budget!r}")
    base = budgets if budgets is not None else Budgets()
    points = []
    for value in values:
        try:
            result: SearchResult | None = search(
                library,
                attrs.evolve(base, **{budget: value}),
                maximize=maximize,
                time_limit=time_limit,
            )
        except InfeasibleBudgetError:
            result = None
        points.append(SweepPoint(value=value, result=result))
    return tuple(points)


# --------------------------------------------------------------------------- replacements
# The general form Puzzle's MIP step solves: each choice ("replacement") takes the place of
# one or more parent layers, carries a value to optimise and any numeric stats, and every
# parent layer must be covered by exactly one chosen replacement.


def _bound_value(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or math.isnan(value):
        raise ValueError(f"{name} must be a number or None, got {value!r}")
    return float(value)


@attrs.frozen(kw_only=True)
class Bound:
    """Inclusive bounds on a total: ``minimum <= total <= maximum``; None (or an infinity on
    its own side): no bound on that side."""

    minimum: float | None = attrs.field(default=None)
    maximum: float | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        low = _bound_value(self.minimum, "minimum")
        high = _bound_value(self.maximum, "maximum")
        object.__setattr__(self, "minimum", None if low == -math.inf else low)
        object.__setattr__(self, "maximum", None if high == math.inf else high)
        if self.minimum == math.inf or self.maximum == -math.inf:
            raise ValueError(f"a bound of {self.minimum or self.maximum} cannot be met")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")

    def admits(self, total: float) -> bool:
        """Whether ``total`` is within the bounds (both inclusive)."""
        return (self.minimum is None or total >= self.minimum) and (
            self.maximum is None or total <= self.maximum
        )

    def describe(self) -> str:
        """``<= 10``, ``>= 2`` or ``in [2, 10]``."""
        if self.minimum is not None and self.maximum is not None:
            return f"in [{self.minimum:g}, {self.maximum:g}]"
        if self.minimum is not None:
            return f">= {self.minimum:g}"
        if self.maximum is not None:
            return f"<= {self.maximum:g}"
        return "unbounded"


@attrs.frozen(kw_only=True)
class ReplacementChoice:
    """The chosen replacements: their indexes, total value and totals of every stat."""

    status: SearchStatus
    #: The solver's relative gap between ``value`` and the best bound: 0.0 when optimal.
    gap: float
    #: Indexes into the replacements given, ordered by their parent layer indices.
    chosen: tuple[int, ...]
    #: The sum of the chosen replacements' values.
    value: float
    #: Per stat name: the sum over the chosen replacements plus the offset of that stat.
    totals: dict[str, float]


class InfeasibleConstraintError(ValueError):
    """No choice of replacements covers every parent layer once and meets the constraints.

    ``reach`` maps each constrained stat to the smallest and largest total any cover reaches
    (offsets included); ``unmet`` lists the constraints that no cover meets even alone. When
    ``unmet`` is empty and ``covered`` is True, each constraint can be met alone but not all
    at once (``jointly``); when ``covered`` is False, no choice covers every layer once.
    """

    def __init__(
        self,
        bounds: dict[str, Bound],
        reach: dict[str, tuple[float, float]],
        *,
        covered: bool = True,
    ) -> None:
        self.bounds = dict(bounds)
        self.reach = dict(reach)
        self.covered = covered
        self.unmet = tuple(
            name
            for name, bound in bounds.items()
            if name in reach and not _reachable(bound, *reach[name])
        )
        self.jointly = covered and not self.unmet
        super().__init__(self._message())

    def _message(self) -> str:
        if not self.covered:
            return "no choice of replacements covers every parent layer exactly once"
        names = self.unmet or tuple(self.bounds)
        parts = [_describe_reach(name, self.bounds[name], *self.reach[name]) for name in names]
        if self.jointly:
            return "the constraints cannot all be met at once, though each can alone: " + (
                "; ".join(parts)
            )
        return "no choice of replacements meets " + "; ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_infeasible_constraint, (self.bounds, self.reach, self.covered))


def _rebuild_infeasible_constraint(
    bounds: dict[str, Bound], reach: dict[str, tuple[float, float]], covered: bool
) -> InfeasibleConstraintError:
    return InfeasibleConstraintError(bounds, reach, covered=covered)


def _reachable(bound: Bound, smallest: float, largest: float) -> bool:
    return (bound.maximum is None or smallest <= bound.maximum) and (
        bound.minimum is None or largest >= bound.minimum
    )


def _describe_reach(name: str, bound: Bound, smallest: float, largest: float) -> str:
    if bound.maximum is not None and smallest > bound.maximum:
        return f"{name} {bound.describe()} (the smallest any choice reaches: {smallest:g})"
    if bound.minimum is not None and largest < bound.minimum:
        return f"{name} {bound.describe()} (the largest any choice reaches: {largest:g})"
    return f"{name} {bound.describe()} (any choice reaches {smallest:g} to {largest:g})"


def _check_replacements(
    spans: Sequence[Sequence[int]],
    values: Sequence[float],
    stats: dict[str, Sequence[float]],
    constraints: dict[str, Bound],
    num_layers: int | None,
) -> list[int]:
    """The parent layers to cover, in order; ``ValueError`` for inconsistent input."""
    count = len(spans)
    if not count:
        raise ValueError("no replacements to choose from")
    if len(values) != count:
        raise ValueError(f"{len(values)} values for {count} replacements")
    for name, column in stats.items():
        if len(column) != count:
            raise ValueError(f"stat {name!r}: {len(column)} values for {count} replacements")
        for index, value in enumerate(column):
            if type(value) not in (int, float) or not math.isfinite(value):
                raise ValueError(
                    f"stat {name!r} of replacement {index}: expected a finite number, got {value!r}"
                )
    for name in constraints:
        if name not in stats:
            raise ValueError(f"constraint {name!r}: no such stat")
    for index, value in enumerate(values):
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ValueError(
                f"value of replacement {index}: expected a finite number, got {value!r}"
            )
    layers: set[int] = set()
    for index, span in enumerate(spans):
        if not span or len(set(span)) != len(span):
            raise ValueError(f"replacement {index}: parent layers {list(span)} are empty or repeat")
        for layer in span:
            if type(layer) is not int or layer < 0:
                raise ValueError(f"replacement {index}: parent layer {layer!r} is not an int >= 0")
        layers.update(span)
    if num_layers is not None:
        outside = sorted(layer for layer in layers if layer >= num_layers)
        if outside:
            raise ValueError(f"parent layers {outside} are outside the {num_layers} layers")
        missing = sorted(set(range(num_layers)) - layers)
        if missing:
            raise ValueError(f"no replacement covers parent layers {missing}")
        return list(range(num_layers))
    return sorted(layers)


def _cover_program(
    spans: Sequence[tuple[int, ...]],
    kept: Sequence[int],
    layers: Sequence[int],
) -> tuple[list[int], list[int], list[float], list[float], list[float]]:
    """The rows ``sum of x covering layer == 1`` over the ``kept`` replacements."""
    row_of = {layer: row for row, layer in enumerate(layers)}
    rows: list[int] = []
    cols: list[int] = []
    for column, index in enumerate(kept):
        for layer in spans[index]:
            rows.append(row_of[layer])
            cols.append(column)
    return rows, cols, [1.0] * len(rows), [1.0] * len(layers), [1.0] * len(layers)


def _solve_cover(
    spans: Sequence[tuple[int, ...]],
    kept: Sequence[int],
    layers: Sequence[int],
    objective: Sequence[float],
    rows_of: Sequence[tuple[Sequence[float], float, float]],
    cuts: Sequence[tuple[int, ...]],
    time_limit: float | None,
) -> _Solution | None:
    """Solve over the ``kept`` replacements: ``objective`` minimised, each parent layer covered
    once, ``lower <= coefficients x <= upper`` for each of ``rows_of`` (coefficients over all
    replacements), no choice of ``cuts`` (sets of kept positions) again. None: infeasible.
    ``picks`` of the solution are the chosen positions among ``kept``."""
    _, sparse = _solver()
    import numpy as np

    rows, cols, vals, lower, upper = _cover_program(spans, kept, layers)
    row = len(layers)
    for coefficients, low, high in rows_of:
        # Each row divided by its largest coefficient: rows of parameter counts (1e9) beside
        # rows of milliseconds solve about twice as fast so. The recount decides feasibility.
        scale = max((abs(coefficients[index]) for index in kept), default=0.0) or 1.0
        for column, index in enumerate(kept):
            if coefficients[index] != 0:
                rows.append(row)
                cols.append(column)
                vals.append(coefficients[index] / scale)
        lower.append(low / scale)
        upper.append(high / scale)
        row += 1
    for cut in cuts:
        for column in cut:
            rows.append(row)
            cols.append(column)
            vals.append(1.0)
        lower.append(-np.inf)
        upper.append(len(cut) - 1)
        row += 1
    matrix = sparse.csr_array(
        (np.array(vals), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
        shape=(row, len(kept)),
    )
    c = np.array([objective[index] for index in kept], dtype=np.float64)
    result = _milp(c, matrix, lower, upper, time_limit, tight=True)
    if result.status == 2:
        return None
    if result.x is None:
        if result.status == 1:
            raise TimeoutError("the time limit stopped the solver before it found any choice")
        raise RuntimeError(f"the solver failed: {result.message}")
    picks = tuple(int(column) for column in np.flatnonzero(result.x > 0.5))
    if result.status == 0:
        return _Solution("optimal", 0.0, picks)
    gap = float(result.mip_gap) if result.mip_gap is not None else math.inf
    return _Solution("time_limit", gap, picks)


def _kept_replacements(
    spans: Sequence[tuple[int, ...]],
    objective: Sequence[float],
    stats: dict[str, Sequence[float]],
    constraints: dict[str, Bound],
) -> list[int]:
    """The replacements no other replacement of the same parent layers dominates.

    ``b`` dominates ``a`` when it is no worse in the objective and, for every constraint, no
    larger where there is a maximum, no smaller where there is a minimum (equal with both).
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, span in enumerate(spans):
        groups.setdefault(span, []).append(index)
    kept: list[int] = []
    for members in groups.values():
        columns: list[list[float]] = []
        for name, bound in constraints.items():
            column = [float(stats[name][index]) for index in members]
            if bound.maximum is not None:
                columns.append(column)
            if bound.minimum is not None:
                columns.append([-value for value in column])
        keep = _undominated([objective[index] for index in members], columns)
        kept.extend(members[position] for position in keep)
    return sorted(kept)


def _reach(
    spans: Sequence[tuple[int, ...]],
    layers: Sequence[int],
    stats: dict[str, Sequence[float]],
    offsets: dict[str, float],
    names: Iterable[str],
) -> dict[str, tuple[float, float]] | None:
    """Per stat, the smallest and largest total any cover reaches; None: there is no cover."""
    every = range(len(spans))
    reach = {}
    for name in names:
        column = stats[name]
        extremes = []
        for sign in (1.0, -1.0):
            solution = _solve_cover(
                spans, every, layers, [sign * value for value in column], (), (), None
            )
            if solution is None:
                return None
            extremes.append(
                math.fsum([*(column[i] for i in solution.picks), offsets.get(name, 0.0)])
            )
        reach[name] = (extremes[0], extremes[1])
    if not reach and _solve_cover(spans, every, layers, [0.0] * len(spans), (), (), None) is None:
        return None
    return reach


def search_replacements(
    spans: Sequence[Sequence[int]],
    values: Sequence[float],
    stats: typing.Mapping[str, Sequence[float]],
    constraints: typing.Mapping[str, Bound],
    *,
    offsets: typing.Mapping[str, float] | None = None,
    num_layers: int | None = None,
    maximize: bool = False,
    time_limit: float | None = None,
) -> ReplacementChoice:
    """The replacements with the best total value that cover every parent layer exactly once
    and keep every constrained total within its bounds.

    Replacement ``i`` takes the place of the parent layers ``spans[i]`` (one or more), has the
    value ``values[i]`` and the stat ``stats[name][i]`` for each name. A total is the sum over
    the chosen replacements plus ``offsets[name]`` (what lies outside the layers; 0 when
    absent); ``constraints[name]`` bounds it, both ends inclusive. The layers to cover are
    ``range(num_layers)`` when given (a layer no replacement covers is a ``ValueError``), else
    every layer some replacement names. The sum of values is minimised (``maximize``: maximised)
    exactly with HiGHS; every answer is recounted with :func:`math.fsum`, and a choice a solver
    tolerance let past a bound is cut off and the program solved again.

    Raises :class:`InfeasibleConstraintError` (naming each constraint that cannot be met and
    the smallest or largest total any choice reaches), :class:`TimeoutError` when
    ``time_limit`` passes before any choice is found, ``ValueError`` for inconsistent input
    (a NaN or infinite value or stat included), :class:`SolverNotInstalledError` without SciPy.

    >>> from block_config import Bound, search_replacements
    >>> choice = search_replacements(
    ...     [[0], [0], [1], [0, 1]], [1.0, 3.0, 1.0, 1.5],
    ...     {"memory": [5.0, 2.0, 5.0, 6.0]}, {"memory": Bound(maximum=8.0)})
    >>> choice.chosen, choice.value, choice.totals
    ((3,), 1.5, {'memory': 6.0})
    """
    if time_limit is not None and not (
        type(time_limit) in (int, float) and time_limit > 0 and math.isfinite(time_limit)
    ):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    stats = dict(stats)
    constraints = dict(constraints)
    for name, bound in constraints.items():
        if not isinstance(bound, Bound):
            raise ValueError(f"constraint {name!r}: expected a Bound, got {bound!r}")
    offsets = {name: float(value) for name, value in (offsets or {}).items()}
    for name, offset in offsets.items():
        if not math.isfinite(offset):
            raise ValueError(f"offset of {name!r}: expected a finite number, got {offset!r}")
    layers = _check_replacements(spans, values, stats, constraints, num_layers)
    _solver()
    tupled = [tuple(span) for span in spans]
    sign = -1.0 if maximize else 1.0
    objective = [sign * float(value) for value in values]
    kept = _kept_replacements(tupled, objective, stats, constraints)
    rows = []
    for name, bound in constraints.items():
        offset = offsets.get(name, 0.0)
        low = -math.inf if bound.minimum is None else bound.minimum - offset
        high = math.inf if bound.maximum is None else bound.maximum - offset
        rows.append(([float(value) for value in stats[name]], low, high))
    deadline = None if time_limit is None else time.monotonic() + time_limit
    cuts: list[tuple[int, ...]] = []
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        try:
            solution = _solve_cover(tupled, kept, layers, objective, rows, cuts, remaining)
        except TimeoutError:
            raise TimeoutError(
                f"the time limit ({time_limit:g} s) stopped the solver before it found any "
                "choice that meets the constraints"
            ) from None
        if solution is None:
            reach = _reach(tupled, layers, stats, offsets, constraints)
            if reach is None:
                raise InfeasibleConstraintError(constraints, {}, covered=False)
            raise InfeasibleConstraintError(constraints, reach)
        chosen = sorted((kept[pick] for pick in solution.picks), key=lambda i: (tupled[i], i))
        totals = {
            name: math.fsum([*(float(column[i]) for i in chosen), offsets.get(name, 0.0)])
            for name, column in stats.items()
        }
        covered = sorted(layer for i in chosen for layer in tupled[i])
        if covered == list(layers) and all(
            bound.admits(totals[name]) for name, bound in constraints.items()
        ):
            return ReplacementChoice(
                status=solution.status,
                gap=solution.gap,
                chosen=tuple(chosen),
                value=math.fsum(float(values[i]) for i in chosen),
                totals=totals,
            )
        if len(cuts) >= _MAX_CUTS:
            raise RuntimeError(
                f"the solver kept returning choices that exceed the constraints ({_MAX_CUTS} "
                "re-solves); the instance is too badly conditioned for it"
            )
        cuts.append(solution.picks)


# --------------------------------------------------------------------------- spans


@attrs.frozen(kw_only=True)
class SpanSearchResult:
    """The chosen child of a library with spans or measured constraints (:func:`search_spans`)."""

    status: SearchStatus
    #: The sum of the chosen candidates' scores.
    score: float
    #: The solver's relative gap between ``score`` and the best bound: 0.0 when optimal.
    gap: float
    #: The chosen candidates in parent-layer order: a :class:`Candidate` takes the place of
    #: one parent layer, a :class:`SpanCandidate` of several.
    chosen: tuple[Candidate | SpanCandidate, ...]
    #: The parent layers each chosen candidate takes the place of.
    parent_layer_indices: tuple[tuple[int, ...], ...]
    #: The parent with the chosen blocks: one layer per chosen candidate.
    child: ModelArchitecture
    #: ``model_stats(child)``: the recount every budget was checked against.
    stats: ModelStats
    budgets: Budgets
    #: The bounds on measured stats, by name.
    constraints: dict[str, Bound]
    #: The child's KV cache for the budgets' batch and length; None without them.
    kv_cache_bytes: int | None
    #: Per measured stat that every chosen candidate has: its total, ``non_block`` included.
    measured: dict[str, float]

    @property
    def blocks(self) -> tuple[BlockConfig, ...]:
        """The chosen blocks, one per child layer."""
        return self.child.block_configs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data: the shape of ``block-config search --json`` for such a
        library."""
        return {
            "status": self.status,
            "score": self.score,
            "gap": self.gap,
            "total_params": self.stats.total_params,
            "active_params": self.stats.active_params,
            "weight_bytes": self.stats.weight_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "kv_cache_bytes_per_token": self.stats.kv_cache_bytes_per_token,
            "mamba_state_bytes_per_sequence": self.stats.mamba_state_bytes_per_sequence,
            "budgets": self.budgets.limits(),
            "constraints": {
                name: {"min": bound.minimum, "max": bound.maximum}
                for name, bound in self.constraints.items()
            },
            "measured": dict(self.measured),
            "parent_layer_indices": [list(span) for span in self.parent_layer_indices],
            "scores": [candidate.score for candidate in self.chosen],
            "blocks": unstructure_block_configs(self.blocks),
        }


def search_spans(
    library: CandidateLibrary,
    budgets: Budgets | None = None,
    constraints: typing.Mapping[str, Bound] | None = None,
    *,
    maximize: bool = False,
    time_limit: float | None = None,
) -> SpanSearchResult:
    """The child with the best total score from a library that may hold spans and measured
    stats (format version 2): every parent layer covered by exactly one chosen candidate, the
    ``budgets`` met on the recounted child, and each measured total (the ``non_block`` part
    of the library included) within ``constraints[name]``, bounds inclusive.

    Raises :class:`InfeasibleConstraintError` (budgets named as in :class:`Budgets`, measured
    stats as ``stats.NAME``), :class:`BlockConfigError` for a candidate without a score or
    without a constrained stat (``$.spans[2].stats.runtime_ms``), and what
    :func:`search_replacements` raises.
    """
    if budgets is None:
        budgets = Budgets()
    constraints = dict(constraints or {})
    items: list[tuple[tuple[int, ...], Candidate | SpanCandidate, tuple[Any, ...]]] = []
    for index, layer in enumerate(library.layers):
        for position, single in enumerate(layer):
            items.append(((index,), single, ("layers", index, position)))
    for position, span in enumerate(library.spans):
        items.append((span.parent_layer_indices, span, ("spans", position)))
    problems = []
    for _, candidate, path in items:
        if candidate.score is None:
            problems.append(
                Problem(
                    (*path, "score"),
                    "has no score; the search needs a finite score for every candidate",
                )
            )
        for name in constraints:
            if name not in candidate.measured:
                problems.append(
                    Problem((*path, "stats", name), "missing; the constraint on it needs it")
                )
    if problems:
        raise BlockConfigError(problems)
    limits = budgets.limits()
    columns: dict[str, list[float]] = {}
    bounds: dict[str, Bound] = {}
    offsets: dict[str, float] = {}
    constants = _constants(library, budgets, list(limits))
    for name, limit in limits.items():
        columns[name] = [float(_layer_cost(c.stats, name, budgets)) for _, c, _ in items]
        bounds[name] = Bound(maximum=float(limit))
        offsets[name] = float(constants[name])
    for name, bound in constraints.items():
        key = f"stats.{name}"
        columns[key] = [c.measured[name] for _, c, _ in items]
        bounds[key] = bound
        offsets[key] = library.non_block.get(name, 0.0)
    shared = set.intersection(*(set(c.measured) for _, c, _ in items)) if items else set()
    for name in sorted(shared - set(constraints)):
        columns[f"stats.{name}"] = [c.measured[name] for _, c, _ in items]
        offsets[f"stats.{name}"] = library.non_block.get(name, 0.0)
    choice = search_replacements(
        [span for span, _, _ in items],
        [typing.cast(float, c.score) for _, c, _ in items],
        columns,
        bounds,
        offsets=offsets,
        num_layers=library.parent.num_hidden_layers,
        maximize=maximize,
        time_limit=time_limit,
    )
    chosen = [items[i] for i in choice.chosen]
    child = library.parent.with_block_configs(c.block for _, c, _ in chosen)
    stats = model_stats(child)
    values = _values(stats, budgets)
    for name, limit in limits.items():
        if values[name] > limit:  # the exact recount disagrees with the solver's floats
            raise RuntimeError(
                f"the recounted child exceeds {name} ({values[name]:,} > {limit:,}); the "
                "instance is too large for exact float sums"
            )
    kv = None
    if budgets.batch_size is not None and budgets.sequence_length is not None:
        kv = stats.kv_cache_bytes(budgets.batch_size, budgets.sequence_length)
    return SpanSearchResult(
        status=choice.status,
        score=choice.value,
        gap=choice.gap,
        chosen=tuple(c for _, c, _ in chosen),
        parent_layer_indices=tuple(span for span, _, _ in chosen),
        child=child,
        stats=stats,
        budgets=budgets,
        constraints=constraints,
        kv_cache_bytes=kv,
        measured={
            name[len("stats.") :]: total
            for name, total in choice.totals.items()
            if name.startswith("stats.")
        },
    )
