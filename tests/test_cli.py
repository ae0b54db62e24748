"""The ``block-config`` command, run as a user runs it: arguments in, output and exit code out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from published import SUPER, ULTRA, needs_published

from block_config import ModelArchitecture, model_stats
from block_config._cli import EXIT_INVALID, EXIT_MISSING_DEPENDENCY, EXIT_OK, EXIT_USAGE, main

EXAMPLES = Path(__file__).parent.parent / "examples"
HYBRID = EXAMPLES / "hybrid-native.config.json"
PRUNED = EXAMPLES / "pruned-blocks.json"


class Run:
    """One finished command: its exit code, stdout and stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def call(*argv: str | Path) -> Run:
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return Run(code, captured.out, captured.err)

    return call


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def cells(line: str) -> list[str]:
    return line.split()


# ---------------------------------------------------------------------------------- show


@needs_published
def test_show_prints_a_table_with_every_layer_and_the_totals(run: Any) -> None:
    result = run("show", SUPER)
    assert result.code == EXIT_OK
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].endswith(
        "legacy dialect, 80 layers, hidden 8192, 64 heads x 128, vocab 128256, bfloat16"
    )
    header = next(i for i, line in enumerate(lines) if line.startswith("layer"))
    assert cells(lines[header]) == [
        "layer",
        "attention",
        "KV",
        "heads",
        "FFN",
        "FFN",
        "size",
        "params",
        "KV",
        "bytes/token",
    ]
    rows = lines[header + 2 : header + 82]
    assert cells(rows[0]) == ["0", "gqa", "8", "dense", "14,336", "503,332,864", "4,096"]
    assert cells(rows[6]) == ["6", "no_op", "-", "dense", "14,336", "352,329,728", "0"]
    assert cells(rows[11]) == ["11", "no_op", "-", "dense", "17,920", "440,410,112", "0"]
    assert cells(rows[79])[0] == "79"
    assert "parameters:      49,867,145,216 (49.867 B;" in result.out
    assert "KV cache:        200,704 bytes/token (196.00 KiB) in bfloat16" in result.out
    assert "attention:       49 x gqa 8 KV, 31 x no_op" in result.out
    assert (
        "FFN widths:      49 x 28,672, 10 x 7,168, 8 x 5,632, 6 x 14,336, 6 x 2,816, 1 x 17,920"
        in result.out
    )
    assert max(len(line) for line in rows) <= 100  # fits a terminal


@needs_published
def test_show_json_has_the_documented_shape(run: Any) -> None:
    result = run("show", SUPER, "--json")
    assert result.code == EXIT_OK
    data = result.json()
    assert data["total_params"] == 49_867_145_216
    assert data["kv_cache_bytes_per_token"] == 200_704
    assert len(data["layers"]) == 80
    first, sixth = data["layers"][0], data["layers"][6]
    assert first["index"] == 0
    assert first["attention"]["kind"] == "gqa"
    assert first["attention"]["num_key_value_heads"] == 8
    assert first["ffn"] == {**first["ffn"], "kind": "dense", "intermediate_size": 14336}
    assert first["params"] == 503_332_864
    assert first["kv_cache_bytes_per_token"] == 4096
    assert sixth["attention"]["kind"] == "no_op"
    assert sixth["attention"]["num_key_value_heads"] is None
    assert sixth["kv_cache_bytes_per_token"] == 0
    assert sum(layer["params"] for layer in data["layers"]) == 49_867_145_216 - (
        2 * 128256 * 8192 + 8192
    )


@needs_published
def test_show_memory_for_a_batch_and_another_kv_dtype(run: Any) -> None:
    data = run("show", SUPER, "--json", "--batch-size", "8", "--seq-len", "8192").json()
    assert data["memory"]["kv_cache_bytes"] == 8 * 8192 * 200_704
    assert data["memory"]["total_bytes"] == data["weight_bytes"] + 8 * 8192 * 200_704
    fp8 = run("show", SUPER, "--kv-cache-dtype", "fp8", "--batch-size", "2", "--seq-len", "1024")
    assert "KV cache:        100,352 bytes/token (98.00 KiB) in fp8" in fp8.out
    assert "memory for 2 sequence(s) of 1,024 tokens:" in fp8.out
    assert "  KV cache         196.00 MiB" in fp8.out
    alone = run("show", SUPER, "--batch-size", "2")
    assert alone.code == EXIT_USAGE
    assert "--batch-size and --seq-len go together" in alone.err
    assert run("show", SUPER, "--batch-size", "0", "--seq-len", "1").code == EXIT_USAGE


