"""``block-config search``: the best child of a parent under budgets, from a scored library."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from block_config._candidates import CandidateLibrary
from block_config._cli._boundary import EXIT_OK, invalid, missing_dependency, usage
from block_config._cli._common import (
    FILE_HELP,
    add_command,
    attention_cells,
    batch_and_length,
    billions,
    ffn_cells,
    input_options,
    os_message,
    positive,
    print_json,
    read,
    read_data,
    size,
    table,
    thousands,
    warnings_to_stderr,
    writable_dialects,
)
from block_config._errors import BlockConfigError
from block_config._model import ModelArchitecture
from block_config._search import (
    BUDGET_NAMES,
    Bound,
    BudgetName,
    Budgets,
    InfeasibleBudgetError,
    InfeasibleConstraintError,
    SearchResult,
    SolverNotInstalledError,
    SpanSearchResult,
    SweepPoint,
    search,
    search_spans,
    sweep,
)

_DESCRIPTION = """\
Choose one candidate per layer from LIBRARY.json (written by `block-config candidates`,
every "score" filled in) so that the sum of the chosen scores is as low as possible (as
high as possible with --maximize) and the whole child model (embeddings, lm_head and the
final norm included, counted as `show` counts them) meets every budget. The search is an
exact mixed-integer program solved by HiGHS (needs: pip install 'block-config[search]'):
the result is proven optimal, or, when --time-limit stops it, the best found with its gap.
Costs are recounted from the blocks; any costs in the library are ignored.

A library of format version 2 may also hold measured stats per candidate ("stats":
{"runtime_ms": 1.2}), spans (one block for several consecutive parent layers) and
"non_block" stats; --max-stat NAME=X and --min-stat NAME=X bound the total of a measured
stat (non_block included, bounds inclusive), and each parent layer is then covered by
exactly one chosen candidate or span.

Example: block-config search examples/hybrid-native.config.json --library scored.json
         --max-params 3000000000 -o child/config.json
"""

_SPEC_HELP = "BUDGET=A:B:N with BUDGET one of max-params, max-active-params, max-weight-bytes, "
_SPEC_HELP += "max-kv-bytes: solve N budgets from A to B and print the Pareto front"


def _budget_value(text: str) -> int:
    try:
        value = int(text.replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {text!r}")
    return value


def _stat_bound(text: str) -> tuple[str, float]:
    """``NAME=X``: a measured stat's name and a finite bound."""
    name, sign, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sign or not name.strip() or not abs(number) < float("inf"):
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}")
    return name.strip(), number


