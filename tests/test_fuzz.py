"""Seeded fuzzing: whatever the input, the outcome is a valid result or a located error.

Every case feeds one input to the public entry points and accepts exactly two outcomes:

* a result that is a list of valid :class:`BlockConfig` objects which survive writing and
  reading back unchanged (nothing is lost), or
* :class:`BlockConfigError` whose every problem carries a path of str keys and int indexes.

Anything else (TypeError, KeyError, AttributeError, RecursionError, ValueError from a
dependency, ...) fails the test, naming the input. Where the input was made wrong on purpose
(a value of the wrong type in a known field, an unknown key), the error must also name that
very path. A whole config.json read as a model must write and read back the same; the
``block-config`` command must end with a documented exit code and no traceback.

Input classes (one test each): arbitrary JSON-like trees (non-str keys, huge ints, NaN and
infinities, lone surrogates, bytes, sets); valid generated block lists with one mutation
(wrong types, missing and extra keys, out-of-range values, wrapping, non-list roots); the
published configs' block lists, mutated; JSON text, truncated or corrupted (invalid UTF-8,
BOM, NaN/Infinity/1e400 and 400-digit tokens, lone-surrogate escapes, deep brackets); whole
config.json objects (legacy, homogeneous Hugging Face, native), mutated anywhere; files for
the command line (JSON and YAML, Python tags and aliases included); parallel_blocks around
MAX_PARALLEL_DEPTH and junk nested thousands deep; lists of up to 60,000 items.

The case count defaults to :data:`DEFAULT_CASES`; ``BLOCK_CONFIG_FUZZ_CASES`` raises it (the
``fuzz`` nox session runs far more). The seed is fixed, so a failure reproduces exactly;
``BLOCK_CONFIG_FUZZ_SEED`` explores other seeds.
"""

from __future__ import annotations

import json
import math
import os
import random
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from published import SUPER, ULTRA, needs_published

from block_config import (
    MAX_INT,
    MAX_JSON_SIZE,
    MAX_PARALLEL_DEPTH,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    BlockConfigError,
    CompressedAttentionConfig,
    FFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MLAConfig,
    ModelArchitecture,
    MoEConfig,
    UnknownKeyWarning,
    converter,
    dumps,
    loads,
    maybe_cast_block_configs,
    structure_block_configs,
)
from block_config._cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from block_config._converter import FieldRule, Kind, field_rules
from block_config._errors import format_path
from block_config._io import dump_config_json
from block_config._json import parse_json
from block_config._yaml import dump_yaml

DEFAULT_CASES = 12_000
CASES = int(os.environ.get("BLOCK_CONFIG_FUZZ_CASES", DEFAULT_CASES))
SEED = int(os.environ.get("BLOCK_CONFIG_FUZZ_SEED", "20261128"))

#: Share of the cases each input class gets.
SHARES = {
    "arbitrary_values": 0.20,
    "mutated_generated": 0.25,
    "mutated_real": 0.08,
    "json_text": 0.23,
    "duplicate_keys": 0.02,
    "model_configs": 0.17,
    "command_line": 0.02,
    "deep_nesting": 0.0293,
    "long_lists": 0.0007,
}

DATA = Path(__file__).parent / "data"
REAL_CONFIGS = [SUPER, ULTRA]
HF_CONFIGS = sorted((DATA / "hf").glob("*.config.json")) + sorted(
    (DATA / "families").glob("*.config.json")
)

Doc = Any  # a JSON-like document: dicts, lists and scalars

# --------------------------------------------------------------------------- outcomes


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as error:  # pragma: no cover - only when reporting a failure
        text = f"<unprintable: {type(error).__name__}>"
    return text if len(text) <= 300 else text[:300] + "..."


def _check_error(error: BlockConfigError) -> None:
    assert error.problems, "a BlockConfigError without problems"
    for problem in error.problems:
        assert type(problem.path) is tuple, problem
        # str (a non-text key's label is a str subclass that shows as [null]) or int
        assert all(isinstance(key, str) or type(key) is int for key in problem.path), problem
        assert isinstance(problem.message, str)
        assert problem.message
    assert str(error).count("\n") == len(error.problems) - 1


def _check_blocks(result: Any) -> None:
    blocks = list(result) if isinstance(result, (list, tuple)) else [result]
    assert all(type(block) is BlockConfig for block in blocks), _show(result)
    # Nothing lost: what was accepted can be written and read back, equal; or, past the size
    # limit, writing is refused up front.
    assert structure_block_configs([block.to_dict() for block in blocks]) == blocks
    size = len(orjson.dumps([block.to_dict() for block in blocks]))
    if size > MAX_JSON_SIZE:
        with pytest.raises(BlockConfigError) as error:
            dumps(blocks)
        assert str(error.value) == (
            f"$: JSON text of {size} bytes would be larger than the limit of {MAX_JSON_SIZE} "
            "bytes that loads() reads"
        )
        return
    assert loads(dumps(blocks)) == blocks


