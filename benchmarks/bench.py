"""Time block-config against a dataclass baseline, pydantic v2 and msgspec on the same data.

Run with ``nox -s bench`` (``nox -s bench -- --quick`` for a short run). Every implementation
reads the same generated blocks (GQA, Llama-4, linear, no-op, MoE, Mamba and parallel
blocks; a fixed seed); the script first checks that they agree (same unique blocks, same
data written back), then times each operation and prints one table of medians, with each
peer's time as a ratio to block-config's (above 1: block-config is faster). Then reading
a 162-layer model in each dialect (``dialect_bench.py``: per-layer against native).
Absolute times vary by machine; only ratios from the same run mean anything. Last, the
search of a 162-layer model with 1,000 candidates per layer (``search_bench.py``) and
Puzzle's MIP step on 162 layers with 2,000 replacements each, beside CBC when PuLP is
installed (``puzzle_bench.py``).
"""

from __future__ import annotations

import argparse
import gc
import operator
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pydantic

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline
import data
import dialect_bench
import peers
import puzzle_bench
import search_bench

import block_config


@dataclass(frozen=True)
class Impl:
    """One implementation: how it reads, writes and orders a list of blocks."""

    name: str
    from_mappings: Callable[[list[dict[str, Any]]], list[Any]]
    from_json: Callable[[bytes], list[Any]]
    to_mappings: Callable[[list[Any]], Any]
    to_json: Callable[[list[Any]], bytes | str]
    sort: Callable[[list[Any]], list[Any]]


def _sort_by_repr(objs: list[Any]) -> list[Any]:
    # pydantic models and msgspec Structs have no ordering of their own (and field-wise
    # ordering would fail on None); sorting by repr is the usual deterministic order.
    return sorted(objs, key=repr)


IMPLS = [
    Impl(
        "block-config",
        block_config.structure_block_configs,
        block_config.loads,
        block_config.unstructure_block_configs,
        block_config.dumps,
        sorted,
    ),
    Impl(
        "dataclasses",
        lambda d: [baseline.BlockConfig(**b) for b in d],
        lambda j: [baseline.BlockConfig(**b) for b in orjson.loads(j)],
        lambda objs: [b.to_dict() for b in objs],
        lambda objs: orjson.dumps([b.to_dict() for b in objs]),
        sorted,
    ),
    Impl(
        f"pydantic {pydantic.VERSION}",
        peers.pydantic_blocks.validate_python,
        peers.pydantic_blocks.validate_json,
        peers.pydantic_blocks.dump_python,
        peers.pydantic_blocks.dump_json,
        _sort_by_repr,
    ),
    Impl(
        f"msgspec {msgspec.__version__}",
        lambda d: msgspec.convert(d, list[peers.MBlock]),
        peers.msgspec_decoder.decode,
        msgspec.to_builtins,
        peers.msgspec_encoder.encode,
        _sort_by_repr,
    ),
]


def _plain(value: Any) -> Any:
    """JSON-shaped data (tuples become lists), to compare what implementations write."""
    return orjson.loads(orjson.dumps(value))


def check_agreement(mappings: list[dict[str, Any]], text: bytes) -> int:
    """Fail unless every implementation reads and writes the data the same; the unique count."""
    uniques = set()
    for impl in IMPLS:
        objs = impl.from_mappings(mappings)
        if impl.from_json(text) != objs:
            raise SystemExit(f"{impl.name}: JSON and mappings give different objects")
        if _plain(impl.to_mappings(objs)) != mappings:
            raise SystemExit(f"{impl.name}: objects -> mappings does not give the input back")
        if orjson.loads(impl.to_json(objs)) != mappings:
            raise SystemExit(f"{impl.name}: objects -> JSON does not give the input back")
        ordered = impl.sort(objs)
        if len(ordered) != len(objs) or set(ordered) != set(objs):
            raise SystemExit(f"{impl.name}: sorted() lost or changed blocks")
        uniques.add(len(set(objs)))
    if len(uniques) != 1:
        raise SystemExit(f"implementations disagree on the number of unique blocks: {uniques}")
    return uniques.pop()


Case = tuple[Callable[[Any], object], Callable[[], Any]]


def measure(cases: Sequence[Case], repeat: int) -> list[float]:
    """Median seconds of ``op(setup())`` for each ``(op, setup)``; setup is not timed.

    Times are CPU time of this process, and the cases take turns, one run each per round, so
    that load from elsewhere on the machine disturbs every implementation alike. GC is off
    while timing, as in timeit.
    """
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(repeat):
        for (op, setup), spent in zip(cases, times, strict=True):
            arg = setup()
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                result = op(arg)
                spent.append(time.process_time() - start)
            finally:
                gc.enable()
            del arg, result  # freeing is not part of the operation
    return [statistics.median(spent) for spent in times]


