"""Int8 dynamic quantization of the streaming path, for CPU deployment (``--int8``).

Weights of the encoder's Linear layers (FFNs, attention projections, convolution-module pointwise layers,
subsampling output), the NTM's output layer and the CTC head are stored as int8 and multiplied by fbgemm's
int8 kernels, activations quantized per call. No calibration data: the fp32 checkpoint is converted at load
time. At a 16-frame chunk the step reads every weight once, so 4x smaller weights cut its time (measured in
``streammem bench asr``); accuracy is measured in docs/asr.md. Left in fp32: the relative-position
projection and the NTM heads (their weights are read directly, not through ``Linear.forward``) and the
attention decoder (offline rescoring only).

``torch.ao.quantization`` is deprecated upstream like TorchScript itself (torchao targets torch.compile, not
TorchScript); it still works in the pinned torch, and its warning is silenced here.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from streammem.models.conformer_ntm.model import ConformerNTM

__all__ = ["quantize_int8", "int8_layers"]

_FP32 = ("decoder.", "memory.")  # prefixes kept in fp32 (see the module docstring)


def int8_layers(model: ConformerNTM) -> list[str]:
    """Names of the Linear layers :func:`quantize_int8` converts."""
    return [name for name, module in model.named_modules()
            if type(module) is nn.Linear and not name.startswith(_FP32) and not name.endswith(".pos")]


def quantize_int8(model: ConformerNTM) -> ConformerNTM:
    """An eval-mode copy of ``model`` with :func:`int8_layers` dynamically quantized to int8 (scriptable)."""
    source = copy.deepcopy(model).eval()
    spec = {name: torch.ao.quantization.default_dynamic_qconfig for name in int8_layers(source)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return torch.ao.quantization.quantize_dynamic(source, spec, dtype=torch.qint8)
