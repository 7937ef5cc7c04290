"""The official MeMOTR checkpoints (MCG-NJU/MeMOTR, DAB-Deformable-DETR, ResNet-50) renamed to this model's names.

The official training script saves ``{"model": state_dict, "optimizer", "scheduler", "states"}`` with
``torch.save``; it is read here with ``torch.load(weights_only=True)`` (tensors and plain containers only), the
parameter names are mapped by :func:`official_to_ours`, and the result is checked against a MeMOTR built from
the ``paper`` config (which follows the released DanceTrack config) before it is written as safetensors + JSON,
the format every ``streammem`` verb reads::

    python tools/convert_memotr.py memotr_dancetrack.pth memotr_dancetrack.safetensors

The names map one to one, except that the decoder's box heads appear twice in the official state dict
(``bbox_embed.*`` and the alias ``transformer.decoder.bbox_embed.*``; the copy is checked equal and dropped).
Only the DAB variant (``USE_DAB: True``, every released checkpoint) is supported: the Deformable-DETR variant's
query updater has extra layers (``linear_pos1`` ...) this model does not have.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from streammem.errors import InputError

__all__ = ["official_to_ours", "convert_state_dict", "convert_checkpoint"]

# (official pattern, our name template); the first match wins. None drops the tensor.
_RULES: list[tuple[str, str | None]] = [
    (r"backbone\.backbone\.backbone\.conv1\.(.+)", r"backbone.stem.0.\1"),
    (r"backbone\.backbone\.backbone\.bn1\.(.+)", r"backbone.stem.1.\1"),
    (r"backbone\.backbone\.backbone\.(layer[1-4]\..+)", r"backbone.\1"),
    (r"feature_projs\.(.+)", r"input_proj.\1"),
    (r"transformer\.level_embed", r"level_embed"),
    (r"transformer\.encoder\.layers\.(\d+)\.self_attn\.(.+)", r"encoder.\1.attn.\2"),
    (r"transformer\.encoder\.layers\.(\d+)\.norm1\.(.+)", r"encoder.\1.norm.\2"),
    (r"transformer\.encoder\.layers\.(\d+)\.linear([12])\.(.+)", r"encoder.\1.ffn.linear\2.\3"),
    (r"transformer\.encoder\.layers\.(\d+)\.norm2\.(.+)", r"encoder.\1.ffn.norm.\2"),
    (r"transformer\.decoder\.layers\.(\d+)\.self_attn\.(.+)", r"decoder.\1.self_attn.\2"),
    (r"transformer\.decoder\.layers\.(\d+)\.norm2\.(.+)", r"decoder.\1.norm_self.\2"),
    (r"transformer\.decoder\.layers\.(\d+)\.cross_attn\.(.+)", r"decoder.\1.cross_attn.\2"),
    (r"transformer\.decoder\.layers\.(\d+)\.norm1\.(.+)", r"decoder.\1.norm_cross.\2"),
    (r"transformer\.decoder\.layers\.(\d+)\.linear([12])\.(.+)", r"decoder.\1.ffn.linear\2.\3"),
    (r"transformer\.decoder\.layers\.(\d+)\.norm3\.(.+)", r"decoder.\1.ffn.norm.\2"),
    (r"transformer\.decoder\.query_scale\.(.+)", r"query_scale.\1"),
    (r"transformer\.decoder\.ref_point_head\.(.+)", r"ref_point_head.\1"),
    (r"transformer\.decoder\.(bbox_embed|class_embed)\..+", None),  # aliases of the top-level heads
    (r"(class_embed|bbox_embed)\.(\d+\..+)", r"\1.\2"),
    (r"det_anchor", r"det_anchor.weight"),
    (r"det_query_embed", r"det_content.weight"),
    (r"query_updater\.confidence_weight_net\.0\.(.+)", r"query_updater.confidence_weight_net.\1"),
    (r"query_updater\.((?:short_memory_fusion|memory_attn|memory_norm|memory_ffn|query_feat_norm|query_feat_ffn|"
     r"query_pos_head)\..+)", r"query_updater.\1"),
    (r".+\.num_batches_tracked", None),
]
_COMPILED = [(re.compile(pattern), target) for pattern, target in _RULES]


def official_to_ours(name: str) -> str | None:
    """This model's name for an official MeMOTR parameter name; None for a tensor that is dropped (an alias);
    KeyError for a name the official DAB model does not have."""
    name = name.removeprefix("module.")  # saved from DistributedDataParallel
    for pattern, target in _COMPILED:
        match = pattern.fullmatch(name)
        if match:
            return None if target is None else match.expand(target)
    raise KeyError(name)


def convert_state_dict(official: Mapping[str, torch.Tensor], source: str | os.PathLike = "checkpoint"
                       ) -> dict[str, torch.Tensor]:
    """Rename an official state dict; an unknown name, or an alias that differs from its head, is an InputError."""
    ours: dict[str, torch.Tensor] = {}
    for name, tensor in official.items():
        try:
            target = official_to_ours(name)
        except KeyError:
            hint = " (the Deformable-DETR variant: only DAB checkpoints convert)" if "linear_pos" in name else ""
            raise InputError(source, f"unknown official MeMOTR parameter {name!r}{hint}") from None
        if target is not None:
            ours[target] = tensor
    for name, tensor in official.items():  # the decoder's alias of each box head must be that head
        alias = re.fullmatch(r"(?:module\.)?transformer\.decoder\.((?:bbox|class)_embed\..+)", name)
        if alias and alias.group(1) in ours and not torch.equal(ours[alias.group(1)], tensor):
            raise InputError(source, f"{name!r} differs from {alias.group(1)!r} (expected the same tensor)")
    return ours


def _read(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # code in the pickle, or a damaged file: one line either way
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(path, f"not a plain tensor checkpoint (refused by torch.load weights_only): {first[:200]}") \
            from None
    state = raw.get("model", raw) if isinstance(raw, dict) else raw
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "expected a state dict of tensors (or a checkpoint holding one under 'model')")
    return state


def convert_checkpoint(source: str | os.PathLike, out: str | os.PathLike, config: str = "paper", **overrides: Any
                       ) -> Path:
    """Convert the official checkpoint ``source`` to ``out`` (.safetensors + .json) for a MeMOTR of ``config``
    with ``overrides`` (config fields); every tensor is checked by name and shape."""
    from streammem.checkpoints import save_checkpoint
    from streammem.models.memotr import build
    from streammem.models.memotr.config import resolve_config

    source = Path(source)
    state = convert_state_dict(_read(source), source)
    cfg = resolve_config(config, **overrides)
    model = build(cfg)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = [f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
                 f"shape of {wrong[0]!r} is {tuple(state[wrong[0]].shape)}, the model has {tuple(own[wrong[0]].shape)}"
                 if wrong else ""]
        raise InputError(source, f"does not match the MeMOTR {config} config: " + "; ".join(p for p in parts if p))
    model.load_state_dict(state)
    return save_checkpoint(out, model, model_name="memotr", config=cfg.to_dict(),
                           training_command=f"tools/convert_memotr.py {source.name} (official MeMOTR checkpoint)",
                           data_seed=0, metrics={"converted_from": source.name})