def outcome(call: Callable[[Any], Any], data: Any) -> BlockConfigError | None:
    """Run ``call(data)``; return the error, or None for a valid result. Fail otherwise."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call(data)
    except BlockConfigError as error:
        _check_error(error)
        return error
    except Exception as error:
        pytest.fail(f"{type(error).__name__}: {_show(error)}\ninput: {_show(data)}")
    for warning in caught:
        assert issubclass(warning.category, UnknownKeyWarning), warning
        assert str(warning.message).startswith("$"), warning
    if result is not None:
        _check_blocks(result)
    return None


#: The ways a list of blocks is read, each with whether it refuses unknown keys.
LIST_READERS: list[tuple[Callable[[Any], Any], bool]] = [
    (structure_block_configs, True),
    (lambda d: structure_block_configs(d, unknown_keys="warn"), False),
    (lambda d: converter.structure(d, list[BlockConfig]), True),
    (maybe_cast_block_configs, True),
]
#: The ways one block is read.
BLOCK_READERS: list[tuple[Callable[[Any], Any], bool]] = [
    (BlockConfig.from_dict, True),
    (lambda d: BlockConfig.from_dict(d, unknown_keys="warn"), False),
    (lambda d: converter.structure(d, BlockConfig), True),
]


def _readers(rng: random.Random) -> list[tuple[Callable[[Any], Any], bool]]:
    """One or two of the list readers, at random."""
    return rng.sample(LIST_READERS, rng.randint(1, 2))


def _reader(rng: random.Random) -> Callable[[Any], Any]:
    return rng.choice(LIST_READERS)[0]


# --------------------------------------------------------------------------- generators


def _weird_int(rng: random.Random) -> int:
    return rng.choice(
        [
            0,
            -1,
            1,
            MAX_INT,
            MAX_INT + 1,
            -MAX_INT - 1,
            2**64,
            10**400,
            -(10**5000),
            rng.randint(-(2**70), 2**70),
            rng.randint(1, 65536),
        ]
    )


def _weird_float(rng: random.Random) -> float:
    return rng.choice(
        [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, 5e-324, rng.uniform(-10, 10), 8.0]
    )


def _weird_str(rng: random.Random) -> str:
    return rng.choice(
        [
            "",
            "8",
            "true",
            "false",
            "null",
            "NaN",
            "bf16",
            "\ud800",
            "a\udfffb",
            "\x00",
            "é" * rng.randint(1, 5),
            "🦙",
            "x" * rng.randint(100, 5000),
            "no_op",
            "$[0].attention",
        ]
    )


def _scalar(rng: random.Random) -> Any:
    pick = rng.randrange(7)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return _weird_int(rng)
    if pick == 3:
        return _weird_float(rng)
    if pick == 4:
        return _weird_str(rng)
    if pick == 5:
        return rng.choice([b"\xff", bytearray(b"ab"), (), frozenset({1}), {1, 2}, object()])
    return rng.randint(1, 64)


_KNOWN_KEYS = sorted(
    {rule.name for cls in (BlockConfig, AttentionConfig, FFNConfig) for rule in field_rules(cls)}
    | {
        rule.name
        for cls in (
            MoEConfig,
            MambaConfig,
            MLAConfig,
            Llama4AttentionConfig,
            CompressedAttentionConfig,
        )
        for rule in field_rules(cls)
    }
)


def _key(rng: random.Random, python_level: bool) -> Any:
    pick = rng.randrange(10)
    if pick < 6:
        return rng.choice(_KNOWN_KEYS)
    if pick < 9 or not python_level:
        return _weird_str(rng)
    return rng.choice([1, None, 1.5, (1, 2), 10**5000, b"k", True])


def arbitrary_value(rng: random.Random, depth: int, python_level: bool) -> Any:
    """A random tree of JSON-like values, mostly keyed by real field names."""
    if depth <= 0 or rng.random() < 0.3:
        return _scalar(rng)
    if rng.random() < 0.5:
        return [arbitrary_value(rng, depth - 1, python_level) for _ in range(rng.randint(0, 4))]
    return {
        _key(rng, python_level): arbitrary_value(rng, depth - 1, python_level)
        for _ in range(rng.randint(0, 5))
    }


def _size(rng: random.Random) -> int:
    return rng.choice([1, 2, 8, 64, 128, 4096, 5632, 28672, rng.randint(1, 2**40), MAX_INT])


def random_attention(rng: random.Random) -> AttentionConfig | None:
    common: dict[str, Any] = {
        "sparsify": rng.choice([None, [], ["q_proj"], ["k_proj", "v_proj"]]),
        "weights_precision": rng.choice([None, "bf16", "fp8", "nvfp4"]),
    }
    kind = rng.randrange(7)
    if kind == 0:
        return None
    if kind == 1:
        window = rng.choice([None, None, 128, 4096, _size(rng)])
        return AttentionConfig(num_key_value_heads=_size(rng), sliding_window=window, **common)
    if kind == 2:
        llama4 = Llama4AttentionConfig(
            attention_chunk_size=rng.choice([None, 8192]),
            use_rope=rng.choice([None, True, False]),
            attn_scale=rng.choice([None, 0.1, 1]),
            attention_dropout=rng.choice([None, 0.0]),
        )
        return AttentionConfig(num_key_value_heads=_size(rng), llama4=llama4, **common)
    if kind == 3:
        return AttentionConfig(replace_with_linear=True, num_key_value_heads=_size(rng), **common)
    if kind == 4:
        mamba = MambaConfig(
            state_dim=_size(rng), num_heads=_size(rng), head_dim=_size(rng), num_groups=_size(rng)
        )
        return AttentionConfig(mamba=mamba, **common)
    if kind == 5:
        mla = MLAConfig(
            q_lora_rank=rng.choice([None, _size(rng)]),
            kv_lora_rank=_size(rng),
            qk_nope_head_dim=_size(rng),
            qk_rope_head_dim=_size(rng),
            v_head_dim=_size(rng),
        )
        return AttentionConfig(mla=mla, sliding_window=rng.choice([None, _size(rng)]), **common)
    return AttentionConfig(no_op=True, **common)


def random_ffn(rng: random.Random) -> FFNConfig | None:
    common: dict[str, Any] = {
        "sparsify": rng.choice([None, ["up_proj"]]),
        "weights_precision": rng.choice([None, "bf16", "mxfp4"]),
    }
    kind = rng.randrange(5)
    if kind == 0:
        return None
    if kind == 1:
        gated = rng.choice([None, True, False])
        return FFNConfig(intermediate_size=_size(rng), gated=gated, **common)
    if kind == 2:
        return FFNConfig(replace_with_linear=True, intermediate_size=_size(rng), **common)
    if kind == 3:
        per_tok = rng.randint(1, 8)
        moe = MoEConfig(
            num_local_experts=rng.randint(per_tok, 256),
            num_experts_per_tok=per_tok,
            expert_intermediate_dim=_size(rng),
            shared_expert_intermediate_dim=rng.choice([0, _size(rng)]),
            gated=rng.choice([None, False]),
        )
        return FFNConfig(moe=moe, **common)
    return FFNConfig(no_op=True, **common)


def random_block(rng: random.Random, depth: int = 2) -> BlockConfig:
    """A valid block, built from the classes (so valid by construction)."""
    parallel = None
    if depth > 0 and rng.random() < 0.15:
        parallel = [random_block(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return BlockConfig(
        attention=random_attention(rng), ffn=random_ffn(rng), parallel_blocks=parallel
    )


_DEFAULTS = {"no_op": False, "replace_with_linear": False, "weights_precision": "bf16"}


def _sparse(doc: Doc, rng: random.Random) -> Doc:
    """Drop some keys that hold their default, as hand-written configs do."""
    if isinstance(doc, dict):
        return {
            k: _sparse(v, rng)
            for k, v in doc.items()
            if not (v is _DEFAULTS.get(k) or v == _DEFAULTS.get(k)) or rng.random() < 0.5
        }
    if isinstance(doc, list):
        return [_sparse(v, rng) for v in doc]
    return doc


def _copy(doc: Doc) -> Doc:
    if isinstance(doc, dict):
        return {k: _copy(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_copy(v) for v in doc]
    return doc


# --------------------------------------------------------------------------- mutations

_CLASS_OF_KEY: dict[str, type[BaseDataclass]] = {
    "attention": AttentionConfig,
    "ffn": FFNConfig,
    "llama4": Llama4AttentionConfig,
    "mamba": MambaConfig,
    "mla": MLAConfig,
    "moe": MoEConfig,
    "compressed_attention": CompressedAttentionConfig,
}

#: (parent container, key in it, path, the field rule if the key is a known field)
Site = tuple[Any, Any, tuple[str | int, ...], FieldRule | None]


def _sites(
    doc: Doc, path: tuple[str | int, ...] = (), cls: type[Any] | None = None
) -> Iterator[Site]:
    """Every place in a list of blocks, with the rule of the field found there."""
    if isinstance(doc, list):
        for index, item in enumerate(doc):
            yield doc, index, (*path, index), None
            yield from _sites(item, (*path, index), BlockConfig)
    elif isinstance(doc, dict) and cls is not None:
        rules = {rule.name: rule for rule in field_rules(cls)}
        for key, value in doc.items():
            rule = rules.get(key)
            yield doc, key, (*path, key), rule
            if rule is not None and rule.kind is Kind.NESTED:
                yield from _sites(value, (*path, key), rule.target)
            elif rule is not None and rule.kind is Kind.BLOCK_SEQ:
                yield from _sites(value, (*path, key), None)


def wrong_value(rule: FieldRule, rng: random.Random) -> Any:
    """A value the field must refuse, whatever the rest of the document says."""
    kind = rule.kind
    candidates: list[Any] = [[1], b"8", bytearray(b"8"), object()]
    if kind is not Kind.NESTED:  # a mapping is the right type there
        candidates.append({"k": 1})
    if not rule.optional:
        candidates.append(None)
    if kind is not Kind.STR:
        candidates.append("8")
    if kind is not Kind.FLOAT:
        candidates.append(1.5)
    if kind is Kind.BOOL:
        candidates += [0, 1, "false", "true", 1.0]
    elif kind is Kind.INT:
        candidates += [True, 8.0, rule.minimum - 1, -1, MAX_INT + 1, 10**400, -(10**5000), math.nan]
    elif kind is Kind.FLOAT:
        candidates += [True, math.nan, math.inf, -math.inf, 10**400, "0.5"]
    elif kind is Kind.STR:
        candidates += [True, 16, "\ud800", "x\udc80"]
    elif kind is Kind.STR_SEQ:
        candidates += ["q_proj", [1], ["ok", None], ["\ud800"], [["q"]], True]
    elif kind is Kind.NESTED:
        candidates += [[], "attention", 0, True, [{"no_op": True}]]
    else:  # BLOCK_SEQ
        candidates += [{"attention": None}, "blocks", 3, [1], [None], [[{}]], True]
    return rng.choice(candidates)


def _any_value(rng: random.Random) -> Any:
    if rng.random() < 0.7:
        return _scalar(rng)
    return arbitrary_value(rng, 3, python_level=False)


@attrs.frozen
class Mutant:
    """A mutated document, and the path it must be refused at (if the mutation ensures one).

    ``unknown`` tells an unknown key (refused only by readers that refuse unknown keys)
    from a value of the wrong type (refused by every reader).
    """

    doc: Doc
    refused_at: tuple[str | int, ...] | None = None
    unknown: bool = False


def mutate(doc: Doc, rng: random.Random) -> Mutant:
    """Apply one random mutation to a copy of a list of block mappings."""
    doc = _copy(doc)
    sites = list(_sites(doc))
    op = rng.randrange(10)
    if not sites or op == 0:  # a non-list root, or the list wrapped or emptied
        roots = [doc[0] if doc else {}, {"block_configs": doc}, _any_value(rng), [], [doc]]
        return Mutant(rng.choice(roots))
    parent, key, path, rule = rng.choice(sites)
    if op <= 3 and rule is not None:
        parent[key] = wrong_value(rule, rng)
        return Mutant(doc, path)
    if op == 4 and isinstance(parent, dict):
        del parent[key]
        return Mutant(doc)
    if op == 5 and isinstance(parent, dict):
        extra = rng.choice(["n_heads_in_group", "ffn_mult", "window_length", "No_Op", " no_op"])
        parent[extra] = _any_value(rng)
        return Mutant(doc, (*path[:-1], extra), unknown=True)
    if op == 6 and isinstance(parent, list):
        parent.insert(rng.randint(0, len(parent)), _any_value(rng))
        return Mutant(doc)
    if op == 7:  # a valid-typed value, maybe out of range or breaking a rule between fields
        parent[key] = rng.choice([0, 1, 2, MAX_INT, True, False, None, [], {}, 0.0, "bf16"])
        return Mutant(doc)
    if op == 8:
        parent[key] = {"parallel_blocks": [parent[key]]} if rng.random() < 0.5 else [parent[key]]
        return Mutant(doc)
    parent[key] = _any_value(rng)
    return Mutant(doc)


# --------------------------------------------------------------------------- JSON text

_INVALID_UTF8 = [
    b"\xff",
    b"\xc3\x28",  # a lead byte without its continuation
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xc0\xaf",  # overlong
    b"\x80",
]
_TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1" * 400,
    b"18446744073709551616",
    b"9223372036854775808",
    b"-0",
    b"8.0",
    b"1e2",
    b'"\\ud800"',
    b'"\\udc00x"',
    b'"\\u0000"',
    b"true",
    b"null",
    b"[]",
    b"{}",
]


def mutate_text(text: bytes, rng: random.Random) -> bytes:
    """Damage JSON text the way files get damaged, or craft tokens JSON does not allow."""
    op = rng.randrange(9)
    at = rng.randint(0, len(text))
    if op == 0:
        return text[:at]  # truncated
    if op == 1:
        return text[:at] + rng.choice(_INVALID_UTF8) + text[at:]
    if op == 2:
        return text[:at] + text[at + 1 :]  # a byte lost
    if op == 3:
        return text[:at] + bytes([rng.randrange(256)]) + text[at:]
    if op == 4:  # a number or a literal replaced by another token
        spots = [i for i, byte in enumerate(text) if byte in b"0123456789tfn"]
        if spots:
            start = rng.choice(spots)
            end = start
            while end < len(text) and text[end] in b"0123456789.eE+-truefalsn":
                end += 1
            return text[:start] + rng.choice(_TOKENS) + text[end:]
        return text + rng.choice(_TOKENS)
    if op == 5:
        return rng.choice([b"\xef\xbb\xbf", b"", b" \t\n", b"//", b"\x00"]) + text
    if op == 6:
        depth = rng.choice([10, 500, 1023, 1024, 1025, 5000])
        return b"[" * depth + text + b"]" * depth
    if op == 7:
        return rng.choice(
            [b"", b" ", b"[", b"]", b"{", b"[{", b"[,]", b"[{},]", b'"', b"[1,2", b"nul"]
        )
    return text.replace(b"true", b"True", 1).replace(b"null", b"None", 1)


def _text_reader(rng: random.Random) -> Callable[[Any], Any]:
    calls: list[Callable[[Any], Any]] = [
        loads,
        lambda t: loads(t, unknown_keys="warn"),
        lambda t: loads(t.decode("utf-8", "surrogateescape")),  # lone surrogates in a str
        lambda t: loads(bytearray(t)),
    ]
    return rng.choice(calls)


# --------------------------------------------------------------------------- tests


def _quota(name: str) -> int:
    return max(1, round(CASES * SHARES[name]))


def _rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def test_share_of_cases_adds_up_to_the_total() -> None:
    assert math.isclose(sum(SHARES.values()), 1.0)
    assert sum(_quota(name) for name in SHARES) >= min(CASES, 10_000)


def test_arbitrary_values() -> None:
    """Random trees keyed mostly by real field names, some with non-str keys."""
    rng = _rng("arbitrary_values")
    errors = 0
    for _ in range(_quota("arbitrary_values")):
        value = arbitrary_value(rng, rng.randint(1, 6), python_level=rng.random() < 0.5)
        if rng.random() < 0.5:
            errors += outcome(rng.choice(BLOCK_READERS)[0], value) is not None
        else:
            errors += outcome(_reader(rng), [value]) is not None
    # The inputs are mostly nonsense; a fuzzer that never reached an error would be broken.
    assert errors > _quota("arbitrary_values") // 2


def test_mutated_generated_configs() -> None:
    """Valid generated documents with one mutation; wrong types are refused at their path."""
    rng = _rng("mutated_generated")
    located = 0
    for _ in range(_quota("mutated_generated")):
        blocks = [random_block(rng) for _ in range(rng.randint(1, 4))]
        doc = [block.to_dict() for block in blocks]
        if rng.random() < 0.4:
            doc = _sparse(doc, rng)
        assert structure_block_configs(_copy(doc)) == blocks
        mutant = mutate(doc, rng)
        for read, refuses_unknown in _readers(rng):
            error = outcome(read, mutant.doc)
            if mutant.refused_at is not None and (refuses_unknown or not mutant.unknown):
                assert error is not None, f"accepted {mutant!r}"
                at = mutant.refused_at
                assert any(p.path[: len(at)] == at for p in error.problems), str(error)
                located += 1
    assert located > _quota("mutated_generated") // 10


@pytest.fixture(scope="module")
def real_documents() -> list[Doc]:
    """The published config.json files, parsed."""
    return [orjson.loads(path.read_bytes()) for path in REAL_CONFIGS]


@needs_published
def test_mutated_real_configs(real_documents: list[Doc]) -> None:
    """The real files' block lists (legacy spelling) and whole documents, mutated."""
    rng = _rng("mutated_real")
    for _ in range(_quota("mutated_real")):
        document = rng.choice(real_documents)
        doc = document["block_configs"]
        if rng.random() < 0.9:  # a window keeps cases fast; the whole list now and then
            start = rng.randrange(len(doc))
            doc = doc[start : start + rng.randint(0, 8)]
        mutant = mutate(doc, rng)
        for read, _ in _readers(rng):
            outcome(read, mutant.doc)
        if rng.random() < 0.1:
            outcome(_reader(rng), document)  # the whole config.json where a list belongs