def test_show_every_kind_of_block(run: Any) -> None:
    result = run("show", HYBRID)
    assert result.code == EXIT_OK
    rows = {cells(line)[0]: cells(line) for line in result.out.splitlines() if line[:5].strip()}
    assert rows["0"][:5] == ["0", "mamba", "-", "no_op", "-"]
    assert rows["3"][:6] == ["3", "no_op", "-", "moe", "top-8", "64x1,024+2,048"]
    assert rows["5"][:5] == ["5", "linear", "-", "linear", "-"]
    assert rows["6.0"][:3] == ["6.0", "gqa", "4"]
    assert rows["6.1"][:5] == ["6.1", "no_op", "-", "dense", "8,192"]
    assert "Mamba state:" in result.out
    assert "active/token:" in result.out


@needs_published
def test_show_a_model_folder(run: Any, tmp_path: Path) -> None:
    shutil.copy(SUPER, tmp_path / "config.json")
    assert "49,867,145,216" in run("show", tmp_path).out


@needs_published
def test_a_bare_list_needs_model_dimensions(run: Any) -> None:
    result = run("show", PRUNED)
    assert result.code == EXIT_USAGE
    assert "bare block_configs list" in result.err
    assert "--like" in result.err
    like = run("show", PRUNED, "--like", SUPER, "--json").json()
    assert like["dialect"] == "bare"
    assert like["layers"][0]["params"] == 855_654_400
    flags = run(
        "show", PRUNED, "--hidden-size", "8192", "--num-attention-heads", "64",
        "--vocab-size", "128256", "--json",
    ).json()  # fmt: skip
    assert flags["total_params"] == like["total_params"]
    partial = run("show", PRUNED, "--hidden-size", "8192")
    assert partial.code == EXIT_USAGE
    assert "--num-attention-heads, --vocab-size" in partial.err


@needs_published
def test_bare_list_problems_are_located_in_the_list(run: Any, tmp_path: Path) -> None:
    bad = write(
        tmp_path / "blocks.json",
        [{"attention": {"num_key_value_heads": 3}, "ffn": {"intermediate_size": 8}}],
    )
    result = run("show", bad, "--like", SUPER)
    assert result.code == EXIT_INVALID
    assert result.err.startswith(
        f"block-config: error: {bad}: $[0].attention.num_key_value_heads: 3 does not divide"
    )


@needs_published
def test_show_failures_exit_1_with_the_file_and_path(run: Any, tmp_path: Path) -> None:
    missing = run("show", tmp_path / "nope.json")
    assert missing.code == EXIT_INVALID
    assert missing.err == f"block-config: error: {tmp_path / 'nope.json'}: no such file or folder\n"
    broken = run("show", write(tmp_path / "broken.json", '{"hidden_size": 8'))
    assert broken.code == EXIT_INVALID
    assert ": $: invalid JSON:" in broken.err
    config = json.loads(SUPER.read_text())
    config["block_configs"][3]["attention"]["n_heads_in_group"] = "8"
    invalid = run("show", write(tmp_path / "invalid.json", config))
    assert invalid.code == EXIT_INVALID
    assert "invalid.json: $.block_configs[3].attention.n_heads_in_group:" in invalid.err
    assert missing.out == broken.out == invalid.out == ""


def test_show_reports_unknown_precisions(run: Any, tmp_path: Path) -> None:
    config = json.loads(HYBRID.read_text())
    config["block_configs"][4]["ffn"]["weights_precision"] = "fp7"
    result = run("show", write(tmp_path / "c.json", config))
    assert result.code == EXIT_INVALID
    assert "c.json: $.block_configs[4].ffn.weights_precision: unknown precision 'fp7'" in result.err
    usage = run("show", HYBRID, "--kv-cache-dtype", "fp7")
    assert usage.code == EXIT_USAGE
    assert "unknown precision 'fp7'" in usage.err


