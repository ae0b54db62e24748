"""Puzzle's MIP step: the reference's files in, its tree out, objectives equal to exhaustive
enumeration (and to CBC where PuLP is installed), errors located, nothing written on failure."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import puzzle_workspace
import pytest
from puzzle_workspace import Workspace, best_by_enumeration, build

from block_config import BlockConfig, ModelArchitecture
from block_config._cli import main as cli_main
from block_config.puzzletron import (
    PuzzleArgs,
    PuzzleInputError,
    block_repr,
    block_stats,
    constraint_sets,
    read_replacement_library,
    read_scenarios,
    run_puzzle,
    scenario_folder_names,
    select_scenario,
    solution_repr,
)
from block_config.puzzletron.run_puzzle import main

pytest.importorskip("scipy", reason="the MIP step needs the search extra (scipy)")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return build(tmp_path, layers=4, spans=3, seed=1)


def teacher_total(ws: Workspace, scenario: int, name: str) -> float:
    """The teacher's total of a stat, its non-block part included."""
    teachers = list(ws.replacements)[-ws.layers :]
    return math.fsum(
        [*(ws.stat(scenario, key, name) for key in teachers), ws.non_block[scenario].get(name, 0.0)]
    )


def run(
    ws: Workspace, capsys: pytest.CaptureFixture[str], *flags: str, source: str = "validation"
) -> tuple[int, str, str]:
    inputs = (
        ["--single_block_replacement_validation_dir", str(ws.validation_dir)]
        if source == "validation"
        else ["--gathered_metrics_path", str(ws.gathered_path)]
    )
    code = main(
        [
            *inputs,
            "--subblock_stats_path",
            str(ws.stats_path),
            "--output_path",
            str(ws.root / "out"),
            *flags,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def solutions(folder: Path) -> list[dict[str, Any]]:
    data = json.loads((folder / "solutions.json").read_text())
    assert isinstance(data, list)
    return data


def only_solution_file(ws: Workspace) -> Path:
    found = sorted((ws.root / "out").rglob("solutions.json"))
    assert len(found) == 1, found
    return found[0].parent


# --------------------------------------------------------------------------- optimality


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("source", ["validation", "gathered"])
@pytest.mark.parametrize(
    ("metric", "maximize", "spec"),
    [
        ("lm_loss", False, {"memory_mib": (None, 0.7)}),
        ("token_accuracy_top_1", True, {"memory_mib": (None, 0.8), "runtime_ms": (None, 0.8)}),
        ("lm_loss", False, {"memory_mib": (0.5, 0.75), "num_params": (None, 0.9)}),
        ("lm_loss", True, {"runtime_ms": (0.6, None)}),
        ("token_accuracy_top_1", False, {"has_attention": (2, 3)}),
    ],
)
def test_objective_equals_enumeration(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    seed: int,
    source: str,
    metric: str,
    maximize: bool,
    spec: dict[str, tuple[float | None, float | None]],
) -> None:
    ws = build(tmp_path, layers=4, spans=3, seed=seed)
    scenario = seed % 2
    bounds: dict[str, tuple[float | None, float | None]] = {}
    mip: dict[str, Any] = {}
    for name, (low, high) in spec.items():
        if name == "has_attention":
            bounds[name] = (low, high)
        else:
            top = teacher_total(ws, scenario, name)
            bounds[name] = (
                None if low is None else round(low * top, 4),
                None if high is None else round(high * top, 4),
            )
        mip[f"stats.{name}"] = list(bounds[name]) if low is not None else bounds[name][1]
    expected = best_by_enumeration(ws, scenario, metric, bounds, maximize=maximize)
    flags = [
        "--subblock_stats_args",
        json.dumps({"batch_size": (1, 8)[scenario]}),
        "--objective",
        f"metrics.{metric}",
        "--mip_constraints",
        json.dumps(mip),
    ]
    if maximize:
        flags.append("--bigger_is_better")
    code, out, err = run(ws, capsys, *flags, source=source)
    if expected is None:
        assert code == 1, (out, err)
        assert "no choice" in err or "cannot all be met" in err
        assert not list((ws.root / "out").rglob("solutions.json"))
        return
    assert code == 0, err
    (solution,) = solutions(only_solution_file(ws))
    value = solution["total_value"][f"metrics.{metric}"]
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    for name, (low, high) in bounds.items():
        total = solution["total_costs"][f"stats.{name}"]
        assert low is None or total >= low
        assert high is None or total <= high


def cbc_best(
    ws: Workspace,
    scenario: int,
    metric: str,
    bounds: dict[str, tuple[float | None, float | None]],
    maximize: bool,
) -> float | None:
    """The reference's program for this workspace, written with PuLP and solved with CBC."""
    pulp: Any = pytest.importorskip("pulp")
    ids = list(ws.replacements)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        problem = pulp.LpProblem("puzzle", pulp.LpMaximize if maximize else pulp.LpMinimize)
        x = {key: pulp.LpVariable(f"choice_{i}", cat=pulp.LpBinary) for i, key in enumerate(ids)}
        by_layer: dict[int, list[Any]] = {}
        for key in ids:
            for layer in ws.replacements[key][0]:
                by_layer.setdefault(layer, []).append(x[key])
        for chosen in by_layer.values():
            problem += pulp.lpSum(chosen) == 1
        for name, (low, high) in bounds.items():
            total = pulp.lpSum(x[key] * ws.stat(scenario, key, name) for key in ids)
            offset = ws.non_block[scenario].get(name, 0.0)
            if high is not None:
                problem += total <= high - offset
            if low is not None:
                problem += total >= low - offset
        problem += pulp.lpSum(x[key] * ws.replacements[key][3][metric] for key in ids)
        problem.solve(pulp.PULP_CBC_CMD(msg=False))
        if problem.status != pulp.LpStatusOptimal:
            return None
        return math.fsum(ws.replacements[key][3][metric] for key in ids if x[key].varValue > 0.5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("maximize", [False, True])
def test_objective_equals_cbc_on_a_larger_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int, maximize: bool
) -> None:
    ws = build(tmp_path, layers=16, spans=12, seed=100 + seed)
    metric = "token_accuracy_top_1" if maximize else "lm_loss"
    bounds = {
        "memory_mib": (None, round(0.6 * teacher_total(ws, 1, "memory_mib"), 4)),
        "runtime_ms": (round(0.3 * teacher_total(ws, 1, "runtime_ms"), 4), None),
        "num_params": (None, round(0.8 * teacher_total(ws, 1, "num_params"))),
    }
    expected = cbc_best(ws, 1, metric, bounds, maximize)
    assert expected is not None
    mip = {
        "stats.memory_mib": bounds["memory_mib"][1],
        "stats.runtime_ms": list(bounds["runtime_ms"]),
        "stats.num_params": bounds["num_params"][1],
    }
    flags = ["--subblock_stats_args", '{"batch_size": 8}', "--objective", f"metrics.{metric}"]
    flags += ["--mip_constraints", json.dumps(mip)]
    code, _, err = run(ws, capsys, *flags, *(["--bigger_is_better"] if maximize else []))
    assert code == 0, err
    (solution,) = solutions(only_solution_file(ws))
    assert solution["total_value"][f"metrics.{metric}"] == pytest.approx(expected, rel=1e-9)


def test_human_constraints_become_the_reference_mip_constraints(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    batch, length = 8, 128
    memory = round(0.7 * teacher_total(ws, 1, "memory_mib"), 3)
    runtime_ms = 0.85 * teacher_total(ws, 1, "runtime_ms")
    throughput = round(1000 * batch * length / runtime_ms, 3)
    human = {"target_memory": memory, "target_throughput": throughput}
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 8}',
        "--objective",
        "metrics.lm_loss",
        "--human_constraints",
        json.dumps(human),
    )
    assert code == 0, err
    folder = only_solution_file(ws)
    assert folder.name == f"target_memory_{memory}MiB-target_throughput_{throughput}".replace(
        ".", "_"
    )
    (solution,) = solutions(folder)
    limit_ms = 1000 * (batch * length / throughput)
    expected = best_by_enumeration(
        ws, 1, "lm_loss", {"memory_mib": (None, memory), "runtime_ms": (None, limit_ms)}
    )
    assert solution["total_value"]["metrics.lm_loss"] == pytest.approx(expected, rel=1e-9)
    assert solution["puzzle_args"]["mip_constraints"] == {
        "stats.memory_mib": memory,
        "stats.runtime_ms": limit_ms,
    }
    assert solution["puzzle_args"]["human_constraints"] == human
    costs = solution["total_costs"]
    assert costs["throughput"] == pytest.approx(1000 * batch * length / costs["stats.runtime_ms"])


# --------------------------------------------------------------------------- the files


def test_the_tree_and_keys_the_reference_writes(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = round(0.7 * teacher_total(ws, 0, "memory_mib"), 3)
    code, out, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '[{"batch_size": 1}, {"batch_size": 8}]',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        json.dumps([{"stats.memory_mib": limit}, {"stats.memory_mib": [1.0, limit]}]),
        "--report_additional_costs",
        "stats.num_params",
        "--report_additional_costs",
        "stats.kv_cache_memory_mib",
    )
    assert code == 0, err
    names = sorted(p.relative_to(ws.root / "out").as_posix() for p in (ws.root / "out").rglob("*"))
    one = str(limit).replace(".", "_")
    expected_folders = [
        f"batch_size_{b}/{c}"
        for b in (1, 8)
        for c in (f"stats_memory_mib_{one}", f"stats_memory_mib_1_0-stats_memory_mib_{one}")
    ]
    for folder in expected_folders:
        for file in (
            "solutions.json",
            "replacement_metrics_and_stats.json",
            "solution_repr_0.txt",
            "solution_0.config.json",
        ):
            assert f"{folder}/{file}" in names
    (solution,) = solutions(ws.root / "out" / expected_folders[0])
    assert list(solution)[:7] == [
        "chosen_replacements",
        "total_value",
        "total_costs",
        "puzzle_args",
        "subblock_stats",
        "chosen_block_configs",
        "solution_repr",
    ]
    assert list(solution["total_costs"]) == [
        "stats.memory_mib",
        "stats.num_params",
        "stats.kv_cache_memory_mib",
    ]
    assert solution["subblock_stats"] == ws.scenario_args[0]
    assert solution["puzzle_args"]["subblock_stats_args"] == {"batch_size": 1}
    chosen = solution["chosen_replacements"]
    assert [c["parent_layer_indices"][0] for c in chosen] == sorted(
        c["parent_layer_indices"][0] for c in chosen
    )
    covered = [layer for c in chosen for layer in c["parent_layer_indices"]]
    assert covered == list(range(ws.layers))
    for entry in chosen:
        assert entry["child_block_configs"] == entry["block_config"]
        assert {"metrics", "stats", "block_repr", "is_teacher"} <= set(entry)
    assert len(solution["chosen_block_configs"]) == len(chosen)
    # The non-block part is in the totals of the stats it has, and only those.
    recounted = math.fsum(
        [*(c["stats"]["num_params"] for c in chosen), ws.non_block[0]["num_params"]]
    )
    assert solution["total_costs"]["stats.num_params"] == recounted
    kv = math.fsum(c["stats"]["kv_cache_memory_mib"] for c in chosen)
    assert solution["total_costs"]["stats.kv_cache_memory_mib"] == pytest.approx(kv)
    text = (ws.root / "out" / expected_folders[0] / "solution_repr_0.txt").read_text()
    assert text == solution["solution_repr"]
    assert text.splitlines()[0].startswith("block_0:  ")
    child = ModelArchitecture.load(ws.root / "out" / expected_folders[0] / "solution_0.config.json")
    assert [dataclasses.asdict(b) for b in child.block_configs] == solution["chosen_block_configs"]
    everything = json.loads(
        (ws.root / "out" / expected_folders[0] / "replacement_metrics_and_stats.json").read_text()
    )
    assert list(everything) == list(ws.replacements)
    assert "solutions.json" in out


def test_a_single_scenario_as_a_dict_has_no_scenario_folder(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 8}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.num_params": 1e12}',
    )
    assert code == 0, err
    assert only_solution_file(ws) == ws.root / "out" / "stats_num_params_1000000000000_0"


