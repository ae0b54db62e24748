"""The installed ``block-config`` command as scripts, CI jobs and pipelines use it: run as a
subprocess, with machine-readable output, exit codes to gate on, and standard input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE = EXAMPLES / "Llama-3.1-8B-pruned.config.json"
HYBRID = EXAMPLES / "hybrid-native.config.json"
PRUNED = EXAMPLES / "pruned-blocks.json"
ERROR = "block-config: error: "
WARNING = "block-config: warning: "


def command() -> list[str]:
    """The console script the package installs, beside this interpreter."""
    script = Path(sys.executable).parent / "block-config"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "block_config"]  # the installed package all the same


def cli(*argv: str | Path, stdin: str | None = None, cwd: Path | None = None) -> Any:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    result = subprocess.run(
        [*command(), *(str(arg) for arg in argv)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def native_example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


# ---------------------------------------------------------------------------------- diff


def test_diff_exit_code_says_whether_the_models_differ(tmp_path: Path) -> None:
    child = native_example()
    child["block_configs"][3]["ffn"]["intermediate_size"] = 7168
    child_path = write(tmp_path / "child.json", child)
    same = cli("diff", "--exit-code", EXAMPLE, EXAMPLE)
    assert (same.returncode, same.stderr) == (0, "")
    assert "no layer differs (32 layers)" in same.stdout
    differs = cli("diff", "--exit-code", EXAMPLE, child_path)
    assert differs.returncode == 4
    assert "1 of 32 layers differ" in differs.stdout
    assert cli("diff", "--exit-code", "--json", EXAMPLE, child_path).returncode == 4
    # Without the option, a difference is still a success.
    assert cli("diff", EXAMPLE, child_path).returncode == 0
    # Invalid input and usage errors keep their own codes.
    assert cli("diff", "--exit-code", EXAMPLE, tmp_path / "nope.json").returncode == 1
    assert cli("diff", "--exit-code", EXAMPLE).returncode == 2


def test_diff_exit_code_the_same_model_in_two_dialects_is_the_same(tmp_path: Path) -> None:
    legacy, native = tmp_path / "legacy.json", tmp_path / "native.json"
    assert cli("convert", EXAMPLE, "--to", "legacy", "-o", legacy).returncode == 0
    assert cli("convert", legacy, "--to", "native", "-o", native).returncode == 0
    result = cli("diff", "--exit-code", legacy, native)
    assert result.returncode == 0, result.stdout
    assert 'dialect: "legacy" -> "native"' in result.stdout
    # The example itself and its legacy form: the legacy dialect does not keep the KV heads
    # of a linear attention or the width of a linear FFN, which no figure depends on.
    original = cli("diff", "--exit-code", EXAMPLE, legacy)
    assert original.returncode == 0, original.stdout
    assert "no layer differs (32 layers)" in original.stdout


# ---------------------------------------------------------------------------------- validate


def test_validate_json_lists_every_file_and_every_problem(tmp_path: Path) -> None:
    broken = native_example()
    for index in (0, 1, 2, 5):
        broken["block_configs"][index]["attention"]["num_key_value_heads"] = 5
    broken["block_configs"][9]["ffn"]["intermediate_size"] = "7168"
    bad = write(tmp_path / "bad.json", broken)
    missing = tmp_path / "missing.json"
    result = cli("validate", "--json", EXAMPLE, bad, missing)
    assert result.returncode == 1
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["format"] == 1
    assert document["valid"] is False
    files = document["files"]
    assert [entry["file"] for entry in files] == [str(EXAMPLE), str(bad), str(missing)]
    assert files[0] == {
        "file": str(EXAMPLE),
        "valid": True,
        "dialect": "native",
        "num_hidden_layers": 32,
        "problems": [],
    }
    assert files[1]["valid"] is False
    # Every place is listed, sorted by path, each with its file.
    paths = [problem["path"] for problem in files[1]["problems"]]
    assert paths == [
        "$.block_configs[0].attention.num_key_value_heads",
        "$.block_configs[1].attention.num_key_value_heads",
        "$.block_configs[2].attention.num_key_value_heads",
        "$.block_configs[5].attention.num_key_value_heads",
        "$.block_configs[9].ffn.intermediate_size",
    ]
    assert files[1]["problems"][0] == {
        "file": str(bad),
        "path": "$.block_configs[0].attention.num_key_value_heads",
        "message": "5 does not divide num_attention_heads (32)",
    }
    assert files[2]["problems"] == [
        {"file": str(missing), "path": None, "message": "no such file or folder"}
    ]
    assert document["problems"] == files[1]["problems"] + files[2]["problems"]
    valid = cli("validate", "--json", EXAMPLE, HYBRID)
    assert valid.returncode == 0
    assert json.loads(valid.stdout)["valid"] is True


# ---------------------------------------------------------------------------------- errors


def test_one_cause_in_many_layers_is_one_line_listing_them(tmp_path: Path) -> None:
    broken = native_example()
    for index in (*range(6), 7, 12):
        broken["block_configs"][index]["attention"]["num_key_value_heads"] = 5
    broken["block_configs"][9]["ffn"]["intermediate_size"] = 3.5
    bad = write(tmp_path / "bad.json", broken)
    result = cli("validate", bad)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{ERROR}{bad}: $.block_configs[0-5,7,12].attention.num_key_value_heads: "
        "5 does not divide num_attention_heads (32)",
        f"{ERROR}{bad}: $.block_configs[9].ffn.intermediate_size: expected int, got float 3.5",
    ]
    assert cli("show", bad).stderr == result.stderr


def test_every_error_has_the_same_prefix(tmp_path: Path) -> None:
    usage = cli("show")  # argparse's own error
    assert usage.returncode == 2
    assert usage.stderr.splitlines()[-1] == f"{ERROR}the following arguments are required: FILE"
    assert "block-config show: error" not in usage.stderr
    unknown = cli("diff", EXAMPLE, EXAMPLE, "--colour")
    assert unknown.stderr.splitlines()[-1].startswith(f"{ERROR}unrecognized arguments")
    bare = cli("show", PRUNED)
    assert bare.returncode == 2
    assert bare.stderr.startswith(f"{ERROR}{PRUNED} is a bare block_configs list")
    missing = cli("validate", tmp_path / "nope.json")
    assert missing.stderr == f"{ERROR}{tmp_path / 'nope.json'}: no such file or folder\n"
    lenient = write(tmp_path / "extra.json", [{"attention": {"no_op": True, "x": 1}}])
    warned = cli("validate", lenient, "--unknown-keys", "warn")
    assert warned.returncode == 0
    assert warned.stderr.startswith(f"{WARNING}{lenient}: ")


# ---------------------------------------------------------------------------------- stdin


def test_a_dash_reads_standard_input_for_every_command_that_reads_a_file(
    tmp_path: Path,
) -> None:
    text = EXAMPLE.read_text()
    show = cli("show", "-", "--json", stdin=text)
    assert show.returncode == 0, show.stderr
    expected = json.loads(cli("show", EXAMPLE, "--json").stdout)
    assert json.loads(show.stdout) == {**expected, "file": "-"}
    assert cli("validate", "-", stdin=text).stdout == "-: valid (native dialect, 32 layers)\n"
    child = native_example()
    child["block_configs"][0]["attention"] = {"no_op": True}
    diff = cli("diff", "--exit-code", EXAMPLE, "-", stdin=json.dumps(child))
    assert diff.returncode == 4
    assert "layer 0: gqa(8 KV) / dense 14,336 -> no_op / dense 14,336" in diff.stdout
    out = tmp_path / "legacy.json"
    assert cli("convert", "-", "--to", "legacy", "-o", out, stdin=text).returncode == 0
    assert json.loads(out.read_text())["block_configs"][0]["attention"]["n_heads_in_group"] == 4
    bare = cli("show", "-", "--like", EXAMPLE, stdin=PRUNED.read_text())
    assert bare.returncode == 0
    assert "bare block list, 6 layers" in bare.stdout
    pytest.importorskip("matplotlib")
    picture = tmp_path / "arch.png"
    assert cli("plot", "-", "-o", picture, stdin=text).returncode == 0
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_standard_input_may_be_yaml_and_its_errors_are_named_dash() -> None:
    pytest.importorskip("yaml")
    yaml_text = "- attention: {num_key_value_heads: 8}\n  ffn: {intermediate_size: 14336}\n"
    result = cli("validate", "-", stdin=yaml_text)
    assert result.stdout == "-: valid (bare block list, 1 layer)\n"
    broken = cli("validate", "-", stdin="- attention: {no_op: yes}\n")
    assert broken.returncode == 1
    assert broken.stderr.startswith(f"{ERROR}-: $[0].attention.no_op: expected bool")
    empty = cli("show", "-", stdin="")
    assert empty.returncode == 1
    assert empty.stderr.startswith(f"{ERROR}-: ")


# ---------------------------------------------------------------------------------- convert


def test_output_ending_in_a_slash_is_a_folder_created_if_needed(tmp_path: Path) -> None:
    target = tmp_path / "new" / "model"
    result = cli("convert", EXAMPLE, "--to", "legacy", "-o", f"{target}/")
    assert result.returncode == 0, result.stderr
    assert (target / "config.json").is_file()
    assert result.stdout == f"wrote {target / 'config.json'} (legacy dialect, 32 layers)\n"
    again = cli("convert", EXAMPLE, "--to", "legacy", "-o", target)  # an existing folder
    assert again.returncode == 1
    # The file that exists is named, not the folder the user gave.
    assert f"{ERROR}{target / 'config.json'}: exists; refusing to overwrite it (use --force)" in (
        again.stderr
    )
    assert "missing folders are created" in cli("convert", "--help").stdout


def test_convert_to_native_names_the_keys_that_select_legacy_only_code(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.json"
    assert cli("convert", EXAMPLE, "--to", "legacy", "-o", legacy).returncode == 0
    data = json.loads(legacy.read_text())
    data.update(
        model_type="nemotron-nas",
        architectures=["DeciLMForCausalLM"],
        auto_map={"AutoConfig": "configuration_decilm.DeciLMConfig"},
    )
    write(legacy, data)
    native = tmp_path / "native.json"
    result = cli("convert", legacy, "--to", "native", "-o", native)
    assert result.returncode == 0
    (warning,) = [line for line in result.stderr.splitlines() if "DeciLM code" in line]
    assert warning.startswith(f"{WARNING}{legacy}: the native output keeps ")
    for key in ("model_type=", "architectures=", "auto_map="):
        assert key in warning
    # The keys are the user's: kept as they were.
    written = json.loads(native.read_text())
    assert written["model_type"] == "nemotron-nas"
    assert written["auto_map"] == {"AutoConfig": "configuration_decilm.DeciLMConfig"}
    back = cli("convert", native, "--to", "legacy", "-o", tmp_path / "back.json")
    assert back.returncode == 0
    assert back.stderr == ""  # legacy again: the DeciLM keys fit
    plain = cli("convert", EXAMPLE, "--to", "legacy", "-o", tmp_path / "plain.json")
    assert "the legacy output has model_type=null: code reading the legacy dialect" in plain.stderr


# ---------------------------------------------------------------------------------- show


def test_show_json_is_versioned_with_one_precision_vocabulary_and_addressable_layers() -> None:
    result = cli("show", HYBRID, "--json", "--kv-cache-dtype", "torch.float8_e4m3fn")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["format"] == 1
    # The existing keys stay, in their spelling; the *_precision keys use weights_precision's.
    assert document["dtype"] == "bfloat16"
    assert document["kv_cache_dtype"] == "torch.float8_e4m3fn"
    assert document["weights_precision"] == "bf16"
    assert document["kv_cache_precision"] == "fp8_e4m3"
    assert document["mamba_state_precision"] == "fp8_e4m3"
    assert document["layers"][4]["ffn"]["weights_precision"] == "fp8"
    layers = document["layers"]
    assert [layer["path"] for layer in layers] == [f"$.block_configs[{i}]" for i in range(8)]
    parallel = layers[6]["parallel_blocks"]
    assert [block["path"] for block in parallel] == [
        "$.block_configs[6].parallel_blocks[0]",
        "$.block_configs[6].parallel_blocks[1]",
    ]
    assert [block["index"] for block in parallel] == [6, 6]  # as before: the layer
    assert parallel[0]["attention"]["num_key_value_heads"] == 4
    bare = json.loads(cli("show", PRUNED, "--like", EXAMPLE, "--json").stdout)
    assert bare["layers"][2]["path"] == "$[2]"


# ---------------------------------------------------------------------------------- plot


@pytest.mark.parametrize(
    ("suffix", "magic"),
    [(".jpg", b"\xff\xd8\xff"), (".svg", b"<?xml"), (".pdf", b"%PDF"), (".png", b"\x89PNG")],
)
def test_plot_writes_any_format_matplotlib_writes(
    tmp_path: Path, suffix: str, magic: bytes
) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / f"arch{suffix}"
    result = cli("plot", HYBRID, "-o", picture)
    assert result.returncode == 0, result.stderr
    assert picture.read_bytes()[: len(magic)] == magic


def test_plot_refuses_a_suffix_matplotlib_cannot_write(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    result = cli("plot", HYBRID, "-o", tmp_path / "arch.docx")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{ERROR}-o must end in one of ")
    assert ".jpg" in result.stderr


# ---------------------------------------------------------------------------------- help


def test_help_says_the_exit_codes_once_at_the_top_as_the_readme_does() -> None:
    top = cli("--help").stdout
    codes = re.findall(r"^  (\d)  (.+)$", top.split("exit codes:", 1)[1], re.MULTILINE)
    assert [code for code, _ in codes] == ["0", "1", "2", "3", "4"]
    readme = (ROOT / "README.md").read_text()
    for code, _ in codes:
        assert f"{code} " in readme.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    for name in ("show", "validate", "convert", "diff", "schema", "plot"):
        text = cli(name, "--help").stdout
        assert "exit codes:" not in text
        if name != "schema":
            # every positional argument has a help text
            positional = text.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
            assert all(len(line.split()) > 1 for line in positional.strip().splitlines())
    assert "positional arguments" not in cli("schema", "--help").stdout


def test_readme_and_help_name_the_arguments_alike() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("show", "validate", "convert", "diff", "plot"):
        usage = cli(name, "--help").stdout.split("\n\n", 1)[0]
        listed = re.search(rf"^- `{name} ([A-Z. ]+)", readme, re.MULTILINE)
        assert listed is not None, name
        for argument in listed.group(1).replace("...", "").split():
            assert argument in usage, (name, argument)


def test_readme_first_command_runs_on_the_example_the_project_ships() -> None:
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"block-config show (examples/\S+)", readme)
    assert first is not None
    assert first.group(1) == "examples/Llama-3.1-8B-pruned.config.json"
    result = cli("show", first.group(1), cwd=ROOT)
    assert result.returncode == 0
    assert "parameters:      5,759,008,768" in result.stdout


# ---------------------------------------------------------------------------------- packaging


def test_the_distribution_ships_the_license_and_python_classifiers() -> None:
    from importlib.metadata import distribution

    dist = distribution("block-config")
    files = [str(path) for path in dist.files or ()]
    licenses = [path for path in files if path.endswith("licenses/LICENSE")]
    assert licenses, files
    text = Path(str(dist.locate_file(licenses[0]))).read_text()
    assert text.lstrip().startswith("Apache License\n")
    assert "END OF TERMS AND CONDITIONS" in text
    metadata = dist.metadata
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = metadata.get_all("Classifier") or ()
    noxfile = (ROOT / "noxfile.py").read_text()
    pythons = re.search(r"^PYTHONS = \[(.*)\]$", noxfile, re.MULTILINE)
    assert pythons is not None
    for version in re.findall(r'"(3\.\d+)"', pythons.group(1)):
        assert f"Programming Language :: Python :: {version}" in classifiers


# ---------------------------------------------------------------------------------- data


def test_no_file_in_the_repository_is_a_copy_of_the_published_data() -> None:
    shared = ROOT / ".." / "shared" / "data"
    if not shared.is_dir():
        pytest.skip(f"no {shared.resolve()} to compare with")
    published = {path.read_bytes() for path in shared.glob("*.json")}
    assert published
    copies = [
        path
        for folder in ("examples", "tests", "docs", "src", "benchmarks")
        for path in (ROOT / folder).rglob("*.json")
        if path.read_bytes() in published
    ]
    assert copies == []


def test_the_published_figures_stay_in_the_readme_as_text() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "49,867,145,216" in readme
    if shutil.which("git") and (ROOT / ".git").exists():
        tracked = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        published = ("Llama-3_3-Nemotron-Super-49B-v1", "Llama-3_1-Nemotron-Ultra-253B-v1")
        assert not [name for name in tracked if Path(name).name.startswith(published)]
