"""The registry of readers, keyed by ``model_type``, and the choice of a reader for a config.

A reader turns one ``config.json`` object into the keyword arguments of
:class:`~block_config.ModelArchitecture`; the model's constructor then checks the rules
between fields, once. Which reader reads a config:

1. ``dialect="native"`` / ``"legacy"``, or a config with ``block_configs``: the native or the
   legacy Puzzle dialect (by the items' keys, then ``model_type == "nemotron-nas"``),
   whatever the ``model_type``.
2. Otherwise the reader registered for ``family`` if given, else for ``model_type``.
3. A multimodal wrapper (registered with :func:`register_text_wrapper`, or an unregistered
   ``model_type`` whose ``text_config`` names a registered one) is read through its
   ``text_config``.
4. Anything else is a :class:`BlockConfigError` at ``$.model_type`` naming the supported
   types: nothing is read by guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, Literal, TypeVar

import attrs

from block_config._config import BlockConfig
from block_config._converter import UnknownKeys
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import recorded_keys
from block_config.readers._family_check import check_family_reads

__all__ = [
    "ANY_MODEL",
    "Choice",
    "PerLayer",
    "ReadOptions",
    "Reader",
    "architecture_of",
    "choose",
    "per_layer_of",
    "read_fields",
    "reader_for",
    "register",
    "register_text_wrapper",
    "supported_model_types",
    "text_part_key",
]

#: The dialects a reader reports (as :data:`block_config.Dialect`).
_Dialect = Literal[
    "native", "legacy", "homogeneous", "per-layer", "gpt_oss_puzzle", "nemotron_h_puzzle"
]
#: The key a multimodal wrapper holds its language model's config under.
TEXT_CONFIG = "text_config"


@attrs.frozen(kw_only=True)
class ReadOptions:
    """What a reader is told besides the config: the ``model_type`` it reads the config as
    (the ``family=`` given, or the config's own) and what to do with unknown block keys."""

    model_type: str | None = None
    unknown_keys: UnknownKeys = "error"
    #: The config carries ``per_layer_config`` (the reader is given it without that key):
    #: Gemma 4's class then ignores its legacy ``global_head_dim``.
    has_per_layer_config: bool = False


#: A reader: the config object and the options in, the keyword arguments of
#: :class:`~block_config.ModelArchitecture` out (``source`` excepted). Raises
#: :class:`BlockConfigError` listing every problem, with paths rooted at the config.
Reader = Callable[[Mapping[str, Any], ReadOptions], dict[str, Any]]

_R = TypeVar("_R", bound=Reader)


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


def _no_globals(blocks: tuple[BlockConfig, ...]) -> dict[str, Any]:
    return {}


@attrs.frozen
class PerLayer:
    """What a family reads of transformers' ``per_layer_config`` (see
    :mod:`block_config.dialects.per_layer`): the attributes of its configuration class a
    layer may override, the subblocks a layer may ``skip``, and the aliases of its class's
    ``attribute_map`` (``num_local_experts`` for ``n_routed_experts``)."""

    attributes: frozenset[str] = attrs.field(converter=_names)
    skips: tuple[str, ...] = ("attention", "mlp")
    aliases: Mapping[str, str] = attrs.field(factory=dict)
    #: The family's names of a :class:`~block_config.MoEConfig`'s values, for writing:
    #: ``experts``, ``per_token``, ``expert_size``, ``shared_size``, ``latent``.
    moe_names: Mapping[str, str] = attrs.field(factory=dict)
    #: The family's names of a :class:`~block_config.LinearAttentionConfig`'s values, for
    #: writing: ``num_key_heads``, ``key_head_dim``, ``num_value_heads``,
    #: ``value_head_dim``, ``conv_kernel``.
    linear_names: Mapping[str, str] = attrs.field(factory=dict)
    #: The global keys the family derives from the layers (a layer-kind list), for writing.
    globals_from_blocks: Callable[[tuple[BlockConfig, ...]], dict[str, Any]] = attrs.field(
        default=_no_globals
    )
    #: Why no layer may override anything, when that is so because transformers builds no
    #: layer with overrides (told with every refused override).
    refusal: str | None = None
    #: The family's keys of model-wide facts it reads under its own name, for writing
    #: (``{"qkv_bias": "attention_bias"}``: GLM's ``attention_bias`` is q/k/v biases only).
    flag_keys: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Wrapper:
    #: The ``model_type`` of the text part when its ``text_config`` does not say.
    text_model_type: str
    #: ``tie_word_embeddings`` when neither the wrapper nor its text part says.
    tie_word_embeddings: bool
    #: Without a ``text_config``, the wrapper's own keys are its text part's (the class
    #: forwards them, as GLM-5.3-Flash's does for its text-only checkpoints).
    flat: bool = False


_READERS: dict[str, Reader] = {}
_WRAPPERS: dict[str, _Wrapper] = {}
#: What each ``model_type``'s reader reads of ``per_layer_config``.
_PER_LAYER: dict[str, PerLayer] = {}
#: The keys of each ``model_type``'s configuration class its reader may leave unread.
_UNUSED: dict[str, frozenset[str]] = {}
#: The ``model_type`` of each architecture class name (``LlamaForCausalLM``), for the
#: Model-Optimizer deploy form's ``base_architecture``.
_ARCHITECTURES: dict[str, str] = {}
#: transformers' per-layer overrides (:mod:`block_config.dialects.per_layer`), and those of
#: the multi-token-prediction layers.
PER_LAYER_KEY = "per_layer_config"
MTP_PER_LAYER_KEY = "mtp_per_layer_config"
#: The architecture name of the deploy form that reads as its ``base_architecture``.
ANY_MODEL = "AnyModel"


def register(
    *model_types: str,
    per_layer: PerLayer | None = None,
    architectures: Mapping[str, str] | None = None,
    unused: Iterable[str] = (),
) -> Callable[[_R], _R]:
    """Register the decorated reader for ``model_types`` (each at most once), with what it
    reads of ``per_layer_config`` (none when ``per_layer`` is None: such a config is refused)
    and the architecture class names of each ``model_type``.

    ``unused`` names keys of the family's configuration class its reader may leave unread
    because the family's modelling code never uses them (DeepSeek-V3's
    ``num_key_value_heads``) or uses them only for layers a config may not have (a MoE
    family's dense ``intermediate_size``): read as this family with ``family=...``, a config
    that has them is not refused for them (see :mod:`._family_check`).
    """
    unused_keys = frozenset(unused)

    def decorate(reader: _R) -> _R:
        for model_type in model_types:
            if model_type in _READERS or model_type in _WRAPPERS:
                raise ValueError(f"model_type {model_type!r} already has a reader")
            _READERS[model_type] = reader
            if per_layer is not None:
                _PER_LAYER[model_type] = per_layer
            if unused_keys:
                _UNUSED[model_type] = unused_keys
        for architecture, model_type in (architectures or {}).items():
            _ARCHITECTURES[architecture] = model_type
        return reader

    return decorate


def per_layer_of(model_type: str | None) -> PerLayer | None:
    """What the reader of ``model_type`` reads of ``per_layer_config``, or None."""
    return _PER_LAYER.get(model_type) if model_type is not None else None


def architecture_of(model_type: str) -> str | None:
    """The architecture class name of ``model_type`` (``"LlamaForCausalLM"``), or None."""
    for architecture, registered in _ARCHITECTURES.items():
        if registered == model_type:
            return architecture
    return None


def register_text_wrapper(
    model_type: str,
    *,
    text_model_type: str,
    tie_word_embeddings: bool = False,
    flat: bool = False,
) -> None:
    """Register ``model_type`` as a multimodal wrapper read through its ``text_config``.

    ``text_model_type`` is the text part's type when its ``text_config`` has none (as the
    family's configuration class builds it); ``tie_word_embeddings`` is the wrapper's default.
    With ``flat``, a config of ``model_type`` without a ``text_config`` (absent or null) is
    read as its text part, as a configuration class that forwards its own keys to its text
    part does.
    """
    if model_type in _READERS or model_type in _WRAPPERS:
        raise ValueError(f"model_type {model_type!r} already has a reader")
    _WRAPPERS[model_type] = _Wrapper(text_model_type, tie_word_embeddings, flat)


def reader_for(model_type: str) -> Reader | None:
    """The reader registered for ``model_type`` (not a wrapper), or None."""
    return _READERS.get(model_type)


def supported_model_types() -> tuple[str, ...]:
    """Every ``model_type`` a reader or a wrapper is registered for, sorted."""
    return tuple(sorted({*_READERS, *_WRAPPERS}))


def _unknown(model_type: object) -> str:
    return (
        f"no reader for {describe(model_type)}; supported: "
        f"{', '.join(supported_model_types())} (or say how to read it with family=..., "
        "--family on the command line)"
    )


@attrs.frozen
class Choice:
    """What :func:`choose` decides for a config."""

    #: The reader that reads it (or its text part).
    reader: Reader
    #: The ``model_type`` it is read as: ``family`` when given, else the config's own (for a
    #: wrapper, the wrapper's); None when it has none.
    model_type: str | None
    #: ``"text_config"`` when a multimodal wrapper's text part is read, else None.
    text_key: str | None = None
    #: The ``model_type`` the text part is read as.
    text_model_type: str | None = None


def choose(
    config: Mapping[str, Any],
    *,
    family: str | None = None,
    dialect: _Dialect | None = None,
    wrappers: bool = True,
) -> Choice:
    """The reader for ``config`` (see the module docs); ``wrappers`` False for a text part.

    Raises :class:`BlockConfigError` at ``$.model_type`` (or ``$.text_config.model_type``)
    when no reader fits.
    """
    from block_config._legacy import LEGACY_MODEL_TYPE, looks_legacy
    from block_config.dialects import _registry as dialects

    own_type: Any = config.get("model_type")
    named = dialects.dialect_for_model_type(own_type)
    if dialect is None and family is None and named is not None:
        dialect = named  # type: ignore[assignment]
    if dialect is None and config.get("block_configs") is not None:
        try:
            legacy = looks_legacy(config["block_configs"])
        except BlockConfigError as error:
            raise error.under(("block_configs",)) from None
        if legacy is None:
            legacy = own_type == LEGACY_MODEL_TYPE
        dialect = "legacy" if legacy else "native"
    if dialect is not None and dialect not in ("homogeneous", "per-layer"):
        reader = dialects.reader_of(dialect)
        if reader is None:
            raise ValueError(f"no reader for dialect {dialect!r}")
        return Choice(reader, own_type if type(own_type) is str else None)
    model_type: Any = own_type if family is None else family
    if family is None:
        base = _any_model_base(config)
        if base is not None:
            model_type = base
    if type(model_type) is str and model_type in _READERS:
        return Choice(_READERS[model_type], model_type)
    text = config.get(TEXT_CONFIG)
    wrapper = _WRAPPERS.get(model_type) if type(model_type) is str and wrappers else None
    if wrapper is not None and wrapper.flat and text is None:
        # A text-only checkpoint of such a wrapper: its keys are the text part's.
        return Choice(_READERS[wrapper.text_model_type], model_type)
    generic = (
        wrappers and type(model_type) is str and isinstance(text, Mapping) and "model_type" in text
    )
    if wrapper is not None or generic:
        if not isinstance(text, Mapping):
            raise BlockConfigError.at(
                (TEXT_CONFIG,), f"expected the text model's config object, got {describe(text)}"
            )
        text_type: Any = text.get("model_type")
        if text_type is None and wrapper is not None:
            text_type = wrapper.text_model_type
        if type(text_type) is str and text_type in _READERS:
            try:
                inner = choose(text, family=text_type, wrappers=False)
            except BlockConfigError as error:
                raise error.under((TEXT_CONFIG,)) from None
            return Choice(inner.reader, model_type, TEXT_CONFIG, text_type)
        raise BlockConfigError.at((TEXT_CONFIG, "model_type"), _unknown(text_type))
    if model_type is None and family is None:
        raise BlockConfigError.at(
            ("model_type",),
            "missing, and there are no block_configs: say how to read the config with "
            f"family=... (--family on the command line); supported: "
            f"{', '.join(supported_model_types())}",
        )
    raise BlockConfigError.at(("model_type",), _unknown(model_type))


def _any_model_base(config: Mapping[str, Any]) -> str | None:
    """The ``model_type`` of a Model-Optimizer deploy config (``architectures: ["AnyModel"]``)
    from its ``base_architecture``; None for any other config."""
    if config.get("architectures") != [ANY_MODEL]:
        return None
    base = config.get("base_architecture")
    if type(base) is not str or base not in _ARCHITECTURES:
        known = ", ".join(sorted(_ARCHITECTURES))
        raise BlockConfigError.at(
            ("base_architecture",),
            f"an AnyModel config is read as its base architecture; expected one of {known}, "
            f"got {describe(base)}",
        )
    return _ARCHITECTURES[base]


def text_part_key(config: Mapping[str, Any], family: str | None = None) -> str | None:
    """``"text_config"`` when ``config`` is read through its text part, else None."""
    try:
        return choose(config, family=family).text_key
    except BlockConfigError:
        return None


def read_fields(
    config: Mapping[str, Any],
    *,
    family: str | None = None,
    dialect: _Dialect | None = None,
    unknown_keys: UnknownKeys = "error",
) -> dict[str, Any]:
    """Read ``config`` with the reader :func:`choose` picks: the model's keyword arguments.

    Read as another ``family`` than its own ``model_type``, each key of the config that
    family's reader does not look at is checked (see :mod:`._family_check`).
    """
    if family is not None and (type(family) is not str or family not in supported_model_types()):
        raise ValueError(f"family must be one of {supported_model_types()}, got {family!r}")
    if family is None or family == config.get("model_type"):
        return _read_fields(config, family, dialect, unknown_keys)
    if _text_family(config, dialect) == family:
        # A wrapper named by its text part's family: its text part is what that family reads.
        return _read_fields(config, None, dialect, unknown_keys)
    choice = choose(config, family=family, dialect=dialect)
    if choice.reader is not _READERS.get(choice.text_model_type or choice.model_type or ""):
        return _read_fields(config, family, dialect, unknown_keys)  # a dialect: family unused
    with recorded_keys(config) as (recording, looked_up):
        fields = _read_fields(recording, family, dialect, unknown_keys)
    try:
        choose(config, dialect=dialect)
        own = True
    except BlockConfigError:
        own = False
    others: dict[str, Callable[[Mapping[str, Any]], object]] = {}
    if own:
        others[describe(config.get("model_type"))] = partial(
            _read_fields, family=None, dialect=dialect, unknown_keys="warn"
        )
    else:
        for name, reader in _READERS.items():
            if name != family:
                options = ReadOptions(model_type=name, unknown_keys="warn")
                others[name] = partial(_call, reader, options=options)
    for key in _UNUSED.get(choice.text_model_type or family, ()):
        looked_up.setdefault(key, None)
    check_family_reads(config, family, looked_up, others, own=own, unknown_keys=unknown_keys)
    return fields


def _text_family(config: Mapping[str, Any], dialect: _Dialect | None) -> str | None:
    """The family a wrapper's text part is read as; None for any other config."""
    try:
        return choose(config, dialect=dialect).text_model_type
    except BlockConfigError:
        return None


def _call(reader: Reader, config: Mapping[str, Any], *, options: ReadOptions) -> None:
    reader(config, options)


def _read_fields(
    config: Mapping[str, Any],
    family: str | None,
    dialect: _Dialect | None,
    unknown_keys: UnknownKeys,
) -> dict[str, Any]:
    """:func:`read_fields`, unchecked."""
    choice = choose(config, family=family, dialect=dialect)
    if choice.text_key is None:
        options = ReadOptions(model_type=choice.model_type, unknown_keys=unknown_keys)
        fields = _read_family(choice, config, options)
        if fields["dialect"] in ("homogeneous", "per-layer"):
            fields["model_type"] = choice.model_type
        return fields
    if config.get(PER_LAYER_KEY) is not None:
        raise BlockConfigError.at(
            (PER_LAYER_KEY,),
            f"per-layer overrides of a multimodal wrapper: its layers are read from "
            f"{choice.text_key}, so they belong in {choice.text_key}.{PER_LAYER_KEY}; nothing is "
            "read while ignoring them",
        )
    text: Mapping[str, Any] = config[choice.text_key]
    options = ReadOptions(model_type=choice.text_model_type, unknown_keys=unknown_keys)
    try:
        fields = _read_family(choice, text, options)
    except BlockConfigError as error:
        raise error.under((choice.text_key,)) from None
    fields["model_type"] = choice.model_type
    wrapper = _WRAPPERS.get(choice.model_type) if choice.model_type is not None else None
    # The wrapper's own tie_word_embeddings decides (its class ties the language model's head
    # or not); its text part's when the wrapper does not say; else the wrapper's default.
    tie: Any = config.get("tie_word_embeddings")
    if tie is None and "tie_word_embeddings" not in text and wrapper is not None:
        tie = wrapper.tie_word_embeddings
    if tie is not None:
        if tie is not True and tie is not False:
            message = f"expected bool, got {describe(tie)}"
            raise BlockConfigError([Problem(("tie_word_embeddings",), message)])
        fields["tie_word_embeddings"] = tie
    return fields


def _read_family(choice: Choice, config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """Read ``config`` with the chosen reader, its ``per_layer_config`` applied (never
    ignored: a reader that reads none refuses the config)."""
    from block_config.dialects.per_layer import KEY, read_per_layer

    if config.get(MTP_PER_LAYER_KEY) is not None:
        raise BlockConfigError.at(
            (MTP_PER_LAYER_KEY,),
            "per-layer overrides of the multi-token-prediction layers are not read; nothing is "
            "read while ignoring them",
        )
    if config.get(KEY) is None:
        return choice.reader(config, options)
    spec = per_layer_of(options.model_type)
    if choice.reader is not _READERS.get(options.model_type or ""):
        raise BlockConfigError.at(
            (KEY,),
            "per-layer overrides beside a dialect that says every layer itself "
            "(block_configs): nothing is read while ignoring them; remove one of the two",
        )
    if spec is None:
        raise BlockConfigError.at(
            (KEY,),
            f"per-layer overrides are not read for {describe(options.model_type)} configs "
            f"(read for: {', '.join(sorted(_PER_LAYER))}); nothing is read while ignoring them",
        )
    return read_per_layer(
        config, choice.reader, spec, attrs.evolve(options, has_per_layer_config=True)
    )