# ---------------------------------------------------------------------------------- validate


@needs_published
def test_validate_all_valid(run: Any) -> None:
    result = run("validate", SUPER, ULTRA, HYBRID, PRUNED)
    assert result.code == EXIT_OK
    assert result.out.splitlines() == [
        f"{SUPER}: valid (legacy dialect, 80 layers)",
        f"{ULTRA}: valid (legacy dialect, 162 layers)",
        f"{HYBRID}: valid (native dialect, 8 layers)",
        f"{PRUNED}: valid (bare block list, 6 layers)",
    ]


@needs_published
def test_validate_lists_every_problem_of_every_file(run: Any, tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.json",
        [{"attention": {"num_key_value_heads": "8"}, "ffn": {"intermediate_size": 3.5}}],
    )
    precision = write(
        tmp_path / "precision.json",
        [
            {
                "attention": {"no_op": True},
                "ffn": {"intermediate_size": 8, "weights_precision": "q3"},
            }
        ],
    )
    result = run("validate", bad, SUPER, precision, tmp_path / "missing.json")
    assert result.code == EXIT_INVALID
    assert result.out == f"{SUPER}: valid (legacy dialect, 80 layers)\n"
    errors = result.err.splitlines()
    assert errors[0] == (
        f"block-config: error: {bad}: $[0].attention.num_key_value_heads: expected int, got str '8'"
    )
    assert errors[1] == (
        f"block-config: error: {bad}: $[0].ffn.intermediate_size: expected int, got float 3.5"
    )
    assert errors[2].startswith(
        f"block-config: error: {precision}: $[0].ffn.weights_precision: unknown precision 'q3'"
    )
    assert errors[3] == f"block-config: error: {tmp_path / 'missing.json'}: no such file or folder"


@needs_published
def test_validate_lists_type_translation_and_layer_count_problems_together(
    run: Any, tmp_path: Path
) -> None:
    config = json.loads(SUPER.read_text())
    config["block_configs"][5]["ffn"]["ffn_mult"] = "1.0"
    config["block_configs"][3]["attention"]["n_heads_in_group"] = 7
    config["num_hidden_layers"] = 81
    bad = write(tmp_path / "config.json", config)
    result = run("validate", bad)
    assert result.code == EXIT_INVALID
    # Sorted by path, whatever order the checks found them in.
    assert result.err.splitlines() == [
        f"block-config: error: {bad}: $.block_configs[3].attention.n_heads_in_group: "
        "7 does not divide num_attention_heads (64)",
        f"block-config: error: {bad}: $.block_configs[5].ffn.ffn_mult: "
        "expected float, got str '1.0'",
        f"block-config: error: {bad}: $.num_hidden_layers: is 81 but block_configs has 80 items",
    ]


def test_validate_a_folder_without_config(run: Any, tmp_path: Path) -> None:
    result = run("validate", tmp_path)
    assert result.code == EXIT_INVALID
    assert "config.json" in result.err


# ---------------------------------------------------------------------------------- convert


@needs_published
def test_convert_legacy_to_native_and_back(run: Any, tmp_path: Path) -> None:
    native = tmp_path / "native.json"
    result = run("convert", SUPER, "--to", "native", "-o", native)
    assert result.code == EXIT_OK
    assert result.out == f"wrote {native} (native dialect, 80 layers)\n"
    written = json.loads(native.read_text())
    assert written["block_configs"][0]["attention"]["num_key_value_heads"] == 8
    assert written["block_configs"][0]["ffn"]["intermediate_size"] == 14336
    assert written["rope_scaling"] == json.loads(SUPER.read_text())["rope_scaling"]
    legacy = tmp_path / "legacy.json"
    assert run("convert", native, "--to", "legacy", "-o", legacy).code == EXIT_OK
    assert "ffn_mult" in legacy.read_text()
    original = ModelArchitecture.load(SUPER)
    assert ModelArchitecture.load(native).block_configs == original.block_configs
    assert ModelArchitecture.load(legacy).block_configs == original.block_configs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["legacy.json", "native.json"]