def memory_per_block(impl: Impl, mappings: list[dict[str, Any]]) -> float:
    """Bytes held per block (nested objects included) right after reading from mappings."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        objs = impl.from_mappings(mappings)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del objs
    return (after - before) / len(mappings)


def _hashed(objs: list[Any]) -> list[Any]:
    set(objs)
    return objs


def run_size(size: int, repeat: int) -> list[tuple[str, list[float]]]:
    """Each operation's median per implementation, for ``size`` blocks."""
    mappings = data.generate(size)
    text = orjson.dumps(mappings)
    unique = check_agreement(mappings, text)
    print(f"{size:,} blocks ({unique:,} unique): all implementations agree", file=sys.stderr)
    rows: list[tuple[str, list[float]]] = []

    def row(label: str, case: Callable[[Impl], Case]) -> None:
        rows.append((label, measure([case(impl) for impl in IMPLS], repeat)))
        print(f"  {label}", file=sys.stderr)

    def fresh(impl: Impl) -> Callable[[], list[Any]]:
        return lambda: impl.from_mappings(mappings)

    def pairs(impl: Impl) -> Callable[[], tuple[list[Any], list[Any]]]:
        return lambda: (impl.from_mappings(mappings), impl.from_json(text))

    def loaded(impl: Impl) -> list[Any]:
        return impl.from_mappings(mappings)

    def same(value: Any) -> Callable[[], Any]:
        return lambda: value

    row("mappings -> objects", lambda i: (i.from_mappings, same(mappings)))
    row("JSON -> objects", lambda i: (i.from_json, same(text)))
    row("objects -> mappings", lambda i: (i.to_mappings, same(loaded(i))))
    row("objects -> JSON", lambda i: (i.to_json, same(loaded(i))))
    row("set(), fresh objects", lambda i: (set, fresh(i)))
    row("set(), hashed objects", lambda i: (set, same(_hashed(loaded(i)))))
    row("sorted(), fresh objects", lambda i: (i.sort, fresh(i)))
    row(
        "sorted(), sorted before",
        lambda i: (i.sort, same(_sorted_once(i, loaded(i)))),
    )
    row(
        "== of equal pairs",
        lambda i: (lambda p: all(map(operator.eq, *p)), pairs(i)),
    )
    rows.append(("bytes per block", [memory_per_block(impl, mappings) for impl in IMPLS]))
    return rows


def _sorted_once(impl: Impl, objs: list[Any]) -> list[Any]:
    impl.sort(objs)
    return objs


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def print_table(results: Sequence[tuple[int, list[tuple[str, list[float]]]]]) -> None:
    """One table: block-config's median, then each peer's median and its ratio to ours."""
    headers = ["blocks", "operation", IMPLS[0].name, *(impl.name for impl in IMPLS[1:])]
    lines = []
    for size, rows in results:
        for label, values in rows:
            ours = values[0]
            fmt = (lambda v: f"{v:,.0f} B") if label == "bytes per block" else _fmt_time
            cells = [f"{size:,}", label, fmt(ours)]
            cells += [f"{fmt(v)} ({v / ours:.2f}x)" for v in values[1:]]
            lines.append(cells)
    widths = [max(len(c) for c in col) for col in zip(headers, *lines, strict=True)]

    def render(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(render(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in lines:
        print(render(cells))


TARGETS = [
    # (operation, peer index, the least ratio peer time / block-config time)
    ("mappings -> objects", 2, 1.0),
    ("mappings -> objects", 1, 1.2),
    ("JSON -> objects", 2, 1.0),
    ("JSON -> objects", 1, 1.2),
    ("objects -> JSON", 2, 1.0),
    ("set(), fresh objects", 1, 3.0),
    ("set(), hashed objects", 1, 10.0),
]


def print_targets(results: Sequence[tuple[int, list[tuple[str, list[float]]]]]) -> None:
    """Whether each target of the issue holds, per size."""
    print()
    for size, rows in results:
        by_label = dict(rows)
        for label, peer, least in TARGETS:
            values = by_label[label]
            ratio = values[peer] / values[0]
            verdict = "holds" if ratio >= least else "MISSED"
            print(
                f"{size:>7,} {label:<22} vs {IMPLS[peer].name:<16} "
                f"{ratio:5.2f}x (target >= {least}x): {verdict}"
            )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, run every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--search", action="store_true", help="only the search (162 layers x 1,000 candidates)"
    )
    parser.add_argument(
        "--dialects", action="store_true", help="only reading 162 layers in each dialect"
    )
    parser.add_argument(
        "--puzzle",
        action="store_true",
        help="only Puzzle's MIP step (162 layers x 2,000 replacements, beside CBC)",
    )
    args = parser.parse_args(argv)
    if args.search:
        search_bench.run(repeat=1 if args.quick else 3)
        return
    if args.dialects:
        dialect_bench.run(repeat=3 if args.quick else 7)
        return
    if args.puzzle:
        puzzle_bench.run()
        return
    plan = [(1_000, 5), (10_000, 5)] if args.quick else [(10_000, 7), (100_000, 3)]
    print(
        f"Python {platform.python_version()}, block-config {block_config.__version__}, "
        f"{platform.machine()}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    results = [(size, run_size(size, repeat)) for size, repeat in plan]
    print_table(results)
    print_targets(results)
    dialect_bench.run(repeat=3 if args.quick else 7)
    search_bench.run(repeat=1 if args.quick else 3)
    if not args.quick:
        puzzle_bench.run()
    print(f"\n(run took {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