def _sweep_spec(text: str) -> tuple[BudgetName, list[int]]:
    """``max-params=A:B:N`` as the budget name and its N values from A to B."""
    name, _, span = text.partition("=")
    budget = name.strip().replace("-", "_")
    if budget not in BUDGET_NAMES:
        raise argparse.ArgumentTypeError(
            f"expected BUDGET=A:B:N with BUDGET one of "
            f"{', '.join(name.replace('_', '-') for name in BUDGET_NAMES)}, got {text!r}"
        )
    parts = span.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected BUDGET=A:B:N, got {text!r}")
    low, high = _budget_value(parts[0]), _budget_value(parts[1])
    try:
        count = int(parts[2])
    except ValueError:
        count = 0
    if count < 1 or high < low:
        raise argparse.ArgumentTypeError(f"expected A <= B and a count N >= 1, got {text!r}")
    step = max(count - 1, 1)
    return budget, [low + (high - low) * i // step for i in range(count)]


def register(commands: Any) -> None:
    """Add ``search`` to the command's subparsers."""
    parser = add_command(
        commands,
        "search",
        "choose the best child under budgets from a scored candidate library",
        _DESCRIPTION,
        run,
    )
    parser.add_argument("file", metavar="PARENT", help="the parent model; " + FILE_HELP)
    parser.add_argument("--library", required=True, metavar="LIBRARY.json")
    budgets = parser.add_argument_group("budgets on the whole child (ints; 1,000 or 1_000 ok)")
    budgets.add_argument("--max-params", type=_budget_value, metavar="N")
    budgets.add_argument("--max-active-params", type=_budget_value, metavar="N")
    budgets.add_argument("--max-weight-bytes", type=_budget_value, metavar="N")
    budgets.add_argument(
        "--max-kv-bytes",
        type=_budget_value,
        metavar="N",
        help="KV cache of --batch-size sequences of --seq-len tokens",
    )
    budgets.add_argument("--batch-size", type=positive, metavar="B")
    budgets.add_argument("--seq-len", type=positive, metavar="S")
    measured = parser.add_argument_group(
        "bounds on measured stats (a library of format version 2; repeatable)"
    )
    measured.add_argument(
        "--max-stat", type=_stat_bound, action="append", default=[], metavar="NAME=X"
    )
    measured.add_argument(
        "--min-stat", type=_stat_bound, action="append", default=[], metavar="NAME=X"
    )
    parser.add_argument("--maximize", action="store_true", help="maximise the total score")
    parser.add_argument(
        "--time-limit", type=_seconds, metavar="S", help="stop the solver after S seconds"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="CHILD.json",
        help="write the child config (a folder, existing or ending in /, gets config.json; "
        "missing folders are created)",
    )
    parser.add_argument(
        "--to",
        choices=writable_dialects(),
        default="native",
        help="the dialect of CHILD.json (default: native; gpt_oss_puzzle or "
        "nemotron_h_puzzle for the engines that load a child of gpt-oss or Nemotron-H)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite CHILD.json if it exists")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--sweep", type=_sweep_spec, metavar="BUDGET=A:B:N", help=_SPEC_HELP)
    parser.add_argument(
        "--plot",
        metavar="FRONT.png",
        help="with --sweep: draw the front (needs: pip install 'block-config[plot]')",
    )
    input_options(parser)


def _budgets(args: argparse.Namespace) -> Budgets:
    if args.max_kv_bytes is not None and (args.batch_size is None or args.seq_len is None):
        usage("--max-kv-bytes needs --batch-size and --seq-len")
    batch_and_length(args)
    return Budgets(
        max_params=args.max_params,
        max_active_params=args.max_active_params,
        max_weight_bytes=args.max_weight_bytes,
        max_kv_bytes=args.max_kv_bytes,
        batch_size=args.batch_size,
        sequence_length=args.seq_len,
    )


def _check_usage(args: argparse.Namespace) -> None:
    if args.sweep is None:
        if args.plot is not None:
            usage("--plot draws the front of a --sweep")
        return
    if args.plot is not None:
        from block_config._plot import MissingDependencyError, picture_formats

        try:
            formats = picture_formats()
        except MissingDependencyError as error:
            missing_dependency(str(error))
        if Path(args.plot).suffix.lower() not in formats:
            usage(f"--plot must end in one of {', '.join(formats)}, got {args.plot!r}")
        if Path(args.plot).exists() and not args.force:
            invalid(args.plot, "exists; refusing to overwrite it (use --force)")
    name = args.sweep[0]
    if getattr(args, name) is not None:
        usage(f"--{name.replace('_', '-')} is swept; do not give it too")
    if name == "max_kv_bytes" and (args.batch_size is None or args.seq_len is None):
        usage("a sweep of max-kv-bytes needs --batch-size and --seq-len")
    if args.output is not None:
        usage("-o writes one child; a --sweep gives many")


def _library(args: argparse.Namespace, parent: ModelArchitecture) -> CandidateLibrary:
    _, data = read_data(args.library)
    try:
        return CandidateLibrary.from_mapping(data, parent)
    except BlockConfigError as error:
        invalid(args.library, error)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Search ``args.library`` for the best child of ``args.file``."""
    _check_usage(args)
    budgets = _budgets(args)
    target = None if args.output is None else Path(args.output)
    if target is not None and (target.is_dir() or args.output.endswith(("/", os.sep))):
        target = target / "config.json"  # -o DIR/ is a folder, as for convert
    if target is not None and target.exists() and not args.force:
        invalid(str(target), "exists; refusing to overwrite it (use --force)")
    item = read(args.file, args, need_model=True)
    parent = item.model
    assert parent is not None
    library = _library(args, parent)
    constraints = _constraints(args)
    if library.spans or constraints:
        if args.sweep is not None:
            usage("--sweep takes a library without spans and no --max-stat or --min-stat")
        return _run_spans(args, library, budgets, constraints, target, out)
    try:
        if args.sweep is not None:
            return _run_sweep(args, library, budgets, out)
        result = search(library, budgets, maximize=args.maximize, time_limit=args.time_limit)
    except SolverNotInstalledError as error:
        missing_dependency(str(error))
    except InfeasibleBudgetError as error:
        invalid(args.library, str(error))
    except BlockConfigError as error:  # a candidate without a score
        invalid(args.library, error)
    except TimeoutError as error:
        invalid(args.library, str(error))
    if target is not None:
        _write_child(args, result.child, target)
    if args.json:
        print_json(result.to_dict(), out)
    else:
        print("\n".join(result_lines(result)), file=out)
        if target is not None:
            print(f"wrote {target} ({args.to} dialect)", file=out)
    return EXIT_OK


def _constraints(args: argparse.Namespace) -> dict[str, Bound]:
    highs = dict(args.max_stat)
    lows = dict(args.min_stat)
    constraints = {}
    for name in [*highs, *(name for name in lows if name not in highs)]:
        try:
            constraints[name] = Bound(minimum=lows.get(name), maximum=highs.get(name))
        except ValueError as error:
            usage(f"{name}: {error}")
    return constraints


def _run_spans(
    args: argparse.Namespace,
    library: CandidateLibrary,
    budgets: Budgets,
    constraints: dict[str, Bound],
    target: Path | None,
    out: IO[str],
) -> int:
    try:
        result = search_spans(
            library,
            budgets,
            constraints,
            maximize=args.maximize,
            time_limit=args.time_limit,
        )
    except SolverNotInstalledError as error:
        missing_dependency(str(error))
    except InfeasibleConstraintError as error:
        invalid(args.library, str(error))
    except BlockConfigError as error:  # a candidate without a score or a constrained stat
        invalid(args.library, error)
    except TimeoutError as error:
        invalid(args.library, str(error))
    if target is not None:
        _write_child(args, result.child, target)
    if args.json:
        print_json(result.to_dict(), out)
    else:
        print("\n".join(span_result_lines(result)), file=out)
        if target is not None:
            print(f"wrote {target} ({args.to} dialect)", file=out)
    return EXIT_OK


def span_result_lines(result: SpanSearchResult) -> list[str]:
    """The chosen blocks (a span's row names its parent layers), then the totals."""
    rows = [
        (
            "-".join(str(i) for i in (span[0], span[-1])) if len(span) > 1 else str(span[0]),
            "span" if len(span) > 1 else "",
            *attention_cells(candidate.stats),
            *ffn_cells(candidate.stats),
            thousands(candidate.stats.params),
            f"{candidate.score:g}" if candidate.score is not None else "-",
        )
        for span, candidate in zip(result.parent_layer_indices, result.chosen, strict=True)
    ]
    lines = _summary(rows, result)
    limits = result.budgets.limits()
    if result.kv_cache_bytes is not None:
        lines.append(
            f"KV cache:        {thousands(result.kv_cache_bytes)} bytes "
            f"({size(result.kv_cache_bytes)})"
            + _against(result.kv_cache_bytes, limits.get("max_kv_bytes"))
        )
    for name, total in result.measured.items():
        bound = result.constraints.get(name)
        shown = f"  [{bound.describe()}]" if bound is not None else ""
        lines.append(f"{(name + ':').ljust(16)} {total:.10g}{shown}")
    return lines


def _write_child(args: argparse.Namespace, child: ModelArchitecture, target: Path) -> None:
    name = str(target)
    with warnings_to_stderr(name):
        try:
            child.save(target, dialect=args.to)
        except BlockConfigError as error:  # what the chosen dialect cannot express
            invalid(name, error)
        except OSError as error:
            invalid(name, os_message(error, name))


_COLUMNS = ("layer", "cand", "attention", "KV heads", "FFN", "FFN size", "params", "score")
_RIGHT = (True, True, False, True, False, True, True, True)


def result_lines(result: SearchResult) -> list[str]:
    """The per-layer table of the chosen blocks, then the totals against each budget."""
    rows = [
        (
            str(layer),
            str(choice),
            *attention_cells(candidate.stats),
            *ffn_cells(candidate.stats),
            thousands(candidate.params),
            f"{candidate.score:g}" if candidate.score is not None else "-",
        )
        for layer, (choice, candidate) in enumerate(
            zip(result.choices, result.candidates, strict=True)
        )
    ]
    lines = _summary(rows, result)
    stats, limits = result.stats, result.budgets.limits()
    budgets = result.budgets
    if result.kv_cache_bytes is not None:
        lines.append(
            f"KV cache:        {thousands(result.kv_cache_bytes)} bytes "
            f"({size(result.kv_cache_bytes)}) for {budgets.batch_size} x {budgets.sequence_length}"
            " tokens" + _against(result.kv_cache_bytes, limits.get("max_kv_bytes"))
        )
    else:
        lines.append(f"KV cache:        {thousands(stats.kv_cache_bytes_per_token)} bytes/token")
    return lines


def _summary(rows: Sequence[Sequence[str]], result: SearchResult | SpanSearchResult) -> list[str]:
    """The table of the chosen blocks, the solver's status, the score, and the parameter and
    weight totals against their budgets."""
    if result.status == "optimal":
        status = "optimal (proven)"
    else:
        status = f"stopped by the time limit; the best found, within {result.gap:.2%} of optimal"
    stats = result.stats
    limits = result.budgets.limits()
    lines = [*table(_COLUMNS, _RIGHT, rows), "", f"status:          {status}"]
    lines.append(f"score:           {result.score:g}")
    lines.append(
        f"parameters:      {thousands(stats.total_params)} ({billions(stats.total_params)})"
        + _against(stats.total_params, limits.get("max_params"))
    )
    lines.append(
        f"active params:   {thousands(stats.active_params)}"
        + _against(stats.active_params, limits.get("max_active_params"))
    )
    lines.append(
        f"weights:         {thousands(stats.weight_bytes)} bytes ({size(stats.weight_bytes)})"
        + _against(stats.weight_bytes, limits.get("max_weight_bytes"))
    )
    return lines


def _against(value: int, limit: int | None) -> str:
    if limit is None:
        return ""
    share = f"{value / limit:.1%}" if limit else "-"
    return f"  [budget {thousands(limit)}: {share} used]"


def _run_sweep(
    args: argparse.Namespace, library: CandidateLibrary, budgets: Budgets, out: IO[str]
) -> int:
    name, values = args.sweep
    points = sweep(
        library, name, values, budgets, maximize=args.maximize, time_limit=args.time_limit
    )
    if args.plot is not None:
        _plot(args, name, points)
    if args.json:
        print_json(
            {
                "budget": name,
                "points": [
                    {
                        "value": point.value,
                        "result": None if point.result is None else point.result.to_dict(),
                    }
                    for point in points
                ],
            },
            out,
        )
        return EXIT_OK
    print("\n".join(front_lines(name, points)), file=out)
    if args.plot is not None:
        print(f"wrote {args.plot}", file=out)
    return EXIT_OK


_FRONT = ("budget", "status", "score", "params", "active params", "weight bytes", "KV bytes")
_FRONT_RIGHT = (True, False, True, True, True, True, True)


def front_lines(name: str, points: tuple[SweepPoint, ...]) -> list[str]:
    """One row per budget value: the best score under it and what that child reaches."""
    rows = []
    for point in points:
        result = point.result
        if result is None:
            rows.append((thousands(point.value), "infeasible", "-", "-", "-", "-", "-"))
            continue
        kv = "-" if result.kv_cache_bytes is None else thousands(result.kv_cache_bytes)
        rows.append(
            (
                thousands(point.value),
                result.status,
                f"{result.score:g}",
                thousands(result.stats.total_params),
                thousands(result.stats.active_params),
                thousands(result.stats.weight_bytes),
                kv,
            )
        )
    return [f"Pareto front over --{name.replace('_', '-')}:", *table(_FRONT, _FRONT_RIGHT, rows)]


def _plot(args: argparse.Namespace, name: str, points: tuple[SweepPoint, ...]) -> None:
    from block_config._plot import MissingDependencyError, plot_pareto_front

    target = Path(args.plot)
    try:
        plot_pareto_front(
            [(p.value, None if p.result is None else p.result.score) for p in points],
            target,
            budget=f"--{name.replace('_', '-')}",
            title=f"best score under {name.replace('_', ' ')}",
        )
    except MissingDependencyError as error:
        missing_dependency(str(error))
    except OSError as error:
        invalid(args.plot, os_message(error, args.plot))
