"""OAT/MATR THUMOS14 feature pickles -> per-video ``.npy`` files, read with a restricted unpickler.

OAT and MATR ship one pickle per split (``thumos_all_feature_{val,test}_V3.pickle``): a dict video ->
``{"rgb": (T, 2048), "flow": (T, 2048)}`` arrays of two-stream TSN features at about 4 features/s. A pickle is
a program, not data: loading one with :func:`pickle.load` runs whatever its author chose. :func:`read_oat_pickle`
therefore resolves only the globals that rebuild numpy arrays (``ndarray``, ``dtype``, ``_reconstruct``,
``_frombuffer``, ``scalar``, and ``_codecs.encode`` for protocol 2's byte strings) and
``collections.OrderedDict``; plain dicts, lists, tuples, strings and numbers
need no global at all. Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) stops the
read with a one-line error before anything is called.

:func:`convert` writes ``OUT/features/<video>.npy`` = RGB and flow concatenated along the features (T, 4096),
the layout ``eval tal`` / ``train tal`` read (put OAT's annotation JSON in ``OUT/annotations/``, or pass it
with ``--annotations``)::

    python tools/convert_oat_pickle.py thumos_all_feature_test_V3.pickle data/thumos_oat \\
        --annotations thumos14.json
"""

from __future__ import annotations

import argparse
import io
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streammem.errors import InputError, StreamMemError, atomic_output, report

__all__ = ["ALLOWED_GLOBALS", "read_oat_pickle", "convert", "main"]

# (module, name) pairs a feature pickle may name: numpy array reconstruction across numpy 1.x / 2.x, OrderedDict
# and text-to-bytes encoding. Nothing here can run code beyond building an array, a dtype, bytes or a dict.
ALLOWED_GLOBALS = frozenset(
    [(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
     for name in ("_reconstruct", "scalar")]
    + [(module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")]
    + [("_codecs", "encode")]  # protocol 2 stores an array's bytes as text re-encoded by this call
)


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` admits only :data:`ALLOWED_GLOBALS`."""

    def __init__(self, file: io.BufferedIOBase, source: Path) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles of numpy arrays read back too
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise InputError(self.source, f"refusing to unpickle {module}.{name}: a feature pickle holds only numpy "
                             "arrays and plain containers (this one would run code)")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise InputError(self.source, "refusing a pickle with persistent references (not a feature pickle)")


def read_oat_pickle(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The video -> {"rgb", "flow"} arrays of an OAT/MATR feature pickle, read without running its code."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "pickle not found")
    try:
        with path.open("rb") as f:
            data = _RestrictedUnpickler(f, path).load()
    except StreamMemError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, RecursionError) as err:
        raise InputError(path, f"not a readable feature pickle ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict) or not data:
        raise InputError(path, f"expected a non-empty dict of videos, got {type(data).__name__}")
    for video, streams in data.items():
        if not isinstance(video, str) or not isinstance(streams, dict):
            raise InputError(path, f"video {video!r}: expected a dict of 'rgb' and 'flow' arrays")
        for key in ("rgb", "flow"):
            array = streams.get(key)
            if not isinstance(array, np.ndarray) or array.ndim != 2 or not len(array):
                raise InputError(path, f"video {video!r}: '{key}' is not a (T, F) array")
    return data


def convert(source: str | Path, out: str | Path, annotations: str | Path | None = None) -> list[Path]:
    """Write ``out/features/<video>.npy`` (RGB + flow, float32) for every video of ``source``; copy
    ``annotations`` to ``out/annotations/``. Returns the feature files written."""
    source, out = Path(source), Path(out)
    data = read_oat_pickle(source)
    folder = out / "features"
    written = []
    for video, streams in sorted(data.items()):
        rgb, flow = streams["rgb"], streams["flow"]
        if abs(len(rgb) - len(flow)) > 1:
            raise InputError(source, f"video {video!r}: {len(rgb)} RGB features but {len(flow)} flow features")
        if "/" in video or "\\" in video or video in ("", ".", ".."):
            raise InputError(source, f"video name {video!r} is not a file name")
        length = min(len(rgb), len(flow))
        features = np.concatenate([rgb[:length], flow[:length]], axis=1).astype(np.float32)
        if not np.isfinite(features).all():
            raise InputError(source, f"video {video!r}: features contain NaN or infinity")
        target = folder / f"{video}.npy"
        with atomic_output(target) as tmp, tmp.open("wb") as f:
            np.save(f, features)
        written.append(target)
    if annotations is not None:
        annotations = Path(annotations)
        if not annotations.is_file():
            raise InputError(annotations, "annotation file not found")
        with atomic_output(out / "annotations" / annotations.name) as tmp:
            shutil.copyfile(annotations, tmp)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python tools/convert_oat_pickle.py IN.pickle OUT_DIR [--annotations JSON]``."""
    parser = argparse.ArgumentParser(description="Convert an OAT/MATR THUMOS14 feature pickle (video -> rgb, flow) "
                                     "to OUT_DIR/features/<video>.npy, reading it without running any code it holds.")
    parser.add_argument("pickle", type=Path)
    parser.add_argument("out", type=Path, help="dataset folder to write (features/, annotations/)")
    parser.add_argument("--annotations", type=Path, default=None, help="the split's annotation JSON (OAT's "
                        "thumos14.json), copied to OUT_DIR/annotations/")
    args = parser.parse_args(argv)
    try:
        written = convert(args.pickle, args.out, args.annotations)
    except StreamMemError as err:
        return report(err)
    print(f"wrote {len(written)} videos to {args.out / 'features'}")
    return 0