@needs_published
def test_json_text() -> None:
    """Text of valid and real documents, truncated, corrupted, with non-JSON tokens."""
    rng = _rng("json_text")
    texts = [path.read_bytes() for path in REAL_CONFIGS]
    for _ in range(_quota("json_text")):
        if rng.random() < 0.2 and texts:
            base = rng.choice(texts)
        else:
            blocks = [random_block(rng) for _ in range(rng.randint(1, 3))]
            base = dumps(blocks, indent=rng.choice([None, 2])).encode()
        text = base
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            text = mutate_text(text, rng)
        outcome(_text_reader(rng), text)


def _chain(depth: int, leaf: Doc) -> Doc:
    doc = leaf
    for _ in range(depth):
        doc = {"parallel_blocks": [doc]}
    return doc


def _object_chain(depth: int) -> BlockConfig:
    block = BlockConfig()
    for _ in range(depth):
        block = BlockConfig(parallel_blocks=[block])
    return block


def _depth(block: BlockConfig) -> int:
    if not block.parallel_blocks:
        return 0
    return 1 + max(_depth(child) for child in block.parallel_blocks)


def test_deep_nesting() -> None:
    """parallel_blocks around the limit (dicts, objects, text); deep junk anywhere else."""
    rng = _rng("deep_nesting")
    for _ in range(_quota("deep_nesting")):
        depth = rng.randint(MAX_PARALLEL_DEPTH - 3, MAX_PARALLEL_DEPTH + 3)
        split = rng.randint(max(0, depth - MAX_PARALLEL_DEPTH), depth)
        leaf = rng.choice([{}, _object_chain(depth - split), random_block(rng, 0).to_dict()])
        if isinstance(leaf, dict):
            split = depth
        doc = [_chain(split, leaf)]
        error = outcome(_reader(rng), doc)
        assert (error is None) == (depth <= MAX_PARALLEL_DEPTH)
        text_error = outcome(loads, dumps([_object_chain(min(depth, MAX_PARALLEL_DEPTH))]))
        assert text_error is None

        junk: Any = rng.choice([[], {}, "x"])
        levels = rng.choice([100, 200, 1000, 3000])
        for _ in range(levels):
            junk = [junk] if rng.random() < 0.5 else {"parallel_blocks": junk}
        where = rng.choice(["sparsify", "parallel_blocks", "llama4", "unknown", "root"])
        if where == "root":
            doc = junk
        elif where == "sparsify":
            doc = [{"attention": {"no_op": True, "sparsify": junk}}]
        elif where == "llama4":
            doc = [{"attention": {"num_key_value_heads": 1, "llama4": junk}}]
        else:
            doc = [{where: junk}]
        outcome(_reader(rng), doc)
        if levels < 900:  # json.dumps itself recurses
            outcome(loads, json.dumps(doc))


