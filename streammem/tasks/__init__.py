"""The task registry: which tasks exist and which CLI verbs each one implements.

A task module (``streammem.tasks.<name>``) exposes, for each verb it supports, a pair of functions
``add_<verb>_arguments(parser)`` and ``<verb>(args) -> int``. Verbs: demo, eval, train, export, bench, score.
Modules import their heavy dependencies lazily so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

__all__ = ["TASKS", "VERBS", "Task", "task_module", "verbs_of", "training_command"]

VERBS: tuple[str, ...] = ("demo", "run", "eval", "train", "export", "bench", "score")


@dataclass(frozen=True)
class Task:
    """One task: its CLI name, the model family that serves it, and a one-line summary."""

    name: str
    model: str
    summary: str

    def weights_shipped(self, config: str = "tiny") -> bool:
        """Whether trained ``config`` weights of this task's model ship with the package."""
        from streammem.models import weights_path

        return weights_path(self.model, config).is_file()


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("track", "memotr", "multi-object tracking (MeMOTR; DanceTrack/MOT17; HOTA, MOTA, IDF1)"),
        Task("tal", "matr", "online temporal action localization (MATR; THUMOS14/MUSES; mAP@tIoU)"),
        Task("asr", "conformer_ntm", "long-form speech recognition (Conformer-NTM; LibriSpeech; WER)"),
        Task("simulst", "amt_simulst", "simultaneous speech translation (AM-Transformer; MuST-C; BLEU, AL)"),
        Task("anomaly", "memmc_mae", "unsupervised anomaly detection (MemMC-MAE; AUROC)"),
    )
}


def task_module(name: str) -> ModuleType | None:
    """Import ``streammem.tasks.<name>``; None when the task has no implementation yet."""
    try:
        return importlib.import_module(f"streammem.tasks.{name}")
    except ModuleNotFoundError as err:
        if err.name == f"streammem.tasks.{name}":
            return None
        raise


def verbs_of(name: str) -> list[str]:
    """The CLI verbs that task ``name`` implements."""
    module = task_module(name)
    if module is None:
        return []
    return [v for v in VERBS if hasattr(module, v) and hasattr(module, f"add_{v}_arguments")]


def training_command(task: str) -> str:
    """The ``streammem train <task> ...`` command line of this process, recorded beside trained weights."""
    import shlex
    import sys

    return " ".join(["streammem", "train", task, *(shlex.quote(a) for a in sys.argv[3:])])
