"""Regression tests: inputs that once escaped as someone else's exception, or were accepted
although what was accepted could not be written or read back."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

import block_config._io
import block_config._json
import block_config._yaml
from block_config import (
    MAX_INT,
    MAX_JSON_DEPTH,
    MAX_JSON_SIZE,
    MAX_PARALLEL_DEPTH,
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    ConversionWarning,
    FFNConfig,
    LegacyBlockConfig,
    Llama4AttentionConfig,
    ModelArchitecture,
    UnknownKeyWarning,
    converter,
    dumps,
    loads,
    maybe_cast_block_configs,
    structure_block_configs,
)
from block_config._cli import EXIT_INVALID, EXIT_OK, main
from block_config._errors import describe, format_path, short_repr, show_int
from block_config._yaml import dumps_yaml, loads_yaml, parse_yaml

# More digits than Python turns into text (sys.int_info.str_digits_check_threshold aside,
# the default limit is 4300): formatting such an int raised ValueError.
HUGE = 10**5000
HUGE_BITS = HUGE.bit_length()


def problems(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def test_python_refuses_to_print_the_huge_int() -> None:
    # The premise of the tests below: without care, wording the error itself fails.
    assert sys.get_int_max_str_digits() in range(1, 5000)
    with pytest.raises(ValueError, match="Exceeds the limit"):
        str(HUGE)


@pytest.mark.parametrize("sign", [1, -1])
def test_huge_int_in_an_int_field(sign: int) -> None:
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"attention": {"num_key_value_heads": sign * HUGE}}])
    assert problems(error) == [
        f"$[0].attention.num_key_value_heads: expected int from 1 to {MAX_INT}, "
        f"got an int of {HUGE_BITS} bits"
    ]


def test_huge_int_in_an_int_field_of_a_constructor() -> None:
    with pytest.raises(BlockConfigError) as error:
        FFNConfig(intermediate_size=HUGE)
    assert problems(error) == [
        f"$.intermediate_size: expected int from 1 to {MAX_INT}, got an int of {HUGE_BITS} bits"
    ]


def test_huge_int_in_a_float_field() -> None:
    with pytest.raises(BlockConfigError) as error:
        Llama4AttentionConfig(attn_scale=HUGE)
    assert problems(error) == [
        f"$.attn_scale: expected a finite float, got int of {HUGE_BITS} bits"
    ]


def test_huge_int_as_a_key() -> None:
    key_is_int: Any = {HUGE: 1}
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([key_is_int])
    assert problems(error) == [
        f"$[0]['an int of {HUGE_BITS} bits']: keys must be strings, got int of {HUGE_BITS} bits"
    ]


def test_ints_that_fit_are_still_shown_in_full() -> None:
    assert show_int(2**1024 - 1) == str(2**1024 - 1)
    assert show_int(-(2**1024)) == "an int of 1025 bits"
    assert short_repr(-(2**100)) == str(-(2**100))
    assert short_repr(2**200) == str(2**200)[:37] + "..."
    assert describe(2**1024) == "int of 1025 bits"
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"attention": {"num_key_value_heads": 2**200}}])
    assert problems(error) == [
        f"$[0].attention.num_key_value_heads: expected int from 1 to {MAX_INT}, got {2**200}"
    ]


def test_a_value_whose_repr_fails_is_still_reported() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert describe(Broken()) == "Broken (unprintable)"
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"ffn": {"intermediate_size": Broken()}}])
    assert problems(error) == ["$[0].ffn.intermediate_size: expected int, got Broken (unprintable)"]


LONE_SURROGATES = ["\ud800", "bf\udfff16", "\udc80"]
NOT_TEXT = "expected str, got a str with a lone surrogate, which UTF-8 cannot encode"


@pytest.mark.parametrize("text", LONE_SURROGATES)
def test_lone_surrogate_in_a_str_field_is_refused(text: str) -> None:
    # Such a str was accepted, and dumps() then failed with orjson's TypeError.
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"attention": {"no_op": True, "weights_precision": text}}])
    assert problems(error) == [f"$[0].attention.weights_precision: {NOT_TEXT}"]
    with pytest.raises(BlockConfigError) as error:
        AttentionConfig(no_op=True, weights_precision=text)
    assert problems(error) == [f"$.weights_precision: {NOT_TEXT}"]


@pytest.mark.parametrize("text", LONE_SURROGATES)
def test_lone_surrogate_in_sparsify_is_refused(text: str) -> None:
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"ffn": {"intermediate_size": 8, "sparsify": ["ok", text]}}])
    assert problems(error) == [f"$[0].ffn.sparsify[1]: {NOT_TEXT}"]
    with pytest.raises(BlockConfigError) as error:
        FFNConfig(intermediate_size=8, sparsify=(text,))
    assert problems(error) == [f"$.sparsify[0]: {NOT_TEXT}"]


def test_non_ascii_text_that_utf8_encodes_is_accepted_and_written() -> None:
    block = BlockConfig(attention={"no_op": True, "weights_precision": "fp8-é-🦙"})
    assert loads(dumps([block])) == [block]
    assert loads(dumps([block], indent=4)) == [block]


def _chain(levels: int) -> BlockConfig:
    block = BlockConfig()
    for _ in range(levels):
        block = BlockConfig(parallel_blocks=[block])
    return block


def _dicts(levels: int, leaf: object) -> Any:
    doc = leaf
    for _ in range(levels):
        doc = {"parallel_blocks": [doc]}
    return doc


def test_ready_block_under_nested_dicts_counts_towards_the_depth() -> None:
    # The fast path took a ready BlockConfig as it was, whatever depth it was found at: the
    # result nested 70 levels deep, and its own text was refused when read back.
    data = [_dicts(60, _chain(10))]
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs(data)
    assert len(error.value.problems) == 1
    problem = error.value.problems[0]
    assert problem.message == f"parallel_blocks nest deeper than {MAX_PARALLEL_DEPTH} levels"
    assert problem.path[:2] == (0, "parallel_blocks")


def test_ready_block_under_nested_dicts_right_at_the_depth() -> None:
    (block,) = structure_block_configs([_dicts(54, _chain(10))])
    assert block == _chain(MAX_PARALLEL_DEPTH)
    assert loads(dumps([block])) == [block]


@pytest.mark.parametrize("value", [5, 3.5, True, {}, {"attention": None}, "", "abc", b""])
def test_maybe_cast_refuses_what_is_not_a_list(value: object) -> None:
    # An int made len() raise TypeError; an empty dict or str was taken for an empty list.
    with pytest.raises(BlockConfigError) as error:
        maybe_cast_block_configs(value)  # type: ignore[arg-type]
    assert [p.path for p in error.value.problems] == [()]
    assert problems(error)[0].startswith("$: expected a list of block configs, got ")


def test_maybe_cast_still_gives_none_for_nothing() -> None:
    assert maybe_cast_block_configs(None) is None
    assert maybe_cast_block_configs([]) is None
    assert maybe_cast_block_configs(()) is None
    assert maybe_cast_block_configs([{}]) == [BlockConfig()]


def test_json_integers_past_64_bits_are_refused_not_rounded() -> None:
    # orjson reads an integer past 64 bits as a float: refused for an int field, never
    # rounded into one.
    assert type(orjson.loads("18446744073709551616")) is float
    with pytest.raises(BlockConfigError) as error:
        loads('[{"ffn": {"intermediate_size": 18446744073709551616}}]')
    assert problems(error) == [
        "$[0].ffn.intermediate_size: expected int, got float 1.8446744073709552e+19"
    ]
    with pytest.raises(BlockConfigError) as error:
        loads('[{"ffn": {"intermediate_size": 9223372036854775808}}]')
    assert problems(error) == [
        f"$[0].ffn.intermediate_size: expected int from 1 to {MAX_INT}, got {MAX_INT + 1}"
    ]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_numbers_in_text_are_refused(token: str) -> None:
    text = f'[{{"attention": {{"num_key_value_heads": 8, "llama4": {{"attn_scale": {token}}}}}}}]'
    with pytest.raises(BlockConfigError) as error:
        loads(text)
    assert problems(error)[0].startswith("$: invalid JSON: ")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_in_objects_are_refused(value: float) -> None:
    with pytest.raises(BlockConfigError) as error:
        converter.structure({"attn_scale": value}, Llama4AttentionConfig)
    assert problems(error) == [f"$.attn_scale: expected a finite float, got float {value!r}"]


# --------------------------------------------------------------------------- model level

CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_attention_heads": 8,
    "vocab_size": 100,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
}


def test_model_config_with_a_huge_int() -> None:
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping({**CONFIG, "hidden_size": HUGE})
    assert problems(error) == [
        f"$.hidden_size: JSON keeps ints to 64 bits, got int of {HUGE_BITS} bits"
    ]


def test_model_config_int_past_max_int_is_worded() -> None:
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping({**CONFIG, "vocab_size": 2**64 - 1})
    assert problems(error) == [f"$.vocab_size: expected int from 1 to {MAX_INT}, got {2**64 - 1}"]


def test_model_config_with_a_huge_int_key() -> None:
    config: Any = {**CONFIG, HUGE: 1}
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(config)
    assert problems(error) == [
        f"$['an int of {HUGE_BITS} bits']: keys must be strings, got int of {HUGE_BITS} bits"
    ]


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


def test_model_config_nested_1000_deep_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    # orjson reads up to 1024 levels; copy.deepcopy of such a value raised RecursionError.
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping({**CONFIG, "extra": _deep(1000)})
    assert problems(error)[0].endswith(": nests deeper than 256 levels")
    path = tmp_path / "config.json"
    text = json.dumps(CONFIG)[:-1] + ', "extra": ' + "[" * 1000 + "]" * 1000 + "}"
    path.write_text(text)
    with pytest.raises(BlockConfigError, match="nests deeper than 256 levels"):
        ModelArchitecture.load(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "JSON has no nan"),
        (-math.inf, "JSON has no -inf"),
        ({1, 2}, "not a JSON value: set"),
        (b"bytes", "not a JSON value: bytes b'bytes'"),
        ("\ud800", "a str with a lone surrogate, which UTF-8 cannot encode"),
        (2**64, "JSON keeps ints to 64 bits, got int 18446744073709551616"),
    ],
)
def test_model_config_values_that_cannot_be_saved_are_refused_on_reading(
    value: object, message: str
) -> None:
    # Kept verbatim and written back by save(): NaN and sets made save() raise ValueError
    # and TypeError; a lone surrogate was written as an escape that load() then refused.
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping({**CONFIG, "rope_scaling": {"factor": [value]}})
    assert problems(error) == [f"$.rope_scaling.factor[0]: {message}"]


def test_model_config_values_that_json_keeps_are_saved_and_loaded_back(tmp_path: Path) -> None:
    extra: dict[str, Any] = {"a": [None, True, -(2**63), 2**64 - 1, 1.5, "é🦙", {"b": []}]}
    arch = ModelArchitecture.from_mapping({**CONFIG, "extra": extra})
    path = arch.save(tmp_path / "config.json")
    assert ModelArchitecture.load(path).source["extra"] == extra


def test_model_config_with_unhashable_layer_kinds() -> None:
    config = {
        **CONFIG,
        "model_type": "nemotron_h",
        "num_hidden_layers": 3,
        "layers_block_type": [["mamba"], {"k": 1}, "mlp"],
    }
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(config)
    assert [p.path for p in error.value.problems] == [
        ("layers_block_type", 0),
        ("layers_block_type", 1),
    ]


# --------------------------------------------------------------------------- YAML

YAML_CONFIG = (
    "hidden_size: 64\nnum_attention_heads: 8\nvocab_size: 100\n"
    "intermediate_size: 128\nnum_hidden_layers: 2\n"
)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['echo pwned']",
        "!!python/object/new:os.system ['echo pwned']",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_yaml_python_object_tags_are_refused(tag: str, tmp_path: Path) -> None:
    # Safe loading only: the tag is refused before anything is built, let alone called.
    with pytest.raises(BlockConfigError, match="could not determine a constructor"):
        loads_yaml(f"- {tag}\n")
    with pytest.raises(BlockConfigError, match="could not determine a constructor"):
        ModelArchitecture.from_yaml(YAML_CONFIG + f"rope_scaling: {tag}\n")
    path = tmp_path / "config.yaml"
    path.write_text(f"{tag}\n")
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.load(path)
    assert [p.path for p in error.value.problems] == [()]


def test_yaml_aliases_are_refused() -> None:
    # 30 lines of anchors and aliases stood for 2**29 nested blocks: structuring them hung.
    laughs = "a0: &a0 {}\n" + "".join(
        f"a{i}: &a{i} {{parallel_blocks: [*a{i - 1}, *a{i - 1}]}}\n" for i in range(1, 30)
    )
    with pytest.raises(BlockConfigError) as error:
        parse_yaml(laughs + "blocks: [*a29]\n")
    assert "found the alias *a0: aliases are not supported" in str(error.value)
    assert [p.path for p in error.value.problems] == [()]


def test_yaml_nesting_at_and_past_the_limit() -> None:
    assert parse_yaml("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    block_style = "".join("  " * i + "-\n" for i in range(MAX_JSON_DEPTH))
    assert parse_yaml(block_style) is not None
    for text in (
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
        "".join("  " * i + "-\n" for i in range(MAX_JSON_DEPTH + 1)),
        "[" * 100_000,  # PyYAML's composer recursed until RecursionError
    ):
        with pytest.raises(BlockConfigError, match=f"nests deeper than {MAX_JSON_DEPTH} levels"):
            parse_yaml(text)


def test_yaml_int_with_too_many_digits() -> None:
    with pytest.raises(BlockConfigError, match="an int of 5000 digits is too long"):
        parse_yaml("x: " + "1" * 5000)


@pytest.mark.parametrize("text", ["\x85", "a\x85b", "\u2028", "x\u2029y"])
def test_yaml_keeps_unicode_line_separators_in_strings(text: str) -> None:
    # A NEL was written as itself and read back as a line break folded into a space.
    block = BlockConfig(ffn={"intermediate_size": 8, "sparsify": [text]})
    assert loads_yaml(dumps_yaml([block])) == [block]
    arch = ModelArchitecture.from_mapping({**CONFIG, "extra": text})
    assert ModelArchitecture.from_yaml(arch.to_yaml()).source["extra"] == text


def test_yaml_size_past_the_limit() -> None:
    core = "- {ffn: {intermediate_size: 8}}"
    with pytest.raises(BlockConfigError) as error:
        parse_yaml(core + " " * (MAX_JSON_SIZE + 1 - len(core)))
    assert problems(error) == [
        f"$: YAML text of {MAX_JSON_SIZE + 1} bytes is larger than the limit of "
        f"{MAX_JSON_SIZE} bytes"
    ]


def test_yaml_size_right_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsing MAX_JSON_SIZE of YAML in pure Python takes minutes: the boundary is shown on a
    # smaller limit, through the same comparison.
    monkeypatch.setattr(block_config._yaml, "MAX_JSON_SIZE", 1000)
    core = "- {ffn: {intermediate_size: 8}}"
    assert loads_yaml(core + " " * (1000 - len(core))) == [
        BlockConfig(ffn={"intermediate_size": 8})
    ]
    with pytest.raises(BlockConfigError, match="YAML text of 1001 bytes is larger than"):
        loads_yaml(core + " " * (1001 - len(core)))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!pairs [a: 1]", "$.extra[0]: not a JSON value: tuple"),
        ("!!binary aGVsbG8=", "$.extra: not a JSON value: bytes b'hello'"),
        ("!!timestamp 2001-12-14", "$.extra: not a JSON value: date datetime.date(2001, 12, 14)"),
        ("!!set {a: null}", "$.extra: not a JSON value: set"),
        ("1e400", "$.extra: JSON has no inf"),
    ],
)
def test_yaml_values_json_cannot_hold_are_refused(value: str, message: str) -> None:
    # Such values were kept in the source, and saving then failed (or, for a tuple, only
    # saving as YAML did).
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_yaml(YAML_CONFIG + f"extra: {value}\n")
    assert problems(error) == [message]


# --------------------------------------------------------------------------- command line


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_cli_show_json_with_totals_past_64_bits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # orjson raised TypeError ("Integer exceeds 64-bit range") on a parameter total that
    # large, and the command died with a traceback.
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**CONFIG, "intermediate_size": MAX_INT, "vocab_size": MAX_INT}))
    code, out, _ = _run(capsys, "show", "--json", path)
    assert code == EXIT_OK
    shown = json.loads(out)
    assert json.dumps(shown).count(str(MAX_INT)) >= 1
    assert max(_ints(shown)) > 2**64


def _ints(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _ints(v)]
    if isinstance(value, list):
        return [n for v in value for n in _ints(v)]
    return [value] if type(value) is int else []


def test_cli_bare_list_mixing_dialects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # looks_legacy's error escaped _read: a traceback instead of exit code 1.
    path = tmp_path / "blocks.json"
    path.write_text(json.dumps([{"attention": {"n_heads_in_group": 8}, "parallel_blocks": []}]))
    code, _, err = _run(capsys, "validate", path)
    assert code == EXIT_INVALID
    assert err.startswith(
        f"block-config: error: {path}: $: mixes the legacy and the native dialect"
    )


def test_cli_refuses_a_file_that_never_ends(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    code, _, err = _run(capsys, "validate", "/dev/zero")
    assert code == EXIT_INVALID
    assert "is larger than the limit" in err


def test_cli_convert_refuses_output_past_the_size_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # dump_config_json's size refusal escaped convert as a traceback.
    source = tmp_path / "config.json"
    source.write_text(json.dumps(CONFIG))
    monkeypatch.setattr(block_config._io, "MAX_JSON_SIZE", 200)  # the input is 114 bytes
    code, _, err = _run(capsys, "convert", source, "--to", "native", "-o", tmp_path / "out.json")
    assert code == EXIT_INVALID
    assert "more than the limit of 200" in err
    assert not (tmp_path / "out.json").exists()


# --------------------------------------------------------------------------- required nested


@pytest.mark.parametrize("part", ["attention", "ffn"])
def test_required_nested_object_given_null(part: str) -> None:
    # The fast path let null through for a required nested object (legacy items require
    # both): reading a legacy config with "attention": null raised AttributeError.
    item: dict[str, Any] = {"attention": {"n_heads_in_group": 8}, "ffn": {"ffn_mult": 1.0}}
    item[part] = None
    with pytest.raises(BlockConfigError) as error:
        LegacyBlockConfig.from_dict(item)
    cls = "LegacyAttentionConfig" if part == "attention" else "LegacyFFNConfig"
    assert problems(error) == [f"$.{part}: expected {cls} object, got null"]
    config = {**CONFIG, "num_hidden_layers": 1, "block_configs": [item]}
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(config, dialect="legacy")
    assert problems(error) == [f"$.block_configs[0].{part}: expected {cls} object, got null"]


def test_cli_process_on_broken_files_exits_1_without_traceback(tmp_path: Path) -> None:
    # A real process, under the C locale, so that nothing is caught for it in-process.
    files = {
        "truncated.json": json.dumps(CONFIG)[:20].encode(),
        "latin1.json": b'{"hidden_size": 64, "torch_dtype": "\xe9"}',
        "nan.json": json.dumps({**CONFIG, "rope_theta": float("nan")}).encode(),
        "deep.json": b"[" * 5000 + b"]" * 5000,
        "surrogate.json": b'[{"attention": {"no_op": true, "weights_precision": "\\ud800"}}]',
        "tag.yaml": b"!!python/object/apply:os.system ['echo pwned']\n",
        "alias.yaml": b"a: &a {}\nb: *a\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": ""}
    result = subprocess.run(
        [sys.executable, "-m", "block_config", "validate", *sorted(files)],
        cwd=tmp_path,
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == EXIT_INVALID
    assert "Traceback" not in err
    assert "pwned" not in result.stdout.decode() + err
    prefix = "block-config: error: "
    assert all(line.startswith(prefix) for line in err.splitlines()), err
    reported = {line.removeprefix(prefix).split(":", 1)[0] for line in err.splitlines()}
    assert reported == set(files)


def test_cli_process_prints_non_ascii_text_under_the_c_locale(tmp_path: Path) -> None:
    config = {**CONFIG, "_name_or_path": "modèle-🦙"}
    (tmp_path / "modèle.json").write_text(json.dumps(config))
    (tmp_path / "clé.json").write_text(json.dumps({**CONFIG, "block_configs": [{"clé": 1}] * 2}))
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": ""}
    for argv, code in [
        (["show", "modèle.json"], EXIT_OK),
        (["validate", "clé.json"], EXIT_INVALID),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "block_config", *argv],
            cwd=tmp_path,
            capture_output=True,
            env=env,
            check=False,
            timeout=120,
        )
        err = result.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err
        assert result.returncode == code, err
        if code == EXIT_INVALID:
            # The same problem in both layers: one line naming both.
            assert "$.block_configs[0-1].cl" in err


@pytest.mark.parametrize("ffn_mult", [1e308, 1e300])
def test_legacy_ffn_mult_too_large_for_any_width(ffn_mult: float) -> None:
    # 2 * 1e308 * hidden_size is infinite: int() of it raised OverflowError.
    config = {
        **CONFIG,
        "num_hidden_layers": 1,
        "block_configs": [{"attention": {"n_heads_in_group": 8}, "ffn": {"ffn_mult": ffn_mult}}],
    }
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(config)
    assert problems(error) == [
        f"$.block_configs[0].ffn.ffn_mult: {ffn_mult!r} gives an intermediate_size past "
        f"{MAX_INT} with hidden_size 64"
    ]


# --------------------------------------------------------------------------- round two

_DIMS: dict[str, Any] = {"hidden_size": 64, "num_attention_heads": 8, "vocab_size": 100}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1, "a": 2}', "$.a"),
        ('{"x": [{"b": {"c": 1, "d": 2, "c": 3}}]}', "$.x[0].b.c"),
        # A colon spelled as an escape must not hide the repeat from the fast check.
        ('{"a": "\\u003a", "a": 1}', "$.a"),
        ('{"a": {"k": 1}, "b": {"k": 2, "k": 3}, "c": {"k": 4, "k": 5}}', "$.b.k $.c.k"),
        # Nested past what orjson writes back: the slow check runs.
        ("[" * 255 + '{"a": 1, "a": 1}' + "]" * 255, "$" + "[0]" * 255 + ".a"),
    ],
)
def test_json_keys_given_twice_are_refused_at_their_path(text: str, where: str) -> None:
    with pytest.raises(BlockConfigError) as error:
        block_config._json.parse_json(text)
    assert " ".join(str(p).split(":")[0] for p in error.value.problems) == where
    assert all("given twice" in p.message for p in error.value.problems)


@pytest.mark.parametrize(
    "text", ['{"a:b": "c:d", "e": "::"}', '{"a": "\\u003a"}', '{"\\u003a": 1, "b": ":"}']
)
def test_json_colons_in_strings_are_not_taken_for_repeats(text: str) -> None:
    assert block_config._json.parse_json(text) == json.loads(text)
    # Nested past what orjson writes back: the colons are counted by a walk instead.
    deep = "[" * 254 + text + "]" * 254
    assert block_config._json.parse_json(deep) == json.loads(deep)


def test_a_block_list_with_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    # Last value wins was the old reading: "eight" went unseen.
    item = '{"attention": {"num_key_value_heads": "eight", "num_key_value_heads": 8}}'
    with pytest.raises(BlockConfigError) as error:
        loads(f"[{item}]")
    assert [str(p) for p in error.value.problems] == [
        "$[0].attention.num_key_value_heads: the key 'num_key_value_heads' is given twice "
        "in one object"
    ]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_DIMS)[:-1] + f', "block_configs": [{item}]}}')
    with pytest.raises(BlockConfigError, match=r"^\$\.block_configs\[0\]\.attention\.num_key"):
        ModelArchitecture.load(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!bool yes", "'yes' is not a bool"),
        ("a: !!bool on", "'on' is not a bool"),
        ("a: !!int 1_000", "'1_000' is not an int"),
        ("a: !!int 0b101", "'0b101' is not an int"),
        ("a: !!float 1_0", "'1_0' is not a float"),
        ("a: !!float nan", "'nan' is not a float"),
    ],
)
def test_yaml_explicit_tags_keep_the_core_schema_spellings(text: str, message: str) -> None:
    with pytest.raises(BlockConfigError, match=message):
        parse_yaml(text)


def test_yaml_explicit_tags_with_core_schema_spellings_still_read() -> None:
    assert parse_yaml("a: !!bool true\nb: !!int 0x1f\nc: !!float 1\nd: !!int '12'") == {
        "a": True,
        "b": 31,
        "c": 1.0,
        "d": 12,
    }


def test_null_and_bool_keys_show_as_such_in_paths() -> None:
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_yaml("null: 1\ntrue: 2\n3: 4\n")
    assert [str(p).split(":")[0] for p in error.value.problems] == ["$[null]", "$[true]", "$['3']"]
    with pytest.raises(BlockConfigError) as error:
        loads_yaml("- attention: {null: 1}\n")
    assert str(error.value).startswith("$[0].attention[null]: keys must be strings")


def test_qwen_moe_mlp_only_layers_are_looked_up_not_scanned() -> None:
    from block_config.readers import ReadOptions, reader_for

    qwen3_moe = reader_for("qwen3_moe")
    assert qwen3_moe is not None

    class Counted(list[int]):
        """Counts how often the list is scanned (a membership test walks it all)."""

        scans = 0

        def __contains__(self, item: object) -> bool:
            Counted.scans += 1
            return super().__contains__(item)

    layers = 4096
    config = {
        **_DIMS,
        "num_hidden_layers": layers,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "intermediate_size": 128,
        "mlp_only_layers": Counted(range(0, layers, 2)),
    }
    blocks = qwen3_moe(config, ReadOptions(model_type="qwen3_moe"))["block_configs"]
    assert Counted.scans == 0  # was one scan of 2048 items per layer: 8 million steps
    assert [block.ffn is not None and block.ffn.moe is None for block in blocks[:4]] == [
        True,
        False,
        True,
        False,
    ]


_HUGE_SIZE = 2154473986996000000  # a multiple of 256 no float ffn_mult lands on (hidden 12345)


def _kv_one(size: int) -> dict[str, Any]:
    return {"attention": {"num_key_value_heads": 1}, "ffn": {"intermediate_size": size}}


def test_ffn_sizes_past_float_precision_native_to_legacy_is_a_located_error() -> None:
    model = ModelArchitecture(
        hidden_size=12345,
        num_attention_heads=1,
        vocab_size=10,
        block_configs=[_kv_one(2**61), _kv_one(_HUGE_SIZE)],
    )
    with pytest.raises(BlockConfigError) as error:
        model.to_mapping("legacy")
    assert [str(p).split(":")[0] for p in error.value.problems] == [
        "$.block_configs[1].ffn.intermediate_size"
    ]
    assert "no float ffn_mult maps back" in str(error.value)


def test_ffn_sizes_past_float_precision_legacy_to_native_warns() -> None:
    legacy = {
        **_DIMS,
        "hidden_size": 12345,
        "num_attention_heads": 1,
        "model_type": "nemotron-nas",
        "block_configs": [
            {"attention": {"n_heads_in_group": 1}, "ffn": {"ffn_mult": 261782987484325.66}}
        ],
    }
    model = ModelArchitecture.from_mapping(legacy)
    assert model.block_configs[0].ffn is not None
    assert model.block_configs[0].ffn.intermediate_size == _HUGE_SIZE
    with pytest.warns(ConversionWarning, match="no ffn_mult maps back"):
        model.to_mapping("native")


def test_cli_converts_huge_ffn_sizes_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "native.json"
    native = {
        **_DIMS,
        "hidden_size": 12345,
        "num_attention_heads": 1,
        "block_configs": [
            {"attention": {"num_key_value_heads": 1}, "ffn": {"intermediate_size": _HUGE_SIZE}}
        ],
    }
    source.write_text(json.dumps(native))
    code = main(["convert", str(source), "--to", "legacy", "-o", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "$.block_configs[0].ffn.intermediate_size" in err


def test_loading_in_threads_leaves_the_warning_machinery_alone() -> None:
    config = {
        **_DIMS,
        "block_configs": [
            {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 256}}
        ]
        * 50,
    }
    filters = list(warnings.filters)
    show = warnings.showwarning

    def work(_: int) -> None:
        for _ in range(40):
            ModelArchitecture.from_mapping(config)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert warnings.filters == filters
    assert warnings.showwarning is show
    with pytest.warns(UnknownKeyWarning, match=r"^\$\.block_configs\[0\]\.ffn\.bogus"):
        ModelArchitecture.from_mapping(
            {**_DIMS, "block_configs": [{"ffn": {"intermediate_size": 8, "bogus": 1}}]},
            unknown_keys="warn",
        )


def test_warnings_of_one_call_stay_with_that_call_across_threads() -> None:
    from block_config import _warnings

    threads = 8
    barrier = threading.Barrier(threads)
    seen: dict[int, list[tuple[Any, str]]] = {}

    def work(number: int) -> None:
        # Each thread collects what its own calls warn of, while the others collect or drop
        # theirs at the same moment.
        collected: list[tuple[Any, str]] = []
        token = _warnings._collected.set(collected)
        try:
            barrier.wait()
            for _ in range(20):
                if number % 2:
                    with _warnings.quiet():
                        structure_block_configs([{"x": 1}], unknown_keys="warn")
                else:
                    with _warnings.warnings_under(("t", number)):
                        structure_block_configs([{}, {"x": 1}], unknown_keys="warn")
        finally:
            _warnings._collected.reset(token)
        seen[number] = collected

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    for number in range(threads):
        expected = [] if number % 2 else [(("t", number, 1, "x"), "unknown key dropped")] * 20
        assert seen[number] == expected, number


def _deep_list(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("source", {"x": math.nan}, "$.source.x"),
        ("source", {"x": {1, 2}}, "$.source.x"),
        ("source", {"x": b"bytes"}, "$.source.x"),
        ("source", {"x": "\ud800"}, "$.source.x"),
        ("source", {"\udc00": 1}, format_path(("source", short_repr("\udc00")))),
        ("source", {"x": _deep_list(300)}, "$.source.x" + "[0]" * 255),
        ("torch_dtype", "\ud800", "$.torch_dtype"),
        ("torch_dtype", "", "$.torch_dtype"),
        ("mamba_ssm_cache_dtype", "\ud800", "$.mamba_ssm_cache_dtype"),
        ("model_type", "\udfff", "$.model_type"),
    ],
)
def test_the_model_refuses_what_save_could_not_write_back(
    field: str, value: Any, where: str
) -> None:
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture(**_DIMS, block_configs=[{}], **{field: value})
    assert [str(p).split(": ")[0] for p in error.value.problems] == [where]


def test_a_source_changed_after_construction_is_refused_by_save(tmp_path: Path) -> None:
    model = ModelArchitecture(**_DIMS, block_configs=[{}], source={"x": 1})
    model.source["x"] = math.nan
    with pytest.raises(BlockConfigError, match=r"^\$\.x: JSON has no nan"):
        model.save(tmp_path / "config.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "source",
    [
        {},
        {"rope_scaling": {"type": "llama3", "factor": 8.0}, "eos_token_id": [1, 2]},
        {"torch_dtype": "", "dtype": None},
        {"x": _deep_list(250), "y": "\u00e9\U0001f600", "z": -(2**63), "w": 2**64 - 1},
        {"num_hidden_layers": "three", "hidden_size": True, "tie_word_embeddings": "yes"},
    ],
)
@pytest.mark.parametrize("dtype", [None, "bfloat16", "\u00e9"])
def test_what_the_model_accepts_saves_and_loads_back_equal(
    source: dict[str, Any], dtype: str | None, tmp_path: Path
) -> None:
    model = ModelArchitecture(
        **_DIMS,
        block_configs=[{"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 8}}],
        torch_dtype=dtype,
        source=source,
    )
    for name in ("config.json", "config.yaml"):
        again = ModelArchitecture.load(model.save(tmp_path / name))
        assert again == model
        for key, value in source.items():
            if key not in (
                "num_hidden_layers",
                "hidden_size",
                "tie_word_embeddings",
                "torch_dtype",
                "dtype",
            ):
                assert again.source[key] == value