def test_long_lists() -> None:
    """Very long lists of blocks, of sparsify names and of parallel blocks."""
    rng = _rng("long_lists")
    for _ in range(_quota("long_lists")):
        n = rng.choice([2_000, 10_000, 10_000, 60_000])
        block = random_block(rng, 0).to_dict()
        shape = rng.randrange(4)
        if shape == 0:
            doc: Any = [block] * n
        elif shape == 1:
            doc = [{"attention": {"no_op": True, "sparsify": ["q"] * n}}]
        elif shape == 2:
            doc = [{"parallel_blocks": [block] * n}]
        else:
            doc = [block] * n + [rng.choice([None, 1, "x"])]
        error = outcome(_reader(rng), doc)
        assert (error is None) == (shape != 3)
        if error is not None:
            assert [p.path for p in error.problems] == [(n,)]


# --------------------------------------------------------------------------- whole configs


def _json_sites(doc: Doc) -> list[tuple[Any, Any]]:
    """Every (container, key) in a document, found without recursion."""
    sites: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for key in keys:
            sites.append((node, key))
            if isinstance(node[key], (dict, list)):
                stack.append(node[key])
    return sites


def mutate_document(doc: Doc, rng: random.Random) -> Doc:
    """One random change anywhere in a config.json document."""
    doc = _copy(doc)
    sites = _json_sites(doc)
    if not sites or rng.random() < 0.03:
        return rng.choice([[], "config", None, [doc], _any_value(rng)])
    parent, key = rng.choice(sites)
    op = rng.randrange(6)
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 0:
        parent.pop(key)
    elif op == 1 and isinstance(parent, dict):
        parent[rng.choice(["n_heads_in_group", "ffn_mult", "x", "num_experts", "conv_kernel"])] = (
            _any_value(rng)
        )
    elif op == 2:
        parent[key] = rng.choice(
            [0, -1, 1, 3, MAX_INT, MAX_INT + 1, 2**64, 10**30, 1.5, 0.1, True, None, "8", [], {}]
        )
    elif op == 3:
        parent[key] = [parent[key]] if rng.random() < 0.5 else {"k": parent[key]}
    else:
        parent[key] = _any_value(rng)
    return doc


