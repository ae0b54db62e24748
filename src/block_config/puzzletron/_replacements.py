"""The replacements the MIP chooses from, read from the reference pipeline's files.

Two sources, as ``run_puzzle`` takes them:

* ``--gathered_metrics_path``: an object of ``replacement_<i>`` entries, each with
  ``parent_layer_indices``, ``block_config`` (a block in its dataclass dict form),
  ``metrics`` and any other keys (``stats`` is recomputed per scenario); the
  ``replacement_metrics_and_stats.json`` a run writes is such a file.
* ``--single_block_replacement_validation_dir``: the ``*solution*.json`` files of the
  validation of single replacements (``puzzle_solution.single_sequence_replacement`` with
  ``parent_layer_indices`` and one ``child_block_configs`` entry, or
  ``puzzle_solution.single_block_replacement`` with ``block_idx`` and ``block_config``), each
  metric an ``{"avg": ...}`` object; and ``teacher.json``, whose ``args.teacher_dir`` holds
  the teacher's ``config.json`` (read with this library's own loader: one teacher replacement
  per layer) and whose optional ``args.replacement_library_path`` names the
  ``replacement_library.json`` the teacher's ``layer_replacement`` entries come from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import attrs

from block_config._config import BlockConfig
from block_config._converter import structure_block_configs
from block_config._errors import BlockConfigError, describe
from block_config._errors import Path as ProblemPath
from block_config._model import ModelArchitecture
from block_config.puzzletron._files import PuzzleInputError, is_number, read_json

__all__ = [
    "Replacement",
    "Teacher",
    "read_gathered_metrics",
    "read_replacement_library",
    "read_validation_dir",
]


@attrs.frozen(kw_only=True, eq=False)
class Replacement:
    """One replacement: the parent layers it takes the place of, its block, and its entry as
    the reference writes it (``block_config`` in dataclass dict form, other keys kept)."""

    id: str
    parent_layer_indices: tuple[int, ...]
    block: BlockConfig
    data: dict[str, Any]
    source: str
    path: ProblemPath


@attrs.frozen(kw_only=True, eq=False)
class Teacher:
    """The parent model as ``teacher.json`` names it."""

    model: ModelArchitecture
    config_path: Path


def block_dict(block: BlockConfig) -> dict[str, Any]:
    """A block in the reference's dataclass dict form (what ``dataclasses.asdict`` gives)."""
    return dataclasses.asdict(block)


def structure_block(data: Any, source: str, path: ProblemPath) -> BlockConfig:
    """One block from its dict form, every problem located under ``path``."""
    if not isinstance(data, dict):
        raise PuzzleInputError.one(source, path, f"expected an object, got {describe(data)}")
    try:
        (block,) = structure_block_configs([data])
    except BlockConfigError as error:
        raise PuzzleInputError(
            source, [attrs.evolve(p, path=(*path, *p.path[1:])) for p in error.problems]
        ) from None
    return block


def _layers(value: Any, source: str, path: ProblemPath) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or any(type(index) is not int or index < 0 for index in value)
        or len(set(value)) != len(value)
    ):
        raise PuzzleInputError.one(
            source, path, f"expected a non-empty list of distinct ints >= 0, got {value!r}"
        )
    return tuple(value)


def replacement_from_entry(
    replacement_id: str, entry: Any, source: str, path: ProblemPath
) -> Replacement:
    """A gathered-metrics entry as a :class:`Replacement` (its ``stats`` are dropped: they
    are recomputed for every scenario)."""
    if not isinstance(entry, dict):
        raise PuzzleInputError.one(source, path, f"expected an object, got {describe(entry)}")
    for key in ("parent_layer_indices", "block_config"):
        if key not in entry:
            raise PuzzleInputError.one(source, path, f"has no {key!r}")
    layers = _layers(entry["parent_layer_indices"], source, (*path, "parent_layer_indices"))
    block = structure_block(entry["block_config"], source, (*path, "block_config"))
    data = dict(entry)
    data["block_config"] = block_dict(block)
    data.pop("child_block_configs", None)  # written again from block_config
    return Replacement(
        id=replacement_id,
        parent_layer_indices=layers,
        block=block,
        data=data,
        source=source,
        path=path,
    )


def read_gathered_metrics(path: Path, source: str | None = None) -> dict[str, Replacement]:
    """The replacements of a gathered-metrics file (``replacement_<i>`` entries)."""
    name = source or str(path)
    data = read_json(path, name)
    return replacements_from_mapping(data, name)


