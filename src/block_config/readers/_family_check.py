"""``family=...``: a config read as another family than its own is checked for what it says.

A family's reader reads the keys its configuration class has. Read as another family, a
config may carry keys that change the architecture (``layer_types``, ``num_local_experts``,
``head_dim``) which that family's reader never looks at: its counts would silently leave them
out. So a read with ``family=`` notes every key the reader looks up (see
:func:`block_config._keys.recorded_keys`), and each key of the config it did not look up is a
problem at its path, unless

- the config's own ``model_type`` has a reader that does not look at it either (a key neither
  family reads changes neither reading), or, for a ``model_type`` no reader knows, no
  registered family's reader looks at it, or
- it names nothing an architecture is made of (:data:`NOT_ARCHITECTURE`: token ids, norms'
  epsilons, RoPE frequencies, dropout, routing coefficients, generation defaults), or
- its value switches nothing on (``false``, ``null``, ``0``, an empty list or object).

Read as another known family, a key the config does not have, for which that family takes a
default that switches something on (Gemma 4's per-layer embeddings for a Llama config), is a
problem as well. ``unknown_keys="warn"`` makes these warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from block_config._converter import UnknownKeys
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import recorded_keys
from block_config._warnings import quiet, warn_unknown_key

__all__ = ["DERIVED", "NOT_ARCHITECTURE", "check_family_reads"]

#: Model-level keys that change no parameter, no layer kind and no cache size in any family:
#: identity and bookkeeping, token ids, numerical constants (epsilons, RoPE frequencies and
#: scaling, softcapping, initialisation), dropout, routing coefficients and losses, kernel
#: choices and generation defaults.
NOT_ARCHITECTURE = frozenset(
    {
        # identity and bookkeeping
        "_name_or_path",
        "architectures",
        "auto_map",
        "model_type",
        "transformers_version",
        "torch_dtype",
        "dtype",
        "id2label",
        "label2id",
        "problem_type",
        "tokenizer_class",
        "return_dict",
        "output_attentions",
        "output_hidden_states",
        "torchscript",
        "use_return_dict",
        "for_llm_compressor",
        # token ids and lengths
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "sep_token_id",
        "decoder_start_token_id",
        "max_position_embeddings",
        "model_max_length",
        "initial_context_length",
        "max_length",
        # numerical constants
        "rms_norm_eps",
        "layer_norm_eps",
        "layer_norm_epsilon",
        "norm_eps",
        "initializer_range",
        "rope_theta",
        "rope_scaling",
        "rope_parameters",
        "rope_local_base_freq",
        "partial_rotary_factor",
        "rotary_dim",
        "position_embedding_type",
        "attn_logit_softcapping",
        "final_logit_softcapping",
        "query_pre_attn_scalar",
        "attn_scale",
        "attn_temperature_tuning",
        "floor_scale",
        "swiglu_limit",
        "time_step_floor",
        "time_step_max",
        "time_step_min",
        "time_step_limit",
        "rescale_prenorm_residual",
        "residual_in_fp32",
        "pretraining_tp",
        # activations (the tensors are the family's whatever the function)
        "hidden_act",
        "hidden_activation",
        "mamba_hidden_act",
        "mlp_hidden_act",
        # dropout
        "attention_dropout",
        "hidden_dropout",
        "embd_pdrop",
        "resid_pdrop",
        # routing coefficients, losses, groups
        "aux_loss_alpha",
        "seq_aux",
        "router_aux_loss_coef",
        "router_jitter_noise",
        "output_router_logits",
        "routed_scaling_factor",
        "norm_topk_prob",
        "scoring_func",
        "topk_method",
        "n_group",
        "topk_group",
        "num_expert_group",
        "moe_renormalize",
        "moe_router_activation_func",
        "ep_size",
        "index_topk",
        # kernels, caches and generation
        "use_cache",
        "cache_implementation",
        "num_logits_to_keep",
        "use_mamba_kernels",
        "chunk_size",
        "mamba_chunk_size",
    }
)


#: Keys whose value, when absent, most families derive from the keys beside it (the KV heads
#: from the attention heads, the head width from the hidden size): refused as missing only
#: where the family's default differs from the one the config's own family takes.
DERIVED = frozenset({"num_key_value_heads", "head_dim", "tie_word_embeddings"})


def _switches_nothing(value: Any) -> bool:
    """Whether ``value`` is off: false, null, 0 or empty (never a bool ``True`` or a count)."""
    if value is None or value is False:
        return True
    if type(value) is int or type(value) is float:
        return value == 0
    return isinstance(value, list | dict | str) and not value


def check_family_reads(
    config: Mapping[str, Any],
    family: str,
    looked_up: Mapping[str, Any],
    others: Mapping[str, Callable[[Mapping[str, Any]], object]],
    *,
    own: bool,
    unknown_keys: UnknownKeys,
) -> None:
    """Refuse (or warn of) what a read of ``config`` as ``family`` did not account for.

    ``looked_up`` holds the keys that read looked up, with the values it got. ``others``
    reads ``config`` as other families, by name: its own ``model_type`` when ``own`` (a
    reader is registered for it), else every other family; a key ``family`` ignores matters
    when one of them looks it up. Read as another known family, a key absent from ``config``
    that ``family`` takes a default for that switches something on is a problem too: that
    default is a value of ``family``'s checkpoints, not of this config.
    """
    unread = [
        key
        for key, value in config.items()
        if key not in looked_up and key not in NOT_ARCHITECTURE and not _switches_nothing(value)
    ]
    readers: dict[str, list[tuple[int, str]]] = {}
    own_seen: Mapping[str, Any] = {}
    for name, read in others.items():
        with recorded_keys(config) as (recording, seen):
            try:
                with quiet():
                    read(recording)
            except BlockConfigError:
                pass  # what the reader looked up before refusing still counts
        # The readers that look at more of the config first: the family it more likely is.
        fit = sum(1 for key in config if key in seen and key not in NOT_ARCHITECTURE)
        for key in unread:
            if key in seen:
                readers.setdefault(key, []).append((-fit, name))
        own_seen = seen
    own_type = describe(config.get("model_type"))
    problems: list[Problem] = []
    if own:
        for key, value in looked_up.items():
            if key in config or key in NOT_ARCHITECTURE:
                continue
            if key in DERIVED:
                # Derived alike unless the two families' defaults differ (Gemma's 256-wide
                # heads and tied embeddings against Mistral's).
                if key not in own_seen or own_seen[key] == value:
                    continue
                theirs = (
                    f"; {own_type} configs (its model_type) derive it from the keys beside it"
                    if own_seen[key] is None
                    else f"; {own_type} configs (its model_type) take {describe(own_seen[key])}"
                )
            elif _switches_nothing(value):
                continue
            else:
                theirs = f", which {own_type} configs (its model_type) do not say"
            problems.append(
                Problem(
                    (key,),
                    f"missing: read as {family} (family={family}), its reader takes {family}'s "
                    f"default {describe(value)}{theirs}; state it, or read the config as its "
                    "own family",
                )
            )
    for key in unread:
        found = readers.get(key)
        if not found:
            continue
        if own:
            whose = f"{own_type} configs (its model_type) are read with it"
        else:
            names = [name for _, name in sorted(found)]
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            whose = f"the {shown} readers read it"
        problems.append(
            Problem(
                (key,),
                f"read as {family} (family={family}), whose reader does not look at this key; "
                f"{whose}, so the counts would leave it out",
            )
        )
    if not problems:
        return
    if unknown_keys == "warn":
        for problem in problems:
            warn_unknown_key(problem.path, problem.message, stacklevel=4)
        return
    raise BlockConfigError(sorted(problems, key=lambda problem: problem.path))
