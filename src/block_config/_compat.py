"""What code written for the original dataclass implementation relies on, on the attrs classes.

The original classes were stdlib dataclasses, and the pipelines that use them lean on that:
``dataclasses.is_dataclass`` decides whether an object is turned into a dict with
``dataclasses.asdict`` (JSON encoders, ``save_pretrained``) or merged with ``dataclasses.replace``
(config overrides); field types are read from ``dataclasses.fields``; frozen errors are caught as
``dataclasses.FrozenInstanceError``. The classes here stay frozen, slotted attrs classes with
every check, and carry that protocol too, generated once per class from its attrs fields:

* ``__dataclass_fields__``: real :class:`dataclasses.Field` objects, in field order, with the
  resolved types (``Optional[...]`` spelt as the original spelt it) and the defaults. Read on
  the class it lists every field; read on an instance (what ``dataclasses.fields(obj)``,
  ``asdict`` and ``astuple`` do) it leaves out the fields marked ``omit_if_none`` in their
  metadata while they are None, as ``to_dict`` does: the optional fields added after the
  original classes, so that ``asdict`` of an object that does not use them is the original's
  dict, key for key. ``dataclasses.replace`` and ``attrs.evolve`` still accept them;
* ``__dataclass_params__``: frozen, keyword-only, compared by value;
* assignment and deletion raise :class:`~block_config.FrozenInstanceError`, which is both
  attrs' and the dataclasses' ``FrozenInstanceError``.

Both attributes live on the class (no per-instance memory; the instance view is computed when
asked). ``dataclasses.replace`` and
``attrs.evolve`` call the class, so the copy they return is checked like any new object.

The module-level helpers the original module offered and its users import,
:func:`_is_dataclass_type` and :func:`_get_dataclass_type`, are here too.
"""

from __future__ import annotations

import dataclasses
import threading
import types
import typing
from typing import Any, NoReturn

import attrs
from attr import _make as _attrs_make

from block_config._errors import FrozenInstanceError

__all__ = [
    "DataclassAttribute",
    "_get_dataclass_type",
    "_is_dataclass_type",
    "dataclass_protocol",
    "install_dataclass_protocol",
]

FIELDS = "__dataclass_fields__"
PARAMS = "__dataclass_params__"

_LOCK = threading.Lock()


def _reference_type(tp: Any) -> Any:
    """``X | None`` as ``typing.Optional[X]``, the spelling the original annotations used.

    The two are equal (``==``); the ``typing`` form is the one code written against the
    original inspects with ``typing.get_origin(tp) is typing.Union`` before Python 3.14.
    """
    if isinstance(tp, types.UnionType):
        return typing.Union[typing.get_args(tp)]  # noqa: UP007
    return tp


def _dataclass_field(attribute: attrs.Attribute[Any]) -> tuple[str, Any, Any]:
    default: Any = attribute.default
    options: dict[str, Any] = {
        "init": attribute.init,
        "repr": bool(attribute.repr),
        "compare": attribute.eq,
        "hash": attribute.hash,
        "metadata": dict(attribute.metadata) or None,
        "kw_only": True,
    }
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]  # a class at runtime
        if default.takes_self:
            raise TypeError(f"{attribute.name}: a default that takes self has no dataclass form")
        spec = dataclasses.field(default_factory=default.factory, **options)
    elif default is attrs.NOTHING:
        spec = dataclasses.field(**options)
    else:
        spec = dataclasses.field(default=default, **options)
    return attribute.name, _reference_type(attribute.type), spec


def dataclass_protocol(cls: type[Any]) -> tuple[dict[str, dataclasses.Field[Any]], Any]:
    """``__dataclass_fields__`` and ``__dataclass_params__`` for the attrs class ``cls``.

    The fields are built by :func:`dataclasses.make_dataclass` from ``cls``'s attrs fields
    (types resolved in ``cls``'s module), so they are exactly what the dataclasses module
    itself makes; the throwaway class it builds around them is dropped.
    """
    attrs.resolve_types(cls)
    specs = [_dataclass_field(attribute) for attribute in attrs.fields(cls)]
    shadow: Any = dataclasses.make_dataclass(
        cls.__name__, specs, kw_only=True, frozen=True, eq=True, order=False, slots=True
    )
    return dict(shadow.__dataclass_fields__), shadow.__dataclass_params__