def _generated_config(rng: random.Random) -> Doc:
    blocks = _shared_kv([_fit(random_block(rng, 1)) for _ in range(rng.randint(1, 4))], rng)
    arch = ModelArchitecture(
        hidden_size=4096, num_attention_heads=32, vocab_size=32000, block_configs=blocks
    )
    return arch.to_mapping()


def _own_kv(block: BlockConfig) -> bool:
    attention = block.attention
    return (
        attention is not None
        and (attention.num_key_value_heads is not None or attention.mla is not None)
        and not attention.replace_with_linear
        and attention.kv_source_layer is None
    )


def _kv_kind(block: BlockConfig) -> tuple[int, int] | None:
    """What a layer reading ``block``'s K/V must match: None for GQA, an MLA latent's widths."""
    attention = block.attention
    mla = None if attention is None else attention.mla
    return None if mla is None else (mla.kv_lora_rank, mla.qk_rope_head_dim)


def _shared_kv(blocks: list[BlockConfig], rng: random.Random) -> list[BlockConfig]:
    """Now and then, a later GQA layer reading the K/V of an earlier one (Gemma 4), or an MLA
    layer reading an earlier latent of its widths (Mistral-Large-4)."""
    sources = [index for index, block in enumerate(blocks) if _own_kv(block)]
    pairs = [
        (source, reader)
        for source in sources
        for reader in sources
        if source < reader and _kv_kind(blocks[source]) == _kv_kind(blocks[reader])
    ]
    if not pairs or rng.random() < 0.5:
        return blocks
    source, reader = rng.choice(pairs)
    attention = blocks[reader].attention
    assert attention is not None
    shared = attrs.evolve(attention, kv_source_layer=source)
    blocks[reader] = attrs.evolve(blocks[reader], attention=shared)
    return blocks


