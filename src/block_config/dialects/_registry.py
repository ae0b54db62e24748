"""The registry of dialects: the ways a ``config.json`` spells a model's layers.

A dialect has a reader (the config in, the keyword arguments of
:class:`~block_config.ModelArchitecture` out, as a family reader has), a writer (a model in,
its ``config.json`` object out), or both; a dialect whose identity is its own ``model_type``
(``gpt_oss_puzzle``, ``nemotron_h_puzzle``) names it, and every config of that type is read
by it. The family readers (:mod:`block_config.readers`) read the configs that are in no
dialect of their own: plain Hugging Face configs ("homogeneous") and their ``per_layer_config``
overrides ("per-layer").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture
    from block_config.readers._registry import Reader

__all__ = [
    "Writer",
    "dialect_for_model_type",
    "reader_of",
    "register_reader",
    "register_writer",
    "writable_dialects",
    "writer_of",
]

#: A writer: a model in, the whole ``config.json`` object out. Raises
#: :class:`~block_config.BlockConfigError` at each layer's path for what the dialect cannot
#: express, and warns (:class:`~block_config.ConversionWarning`) of what a loader must be told.
Writer = Callable[["ModelArchitecture"], dict[str, Any]]

_R = TypeVar("_R")
_W = TypeVar("_W")

_READERS: dict[str, Any] = {}
_WRITERS: dict[str, Any] = {}
_BY_MODEL_TYPE: dict[str, str] = {}


def register_reader(name: str, *, model_types: tuple[str, ...] = ()) -> Callable[[_R], _R]:
    """Register the decorated reader for dialect ``name``; configs whose ``model_type`` is one
    of ``model_types`` are in this dialect whatever else they hold."""

    def decorate(reader: _R) -> _R:
        if name in _READERS:
            raise ValueError(f"dialect {name!r} already has a reader")
        _READERS[name] = reader
        for model_type in model_types:
            if model_type in _BY_MODEL_TYPE:
                raise ValueError(f"model_type {model_type!r} already names a dialect")
            _BY_MODEL_TYPE[model_type] = name
        return reader

    return decorate


def register_writer(name: str) -> Callable[[_W], _W]:
    """Register the decorated :data:`Writer` for dialect ``name``."""

    def decorate(writer: _W) -> _W:
        if name in _WRITERS:
            raise ValueError(f"dialect {name!r} already has a writer")
        _WRITERS[name] = writer
        return writer

    return decorate


def reader_of(name: str) -> Reader | None:
    """The reader registered for dialect ``name``, or None."""
    reader: Reader | None = _READERS.get(name)
    return reader


def writer_of(name: str) -> Writer | None:
    """The writer registered for dialect ``name``, or None."""
    writer: Writer | None = _WRITERS.get(name)
    return writer


def dialect_for_model_type(model_type: object) -> str | None:
    """The dialect a ``model_type`` names (``"gpt_oss_puzzle"``), or None."""
    return _BY_MODEL_TYPE.get(model_type) if type(model_type) is str else None


def writable_dialects() -> tuple[str, ...]:
    """The dialects a model can be written in, sorted."""
    return tuple(sorted(_WRITERS))


def registered() -> Mapping[str, tuple[bool, bool]]:
    """Every dialect with whether it is read and whether it is written."""
    names = sorted({*_READERS, *_WRITERS})
    return {name: (name in _READERS, name in _WRITERS) for name in names}