def _frozen_setattr(self: Any, name: str, value: Any) -> NoReturn:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> NoReturn:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def install_dataclass_protocol(cls: type[Any]) -> None:
    """Give the attrs class ``cls`` the dataclass protocol and the two-faced frozen error.

    Idempotent. A class that defines its own ``__setattr__``/``__delattr__`` keeps them; only
    attrs' frozen ones are replaced.
    """
    with _LOCK:
        if isinstance(cls.__dict__.get(FIELDS), (dict, _FieldsView)):
            return
        fields, params = dataclass_protocol(cls)
        # attrs' frozen __setattr__ raises attrs' error only; this one is also the dataclasses'.
        target: Any = cls
        if target.__setattr__ is _attrs_make._frozen_setattrs:
            target.__setattr__ = _frozen_setattr
        if target.__delattr__ is _attrs_make._frozen_delattrs:
            target.__delattr__ = _frozen_delattr
        omitted = tuple(
            attribute.name
            for attribute in attrs.fields(cls)
            if attribute.metadata.get("omit_if_none")
        )
        setattr(cls, PARAMS, params)
        # last: its presence says the class is done
        setattr(cls, FIELDS, _FieldsView(fields, omitted) if omitted else fields)


class _FieldsView:
    """``__dataclass_fields__`` of a class with ``omit_if_none`` fields.

    On the class: every field. On an instance: the ``omit_if_none`` fields only when they are
    not None (the same dict as on the class when none of them is None).
    """

    __slots__ = ("fields", "omitted")

    def __init__(self, fields: dict[str, dataclasses.Field[Any]], omitted: tuple[str, ...]):
        self.fields = fields
        self.omitted = omitted

    def __get__(self, obj: object, cls: type[Any] | None = None) -> dict[str, Any]:
        if obj is None:
            return self.fields
        unset = {name for name in self.omitted if getattr(obj, name) is None}
        if not unset:
            return self.fields
        return {name: spec for name, spec in self.fields.items() if name not in unset}


_BASE_SHADOW: Any = dataclasses.make_dataclass(
    "BaseDataclass", [], kw_only=True, frozen=True, eq=True, order=False, slots=True
)
_BASE_PARAMS: Any = _BASE_SHADOW.__dataclass_params__


class DataclassAttribute:
    """``__dataclass_fields__`` or ``__dataclass_params__`` of a class not yet given them.

    Every subclass of the base class gets these two when it is created (its own, so that it
    never shows its parent's fields), because its field types may not be resolvable yet. The
    library's own classes then get the protocol when their module is imported; any other
    subclass gets it the first time anything asks (``dataclasses.is_dataclass`` included), and
    from then on holds it as plain class attributes. The base class itself, which has no
    fields, reads as a dataclass without any, as the original base class was.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, cls: type[Any] | None = None) -> Any:
        if cls is None:
            cls = type(obj)
        if not attrs.has(cls):
            return {} if self.name == FIELDS else _BASE_PARAMS
        install_dataclass_protocol(cls)
        installed = cls.__dict__[self.name]
        if isinstance(installed, _FieldsView):
            return installed.__get__(obj, cls)
        return installed


def _get_dataclass_type(tp: Any) -> Any:
    """The dataclass in a field type: ``tp`` itself, or the first dataclass of a union.

    As the original module's helper: ``Optional[AttentionConfig]``, ``Union[..]`` and
    ``AttentionConfig | None`` give ``AttentionConfig``; a dataclass (or an instance of one,
    which ``dataclasses.is_dataclass`` accepts too) is returned as it is; anything else raises
    ``ValueError("Not a dataclass")``.
    """
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        for member in typing.get_args(tp):
            if dataclasses.is_dataclass(member):
                return member
    if dataclasses.is_dataclass(tp):
        return tp
    raise ValueError("Not a dataclass")


def _is_dataclass_type(tp: Any) -> bool:
    """Whether :func:`_get_dataclass_type` finds a dataclass in ``tp`` (``Optional``, unions)."""
    try:
        _get_dataclass_type(tp)
    except Exception:  # the original catches everything, and so answers False for anything odd
        return False
    return True