def _fit(block: BlockConfig) -> BlockConfig:
    """``block`` with KV-head counts that divide 32 heads (a model-level rule)."""
    data: Any = block.to_dict()
    stack = [data]
    while stack:
        item = stack.pop()
        attention = item.get("attention")
        if attention and attention.get("num_key_value_heads"):
            attention["num_key_value_heads"] = 8
        stack.extend(item.get("parallel_blocks") or ())
    return BlockConfig.from_dict(data)


def _windowed(document: Doc, rng: random.Random) -> Doc:
    """A real document cut to a few layers (the whole is slow to fuzz case after case)."""
    doc = dict(document)
    if isinstance(doc.get("block_configs"), list) and rng.random() < 0.95:
        start = rng.randrange(len(doc["block_configs"]))
        doc["block_configs"] = doc["block_configs"][start : start + rng.randint(1, 6)]
        doc["num_hidden_layers"] = len(doc["block_configs"])
    return doc


def _same_model(a: ModelArchitecture, b: ModelArchitecture) -> bool:
    names = (
        "hidden_size",
        "num_attention_heads",
        "vocab_size",
        "head_dim",
        "block_configs",
        "tie_word_embeddings",
        "attention_bias",
        "qkv_bias",
        "qk_norm",
        "sandwich_norms",
        "router_bias",
        "expert_bias",
        "attention_sinks",
        "shared_expert_gate",
        "router_score_correction_bias",
        "quantization",
        "mamba_ssm_cache_dtype",
        "model_type",
    )
    return all(getattr(a, name) == getattr(b, name) for name in names)


