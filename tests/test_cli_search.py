"""``block-config candidates`` and ``block-config search``, run as the installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from published import SUPER, needs_published

from block_config import ModelArchitecture, model_stats
from block_config._cli import main

pytest.importorskip("scipy", reason="the search needs the search extra (scipy)")

EXAMPLES = Path(__file__).parent.parent / "examples"
HYBRID = EXAMPLES / "hybrid-native.config.json"
SCRIPT = Path(sys.executable).parent / "block-config"


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code, self.out, self.err = done.returncode, done.stdout, done.stderr

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str | Path | int, env: dict[str, str] | None = None) -> Run:
    """The installed console script (``python -m block_config`` where it is not installed)."""
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "block_config"]
    done = subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Run(done)


def in_process(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Run:
    """The same command through ``main`` in this process: for the many quick refusals."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return Run(subprocess.CompletedProcess(args, code, captured.out, captured.err))


def score(library: Path, scored: Path, *, missing: tuple[int, int] | None = None) -> None:
    """A toy score: the square of the share of the layer's parameters a candidate removes."""
    document = json.loads(library.read_text())
    for index, layer in enumerate(document["layers"]):
        parent = layer[0]["params"]
        for position, candidate in enumerate(layer):
            candidate["score"] = ((parent - candidate["params"]) / max(parent, 1)) ** 2
            if (index, position) == missing:
                candidate["score"] = None
    scored.write_text(json.dumps(document))


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("library")
    library = tmp_path / "library.json"
    result = cli(
        "candidates", HYBRID, "--kv-heads", "2,1", "--ffn-fractions", "0.5,0.25",
        "--linear", "--no-op", "-o", library,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.startswith(f"wrote {library}: ")
    path = tmp_path / "scored.json"
    score(library, path)
    return path


def test_candidates_search_and_the_child_from_the_installed_command(
    tmp_path: Path, scored: Path
) -> None:
    parent = ModelArchitecture.load(HYBRID)
    budget = model_stats(parent).total_params * 3 // 4
    child = tmp_path / "child" / "config.json"
    result = cli(
        "search", HYBRID, "--library", scored, "--max-params", budget, "--json", "-o", child
    )
    assert result.code == 0, result.err
    document = result.json()
    assert document["status"] == "optimal"
    assert document["total_params"] <= budget
    assert document["kv_cache_bytes"] is None
    assert set(document) >= {
        "status", "score", "total_params", "active_params", "weight_bytes", "kv_cache_bytes",
        "blocks",
    }  # fmt: skip
    written = ModelArchitecture.load(child)
    assert written.dialect == "native"
    assert [block.to_dict() for block in written.block_configs] == document["blocks"]
    assert model_stats(written).total_params == document["total_params"]
    # The parent's other keys are kept as they were.
    source = json.loads(HYBRID.read_text())
    out = json.loads(child.read_text())
    for key, value in source.items():
        if key != "block_configs":
            assert out[key] == value, key
    # The child reads like any config: show and diff take it.
    assert cli("show", child).code == 0
    diff = cli("diff", HYBRID, child)
    assert diff.code == 0
    assert "layer" in diff.out


def test_the_search_table_shows_each_layer_and_the_totals_against_each_budget(
    scored: Path,
) -> None:
    result = cli(
        "search", HYBRID, "--library", scored, "--max-params", "400,000,000",
        "--max-kv-bytes", "100_000_000", "--batch-size", "4", "--seq-len", "8192",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["layer", "cand", "attention"]
    assert len([line for line in lines if line[:5].strip().isdigit()]) == 8
    assert "status:          optimal (proven)" in result.out
    assert "[budget 400,000,000:" in result.out
    assert "for 4 x 8192 tokens  [budget 100,000,000:" in result.out


def test_costs_prints_every_candidate(tmp_path: Path) -> None:
    result = cli("candidates", HYBRID, "--kv-heads", "1", "--no-op", "--costs")
    assert result.code == 0, result.err
    header = result.out.splitlines()[0].split()
    assert header[:3] == ["layer", "cand", "attention"]
    rows = [line for line in result.out.splitlines()[2:] if line.strip()]
    library = tmp_path / "library.json"
    assert cli("candidates", HYBRID, "--kv-heads", "1", "--no-op", "-o", library).code == 0
    counted = sum(len(layer) for layer in json.loads(library.read_text())["layers"])
    assert len(rows) == counted


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "nothing to do: give -o LIBRARY.json, --costs, or both"),
        (("--costs", "--kv-heads", "3"), 2, "3 does not divide num_attention_heads"),
        (("--costs", "--kv-heads", "two"), 2, "expected positive integers, got 'two'"),
        (("--costs", "--ffn-fractions", "-0.5"), 2, "expected fractions above 0"),
        (("--costs", "--ffn-sizes", "8", "--ffn-fractions", "0.5"), 2, "not allowed with"),
        (("--costs", "--experts", "2"), 2, "2 is fewer than the 8 experts per token of layer 3"),
    ],
)
def test_candidates_refuses_bad_options(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, message: str
) -> None:
    result = in_process(capsys, "candidates", HYBRID, *args)
    assert result.code == code
    assert message in result.err