@needs_published
def test_convert_into_a_model_folder(run: Any, tmp_path: Path) -> None:
    assert run("convert", SUPER, "--to", "native", "-o", tmp_path).code == EXIT_OK
    assert ModelArchitecture.load(tmp_path).dialect == "native"


@needs_published
def test_convert_refuses_to_overwrite_unless_forced(run: Any, tmp_path: Path) -> None:
    config = Path(shutil.copy(SUPER, tmp_path / "config.json"))
    before = config.read_bytes()
    refused = run("convert", config, "--to", "native", "-o", config)
    assert refused.code == EXIT_INVALID
    assert "is the input file; refusing to overwrite it (use --force)" in refused.err
    assert config.read_bytes() == before
    other = write(tmp_path / "other.json", "keep me")
    exists = run("convert", config, "--to", "native", "-o", other)
    assert exists.code == EXIT_INVALID
    assert "exists; refusing to overwrite it (use --force)" in exists.err
    assert other.read_text() == "keep me"
    forced = run("convert", config, "--to", "native", "-o", config, "--force")
    assert forced.code == EXIT_OK
    assert ModelArchitecture.load(config).dialect == "native"


def test_convert_refuses_what_the_legacy_dialect_cannot_express(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run("convert", HYBRID, "--to", "legacy", "-o", out)
    assert result.code == EXIT_INVALID
    assert f"{HYBRID}: $.block_configs[0,2].attention.mamba:" in result.err
    assert f"{HYBRID}: $.block_configs[3].ffn.moe:" in result.err
    assert f"{HYBRID}: $.block_configs[6].parallel_blocks:" in result.err
    assert not out.exists()


@needs_published
def test_convert_a_bare_list(run: Any, tmp_path: Path) -> None:
    blocks = json.loads(PRUNED.read_text())[:5]  # the last one has fp8 weights
    source = write(tmp_path / "blocks.json", blocks)
    native = tmp_path / "native.json"
    assert run("convert", source, "--to", "native", "-o", native).code == EXIT_OK
    assert json.loads(native.read_text())[2]["ffn"]["intermediate_size"] == 7168
    needs = run("convert", source, "--to", "legacy", "-o", tmp_path / "legacy.json")
    assert needs.code == EXIT_USAGE
    legacy = tmp_path / "legacy.json"
    assert run("convert", source, "--to", "legacy", "-o", legacy, "--like", SUPER).code == 0
    items = json.loads(legacy.read_text())
    assert isinstance(items, list)
    assert items[0]["attention"]["n_heads_in_group"] == 8
    back = run("show", legacy, "--like", SUPER, "--json").json()
    assert [layer["ffn"]["intermediate_size"] for layer in back["layers"]] == [
        28672, 14336, 7168, 5632, None,
    ]  # fmt: skip


@needs_published
def test_convert_needs_its_arguments(run: Any) -> None:
    result = run("convert", SUPER, "-o", "x.json")
    assert result.code == EXIT_USAGE
    assert "--to" in result.err


# ---------------------------------------------------------------------------------- diff


@needs_published
def test_diff_shows_changed_layers_and_totals(run: Any, tmp_path: Path) -> None:
    config = json.loads(SUPER.read_text())
    attention = config["block_configs"][3]["attention"]
    attention.update(no_op=True, n_heads_in_group=None)
    config["block_configs"][10]["ffn"]["ffn_mult"] = 2.625
    child = write(tmp_path / "child.json", config)
    result = run("diff", SUPER, child)
    assert result.code == EXIT_OK
    lines = result.out.splitlines()
    assert lines[:2] == [f"--- {SUPER} (80 layers)", f"+++ {child} (80 layers)"]
    assert "layer 3: gqa(8 KV) / dense 28,672 -> no_op / dense 28,672" in lines
    assert "    attention.no_op: false -> true" in lines
    assert "    attention.num_key_value_heads: 8 -> null" in lines
    assert "    KV bytes/token: 4,096 -> 0 (-4,096, -100.00%)" in lines
    assert "layer 10: gqa(8 KV) / dense 28,672 -> gqa(8 KV) / dense 14,336" in lines
    assert "2 of 80 layers differ" in lines
    saved = 151_003_136 + 3 * 8192 * (28672 - 14336)
    total = 49_867_145_216
    assert f"  params                 {total:,} -> {total - saved:,} (-{saved:,}, " in result.out
    data = run("diff", SUPER, child, "--json").json()
    assert [layer["index"] for layer in data["layers"]] == [3, 10]
    assert data["layers"][1]["changes"] == [
        {"path": "ffn.intermediate_size", "a": 28672, "b": 14336}
    ]
    assert data["layers"][1]["a"]["params"] == 855_654_400
    assert data["totals"]["total_params"]["change"] == -saved
    assert data["totals"]["kv_cache_bytes_per_token"] == {
        "a": 200_704,
        "b": 196_608,
        "change": -4096,
    }


@needs_published
def test_diff_of_the_same_model_in_two_dialects(run: Any, tmp_path: Path) -> None:
    native = tmp_path / "native.json"
    run("convert", SUPER, "--to", "native", "-o", native)
    result = run("diff", SUPER, native)
    assert result.code == EXIT_OK
    assert 'dialect: "legacy" -> "native"' in result.out
    assert "no layer differs (80 layers)" in result.out
    assert "49,867,145,216 (unchanged)" in result.out


@needs_published
def test_diff_layers_only_on_one_side_and_bare_lists(run: Any, tmp_path: Path) -> None:
    blocks = json.loads(PRUNED.read_text())
    shorter = write(tmp_path / "shorter.json", blocks[:4])
    result = run("diff", PRUNED, shorter)
    assert result.code == EXIT_OK
    assert f"layer 4: only in {PRUNED}: no_op / no_op" in result.out
    assert f"layer 5: only in {PRUNED}: gqa(4 KV) / dense 28,672" in result.out
    assert "totals not compared" in result.out
    # A bare list compared with a model borrows the model's dimensions.
    borrowed = run("diff", PRUNED, SUPER)
    assert "layer 80: only in" not in borrowed.out
    assert f"layer 79: only in {SUPER}" in borrowed.out
    assert "  params " in borrowed.out


@needs_published
def test_diff_failures(run: Any, tmp_path: Path) -> None:
    assert run("diff", SUPER).code == EXIT_USAGE
    missing = run("diff", SUPER, tmp_path / "nope.json")
    assert missing.code == EXIT_INVALID
    assert "nope.json: no such file or folder" in missing.err


# ---------------------------------------------------------------------------------- plot


@needs_published
def test_plot_png_and_svg(run: Any, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "arch.png"
    result = run("plot", SUPER, "-o", png)
    assert result.code == EXIT_OK
    assert result.out == f"wrote {png}\n"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "arch.svg"
    assert run("plot", HYBRID, "-o", svg, "--title", "hybrid").code == EXIT_OK
    assert "<svg" in svg.read_text()[:1000]
    again = run("plot", SUPER, "-o", png)
    assert again.code == EXIT_INVALID
    assert "use --force" in again.err
    assert run("plot", SUPER, "-o", png, "--force").code == EXIT_OK


@needs_published
def test_plot_refuses_unknown_formats(run: Any, tmp_path: Path) -> None:
    result = run("plot", SUPER, "-o", tmp_path / "arch.docx")
    assert result.code == EXIT_USAGE
    assert "-o must end in one of " in result.err


@needs_published
def test_plot_without_matplotlib(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes ``import matplotlib`` raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run("plot", SUPER, "-o", tmp_path / "arch.png")
    assert result.code == EXIT_MISSING_DEPENDENCY
    assert result.err == (
        "block-config: error: plotting needs matplotlib: pip install 'block-config[plot]'\n"
    )
    assert not (tmp_path / "arch.png").exists()


# ---------------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["show", "validate", "convert", "diff", "schema", "plot"])
def test_every_subcommand_has_its_own_help(run: Any, command: str) -> None:
    result = run(command, "--help")
    assert result.code == EXIT_OK
    assert f"usage: block-config {command}" in result.out
    # The exit codes and the paragraph on inputs are said once, in the top-level help.
    assert "exit codes:" not in result.out
    assert "FILE is a config.json" not in result.out


def test_usage_errors_exit_2(run: Any) -> None:
    assert run().code == EXIT_USAGE
    result = run("frobnicate")
    assert result.code == EXIT_USAGE
    assert "invalid choice" in result.err


@needs_published
def test_python_dash_m_and_the_console_script() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    module = subprocess.run(
        [sys.executable, "-m", "block_config", "show", str(SUPER), "--json"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert module.returncode == 0, module.stderr
    assert json.loads(module.stdout)["total_params"] == 49_867_145_216
    failing = subprocess.run(
        [sys.executable, "-m", "block_config", "validate", str(PRUNED), "/no/such/file.json"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert failing.returncode == 1
    assert failing.stderr == "block-config: error: /no/such/file.json: no such file or folder\n"
    script = Path(sys.executable).parent / "block-config"
    if not script.exists():
        pytest.skip("the console script is installed with the package (pip install .)")
    version = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("block-config ")


# ---------------------------------------------------------------------------------- schema, YAML


def test_schema_prints_the_json_schema(run: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    result = run("schema")
    assert result.code == EXIT_OK
    schema = result.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    blocks = json.loads(PRUNED.read_text())
    jsonschema.validate(blocks, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"attention": {"num_key_value_heads": "8"}}], schema)


@needs_published
def test_yaml_in_and_out(run: Any, tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    native_yaml = tmp_path / "super.yaml"
    assert run("convert", SUPER, "--to", "native", "-o", native_yaml).code == EXIT_OK
    assert native_yaml.read_text().startswith("_name_or_path: llama_nemotron_super\n")
    data = run("show", native_yaml, "--json").json()
    assert data["total_params"] == 49_867_145_216
    blocks = write(
        tmp_path / "blocks.yml", "- attention: {no_op: yes}\n  ffn: {intermediate_size: 8}\n"
    )
    result = run("validate", blocks)
    assert result.code == EXIT_INVALID
    assert f"{blocks}: $[0].attention.no_op: expected bool, got str 'yes'" in result.err
    broken = write(tmp_path / "broken.yaml", "- [unclosed\n")
    assert ": $: invalid YAML:" in run("validate", broken).err


def test_yaml_without_pyyaml(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from block_config import _yaml

    monkeypatch.setitem(sys.modules, "yaml", None)
    _yaml._yaml.cache_clear()
    try:
        blocks = write(tmp_path / "blocks.yaml", "- {}\n")
        result = run("validate", blocks)
        assert result.code == EXIT_MISSING_DEPENDENCY
        assert "pip install 'block-config[yaml]'" in result.err
        out = tmp_path / "out.yaml"
        written = run("convert", PRUNED, "--to", "native", "-o", out)
        assert written.code == EXIT_MISSING_DEPENDENCY
        assert not out.exists()
    finally:
        _yaml._yaml.cache_clear()


def test_unknown_keys_are_errors_unless_warned(run: Any, tmp_path: Path) -> None:
    blocks = write(
        tmp_path / "blocks.json",
        [{"attention": {"no_op": True, "window": 4}, "ffn": {"intermediate_size": 8}}],
    )
    strict = run("validate", blocks)
    assert strict.code == EXIT_INVALID
    assert f"{blocks}: $[0].attention.window:" in strict.err
    lenient = run("validate", blocks, "--unknown-keys", "warn")
    assert lenient.code == EXIT_OK
    assert f"block-config: warning: {blocks}: " in lenient.err
    assert "window" in lenient.err


def test_like_must_be_a_readable_model(run: Any, tmp_path: Path) -> None:
    missing = run("show", PRUNED, "--like", tmp_path / "nope.json")
    assert missing.code == EXIT_INVALID
    assert missing.err == f"block-config: error: {tmp_path / 'nope.json'}: no such file or folder\n"
    bare = run("show", PRUNED, "--like", PRUNED)
    assert bare.code == EXIT_INVALID
    assert "expected a config.json object, got a bare list" in bare.err


@needs_published
def test_the_ultra_summary_fits_a_terminal(run: Any) -> None:
    result = run("show", ULTRA)
    assert result.code == EXIT_OK
    assert "FFN widths:      81 x no_op, 34 x 53,248, 19 x 26,624, 10 x 21,504, 6 x 16,128, " \
        "8 more (12 layers)" in result.out  # fmt: skip
    assert "parameters:      253,401,268,224 (253.401 B;" in result.out
    assert max(len(line) for line in result.out.splitlines()[1:]) <= 100


@needs_published
def test_convert_to_native_warns_of_ffn_mults_it_cannot_keep(tmp_path: Path) -> None:
    native = tmp_path / "native.json"
    legacy = tmp_path / "legacy.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "block_config",
            "convert",
            str(SUPER),
            "--to",
            "native",
            "-o",
            str(native),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "block-config: warning: " in result.stderr
    assert "the native dialect keeps intermediate sizes, not ffn_mult" in result.stderr
    assert "in 14 layers" in result.stderr
    assert "Traceback" not in result.stderr
    back = subprocess.run(
        [
            sys.executable,
            "-m",
            "block_config",
            "convert",
            str(native),
            "--to",
            "legacy",
            "-o",
            str(legacy),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert back.stderr == ""
    original = json.loads(SUPER.read_text())["block_configs"]
    again = json.loads(legacy.read_text())["block_configs"]
    changed = [i for i, (a, b) in enumerate(zip(original, again, strict=True)) if a != b]
    assert len(changed) == 14
    assert all(original[i]["ffn"]["ffn_mult"] in (1.0, 0.5) for i in changed)
    assert all(
        {**original[i]["ffn"], "ffn_mult": None} == {**again[i]["ffn"], "ffn_mult": None}
        for i in changed
    )


# ------------------------------------------------------------------- model-wide facts


def _gpt_oss_like(tmp_path: Path) -> Path:
    moe = {
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "expert_intermediate_dim": 64,
        "shared_expert_intermediate_dim": 0,
    }
    blocks: list[dict[str, Any]] = [
        {"attention": {"num_key_value_heads": 2, "sliding_window": 8}, "ffn": {"moe": moe}},
        {"attention": {"num_key_value_heads": 2}, "ffn": {"moe": moe}},
    ]
    config = {
        "model_type": "gpt_oss",
        "hidden_size": 64,
        "num_attention_heads": 4,
        "head_dim": 16,
        "vocab_size": 30,
        "num_hidden_layers": 2,
        "attention_bias": True,
        "attention_sinks": True,
        "router_bias": True,
        "expert_bias": True,
        "torch_dtype": "bfloat16",
        "quantization_config": {
            "quant_method": "mxfp4",
            "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"],
        },
        "block_configs": blocks,
    }
    return write(tmp_path / "config.json", config)


def test_show_json_adds_the_model_wide_facts_and_keeps_every_key(run: Any, tmp_path: Path) -> None:
    path = _gpt_oss_like(tmp_path)
    data = run("show", path, "--json", "--batch-size", "1", "--seq-len", "100").json()
    expected = model_stats(ModelArchitecture.load(path))
    assert data["total_params"] == expected.total_params
    assert data["weight_bytes"] == expected.weight_bytes
    assert data["model_type"] == "gpt_oss"
    assert data["attention_sinks"] is data["router_bias"] is data["expert_bias"] is True
    assert data["qkv_bias"] is data["qk_norm"] is data["sandwich_norms"] is False
    assert data["quantization"] == "mxfp4"
    assert data["quantization_config"] == {
        "quant_method": "mxfp4",
        "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"],
    }
    per_layer = 2 * 2 * 16 * 2
    assert data["kv_cache_bytes_per_token"] == 2 * per_layer
    assert data["kv_cache_bytes_per_token_unbounded"] == per_layer
    assert data["kv_cache_bytes_bounded_max"] == 8 * per_layer
    assert data["memory"]["kv_cache_bytes"] == per_layer * 100 + per_layer * 8
    assert [layer["attention"]["sliding_window"] for layer in data["layers"]] == [8, None]


def test_show_prints_windows_and_quantization(run: Any, tmp_path: Path) -> None:
    out = run("show", _gpt_oss_like(tmp_path)).out
    assert "gqa 2 KV window 8" in out
    assert "mxfp4 scales included" in out
    assert "KV windows:      windowed/chunked layers hold at most 1,024 bytes/sequence" in out
