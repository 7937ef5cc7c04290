"""Video front end for live MATR: a torchvision frame encoder producing features at a fixed rate.

Legend: N frames, H x W pixels, F output feature dim.

MATR's published numbers use pre-extracted two-stream TSN features; live use needs features computed as
frames arrive (MATR issue #5: extraction is ~90% of the latency). This encoder averages one backbone
embedding per frame over each 1/rate-second interval, so a camera at any fps yields ``rate`` features/s.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from streammem.errors import InputError

__all__ = ["FrameEncoder", "features_at_rate", "load_frame_encoder", "ENCODER_MODEL"]

ENCODER_MODEL = "frame_encoder"  # model name in the weights' JSON sidecar

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class FrameEncoder(nn.Module):
    """torchvision classification backbone (head removed) + linear map to MATR's input width.

    backbone: any ``torchvision.models`` name (resnet18, mobilenet_v3_small, ...); weights: a torchvision
    weights enum name (e.g. ``"DEFAULT"``, needs the cached download) or None for random init;
    out_dim: F, MATR's input feature width; image_size: frames are resized to this square side.
    """

    def __init__(self, out_dim: int, backbone: str = "resnet18", weights: str | None = None, image_size: int = 112) -> None:
        super().__init__()
        import torchvision

        net = torchvision.models.get_model(backbone, weights=weights)
        if hasattr(net, "fc"):
            width = net.fc.in_features
            net.fc = nn.Identity()
        else:  # mobilenet / efficientnet style: the pooled features enter the first Linear of ``classifier``
            width = [m for m in net.classifier if isinstance(m, nn.Linear)][0].in_features
            net.classifier = nn.Identity()
        self.backbone = net
        self.image_size = image_size
        self.out = nn.Linear(width, out_dim)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: Tensor) -> Tensor:
        """frames (N, H, W, 3) uint8 RGB -> features (N, F)."""
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        x = nn.functional.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return self.out(self.backbone((x - self.mean) / self.std))


def load_frame_encoder(path: str | os.PathLike) -> tuple[FrameEncoder, dict]:
    """(encoder in eval mode, metadata) from weights written by ``streammem train tal --stage encoder``.

    The JSON sidecar's config gives the backbone, image size, output width and label count; the per-frame
    head saved with it (``head.*``) is only used for training and accuracy, not returned.
    """
    from streammem.checkpoints import load_metadata, load_weights
    from streammem.models.matr.encoder_training import FrameLabeler

    meta = load_metadata(path)
    if meta["model"] != ENCODER_MODEL:
        raise InputError(path, f"checkpoint is for model {meta['model']!r}, expected {ENCODER_MODEL!r}")
    cfg = meta["config"]
    try:
        encoder = FrameEncoder(int(cfg["out_dim"]), backbone=str(cfg["backbone"]), image_size=int(cfg["image_size"]))
        model = FrameLabeler(encoder, int(cfg["num_labels"]))
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"frame encoder config incomplete or invalid ({err})") from None
    load_weights(model, path)
    return encoder.eval(), meta


@torch.no_grad()
def features_at_rate(frames: Iterable[tuple[float, np.ndarray]], encoder: FrameEncoder, rate: float) -> Iterator[tuple[float, Tensor]]:
    """Turn ``(timestamp, RGB frame)`` items into ``(interval end time, feature (F,))`` at ``rate`` per second.

    Feature i averages the embeddings of the frames with timestamps in [i/rate, (i+1)/rate); an interval
    without frames (a dropped or slow source) repeats the previous feature so the time axis stays regular.
    An interval's frames are encoded as one batch when it closes (the feature is due then anyway).
    """
    encoder.eval()
    index, pending, last = 0, [], None
    for ts, frame in frames:
        while ts >= (index + 1) / rate:
            if pending:
                last = _mean_embedding(encoder, pending)
                pending = []
            if last is not None:
                yield (index + 1) / rate, last
            index += 1
        pending.append(np.ascontiguousarray(frame))
    if pending:
        yield (index + 1) / rate, _mean_embedding(encoder, pending)


def _mean_embedding(encoder: FrameEncoder, frames: list[np.ndarray]) -> Tensor:
    """Mean encoder output over one interval's frames, encoded as one batch on the encoder's device."""
    return encoder(torch.from_numpy(np.stack(frames)).to(encoder.mean.device)).mean(0)