def test_candidates_does_not_overwrite_without_force(tmp_path: Path) -> None:
    library = tmp_path / "library.json"
    library.write_text("keep")
    result = cli("candidates", HYBRID, "-o", library)
    assert result.code == 1
    assert "exists; refusing to overwrite it (use --force)" in result.err
    assert library.read_text() == "keep"
    assert cli("candidates", HYBRID, "-o", library, "--force").code == 0


def test_search_output_ending_in_a_slash_or_a_folder_writes_config_json(
    tmp_path: Path, scored: Path
) -> None:
    # As convert does: -o DIR/ is a folder (created), never a file named DIR.
    target = tmp_path / "new" / "child"
    args = ("search", HYBRID, "--library", scored, "--max-params", 500_000_000)
    result = cli(*args, "-o", f"{target}/")
    assert result.code == 0, result.err
    assert (target / "config.json").is_file()
    assert result.out.endswith(f"wrote {target / 'config.json'} (native dialect)\n")
    # An existing folder without a config.json is written into, without --force.
    folder = tmp_path / "folder"
    folder.mkdir()
    into = cli(*args, "-o", folder)
    assert into.code == 0, into.err
    assert into.out.endswith(f"wrote {folder / 'config.json'} (native dialect)\n")
    again = cli(*args, "-o", folder)
    assert again.code == 1
    assert f"{folder / 'config.json'}: exists; refusing to overwrite it" in again.err


def test_candidates_output_naming_a_folder_is_refused(tmp_path: Path) -> None:
    result = cli("candidates", HYBRID, "--linear", "-o", f"{tmp_path / 'lib'}/")
    assert result.code == 2
    assert "LIBRARY.json names a folder" in result.err
    assert not (tmp_path / "lib").exists()
    folder = cli("candidates", HYBRID, "--linear", "-o", tmp_path, "--force")
    assert folder.code == 2
    assert "LIBRARY.json names a folder" in folder.err


def test_a_malformed_library_is_told_with_its_json_paths(tmp_path: Path, scored: Path) -> None:
    document = json.loads(scored.read_text())
    document["layers"][3][1]["score"] = "bad"
    document["layers"][5][0]["block"]["attention"]["num_key_value_heads"] = "8"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    result = cli("search", HYBRID, "--library", broken)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"block-config: error: {broken}: $.layers[3][1].score: expected float, got str 'bad'",
        f"block-config: error: {broken}: $.layers[5][0].block.attention.num_key_value_heads: "
        "expected int, got str '8'",
    ]
    broken.write_text('{"layers": [')
    result = cli("search", HYBRID, "--library", broken)
    assert result.code == 1
    assert result.err.startswith(f"block-config: error: {broken}: $: invalid JSON")


def test_an_unscored_candidate_is_named(tmp_path: Path) -> None:
    library = tmp_path / "library.json"
    assert cli("candidates", HYBRID, "--no-op", "-o", library).code == 0
    partly = tmp_path / "partly.json"
    score(library, partly, missing=(2, 1))
    result = cli("search", HYBRID, "--library", partly)
    assert result.code == 1
    assert result.err == (
        f"block-config: error: {partly}: $.layers[2][1].score: layer 2, candidate 1 has no "
        "score; the search needs a "
        "finite score for every candidate\n"
    )
    assert cli("search", HYBRID, "--library", library).code == 1  # nothing scored at all


def test_an_infeasible_budget_exits_1_naming_it(scored: Path) -> None:
    result = cli("search", HYBRID, "--library", scored, "--max-params", "1000")
    assert result.code == 1
    assert (
        "no choice of candidates meets --max-params 1,000 (the smallest any choice " in result.err
    )
    assert result.out == ""