def replacements_from_mapping(data: Any, source: str) -> dict[str, Replacement]:
    """The replacements of a gathered-metrics document (or of ``--metric_overrides``)."""
    if not isinstance(data, dict) or not data:
        raise PuzzleInputError.one(
            source, (), f"expected an object of replacements, got {describe(data)}"
        )
    return {
        str(key): replacement_from_entry(str(key), entry, source, (str(key),))
        for key, entry in data.items()
    }


def average_metrics(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``{name: avg, "one_minus_" + name: 1 - avg}`` for every ``{name: {"avg": ...}}``."""
    metrics: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, dict) and "avg" in value:
            average = value["avg"]
            if not is_number(average):
                raise PuzzleInputError.one(
                    source, (name, "avg"), f"expected a number, got {describe(average)}"
                )
            metrics[name] = average
            metrics[f"one_minus_{name}"] = 1 - average
    return metrics


def _layer_replacement(data: Any, source: str, path: ProblemPath) -> dict[str, Any]:
    """A layer replacement as the reference parses it: blocks and weight paths normalised."""
    if isinstance(data, dict) and "layer_replacement" in data:
        data = data["layer_replacement"]
        path = (*path, "layer_replacement")
    if not isinstance(data, dict):
        raise PuzzleInputError.one(source, path, f"expected an object, got {describe(data)}")
    result = dict(data)
    children = data.get("child_block_configs")
    if not isinstance(children, list):
        raise PuzzleInputError.one(
            source, (*path, "child_block_configs"), f"expected a list, got {describe(children)}"
        )
    result["child_block_configs"] = [
        block_dict(structure_block(child, source, (*path, "child_block_configs", i)))
        for i, child in enumerate(children)
    ]
    paths = data.get("weight_paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise PuzzleInputError.one(source, (*path, "weight_paths"), "expected a list of strings")
    result["weight_paths"] = [str(PurePath(p)) for p in paths]
    return result


def _solution_file(path: Path) -> tuple[BlockConfig, tuple[int, ...], dict[str, Any]]:
    source = str(path)
    raw = read_json(path)
    solution = raw.get("puzzle_solution") if isinstance(raw, dict) else None
    if not isinstance(solution, dict):
        raise PuzzleInputError.one(source, (), "has no 'puzzle_solution' object")
    metrics = average_metrics(raw, source)
    if "single_sequence_replacement" in solution:
        where: ProblemPath = ("puzzle_solution", "single_sequence_replacement")
        single = solution["single_sequence_replacement"]
        if not isinstance(single, dict):
            raise PuzzleInputError.one(source, where, "expected an object")
        children = single.get("child_block_configs")
        if not isinstance(children, list) or len(children) != 1:
            raise PuzzleInputError.one(
                source,
                (*where, "child_block_configs"),
                "expected a list of exactly one block (a replacement by several blocks is "
                "not supported, as in the reference)",
            )
        block = structure_block(children[0], source, (*where, "child_block_configs", 0))
        layers = _layers(
            single.get("parent_layer_indices"), source, (*where, "parent_layer_indices")
        )
        entry = {
            "block_config": block_dict(block),
            "parent_layer_indices": list(layers),
            "metrics": metrics,
            "layer_replacement": _layer_replacement(single, source, where),
            "is_teacher": False,
        }
        return block, layers, entry
    if "single_block_replacement" in solution:
        where = ("puzzle_solution", "single_block_replacement")
        single = solution["single_block_replacement"]
        if not isinstance(single, dict):
            raise PuzzleInputError.one(source, where, "expected an object")
        block = structure_block(single.get("block_config"), source, (*where, "block_config"))
        index = single.get("block_idx")
        if type(index) is not int or index < 0:
            raise PuzzleInputError.one(
                source, (*where, "block_idx"), f"expected an int >= 0, got {describe(index)}"
            )
        entry = {
            "block_config": block_dict(block),
            "block_idx": index,
            "parent_layer_indices": [index],
            "metrics": metrics,
            "is_teacher": False,
        }
        return block, (index,), entry
    raise PuzzleInputError.one(
        source,
        ("puzzle_solution",),
        "has neither 'single_sequence_replacement' nor 'single_block_replacement'",
    )


def read_replacement_library(path: Path, source: str | None = None) -> list[dict[str, Any]]:
    """The layer replacements of a ``replacement_library.json``, blocks in dict form."""
    name = source or str(path)
    data = read_json(path, name)
    if not isinstance(data, list):
        raise PuzzleInputError.one(name, (), f"expected a list, got {describe(data)}")
    result = []
    for index, item in enumerate(data):
        entry = _layer_replacement(item, name, (index,))
        _layers(entry.get("parent_layer_indices"), name, (index, "parent_layer_indices"))
        result.append(entry)
    return result


def _is_teacher(entry: Mapping[str, Any], teacher: ModelArchitecture, folder: Path) -> bool:
    """Whether a layer replacement is the teacher's own block, from the teacher's weights."""
    if not all(PurePath(p).is_relative_to(folder) for p in entry["weight_paths"]):
        return False
    layers = entry["parent_layer_indices"]
    children = entry["child_block_configs"]
    if len(layers) != 1 or len(children) != 1 or layers[0] >= len(teacher.block_configs):
        return False
    own = teacher.block_configs[layers[0]]
    child = structure_block_configs([children[0]])[0]
    if child == own:
        return True
    parallel = child.parallel_blocks
    return (
        parallel is not None
        and len(parallel) == 1
        and parallel[0].attention == own.attention
        and parallel[0].ffn == own.ffn
    )


def read_teacher(folder: Path) -> tuple[dict[str, Any], Teacher, dict[int, dict[str, Any]] | None]:
    """``teacher.json`` of a validation folder: its metrics file, the teacher model, and the
    teacher's layer replacements by layer when it names a replacement library."""
    path = folder / "teacher.json"
    source = str(path)
    raw = read_json(path)
    args = raw.get("args") if isinstance(raw, dict) else None
    if not isinstance(args, dict) or not isinstance(args.get("teacher_dir"), str):
        raise PuzzleInputError.one(source, ("args", "teacher_dir"), "expected a string")
    teacher_dir = Path(args["teacher_dir"]).resolve()
    try:
        model = ModelArchitecture.load(teacher_dir)
    except BlockConfigError as error:
        raise PuzzleInputError(str(teacher_dir / "config.json"), error.problems) from None
    except OSError as error:
        raise PuzzleInputError.one(
            source,
            ("args", "teacher_dir"),
            f"{teacher_dir}: {(error.strerror or str(error)).lower()}",
        ) from None
    teacher = Teacher(model=model, config_path=teacher_dir / "config.json")
    library_path = args.get("replacement_library_path")
    if library_path is None:
        return raw, teacher, None
    if not isinstance(library_path, str):
        raise PuzzleInputError.one(
            source, ("args", "replacement_library_path"), "expected a string or null"
        )
    own: dict[int, dict[str, Any]] = {}
    for entry in read_replacement_library(Path(library_path)):
        if _is_teacher(entry, model, teacher_dir):
            own[entry["parent_layer_indices"][0]] = entry
    missing = [i for i in range(len(model.block_configs)) if i not in own]
    if missing:
        raise PuzzleInputError.one(
            library_path,
            (),
            f"holds no teacher replacement (the teacher's own block from {teacher_dir}) for "
            f"parent layers {missing}",
        )
    return raw, teacher, own


def read_validation_dir(folder: Path) -> tuple[dict[str, Replacement], Teacher]:
    """The replacements of a validation folder (its ``*solution*.json`` files in name order,
    then one teacher replacement per layer), numbered ``replacement_<i>``, and the teacher."""
    files = sorted(folder.glob("*solution*.json"))
    if not files:
        raise PuzzleInputError.one(str(folder), (), "holds no *solution*.json files")
    measured = [(_solution_file(path), str(path)) for path in files]
    names = tuple(measured[0][0][2]["metrics"])
    raw, teacher, own = read_teacher(folder)
    averages = average_metrics(raw, str(folder / "teacher.json"))
    entries: list[tuple[BlockConfig, tuple[int, ...], dict[str, Any], str]] = [
        (block, layers, entry, source) for (block, layers, entry), source in measured
    ]
    for index, block in enumerate(teacher.model.block_configs):
        entry = {
            "block_config": block_dict(block),
            "block_idx": index,
            "parent_layer_indices": [index],
            "metrics": {**dict.fromkeys(names, 0.0), **averages},
        }
        if own is not None:
            entry["layer_replacement"] = own[index]
        entry["is_teacher"] = True
        entries.append((block, (index,), entry, str(teacher.config_path)))
    replacements = {}
    for number, (block, layers, entry, source) in enumerate(entries):
        replacement_id = f"replacement_{number}"
        replacements[replacement_id] = Replacement(
            id=replacement_id,
            parent_layer_indices=layers,
            block=block,
            data=entry,
            source=source,
            path=(),
        )
    return replacements, teacher