def model_outcome(doc: Doc, unknown_keys: Any) -> BlockConfigError | None:
    """Read a config.json object; a model read must write and read back the same."""
    return outcome(
        lambda d: _check_model(ModelArchitecture.from_mapping(d, unknown_keys=unknown_keys)), doc
    )


def _check_model(arch: ModelArchitecture) -> None:
    assert isinstance(arch, ModelArchitecture)
    text = dump_config_json(arch.to_mapping())
    again = ModelArchitecture.from_mapping(parse_json(text), unknown_keys="warn")
    assert _same_model(again, arch), text[:300]


@pytest.fixture(scope="module")
def config_documents(real_documents: list[Doc]) -> list[Doc]:
    """Real legacy configs, homogeneous Hugging Face configs of every family."""
    assert HF_CONFIGS, f"no *.config.json in {DATA / 'hf'}"
    return real_documents + [orjson.loads(path.read_bytes()) for path in HF_CONFIGS]


@needs_published
def test_model_configs(config_documents: list[Doc]) -> None:
    """Whole config.json objects (legacy, homogeneous, native), mutated anywhere."""
    rng = _rng("model_configs")
    valid = 0
    for _ in range(_quota("model_configs")):
        if rng.random() < 0.3:
            doc = _generated_config(rng)
        else:
            doc = _windowed(rng.choice(config_documents), rng)
        mutated = mutate_document(doc, rng) if rng.random() < 0.9 else doc
        valid += model_outcome(mutated, rng.choice(["error", "warn"])) is None
    assert 0 < valid < _quota("model_configs")


# --------------------------------------------------------------------------- command line

DIMENSIONS = ["--hidden-size", "4096", "--num-attention-heads", "32", "--vocab-size", "1000"]


_HUGE_DIGITS = "7" * 5000