def test_blocks_are_written_in_the_reference_dataclass_form(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 8}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
        source="gathered",
    )
    assert code == 0, err
    gathered = json.loads(ws.gathered_path.read_text())
    written = json.loads(
        (only_solution_file(ws) / "replacement_metrics_and_stats.json").read_text()
    )
    for key, entry in gathered.items():
        assert json.dumps(written[key]["block_config"]) == json.dumps(entry["block_config"])


# --------------------------------------------------------------------------- failures


def test_infeasible_names_the_constraint_and_writes_nothing(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1.0, "stats.num_params": 1e12}',
    )
    assert code == 1
    smallest = best_by_enumeration  # the smallest memory any cover reaches, recounted:
    ids = list(ws.replacements)
    spans = [ws.replacements[k][0] for k in ids]
    reach = min(
        math.fsum([*(ws.stat(0, ids[i], "memory_mib") for i in c), ws.non_block[0]["memory_mib"]])
        for c in puzzle_workspace.covers(spans, ws.layers)
    )
    assert smallest is not None
    assert f"stats.memory_mib <= 1 (the smallest any choice reaches: {reach:g})" in err
    assert "stats.num_params" not in err
    assert not (ws.root / "out").exists()
    assert out == ""


def test_nan_objectives_are_dropped_with_a_warning(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    gathered = json.loads(ws.gathered_path.read_text())
    gathered["replacement_0"]["metrics"]["lm_loss"] = math.nan
    ws.gathered_path.write_text(json.dumps(gathered))
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
        source="gathered",
    )
    assert code == 0, err
    assert "dropped 1 replacements" in err
    assert "replacement_0" in err


