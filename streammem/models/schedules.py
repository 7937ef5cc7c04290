"""Learning-rate schedules shared by the models' training loops."""

import math

__all__ = ["warmup_cosine"]


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Factor on the base learning rate: linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
