"""Candidate libraries: for every layer of a parent model, the blocks it could be replaced by.

A compression search (Puzzle and the like) scores, for each layer of a parent model, a set
of candidate blocks: the parent's own block, the same attention with fewer KV heads, a
linear map or nothing in place of the attention or the FFN, narrower FFNs, fewer experts.
:func:`build_candidates` enumerates them; every :class:`Candidate` carries its exact costs
(the :class:`LayerStats` of its block with the parent's dimensions, as ``show`` counts
them) and a score the user fills in. The file form, read and written by
:class:`CandidateLibrary`::

    {"format_version": 1,
     "layers": [[{"block": {...}, "score": null, "params": ..., "active_params": ...,
                  "weight_bytes": ..., "kv_cache_bytes_per_token": ...,
                  "mamba_state_bytes_per_sequence": ...}, ...], ...]}

One list per parent layer, the parent's own block first. The costs in a file are for
reading only: they are always recounted from the blocks when a library is loaded.

Format version 2 adds what a pipeline measured: ``"stats": {"runtime_ms": 1.25, ...}`` on any
candidate (finite numbers by name), ``"spans"``, candidates that each take the place of
several consecutive parent layers, and ``"non_block"``, the measured stats of what lies
outside the layers (added to the totals)::

    {"format_version": 2,
     "layers": [[{"block": {...}, "score": 0.1, "stats": {"runtime_ms": 1.2}, ...}, ...], ...],
     "spans": [{"parent_layer_indices": [4, 5], "block": {...}, "score": 0.3,
                "stats": {"runtime_ms": 1.1}, ...}, ...],
     "non_block": {"runtime_ms": 2.0}}

A library with none of these is written as version 1, as before.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path as FilePath
from typing import Any

import attrs
import orjson

from block_config._config import AttentionConfig, BlockConfig, FFNConfig
from block_config._converter import (
    LIBRARY_FORMAT_VERSION,
    MAX_BLOCKS,
    check_measured,
    check_score,
    read_candidate_library,
    unstructure_block_configs,
)
from block_config._errors import BlockConfigError, Path, Problem
from block_config._io import atomic_write, read_limited
from block_config._json import parse_json
from block_config._model import ModelArchitecture
from block_config._stats import LayerStats, attention_kind, block_stats, ffn_kind
from block_config.readers._common import check_kv

__all__ = [
    "LIBRARY_FORMAT_VERSION",
    "Candidate",
    "CandidateLibrary",
    "SpanCandidate",
    "build_candidates",
]

#: The costs a candidate carries, in the order the file and the cost table show them.
COST_NAMES = (
    "params",
    "active_params",
    "weight_bytes",
    "kv_cache_bytes_per_token",
    "mamba_state_bytes_per_sequence",
)


def _score(instance: Any, attribute: Any, value: Any) -> None:
    check_score(value, (attribute.name,))


def _measured(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, dict) or any(
        not isinstance(name, str)
        or not name
        or type(number) is not float
        or not math.isfinite(number)
        for name, number in value.items()
    ):
        raise ValueError(f"{attribute.name}: expected finite floats by non-empty name")


@attrs.frozen(kw_only=True)
class Candidate:
    """One block a layer could hold, its exact costs in the parent model, and its score.

    ``stats`` is the block's :class:`LayerStats` with the parent's dimensions (counted once
    per distinct block, so its ``index`` is 0, unless the parent is quantized: a quantized
    model may leave some layers' modules unquantized, and each layer is counted as itself);
    ``score`` a finite float, or None while not yet scored. Built by
    :func:`build_candidates` and :meth:`CandidateLibrary.from_blocks`, which count ``stats``.
    """

    block: BlockConfig
    stats: LayerStats
    score: float | None = attrs.field(default=None, validator=_score)
    #: What a pipeline measured for it (``{"runtime_ms": 1.25}``), finite floats by name.
    measured: dict[str, float] = attrs.field(factory=dict, hash=False, validator=_measured)

    @property
    def params(self) -> int:
        """Parameters of the block (parallel blocks included)."""
        return self.stats.params

    @property
    def active_params(self) -> int:
        """Parameters one token goes through (an MoE's routed share)."""
        return self.stats.active_params

    @property
    def weight_bytes(self) -> int:
        """Bytes of the block's weights at their precisions."""
        return self.stats.weight_bytes

    @property
    def kv_cache_bytes_per_token(self) -> int:
        """KV-cache bytes per token of context."""
        return self.stats.kv_cache_bytes_per_token

    @property
    def mamba_state_bytes_per_sequence(self) -> int:
        """Mamba conv and SSM state bytes per sequence."""
        return self.stats.mamba_state_bytes_per_sequence

    def costs(self) -> dict[str, int]:
        """The costs by name, as the library file writes them."""
        return {name: getattr(self.stats, name) for name in COST_NAMES}


def _span_layers(instance: Any, attribute: Any, value: Any) -> None:
    if (
        len(value) < 2
        or any(type(i) is not int or i < 0 for i in value)
        or list(value) != list(range(value[0], value[0] + len(value)))
    ):
        raise ValueError(f"parent_layer_indices: expected two or more consecutive layers, {value}")


@attrs.frozen(kw_only=True)
class SpanCandidate:
    """One block that could take the place of several consecutive parent layers.

    ``stats`` is the block's :class:`LayerStats` counted at its first parent layer;
    ``measured`` what a pipeline measured for it; ``score`` as for :class:`Candidate`.
    """

    parent_layer_indices: tuple[int, ...] = attrs.field(validator=_span_layers)
    block: BlockConfig
    stats: LayerStats
    score: float | None = attrs.field(default=None, validator=_score)
    measured: dict[str, float] = attrs.field(factory=dict, hash=False, validator=_measured)

    def costs(self) -> dict[str, int]:
        """The costs by name, as the library file writes them."""
        return {name: getattr(self.stats, name) for name in COST_NAMES}


#: A layer's candidate given to :meth:`CandidateLibrary.from_blocks`: a block, or a block with
#: its score, or with its score and measured stats.
CandidateSpec = (
    BlockConfig
    | tuple[BlockConfig, float | None]
    | tuple[BlockConfig, float | None, dict[str, float]]
)
#: A span given to :meth:`CandidateLibrary.from_blocks`: parent layers, block, score, stats.
SpanSpec = tuple[Sequence[int], BlockConfig, float | None, dict[str, float]]


@attrs.frozen(kw_only=True)
class CandidateLibrary:
    """The candidates of every layer of ``parent``: ``layers[i]`` lists those of layer ``i``.

    Every layer has at least one candidate; each candidate's costs are counted with the
    parent's dimensions. Build one with :func:`build_candidates`, :meth:`from_blocks` or
    :meth:`load`; fill the scores with :meth:`with_scores`.
    """

    parent: ModelArchitecture
    layers: tuple[tuple[Candidate, ...], ...]
    #: Candidates for several consecutive parent layers (format version 2).
    spans: tuple[SpanCandidate, ...] = ()
    #: Measured stats of what lies outside the layers, added to the totals (version 2).
    non_block: dict[str, float] = attrs.field(factory=dict, hash=False, validator=_measured)

    @property
    def num_candidates(self) -> int:
        """All candidates of all layers, spans included."""
        return sum(len(layer) for layer in self.layers) + len(self.spans)

    @property
    def format_version(self) -> int:
        """The version :meth:`to_mapping` writes: 2 with spans or measured stats, else 1."""
        measured = any(c.measured for layer in self.layers for c in layer)
        return 2 if self.spans or self.non_block or measured else 1

    # ----------------------------------------------------------------------- building

    @classmethod
    def from_blocks(
        cls,
        parent: ModelArchitecture,
        layers: Sequence[Sequence[CandidateSpec]],
        *,
        spans: Sequence[SpanSpec] = (),
        non_block: dict[str, float] | None = None,
    ) -> CandidateLibrary:
        """A library from blocks, one sequence per parent layer: each item a block, a
        ``(block, score)`` pair or a ``(block, score, measured)`` triple; ``spans`` as
        ``(parent layers, block, score, measured)``; ``non_block`` measured stats.

        Raises :class:`BlockConfigError`, located as in the file (``$.layers[3][1].block...``,
        ``$.spans[0].parent_layer_indices``), when the layer count differs from the parent's,
        a layer is empty, a block does not fit the parent (KV heads that do not divide its
        attention heads, an unknown precision), a score is not a finite float, a measured
        stat not a finite number, or a span not two or more consecutive parent layers.
        """
        problems: list[Problem] = []
        if len(layers) != parent.num_hidden_layers:
            problems.append(
                Problem(
                    ("layers",),
                    f"has {len(layers)} layers but the parent has {parent.num_hidden_layers}",
                )
            )
            raise BlockConfigError(problems)
        if sum(len(layer) for layer in layers) + len(spans) > MAX_BLOCKS:
            raise BlockConfigError.at(
                ("layers",), f"holds more than the limit of {MAX_BLOCKS} candidates"
            )
        built: list[tuple[Candidate, ...]] = []
        # Libraries repeat the same blocks across layers: count each distinct block once.
        counted: dict[tuple[BlockConfig, int], LayerStats] = {}
        for index, layer in enumerate(layers):
            if not layer:
                problems.append(
                    Problem(("layers", index), "holds no candidates; every layer needs one")
                )
                continue
            row = []
            for position, item in enumerate(layer):
                block, score, measured = _unpack(item)
                found = _candidate(
                    block,
                    score,
                    measured,
                    parent,
                    index,
                    ("layers", index, position),
                    problems,
                    counted,
                )
                if found is not None:
                    row.append(
                        Candidate(block=block, stats=found[0], score=found[1], measured=found[2])
                    )
            built.append(tuple(row))
        built_spans = []
        for position, (indices, block, score, measured) in enumerate(spans):
            path: Path = ("spans", position)
            indices = tuple(indices)
            if (
                len(indices) < 2
                or any(type(i) is not int or not 0 <= i < len(layers) for i in indices)
                or list(indices) != list(range(indices[0], indices[0] + len(indices)))
            ):
                problems.append(
                    Problem(
                        (*path, "parent_layer_indices"),
                        f"expected two or more consecutive layers of the {len(layers)}, got "
                        f"{list(indices)}",
                    )
                )
                continue
            found = _candidate(block, score, measured, parent, indices[0], path, problems, counted)
            if found is not None:
                built_spans.append(
                    SpanCandidate(
                        parent_layer_indices=indices,
                        block=block,
                        stats=found[0],
                        score=found[1],
                        measured=found[2],
                    )
                )
        extra: dict[str, float] = {}
        if non_block is not None:
            try:
                extra = check_measured(non_block, ("non_block",))
            except BlockConfigError as error:
                problems.extend(error.problems)
        if problems:
            raise BlockConfigError(problems)
        return cls(parent=parent, layers=tuple(built), spans=tuple(built_spans), non_block=extra)

    @classmethod
    def from_mapping(cls, data: Any, parent: ModelArchitecture) -> CandidateLibrary:
        """Read a library document (see the module's docs) for ``parent``; costs are recounted.

        Every problem is reported at once with its path (``$.layers[3][7].score: ...``).
        """
        document = read_candidate_library(data)
        return cls.from_blocks(
            parent,
            document.layers,
            spans=document.spans,
            non_block=document.non_block,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], parent: ModelArchitecture) -> CandidateLibrary:
        """Read a library file written by :meth:`save` (or by hand) for ``parent``."""
        return cls.from_mapping(parse_json(read_limited(FilePath(path))), parent)

    def with_scores(self, scores: Sequence[Sequence[float | None]]) -> CandidateLibrary:
        """A copy with ``scores[i][j]`` as the score of candidate ``j`` of layer ``i``.

        The shape must match the library's; a score that is not a finite float (or None)
        is a :class:`BlockConfigError` at ``$.layers[i][j].score``.
        """
        problems: list[Problem] = []
        if len(scores) != len(self.layers):
            raise BlockConfigError.at(
                ("layers",),
                f"has {len(scores)} layers of scores but the library has {len(self.layers)}",
            )
        layers = []
        for index, (layer, row) in enumerate(zip(self.layers, scores, strict=True)):
            if len(row) != len(layer):
                problems.append(
                    Problem(
                        ("layers", index),
                        f"has {len(row)} scores but the layer has {len(layer)} candidates",
                    )
                )
                continue
            updated = []
            for position, (candidate, score) in enumerate(zip(layer, row, strict=True)):
                try:
                    checked = check_score(score, ("layers", index, position, "score"))
                except BlockConfigError as error:
                    problems.extend(error.problems)
                    continue
                updated.append(attrs.evolve(candidate, score=checked))
            layers.append(tuple(updated))
        if problems:
            raise BlockConfigError(problems)
        return attrs.evolve(self, layers=tuple(layers))

    # ----------------------------------------------------------------------- writing

    def to_mapping(self) -> dict[str, Any]:
        """The library document: blocks, scores (null when unset) and costs per candidate;
        in version 2 (:attr:`format_version`) also measured stats, spans and ``non_block``."""
        version = self.format_version
        layers = []
        for layer in self.layers:
            blocks = unstructure_block_configs(candidate.block for candidate in layer)
            layers.append(
                [
                    _candidate_entry(
                        block, candidate.score, candidate.costs(), candidate.measured, version
                    )
                    for block, candidate in zip(blocks, layer, strict=True)
                ]
            )
        mapping: dict[str, Any] = {"format_version": version, "layers": layers}
        if version >= 2:
            blocks = unstructure_block_configs(span.block for span in self.spans)
            mapping["spans"] = [
                {
                    "parent_layer_indices": list(span.parent_layer_indices),
                    **_candidate_entry(block, span.score, span.costs(), span.measured, version),
                }
                for block, span in zip(blocks, self.spans, strict=True)
            ]
            mapping["non_block"] = dict(self.non_block)
        return mapping

    def dumps(self) -> str:
        """:meth:`to_mapping` as JSON text, one candidate per line (compact, yet diffable)."""
        mapping = self.to_mapping()
        layers = [
            "[\n" + ",\n".join(orjson.dumps(item).decode() for item in layer) + "\n]"
            for layer in mapping["layers"]
        ]
        text = f'{{"format_version": {mapping["format_version"]}, "layers": [\n' + ",\n".join(
            layers
        )
        if mapping["format_version"] < 2:
            return text + "\n]}\n"
        spans = ",\n".join(orjson.dumps(item).decode() for item in mapping["spans"])
        return (
            text
            + "\n],\n"
            + '"spans": [\n'
            + spans
            + ("\n" if spans else "")
            + "],\n"
            + f'"non_block": {orjson.dumps(mapping["non_block"]).decode()}}}\n'
        )

    def save(self, path: str | os.PathLike[str]) -> FilePath:
        """Write :meth:`dumps` to ``path``, atomically; returns the path written."""
        return atomic_write(path, self.dumps())


def _unpack(item: Any) -> tuple[Any, Any, Any]:
    """A layer's item as ``(block, score, measured)``."""
    if isinstance(item, tuple):
        if len(item) == 2:
            return item[0], item[1], {}
        if len(item) == 3:
            return item
    return item, None, {}


def _candidate_entry(
    block: dict[str, Any],
    score: float | None,
    costs: dict[str, int],
    measured: dict[str, float],
    version: int,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"block": block, "score": score}
    if version >= 2:
        entry["stats"] = dict(measured)
    entry.update(costs)
    return entry


def _candidate(
    block: Any,
    score: Any,
    measured: Any,
    parent: ModelArchitecture,
    index: int,
    path: Path,
    problems: list[Problem],
    counted: dict[tuple[BlockConfig, int], LayerStats],
) -> tuple[LayerStats, float | None, dict[str, float]] | None:
    """The stats, score and measured stats of ``block`` in layer ``index``, or None after
    recording its problems. ``counted`` holds the stats of the blocks met so far."""
    if type(block) is not BlockConfig:
        problems.append(Problem((*path, "block"), "expected a BlockConfig"))
        return None
    before = len(problems)
    checked: float | None = None
    stats: LayerStats | None = None
    values: dict[str, float] = {}
    check_kv(block, parent.num_attention_heads, (*path, "block"), problems)
    try:
        checked = check_score(score, (*path, "score"))
    except BlockConfigError as error:
        problems.extend(error.problems)
    try:
        values = check_measured(measured, (*path, "stats"))
    except BlockConfigError as error:
        problems.extend(error.problems)
    # Without quantization a block costs the same in every layer; with it, a layer's modules
    # may be left unquantized by name, so each layer counts its own.
    key = (block, 0 if parent.quantization is None else index)
    stats = counted.get(key)
    if stats is None:
        try:
            stats = counted[key] = block_stats(block, parent, index=key[1])
        except BlockConfigError as error:
            problems.extend(error.under((*path, "block")).problems)
    if len(problems) > before or stats is None:
        return None
    return stats, checked, values


# --------------------------------------------------------------------------- enumeration


def _positive_ints(name: str, values: Iterable[int]) -> list[int]:
    result = []
    for value in values:
        if type(value) is not int or value < 1:
            raise ValueError(f"{name}: expected ints of at least 1, got {value!r}")
        result.append(value)
    return result


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _fraction_size(fraction: float | Fraction, width: int) -> int:
    """``fraction * width`` rounded to the nearest int (halves up), at least 1."""
    exact = Fraction(fraction) * width
    return max(1, math.floor(exact + Fraction(1, 2)))


def _attention_variants(
    attention: AttentionConfig | None,
    parent: ModelArchitecture,
    kv_heads: Sequence[int],
    linear: bool,
    no_op: bool,
) -> list[AttentionConfig | None]:
    variants: list[AttentionConfig | None] = [attention]
    kind = attention_kind(attention)
    if attention is not None and kind == "gqa":
        variants += [attrs.evolve(attention, num_key_value_heads=kv) for kv in kv_heads]
    if linear and attention is not None and kind in ("gqa", "mamba"):
        # A linear map holds no heads; the class wants a KV count all the same, and the legacy
        # dialect's reading gives such a layer num_attention_heads.
        variants.append(
            AttentionConfig(
                replace_with_linear=True,
                num_key_value_heads=parent.num_attention_heads,
                weights_precision=attention.weights_precision,
            )
        )
    if no_op and kind != "no_op":
        variants.append(AttentionConfig(no_op=True))
    return _unique(variants)


def _ffn_variants(
    ffn: FFNConfig | None,
    parent: ModelArchitecture,
    layer: int,
    ffn_sizes: Sequence[int],
    ffn_fractions: Sequence[float | Fraction],
    linear: bool,
    no_op: bool,
    experts: Sequence[int],
) -> list[FFNConfig | None]:
    variants: list[FFNConfig | None] = [ffn]
    kind = ffn_kind(ffn)
    if ffn is not None and kind == "dense":
        width = ffn.intermediate_size
        assert width is not None  # a dense FFN has one
        sizes = [*ffn_sizes, *(_fraction_size(f, width) for f in ffn_fractions)]
        variants += [attrs.evolve(ffn, intermediate_size=size) for size in sizes]
    if ffn is not None and kind == "moe" and experts:
        moe = ffn.moe
        assert moe is not None
        for count in experts:
            if count < moe.num_experts_per_tok:
                raise ValueError(
                    f"experts: {count} is fewer than the {moe.num_experts_per_tok} experts per "
                    f"token of layer {layer}"
                )
            variants.append(attrs.evolve(ffn, moe=attrs.evolve(moe, num_local_experts=count)))
    if linear and ffn is not None and kind in ("dense", "moe"):
        # As for attention: the legacy dialect's reading gives a linear FFN hidden_size.
        variants.append(
            FFNConfig(
                replace_with_linear=True,
                intermediate_size=parent.hidden_size,
                weights_precision=ffn.weights_precision,
            )
        )
    if no_op and kind != "no_op":
        variants.append(FFNConfig(no_op=True))
    return _unique(variants)


def build_candidates(
    parent: ModelArchitecture,
    *,
    kv_heads: Iterable[int] = (),
    ffn_sizes: Iterable[int] = (),
    ffn_fractions: Iterable[float | Fraction] = (),
    linear: bool = False,
    no_op: bool = False,
    experts: Iterable[int] = (),
) -> CandidateLibrary:
    """Every layer's candidates: each attention variant with each FFN variant, parent's first.

    Attention variants: the parent's own; for a GQA attention, the same with each of
    ``kv_heads`` KV heads (each must divide ``num_attention_heads``); with ``linear``, a
    linear map (GQA and Mamba layers); with ``no_op``, none. FFN variants: the parent's own;
    for a dense FFN, each of ``ffn_sizes`` and each of ``ffn_fractions`` of the parent's
    width (rounded to the nearest int); for an MoE, each of ``experts`` routed experts; with
    ``linear``, a linear map; with ``no_op``, none. Duplicates are dropped; parallel blocks and
    precisions are kept. Bad arguments raise :class:`ValueError`.

    >>> from block_config import ModelArchitecture, build_candidates
    >>> parent = ModelArchitecture(hidden_size=64, num_attention_heads=8, vocab_size=100,
    ...     block_configs=[{"attention": {"num_key_value_heads": 8},
    ...                     "ffn": {"intermediate_size": 256}}] * 2)
    >>> library = build_candidates(parent, kv_heads=[4, 2], no_op=True)
    >>> [len(layer) for layer in library.layers]  # (3 attentions + no-op) x (FFN + no-op)
    [8, 8]
    """
    heads = _positive_ints("kv_heads", kv_heads)
    for kv in heads:
        if parent.num_attention_heads % kv:
            raise ValueError(
                f"kv_heads: {kv} does not divide num_attention_heads ({parent.num_attention_heads})"
            )
    sizes = _positive_ints("ffn_sizes", ffn_sizes)
    fractions: list[float | Fraction] = []
    for fraction in ffn_fractions:
        if type(fraction) not in (float, int, Fraction) or not (
            math.isfinite(fraction) and fraction > 0
        ):
            raise ValueError(f"ffn_fractions: expected finite numbers above 0, got {fraction!r}")
        fractions.append(fraction)
    expert_counts = _positive_ints("experts", experts)
    layers: list[list[BlockConfig]] = []
    for index, block in enumerate(parent.block_configs):
        attentions = _attention_variants(block.attention, parent, heads, linear, no_op)
        ffns = _ffn_variants(
            block.ffn, parent, index, sizes, fractions, linear, no_op, expert_counts
        )
        layers.append(
            _unique(
                attrs.evolve(block, attention=attention, ffn=ffn)
                for attention in attentions
                for ffn in ffns
            )
        )
    return CandidateLibrary.from_blocks(parent, layers)