def _without_huge_ints(doc: Doc) -> Doc:
    """The document with ints Python will not print replaced by a marker string."""
    if isinstance(doc, dict):
        return {k: _without_huge_ints(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_without_huge_ints(v) for v in doc]
    if type(doc) is int and doc.bit_length() > 10_000:
        return "<huge>"
    return doc


def _json_file_text(doc: Doc) -> bytes:
    """JSON text of any document: NaN and Infinity as Python writes them, odd values as
    their repr, ints of thousands of digits written out in full."""
    text = json.dumps(_without_huge_ints(doc), allow_nan=True, default=repr, skipkeys=True)
    return text.replace('"<huge>"', _HUGE_DIGITS).encode()


def _file_text(doc: Doc, rng: random.Random, yaml: bool) -> bytes:
    if yaml:
        try:
            text = dump_yaml(doc).encode()
        except Exception:  # a value YAML cannot write: the JSON text is YAML too
            text = _json_file_text(doc)
        extra = [b"", b"x: !!python/object/apply:os.system [echo]\n", b"a: &a [1]\nb: *a\n"]
        return text + rng.choice(extra)
    return _json_file_text(doc)


@needs_published
def test_command_line(
    config_documents: list[Doc], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block-config command on damaged files: a documented exit code, never a traceback."""
    rng = _rng("command_line")
    reference = str(REAL_CONFIGS[0])
    codes: dict[int, int] = {}
    for case in range(_quota("command_line")):
        if rng.random() < 0.25:
            doc: Doc = [random_block(rng, 1).to_dict() for _ in range(rng.randint(1, 3))]
        elif rng.random() < 0.3:
            doc = _generated_config(rng)
        else:
            doc = _windowed(rng.choice(config_documents), rng)
        doc = mutate_document(doc, rng) if rng.random() < 0.8 else doc
        yaml = rng.random() < 0.2
        text = _file_text(doc, rng, yaml)
        if rng.random() < 0.4:
            text = mutate_text(text, rng)
        name = tmp_path / f"in{case}.{'yaml' if yaml else 'json'}"
        name.write_bytes(text)
        out = tmp_path / rng.choice(["out.json", "out.yaml"])
        command = rng.choice(
            [
                ["validate", name],
                ["show", name],
                ["show", "--json", name],
                ["convert", name, "--to", rng.choice(["native", "legacy"]), "-o", out, "--force"],
                ["diff", reference, name],
                ["diff", "--json", name, reference],
                ["show", name, "--batch-size", "8", "--seq-len", str(rng.choice([1, 2**40]))],
            ]
        )
        if rng.random() < 0.3:
            command += DIMENSIONS
        argv = [str(arg) for arg in command]
        code = main(argv)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, (argv, captured.err)
        assert code in (EXIT_OK, EXIT_INVALID, EXIT_USAGE), (argv, captured.err)
        if code == EXIT_INVALID:
            lines = captured.err.splitlines()
            assert lines, argv
            names = tuple(f"block-config: error: {n}" for n in (name, out, reference))
            assert all(line.startswith(names) for line in lines), (argv, captured.err)
        if code == EXIT_OK and argv[0] == "convert":
            # what was written reads back, and is exactly as valid as what was read
            dimensions = DIMENSIONS if DIMENSIONS[0] in argv else []
            source_code = main(["validate", str(name), *dimensions])
            assert main(["validate", str(out), *dimensions]) == source_code, capsys.readouterr()
            capsys.readouterr()
        codes[code] = codes.get(code, 0) + 1
    assert codes.get(EXIT_OK), codes
    assert codes.get(EXIT_INVALID), codes


# --------------------------------------------------------------------------- duplicate keys

Pairs = list[tuple[str, Any]]  # an object as written: its pairs in order, repeats kept


class _Obj:
    """An object as written in the text, repeated keys and all."""

    def __init__(self, pairs: Pairs) -> None:
        self.pairs = pairs


_KEYS = ["a", "b", "a:b", ":", "attention", "num_key_value_heads", "\\u00e9", "\u00e9", "x y"]


def _written_tree(rng: random.Random, depth: int) -> Any:
    """A value with objects as :class:`_Obj` (some keys repeated) and strings with colons."""
    roll = rng.random()
    if depth <= 0 or roll < 0.3:
        return rng.choice([1, -2, 3.5, True, None, "", ":", "a:b", "::x", "\\u00e9"])
    if roll < 0.55:
        return [_written_tree(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    pairs: Pairs = [
        (rng.choice(_KEYS), _written_tree(rng, depth - 1)) for _ in range(rng.randint(0, 4))
    ]
    return _Obj(pairs)


def _text_of(value: Any, rng: random.Random) -> str:
    """JSON text of a written tree, each colon inside a string spelled ``\\u003a`` at random."""
    if isinstance(value, _Obj):
        members = [f"{_string(key, rng)}:{_text_of(item, rng)}" for key, item in value.pairs]
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text_of(item, rng) for item in value) + "]"
    if isinstance(value, str):
        return _string(value, rng)
    return json.dumps(value)


def _string(text: str, rng: random.Random) -> str:
    # Strings are written as spelled (an escape in one stays an escape); colons may be escaped.
    return '"' + "".join("\\u003a" if c == ":" and rng.random() < 0.5 else c for c in text) + '"'


def _expected_repeats(value: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """The path of the first repeated key of each object the parsed document keeps."""
    found: list[str] = []
    if isinstance(value, _Obj):
        kept: dict[str, Any] = {}
        seen: set[str] = set()
        first = None
        for key, item in value.pairs:
            name = json.loads(f'"{key}"')
            if name in seen and first is None:
                first = name
            seen.add(name)
            kept[name] = item  # the last value wins, as in the parsed document
        if first is not None:
            found.append(format_path((*path, first)))
        for name, item in kept.items():
            found += _expected_repeats(item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _expected_repeats(item, (*path, index))
    return found


def _depth_of(value: Any) -> int:
    if isinstance(value, _Obj):
        return 1 + max((_depth_of(item) for _, item in value.pairs), default=0)
    if isinstance(value, list):
        return 1 + max((_depth_of(item) for item in value), default=0)
    return 0


def test_duplicate_keys() -> None:
    """Objects with repeated keys, colons in strings (escaped or not), up to the depth limit:
    every repeat the parsed document keeps is refused at its path, and text without repeats
    reads as the standard library reads it."""
    rng = _rng("duplicate_keys")
    refused = 0
    for _ in range(_quota("duplicate_keys")):
        tree = _written_tree(rng, rng.randint(1, 5))
        # Sometimes right at the depth limit, past what orjson writes back (the slow check).
        wrap = rng.choice([0, 0, 0, max(0, 256 - _depth_of(tree))])
        text = "[" * wrap + _text_of(tree, rng) + "]" * wrap
        expected = _expected_repeats(tree, (0,) * wrap)
        refusal: BlockConfigError | None = None
        try:
            data = parse_json(text)
        except BlockConfigError as error:
            refusal = error
        if refusal is not None:
            _check_error(refusal)
            where = sorted(str(p).split(": the key ")[0] for p in refusal.problems)
            assert where == sorted(expected), text
            refused += 1
            continue
        assert expected == [], text
        assert data == json.loads(text), text
    assert refused > 0 or _quota("duplicate_keys") < 20