def test_a_missing_solver_exits_3_with_the_install_hint(tmp_path: Path, scored: Path) -> None:
    shadow = tmp_path / "shadow" / "scipy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no scipy here')\n")
    env = {"PYTHONPATH": str(shadow.parent)}
    result = cli("search", HYBRID, "--library", scored, "--max-params", "10", env=env)
    assert result.code == 3
    assert result.err == (
        "block-config: error: the search needs a MIP solver: pip install 'block-config[search]'\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-kv-bytes", "10"), "--max-kv-bytes needs --batch-size and --seq-len"),
        (("--batch-size", "2"), "--batch-size and --seq-len go together"),
        (("--max-params", "-1"), "expected an integer >= 0, got '-1'"),
        (("--time-limit", "0"), "expected seconds above 0, got '0'"),
        (("--sweep", "max-layers=1:2:3"), "expected BUDGET=A:B:N with BUDGET one of"),
        (("--sweep", "max-params=5:1:3"), "expected A <= B and a count N >= 1"),
        (("--sweep", "max-params=1:5:3", "--max-params", "4"), "--max_params is swept"),
        (("--sweep", "max-params=1:5:3", "-o", "child.json"), "-o writes one child"),
        (("--plot", "front.png"), "--plot draws the front of a --sweep"),
        (("--sweep", "max-params=1:5:3", "--plot", "front.docx"), "--plot must end in one of"),
    ],
)
def test_search_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], scored: Path, args: tuple[str, ...], message: str
) -> None:
    result = in_process(capsys, "search", HYBRID, "--library", scored, *args)
    assert result.code == 2
    assert message.replace("--max_params", "--max-params") in result.err


def test_a_sweep_prints_the_front_and_draws_it(tmp_path: Path, scored: Path) -> None:
    pytest.importorskip("matplotlib")
    total = model_stats(ModelArchitecture.load(HYBRID)).total_params
    front = tmp_path / "front.png"
    spec = f"max-params={total // 10}:{total}:4"
    result = cli("search", HYBRID, "--library", scored, "--sweep", spec, "--plot", front)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "Pareto front over --max-params:"
    assert "infeasible" in lines[3]  # a tenth of the parent cannot be reached
    assert front.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = cli("search", HYBRID, "--library", scored, "--sweep", spec, "--json").json()
    assert data["budget"] == "max_params"
    values = [point["value"] for point in data["points"]]
    assert values == [total // 10 + (total - total // 10) * i // 3 for i in range(4)]
    assert data["points"][0]["result"] is None
    scores = [p["result"]["score"] for p in data["points"] if p["result"] is not None]
    assert scores == sorted(scores, reverse=True)
    assert data["points"][-1]["result"]["score"] == 0.0


def test_maximize_and_a_time_limit(scored: Path) -> None:
    budget = model_stats(ModelArchitecture.load(HYBRID)).total_params // 2
    low = cli("search", HYBRID, "--library", scored, "--max-params", budget, "--json").json()
    high = cli(
        "search", HYBRID, "--library", scored, "--max-params", budget, "--json", "--maximize",
        "--time-limit", "30",
    ).json()  # fmt: skip
    assert high["status"] in ("optimal", "time_limit")
    assert high["score"] >= low["score"]
    assert high["total_params"] <= budget


@needs_published
def test_a_legacy_parent_gives_a_legacy_child_on_request(tmp_path: Path) -> None:
    library = tmp_path / "library.json"
    result = cli(
        "candidates", SUPER, "--kv-heads", "4,1", "--ffn-fractions", "0.5", "--no-op", "-o",
        library,
    )  # fmt: skip
    assert result.code == 0, result.err
    scored = tmp_path / "scored.json"
    score(library, scored)
    budget = 40_000_000_000
    child = tmp_path / "child.json"
    result = cli(
        "search", SUPER, "--library", scored, "--max-params", budget, "-o", child, "--to",
        "legacy",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "status:          optimal (proven)" in result.out
    assert result.out.endswith(f"wrote {child} (legacy dialect)\n")
    written = ModelArchitecture.load(child)
    assert written.dialect == "legacy"
    assert model_stats(written).total_params <= budget
    assert "n_heads_in_group" in json.dumps(json.loads(child.read_text())["block_configs"][0])


def test_a_hybrid_child_cannot_be_written_as_legacy(tmp_path: Path, scored: Path) -> None:
    child = tmp_path / "child.json"
    result = cli("search", HYBRID, "--library", scored, "-o", child, "--to", "legacy")
    assert result.code == 1
    assert f"{child}: $.block_configs[0,2]" in result.err  # the two Mamba layers, one line
    assert not child.exists()
