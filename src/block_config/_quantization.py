"""How a checkpoint stores its weights: the ``quantization_config`` of a ``config.json``.

:class:`WeightQuantization` says which format the quantized weight matrices are stored in
and which modules stay unquantized; :func:`quantization_from_config` reads the published
``quantization_config`` forms into it, and :meth:`WeightQuantization.to_config` writes one
back. The storage of one quantized matrix of ``rows x cols`` values (``rows`` outputs,
``cols`` inputs), scales included, is :meth:`WeightQuantization.matrix_bytes`:

* ``fp8`` (Hugging Face ``quant_method: "fp8"``, the fine-grained FP8 of DeepSeek-V3 and the
  Qwen3 FP8 checkpoints): one byte per value (``float8_e4m3fn``) plus fp32 scales. With
  ``weight_block_size`` ``[br, bc]`` the scales are ``weight_scale_inv`` of shape
  ``ceil(rows / br) x ceil(cols / bc)`` (transformers' ``FP8Linear``; DeepSeek-V3's
  safetensors index holds one ``weight_scale_inv`` beside each quantized ``weight``, and its
  Hub summary, BF16 3,918,786,560 + F8_E4M3 680,571,043,840 + F32 41,555,600 values, is
  what these rules give; absent, it means 128 x 128 as in transformers); with
  ``weight_block_size`` null, one fp32 scale per matrix. With static activation scales
  (``activation_scheme: "static"``, and every ModelOpt ``FP8`` export) one more fp32
  ``input_scale`` per matrix.
* ``mxfp4`` (``quant_method: "mxfp4"``, gpt-oss): 4-bit E2M1 values packed two per byte plus
  one 8-bit (E8M0) scale per 32 values along the input dimension. gpt-oss-20b stores each
  expert stack as ``gate_up_proj_blocks`` ``[32, 5760, 90, 16]`` uint8 and
  ``gate_up_proj_scales`` ``[32, 5760, 90]`` uint8 for ``h = 2880 = 90 * 32``: bytes
  ``rows * ceil(cols / 32) * (16 + 1)`` (with the bf16 rest, the ``total_size`` of its
  ``model.safetensors.index.json``, 13,761,264,768).
* ``nvfp4`` (ModelOpt ``quant_method: "modelopt"``, ``quant_algo: "NVFP4"``): 4-bit E2M1
  values packed two per byte (``weight``, ``rows x cols/2`` uint8), one ``float8_e4m3fn``
  scale per 16 values along the input dimension (``weight_scale``, ``rows x cols/16``), and
  two fp32 scalars per matrix (``weight_scale_2`` and the static ``input_scale``), the
  tensors vLLM's ModelOpt FP4 linear method loads: bytes
  ``ceil(rows * cols / 2) + rows * ceil(cols / 16) + 8``.

Only weight matrices of linear layers are quantized. Embeddings, norms, biases, convolution
weights, Mamba's per-head vectors, attention sinks and routers are stored at the checkpoint
dtype, as are the modules that ``modules_to_not_convert`` (``fp8``, ``mxfp4``) or
``exclude_modules`` / ``ignore`` (ModelOpt) name. A name there is matched as transformers'
``should_convert_module`` does: a regular expression matched at the start of the module's
full name, or a suffix of it (``"lm_head"``, ``"model.layers.*.self_attn"``).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from block_config._errors import BlockConfigError, Path, Problem, describe
from block_config._keys import check_int

__all__ = ["QuantizationMethod", "WeightQuantization", "quantization_from_config"]

#: The weight formats :class:`WeightQuantization` describes.
QuantizationMethod = Literal["fp8", "mxfp4", "nvfp4"]
_METHODS: tuple[str, ...] = typing.get_args(QuantizationMethod)

#: Bits of one stored value, per method.
_VALUE_BITS = {"fp8": 8, "mxfp4": 4, "nvfp4": 4}
#: Values sharing one scale along the input dimension (microscaled formats), per method.
_GROUP_SIZE = {"mxfp4": 32, "nvfp4": 16}
#: ``quant_method`` values :func:`quantization_from_config` reads.
_READ_METHODS = ("fp8", "mxfp4", "modelopt")
#: ``weight_block_size`` of a ``quant_method: "fp8"`` config that does not give one.
_DEFAULT_FP8_BLOCK = (128, 128)
_MODELOPT_ALGOS = ("NVFP4", "FP8")


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    given: Any = value
    if isinstance(given, (list, tuple)):
        return tuple(given)
    return given  # type: ignore[no-any-return]  # reported by the checks


def _block_size(value: Iterable[int] | None) -> tuple[int, int] | None:
    given: Any = value
    if isinstance(given, list):
        return tuple(given)  # length checked by the checks
    return given  # type: ignore[no-any-return]


@attrs.frozen(kw_only=True)
class WeightQuantization:
    """The storage format of a checkpoint's quantized weight matrices (see the module docs).

    ``method`` is ``"fp8"``, ``"mxfp4"`` or ``"nvfp4"``. ``weight_block_size`` (``fp8`` only)
    is the ``[rows, cols]`` block sharing one fp32 scale; None means one scale per matrix.
    ``input_scales``: whether each quantized matrix also stores an fp32 activation scale
    (None: the format's own answer, False for ``fp8`` and ``mxfp4``, True for ``nvfp4``,
    whose ModelOpt exports always hold one). ``unquantized_modules``: the module names or
    patterns kept at the checkpoint dtype, as the config lists them.

    >>> q = WeightQuantization(method="fp8", weight_block_size=(128, 128))
    >>> q.matrix_bytes(256, 300)  # 76,800 fp8 values + 2 x 3 fp32 block scales
    76824
    """

    method: QuantizationMethod
    weight_block_size: tuple[int, int] | None = attrs.field(default=None, converter=_block_size)
    input_scales: bool | None = None
    unquantized_modules: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)

    def __attrs_post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise BlockConfigError(problems)
        if self.input_scales is None:
            object.__setattr__(self, "input_scales", self.method == "nvfp4")

    @property
    def value_bits(self) -> int:
        """Bits of one stored weight value: 8 for ``fp8``, 4 for ``mxfp4`` and ``nvfp4``."""
        return _VALUE_BITS[self.method]

    @property
    def group_size(self) -> int | None:
        """Values per scale along the input dimension: 32 (``mxfp4``), 16 (``nvfp4``), None."""
        return _GROUP_SIZE.get(self.method)

    def matrix_bytes(self, rows: int, cols: int) -> int:
        """Bytes one quantized ``rows x cols`` weight matrix takes, its scales included."""
        scalars = 4 if self.input_scales else 0
        if self.method == "fp8":
            block = self.weight_block_size
            scales = 1 if block is None else -(-rows // block[0]) * -(-cols // block[1])
            return rows * cols + 4 * scales + scalars
        groups = rows * -(-cols // _GROUP_SIZE[self.method])
        if self.method == "mxfp4":
            return -(-rows * cols // 2) + groups + scalars
        return -(-rows * cols // 2) + groups + 4 + scalars  # nvfp4: + weight_scale_2

    def is_quantized(self, names: Iterable[str]) -> bool:
        """Whether a module whose full name is any of ``names`` is quantized (not excluded).

        Several names: the spellings the families give the same module.
        """
        for name in names:
            for pattern in self.unquantized_modules:
                if name.endswith(pattern) or _compiled(pattern).match(name):
                    return False
        return True

    def to_config(self) -> dict[str, Any]:
        """The ``quantization_config`` object that reads back as this one."""
        modules = list(self.unquantized_modules)
        if self.method == "nvfp4":
            return {
                "quant_method": "modelopt",
                "quant_algo": "NVFP4",
                "group_size": _GROUP_SIZE["nvfp4"],
                "exclude_modules": modules,
            }
        out: dict[str, Any] = {"quant_method": self.method}
        if self.method == "fp8":
            out["activation_scheme"] = "static" if self.input_scales else "dynamic"
            block = self.weight_block_size
            out["weight_block_size"] = None if block is None else list(block)
        if modules:
            out["modules_to_not_convert"] = modules
        return out


def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _problems(q: WeightQuantization) -> list[Problem]:
    problems: list[Problem] = []
    if q.method not in _METHODS:
        problems.append(
            Problem(("method",), f"expected one of {_METHODS}, got {describe(q.method)}")
        )
    block: Any = q.weight_block_size
    if block is not None:
        if type(block) is not tuple or len(block) != 2:
            problems.append(
                Problem(("weight_block_size",), f"expected 2 ints or null, got {describe(block)}")
            )
        else:
            for index, size in enumerate(block):
                check_int(size, ("weight_block_size", index), problems)
            if q.method != "fp8":
                problems.append(Problem(("weight_block_size",), "only fp8 has block scales"))
    if q.input_scales is not None and q.input_scales is not True and q.input_scales is not False:
        problems.append(
            Problem(("input_scales",), f"expected bool or null, got {describe(q.input_scales)}")
        )
    elif q.method == "mxfp4" and q.input_scales:
        problems.append(Problem(("input_scales",), "mxfp4 stores no activation scales"))
    elif q.method == "nvfp4" and q.input_scales is False:
        problems.append(Problem(("input_scales",), "nvfp4 exports store activation scales"))
    modules: Any = q.unquantized_modules
    if type(modules) is not tuple:
        problems.append(
            Problem(("unquantized_modules",), f"expected a list of str, got {describe(modules)}")
        )
    else:
        for index, pattern in enumerate(modules):
            _check_pattern(pattern, ("unquantized_modules", index), problems)
    return problems


def _check_pattern(pattern: Any, path: Path, problems: list[Problem]) -> None:
    if type(pattern) is not str:
        problems.append(Problem(path, f"expected str, got {describe(pattern)}"))
        return
    try:
        _compiled(pattern)
    except re.error as error:
        problems.append(Problem(path, f"not a regular expression: {error}"))


class _Reader:
    """Strict reading of one ``quantization_config`` object, problems located under it."""

    def __init__(self, config: Mapping[str, Any], path: Path) -> None:
        self.config = config
        self.path = path
        self.problems: list[Problem] = []

    def string(self, key: str, choices: tuple[str, ...] | None = None) -> str | None:
        value = self.config.get(key)
        if value is None:
            return None
        if type(value) is not str:
            self.problems.append(Problem((*self.path, key), f"expected str, got {describe(value)}"))
            return None
        if choices is not None and value not in choices:
            self.problems.append(
                Problem((*self.path, key), f"unsupported {value!r}; supported: {choices}")
            )
            return None
        return value

    def patterns(self, *keys: str) -> list[str]:
        out: list[str] = []
        for key in keys:
            value = self.config.get(key)
            if value is None:
                continue
            if not isinstance(value, list):
                self.problems.append(
                    Problem((*self.path, key), f"expected a list of str, got {describe(value)}")
                )
                continue
            for index, pattern in enumerate(value):
                before = len(self.problems)
                _check_pattern(pattern, (*self.path, key, index), self.problems)
                if len(self.problems) == before and pattern not in out:
                    out.append(pattern)
        return out


def quantization_from_config(
    config: Any, path: Path = ("quantization_config",)
) -> WeightQuantization:
    """Read a ``quantization_config`` object (``config`` is that object, found at ``path``).

    Reads ``quant_method`` ``"fp8"`` (``weight_block_size``: 128 x 128 when absent, as in
    transformers' ``FineGrainedFP8Config``, null for one scale per matrix;
    ``activation_scheme``; ``modules_to_not_convert``), ``"mxfp4"``
    (``modules_to_not_convert``) and ``"modelopt"`` with ``quant_algo`` ``"NVFP4"``
    (``group_size`` 16 when given; ``exclude_modules`` and ``ignore``) or ``"FP8"``
    (per-tensor fp8 with static activation scales). Anything else, including a method this
    library cannot count, is a :class:`BlockConfigError` located in the object
    (``$.quantization_config.quant_method``); nothing is ignored silently.

    >>> quantization_from_config({"quant_method": "mxfp4", "modules_to_not_convert": ["lm_head"]})
    WeightQuantization(method='mxfp4', weight_block_size=None, input_scales=False, \
unquantized_modules=('lm_head',))
    """
    if not isinstance(config, Mapping):
        raise BlockConfigError.at(path, f"expected an object, got {describe(config)}")
    reader = _Reader(config, path)
    if "quant_method" not in config:
        raise BlockConfigError.at((*path, "quant_method"), "missing required key")
    method = reader.string("quant_method", _READ_METHODS)
    if method is None:
        if not reader.problems:
            reader.problems.append(Problem((*path, "quant_method"), "must not be null"))
        raise BlockConfigError(reader.problems)
    fields: dict[str, Any] = {}
    if method == "fp8":
        fields["method"] = "fp8"
        # transformers' FineGrainedFP8Config: an absent weight_block_size means 128 x 128
        # blocks; an explicit null, one scale per matrix.
        block = config.get("weight_block_size", list(_DEFAULT_FP8_BLOCK))
        if block is not None:
            if not isinstance(block, list) or len(block) != 2:
                reader.problems.append(
                    Problem((*path, "weight_block_size"), f"expected 2 ints, got {describe(block)}")
                )
            elif all(
                check_int(n, (*path, "weight_block_size", i), reader.problems)
                for i, n in enumerate(block)
            ):
                fields["weight_block_size"] = tuple(block)
        scheme = reader.string("activation_scheme", ("dynamic", "static"))
        fields["input_scales"] = scheme == "static"
        fields["unquantized_modules"] = reader.patterns("modules_to_not_convert")
    elif method == "mxfp4":
        fields["method"] = "mxfp4"
        fields["unquantized_modules"] = reader.patterns("modules_to_not_convert")
    else:
        if "quant_algo" not in config:
            reader.problems.append(Problem((*path, "quant_algo"), "missing required key"))
        algo = reader.string("quant_algo", _MODELOPT_ALGOS)
        if algo == "NVFP4":
            fields["method"] = "nvfp4"
            group = config.get("group_size")
            if group is not None and (type(group) is not int or group != _GROUP_SIZE["nvfp4"]):
                reader.problems.append(
                    Problem((*path, "group_size"), f"NVFP4 groups 16 values, got {describe(group)}")
                )
        else:
            fields["method"] = "fp8"
            fields["input_scales"] = True
        fields["unquantized_modules"] = reader.patterns("exclude_modules", "ignore")
    if reader.problems:
        raise BlockConfigError(reader.problems)
    return WeightQuantization(**fields)
