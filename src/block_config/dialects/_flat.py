"""What the two flat Puzzle dialects share: one object per layer in ``block_configs``, each
overlaid on the family's global config, as their loading code builds a layer
(``get_gpt_oss_config_for_layer`` / ``get_nemotron_h_config_for_layer``: the global config
with that layer's non-null block values set on it).

Each layer is read by the family's own reader from that overlaid config (one layer long), so
a Puzzle layer is counted exactly as the family counts one of its layers; layers with the same
values are read once. A problem the family reader finds in a value the block gave is reported
at the block's key (``$.block_configs[5].num_local_experts``), one in a global key once, at
that key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from block_config._config import BlockConfig
from block_config._converter import MAX_BLOCKS
from block_config._errors import BlockConfigError, Path, Problem, describe, format_path
from block_config._keys import ConfigReader
from block_config._warnings import quiet, warn_unknown_key
from block_config.readers._common import FLAG_KEYS
from block_config.readers._registry import Reader, ReadOptions

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture

__all__ = [
    "FlatLayers",
    "block_items",
    "finish",
    "layer_count",
    "unknown_block_keys",
    "write_scalars",
]

#: Fields of a model compared when a written form is read back (the rest are bookkeeping).
_NOT_COMPARED = frozenset({"dialect", "model_type", "source", "legacy_block_configs"})
_BIASES = ("attention_bias", "mlp_bias")


def block_items(
    config: Mapping[str, Any], key: str, problems: list[Problem]
) -> list[Mapping[str, Any]] | None:
    """The objects of the list at ``key``: None (after a problem) when it is not a list of
    objects or is longer than the limit."""
    raw = config.get(key)
    if not isinstance(raw, list):
        problems.append(
            Problem((key,), f"expected a list of per-layer objects, got {describe(raw)}")
        )
        return None
    if len(raw) > MAX_BLOCKS:
        problems.append(
            Problem((key,), f"has {len(raw)} items, more than the limit of {MAX_BLOCKS}")
        )
        return None
    bad = [
        Problem((key, index), f"expected a per-layer object, got {describe(item)}")
        for index, item in enumerate(raw)
        if not isinstance(item, Mapping)
    ]
    if bad:
        problems.extend(bad)
        return None
    return raw


def layer_count(config: Mapping[str, Any], layers: int, problems: list[Problem]) -> None:
    """``num_hidden_layers``, which may be null or absent (derived from the blocks), must
    otherwise equal the number of blocks."""
    keys = ConfigReader(config)
    given = keys.integer("num_hidden_layers", default=None, minimum=0)
    problems.extend(keys.problems)
    if given is not None and given != layers:
        problems.append(
            Problem(("num_hidden_layers",), f"is {given} but block_configs has {layers} items")
        )


def unknown_block_keys(
    item: Mapping[str, Any],
    known: Iterable[str],
    path: Path,
    options: ReadOptions,
    what: str,
    problems: list[Problem],
) -> None:
    """Report the keys of a block that are not ``known``: an error, or with
    ``unknown_keys="warn"`` a warning each (the key is then not read)."""
    allowed = tuple(known)
    for name in item:
        if name in allowed:
            continue
        message = (
            f"unknown key for {what} (expected {', '.join(allowed)}): block-config reads no "
            "per-layer value it does not model"
        )
        if options.unknown_keys == "warn":
            warn_unknown_key((*path, name), f"{message}; dropped", stacklevel=4)
        else:
            problems.append(Problem((*path, name), message))


@attrs.define
class FlatLayers:
    """Reads the layers of one config, each from the global config with its values set."""

    #: The global config, without the per-layer keys.
    base: Mapping[str, Any]
    reader: Reader
    options: ReadOptions
    problems: list[Problem] = attrs.field(factory=list)
    #: The family fields of the first layer read (the model-wide ones are the same for all).
    fields: dict[str, Any] | None = None
    _cache: dict[bytes, dict[str, Any] | None] = attrs.field(factory=dict)
    _failed: dict[bytes, list[Problem]] = attrs.field(factory=dict)
    _seen: set[Problem] = attrs.field(factory=set)

    def read(
        self, values: Mapping[str, Any], given: Mapping[str, str], path: Path
    ) -> BlockConfig | None:
        """The one block of the overlaid config ``base | values``; None after a problem.

        ``given`` maps each key of ``values`` the block itself wrote to its name there, so
        that a problem in it is told at ``path`` + that name; a problem elsewhere that the
        global values alone do not have is told at ``path``.
        """
        fields, problems = self._read(values)
        if fields is not None:
            return fields["block_configs"][0]  # type: ignore[no-any-return]
        own = {key: value for key, value in values.items() if key not in given}
        _, global_problems = self._read(own) if given else (None, problems)
        for problem in problems:
            head = problem.path[0] if problem.path else None
            if type(head) is str and head in given:
                self.problems.append(
                    Problem((*path, given[head], *problem.path[1:]), problem.message)
                )
            elif problem in global_problems:
                if problem not in self._seen:
                    self._seen.add(problem)
                    self.problems.append(problem)
            else:
                self.problems.append(
                    Problem(
                        path,
                        f"with this block's values, {format_path(problem.path)}: {problem.message}",
                    )
                )
        return None

    def _read(self, values: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """The family reader's fields for ``base | values`` (read once), or its problems."""
        layer = {**self.base, **values}
        key = orjson.dumps(layer, option=orjson.OPT_SORT_KEYS)
        if key in self._cache:
            return self._cache[key], self._failed.get(key, [])
        try:
            fields = self.reader(layer, self.options)
        except BlockConfigError as error:
            self._cache[key] = None
            self._failed[key] = list(error.problems)
            return None, self._failed[key]
        self._cache[key] = fields
        if self.fields is None:
            self.fields = fields
        return fields, []

    def read_globals(self, values: Mapping[str, Any]) -> None:
        """Read the model's fields from ``base | values`` (a model without layers)."""
        _, problems = self._read(values)
        self.problems.extend(problems)

    def merged_fields(self) -> dict[str, Any] | None:
        """The model's fields: the first layer's, each model-wide flag true when a layer's
        read sets it (Nemotron-H's router score-correction bias exists with MoE layers)."""
        if self.fields is None:
            return None
        merged = dict(self.fields)
        del merged["block_configs"]
        for fields in self._cache.values():
            if fields is None:
                continue
            for name in FLAG_KEYS:
                if fields.get(name):
                    merged[name] = True
        return merged