def test_a_missing_stat_is_an_error_at_its_path(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.decode_runtime_ms": 5}',
        source="gathered",
    )
    assert code == 1
    assert (
        f"{ws.stats_path}: $[0].subblocks: 'stats.decode_runtime_ms' is needed, but is null "
        "for replacement_0 (parent layer"
    ) in err
    assert not (ws.root / "out").exists()


def test_a_missing_metric_is_an_error_at_its_path(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.kl_div",
        "--mip_constraints",
        '{"stats.memory_mib": 5}',
        source="gathered",
    )
    assert code == 1
    assert f"{ws.gathered_path}: $.replacement_0.metrics: has no 'kl_div'" in err


@pytest.mark.parametrize(("wanted", "count"), [('{"batch_size": 2}', 0), ('{"n_embd": 256}', 2)])
def test_scenario_args_must_match_exactly_one(
    ws: Workspace, capsys: pytest.CaptureFixture[str], wanted: str, count: int
) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        wanted,
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 5}',
    )
    assert code == 1
    assert f"--subblock_stats_args: $: must match exactly one scenario of {ws.stats_path}" in err
    assert f"matches {count}" in err
    if count:
        assert '$[0].args {"gpu"' in err
        assert "$[1].args" in err
    assert not (ws.root / "out").exists()