def write_scalars(model: ModelArchitecture, out: dict[str, Any]) -> dict[str, Any]:
    """Write the model-level keys into ``out``; return those added that the family may not
    need (flags its reader sets by itself, biases at its default), for :func:`finish`."""
    before = set(out)
    model._write_scalars(out, None)
    return {
        name: out[name] for name in (*FLAG_KEYS, *_BIASES) if name in out and name not in before
    }


def finish(
    model: ModelArchitecture, out: dict[str, Any], dialect: str, optional: Mapping[str, Any]
) -> None:
    """Leave out the ``optional`` keys when the config reads back the same without them,
    then read it back; every field and layer that differs from ``model`` is refused at its
    path (the dialect cannot express it): nothing is written that reads as another model."""
    for name in optional:
        out.pop(name, None)
    what = f"{dialect} dialect"
    if optional and read_back_differences(model, out, what):
        out.update(optional)
    problems = read_back_differences(model, out, what)
    if problems:
        raise BlockConfigError(problems)


def read_back_differences(
    model: ModelArchitecture, out: dict[str, Any], what: str
) -> list[Problem]:
    """Read the written ``out`` back: each model field and layer that differs from ``model``
    (``what``, the dialect or family written, cannot express it), or why it does not read."""
    from block_config._model import ModelArchitecture

    try:
        with quiet():
            back = ModelArchitecture.from_mapping(out)
    except BlockConfigError as error:
        return [
            Problem(p.path, f"the {what} form would not read back: {p.message}")
            for p in error.problems
        ]
    problems = []
    for name in attrs.fields_dict(ModelArchitecture):
        if name in _NOT_COMPARED or name == "block_configs":
            continue
        if getattr(back, name) != getattr(model, name):
            problems.append(
                Problem(
                    (name,),
                    f"the {what} cannot express {getattr(model, name)!r} "
                    f"(it reads back as {getattr(back, name)!r})",
                )
            )
    for index, (mine, theirs) in enumerate(
        zip(model.block_configs, back.block_configs, strict=True)
    ):
        if mine != theirs:
            problems.append(
                Problem(
                    ("block_configs", index),
                    f"the {what} cannot express this layer: {mine!r} reads back as {theirs!r}",
                )
            )
    return problems