def test_an_unknown_human_constraint_is_located(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--human_constraints",
        '{"target_memory": 10, "target_speed": 3}',
    )
    assert code == 1
    assert "--human_constraints: $.target_speed: is not a human constraint" in err


def test_missing_flags_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--objective", "metrics.lm_loss"]) == 2
    assert "required: subblock_stats_path, output_path" in capsys.readouterr().err


def test_bad_json_in_a_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mip_constraints", "{nope"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_a_time_limit_reports_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = build(tmp_path, layers=4, spans=2, seed=3)
    code, out, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
        "--max_seconds_per_solution",
        "30",
    )
    assert code == 0, err
    (solution,) = solutions(only_solution_file(ws))
    assert solution["solver"] == {"name": "HiGHS", "status": "optimal", "gap": 0.0}
    assert ": optimal; objective " in out


# --------------------------------------------------------------------------- the profile


def test_the_puzzle_profile_gives_flags_and_constraints(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("yaml")
    profile = ws.root / "profile.yaml"
    profile.write_text(
        "objective: metrics.token_accuracy_top_1\n"
        "bigger_is_better: true\n"
        "subblock_stats_args:\n  - batch_size: 8\n"
        "mip_constraints:\n  - stats.memory_mib: 1.0e+9\n"
    )
    code, _, err = run(ws, capsys, "--puzzle_profile", str(profile), "--objective", "ignored")
    assert code == 0, err
    (solution,) = solutions(only_solution_file(ws))
    assert solution["puzzle_args"]["objective"] == "metrics.token_accuracy_top_1"
    assert solution["puzzle_args"]["bigger_is_better"] is True
    expected = best_by_enumeration(
        ws, 1, "token_accuracy_top_1", {"memory_mib": (None, 1e9)}, maximize=True
    )
    assert solution["total_value"]["metrics.token_accuracy_top_1"] == pytest.approx(expected)


def test_a_bad_profile_value_is_located(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("yaml")
    profile = ws.root / "profile.yaml"
    profile.write_text("bigger_is_better: 'yes'\n")
    code, _, err = run(ws, capsys, "--puzzle_profile", str(profile))
    assert code == 1
    assert f"{profile}: $.bigger_is_better: expected a bool, got str 'yes'" in err


# --------------------------------------------------------------------------- the pieces


def test_constraint_set_names_follow_the_reference() -> None:
    (mip,) = constraint_sets(
        "mip", {"stats.active_params": "3B", "stats.memory_mib": [1, 2.5]}, "x"
    )
    assert mip.constraints["stats.active_params"] == 3e9
    assert mip.name == "stats_active_params_3_0B-stats_memory_mib_1-stats_memory_mib_2_5"
    (human,) = constraint_sets("human", {"num_params": 7_500_000_000, "target_memory": 78000}, "x")
    assert human.name == "num_params_7_5G-target_memory_78000MiB"
    with pytest.raises(PuzzleInputError, match="same folder name"):
        constraint_sets("mip", [{"stats.a": 1}, {"stats.a": 1}], "x")


def test_human_constraints_to_mip() -> None:
    (human,) = constraint_sets(
        "human",
        {
            "target_throughput": 1000,
            "target_latency_seconds": 2.0,
            "target_time_to_first_token": 0.5,
            "stats.has_attention": [2, 10],
        },
        "x",
    )
    mip = human.to_mip({"batch_size": 4, "generation_seq_len": 1000}, "s", ())
    assert mip == {
        "stats.runtime_ms": 1000 * min(4 * 1000 / 1000, 2.0),
        "stats.prefill_runtime_ms": 500.0,
        "stats.has_attention": [2, 10],
    }
    with pytest.raises(PuzzleInputError, match="batch_size and generation_seq_len"):
        human.to_mip({"batch_size": 4}, "s", (0, "args"))


def test_scenario_folder_names_in_a_fixed_order() -> None:
    names = scenario_folder_names(
        [
            {"batch_size": 1, "gpu": "a", "weights_dtype": "torch.bfloat16"},
            {"batch_size": 8, "gpu": "a", "weights_dtype": "torch.float8"},
        ]
    )
    assert names == [
        "batch_size_1-weights_dtype_torch_bfloat16",
        "batch_size_8-weights_dtype_torch_float8",
    ]
    assert scenario_folder_names([{"batch_size": 1}]) == [""]


def test_block_stats_and_repr(ws: Workspace) -> None:
    scenarios = read_scenarios(json.loads(ws.stats_path.read_text()), "s")
    scenario = select_scenario(scenarios, {"batch_size": 8}, "s", "--x", ())
    block = BlockConfig.from_dict(puzzle_workspace.seed_block(1, 2))
    stats = block_stats(scenario, block, 2)
    attention = ws.subblock[(1, "attention", 1, 2)]
    ffn = ws.subblock[(1, "ffn", 2, 2)]
    assert stats["memory_mib"] == attention["memory_mib"] + ffn["memory_mib"]
    assert stats["attention_runtime_ms"] == attention["runtime_ms"]
    assert stats["decode_runtime_ms"] is None
    assert (stats["has_attention"], stats["has_ffn"], stats["has_moe"]) == (1, 1, 0)
    assert (stats["num_kv_heads"], stats["num_local_experts"], stats["not_no_op"]) == (4, 0, 1)
    assert "parent_layer_index" not in stats
    assert block_repr(block) == "  attention  kv_heads_4  ffn  intermediate_256"
    skip = BlockConfig.from_dict(puzzle_workspace.seed_block(3, 3))
    assert block_repr(skip) == "  attention  no_op   ffn  no_op "
    assert solution_repr([block, skip]) == (
        "block_0:   attention  kv_heads_4  ffn  intermediate_256\n"
        "block_1:   attention  no_op   ffn  no_op \n"
    )


def test_parallel_blocks_add_memory_and_take_the_largest_runtime(ws: Workspace) -> None:
    scenarios = read_scenarios(json.loads(ws.stats_path.read_text()), "s")
    scenario = select_scenario(scenarios, {"batch_size": 1}, "s", "--x", ())
    a = puzzle_workspace.seed_block(0, 3)
    b = puzzle_workspace.seed_block(3, 1)
    parallel = BlockConfig.from_dict(
        {"attention": {"no_op": True}, "ffn": {"no_op": True}, "parallel_blocks": [a, b]}
    )
    stats = block_stats(scenario, parallel, 0)
    one = block_stats(scenario, BlockConfig.from_dict(a), 0)
    two = block_stats(scenario, BlockConfig.from_dict(b), 0)
    assert stats["memory_mib"] == one["memory_mib"] + two["memory_mib"]
    assert stats["runtime_ms"] == max(one["runtime_ms"], two["runtime_ms"])


def test_the_replacement_library_reader(tmp_path: Path) -> None:
    path = tmp_path / "replacement_library.json"
    block = puzzle_workspace.seed_block(1, 1)
    path.write_text(
        json.dumps(
            [
                {
                    "parent_layer_indices": [0, 1],
                    "child_block_configs": [block],
                    "weight_paths": ["/x/./a.safetensors"],
                }
            ]
        )
    )
    (entry,) = read_replacement_library(path)
    assert entry["child_block_configs"] == [block]
    assert entry["weight_paths"] == ["/x/a.safetensors"]
    path.write_text(json.dumps([{"parent_layer_indices": [0], "child_block_configs": [{"x": 1}]}]))
    with pytest.raises(PuzzleInputError, match=r"\$\[0\]\.child_block_configs\[0\]"):
        read_replacement_library(path)


def test_a_min_above_the_max_is_located(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": [10, 5]}',
    )
    assert code == 1
    assert "--mip_constraints: $['stats.memory_mib']: minimum 10 is above maximum 5" in err


def test_the_library_api(ws: Workspace) -> None:
    result = run_puzzle(
        PuzzleArgs(
            gathered_metrics_path=ws.gathered_path,
            subblock_stats_path=ws.stats_path,
            subblock_stats_args={"batch_size": 1},
            objective="metrics.lm_loss",
            mip_constraints={"stats.memory_mib": 1e9},
            output_path=ws.root / "api",
        )
    )
    assert not result.failures
    (solution,) = result.solutions
    assert solution.status == "optimal"
    assert len(result.written) == 3  # no teacher: no child config


def test_the_subcommand_is_the_same_command(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [
        "--gathered_metrics_path",
        str(ws.gathered_path),
        "--subblock_stats_path",
        str(ws.stats_path),
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
    ]
    assert cli_main(["puzzle-mip", *flags, "--output_path", str(ws.root / "a")]) == 0
    assert main([*flags, "--output_path", str(ws.root / "b")]) == 0
    capsys.readouterr()
    first = json.loads(
        (ws.root / "a" / "stats_memory_mib_1000000000_0" / "solutions.json").read_text()
    )
    second = json.loads(
        (ws.root / "b" / "stats_memory_mib_1000000000_0" / "solutions.json").read_text()
    )
    del first[0]["puzzle_args"]["output_path"], second[0]["puzzle_args"]["output_path"]
    assert first == second


def test_the_module_runs_with_python_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "block_config.puzzletron.run_puzzle", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    for flag in (
        "--puzzle_profile",
        "--single_block_replacement_validation_dir",
        "--gathered_metrics_path",
        "--subblock_stats_path",
        "--subblock_stats_args",
        "--objective",
        "--mip_constraints",
        "--human_constraints",
        "--report_additional_costs",
        "--output_path",
        "--max_seconds_per_solution",
        "--metric_overrides",
        "--bigger_is_better",
    ):
        assert flag in result.stdout


def test_the_package_imports_neither_torch_nor_omegaconf() -> None:
    code = (
        "import sys, block_config.puzzletron.run_puzzle; "
        "print(sorted(m for m in ('torch', 'omegaconf', 'yaml') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_several_scenarios_are_each_solved_on_their_own(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reference shares one constraints dict between scenarios and subtracts the non-block
    # part again for each later scenario; here each equals enumeration for its own scenario.
    limit = round(0.7 * teacher_total(ws, 0, "memory_mib"), 3)
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '[{"batch_size": 1}, {"batch_size": 8}]',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        json.dumps({"stats.memory_mib": limit}),
    )
    assert code == 0, err
    folder = f"stats_memory_mib_{limit}".replace(".", "_")
    for scenario, batch in enumerate((1, 8)):
        (solution,) = solutions(ws.root / "out" / f"batch_size_{batch}" / folder)
        expected = best_by_enumeration(ws, scenario, "lm_loss", {"memory_mib": (None, limit)})
        assert solution["total_value"]["metrics.lm_loss"] == pytest.approx(expected, rel=1e-9)
        assert solution["puzzle_args"]["mip_constraints"] == {"stats.memory_mib": limit}
        assert solution["total_costs"]["stats.memory_mib"] <= limit


def test_the_teacher_layer_replacements_come_from_the_replacement_library(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    teacher_block = puzzle_workspace.seed_block(0, 0)
    library = [
        {
            "parent_layer_indices": [layer],
            "child_block_configs": [teacher_block],
            "weight_paths": [
                f"{ws.teacher_dir}/subblocks_safetensors/block_{layer}_{part}.safetensors"
                for part in ("attention", "ffn")
            ],
        }
        for layer in range(ws.layers)
    ]
    # A student replacement of layer 0 (weights elsewhere) is not the teacher's.
    library.append(
        {
            "parent_layer_indices": [0],
            "child_block_configs": [puzzle_workspace.seed_block(1, 1)],
            "weight_paths": [f"{ws.root}/lib/block_0.safetensors"],
        }
    )
    library_path = ws.root / "replacement_library.json"
    library_path.write_text(json.dumps(library))
    teacher_json = ws.validation_dir / "teacher.json"
    document = json.loads(teacher_json.read_text())
    document["args"]["replacement_library_path"] = str(library_path)
    teacher_json.write_text(json.dumps(document))
    flags = [
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
    ]
    code, _, err = run(ws, capsys, *flags)
    assert code == 0, err
    written = json.loads(
        (only_solution_file(ws) / "replacement_metrics_and_stats.json").read_text()
    )
    teachers = [entry for entry in written.values() if entry["is_teacher"]]
    assert [t["layer_replacement"]["parent_layer_indices"] for t in teachers] == [
        [layer] for layer in range(ws.layers)
    ]
    assert teachers[2]["layer_replacement"]["weight_paths"] == library[2]["weight_paths"]
    # A layer with no teacher replacement in the library is named.
    library_path.write_text(json.dumps(library[1:]))
    code, _, err = run(ws, capsys, *flags)
    assert code == 1
    assert f"{library_path}: $: holds no teacher replacement" in err
    assert "for parent layers [0]" in err


def test_metric_overrides_replace_entries(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    gathered = json.loads(ws.gathered_path.read_text())
    entry = dict(gathered["replacement_0"])
    entry["metrics"] = {**entry["metrics"], "lm_loss": -100.0}
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
        "--metric_overrides",
        json.dumps({"replacement_0": entry}),
        source="gathered",
    )
    assert code == 0, err
    (solution,) = solutions(only_solution_file(ws))
    chosen = solution["chosen_replacements"]
    assert any(c["metrics"]["lm_loss"] == -100.0 for c in chosen)
    code, _, err = run(
        ws,
        capsys,
        "--subblock_stats_args",
        '{"batch_size": 1}',
        "--objective",
        "metrics.lm_loss",
        "--mip_constraints",
        '{"stats.memory_mib": 1e9}',
        "--metric_overrides",
        '{"replacement_0": {"parent_layer_indices": [0]}}',
        source="gathered",
    )
    assert code == 1
    assert "--metric_overrides: $.replacement_0: has no 'block_config'" in err
