"""The shared task layer: what every ``streammem <verb> <task>`` has in common, owned in one place.

A task module (``streammem/tasks/<task>.py``) holds only what is specific to its task. For each verb it
supports it defines ``add_<verb>_arguments(parser)`` (which starts with :func:`add_common_arguments`) and
``<verb>(args) -> int`` (which starts with :func:`start`). This module owns:

- **options with one meaning everywhere**: ``--weights`` (model weights; default the shipped ones), ``--out``
  (output folder, or the main output file), ``--device`` (``auto|cpu|cuda|cuda:N|mps``), ``--threads``;
  ``train`` adds ``--config NAME|FILE.py|FILE.yaml``, ``--set KEY=VALUE`` and ``--seed``; ``eval`` adds
  ``--resume``/``--no-resume`` (reuse the per-stream results of an earlier run, :mod:`streammem.evaluation.resume`);
- **devices and threads** (:func:`resolve_device`), set up once by :func:`start`; a task module whose code
  paths run on fewer devices says so with ``DEVICES = ("cpu",)`` (or, for one verb, ``BENCH_DEVICES = ...``)
  and ``--device`` refuses the others;
- **mixed precision** (:func:`autocast`): ``--amp bf16|fp16`` of ``train``, and of ``eval``/``run``/``demo`` where
  a task adds it with :func:`add_amp_argument`;
- **weights resolution** (:func:`resolve_weights`): the shipped file for a model and config, or the user's;
- **the output convention** ``runs/<task>/<verb>/<stem>/`` (:class:`Outputs`): every verb writes its JSON
  there unless ``--out`` says otherwise; the last line printed names what was written;
- **output safety**: an output never equals an input of the command, never lands inside the installed
  package (shipped weights and samples), and its folder is checked writable before any work starts;
- **training configs** (:func:`train_config`): a named config or a config file read with mmengine's
  ``Config``, then ``--set`` overrides; the resolved config is printed and stored beside the weights.

Example (a verb of a task module)::

    def add_eval_arguments(p):
        add_common_arguments(p, "eval", threads=2)
        p.add_argument("data", type=Path)

    def eval(args):
        run = start(args, task="anomaly", verb="eval", stem=args.data.name, inputs=[args.data])
        model = load_model(resolve_weights(args.weights, "memmc_mae"), run.device)
        ...
        run.write_json("metrics.json", metrics)
        return run.finish()
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streammem.errors import InputError, StreamMemError, atomic_output
from streammem.evaluation.resume import add_resume_argument

__all__ = [
    "ALL_DEVICES",
    "COMMON_OPTIONS",
    "PACKAGE_DIR",
    "RUNS_DIR",
    "Outputs",
    "Run",
    "add_amp_argument",
    "add_common_arguments",
    "add_export_options",
    "autocast",
    "close_logs",
    "finish_export",
    "config_errors",
    "json_safe",
    "positive_int",
    "int_at_least",
    "positive_float",
    "non_negative_int",
    "resolve_device",
    "resolve_weights",
    "start",
    "start_export",
    "start_score",
    "supported_devices",
    "train_config",
]

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the installed ``streammem`` package: never written to
RUNS_DIR = Path("runs")
# The options every verb that has them spells the same way (checked by tests/tasks/test_surface.py).
COMMON_OPTIONS: dict[str, tuple[str, ...]] = {
    "demo": ("--weights", "--out", "--device", "--threads"),
    "run": ("--weights", "--out", "--device", "--threads"),
    "eval": ("--weights", "--out", "--device", "--threads", "--resume"),
    "export": ("--weights", "--out", "--device", "--threads"),
    "bench": ("--out", "--device", "--threads"),
    "train": ("--out", "--device", "--threads", "--config", "--set", "--seed", "--amp"),
    "score": ("--out",),  # no model: no weights, device or threads
}


# ------------------------------------------------------------------------------------------ option types
def _number(kind: type, low: float, inclusive: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {what}") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN / inf never make sense as a setting
            raise argparse.ArgumentTypeError(f"'{text}' is not {what}")
        if value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"'{text}' is not {what}")
        return value

    parse.__name__ = what
    return parse


positive_int = _number(int, 0, False, "a positive integer")
non_negative_int = _number(int, 0, True, "a non-negative integer")
positive_float = _number(float, 0.0, False, "a positive number")


def int_at_least(low: int):
    """An argparse type: an integer >= ``low``."""
    return _number(int, low, True, f"an integer >= {low}")


def add_common_arguments(
    parser: argparse.ArgumentParser,
    verb: str,
    *,
    threads: int = 2,
    weights_help: str = "model weights (.safetensors; default: the shipped tiny weights)",
    out_help: str | None = None,
    configs: Iterable[str] = ("tiny", "paper"),
) -> None:
    """Add the options of ``verb`` that every task spells the same way (see ``COMMON_OPTIONS``)."""
    names = COMMON_OPTIONS[verb]
    if "--weights" in names:
        parser.add_argument("--weights", type=Path, default=None, help=weights_help)
    parser.add_argument("--out", type=Path, default=None, help=out_help or (
        f"output folder (default: runs/<task>/{verb}/<name>/), or the main output file itself"))
    if "--device" in names:
        parser.add_argument("--device", default="auto", help="auto (cuda when available, else cpu), cpu, cuda, cuda:N, "
                            "mps")
    if "--threads" in names:
        parser.add_argument("--threads", type=positive_int, default=threads, help=f"CPU threads for torch (default "
                            f"{threads})")
    if "--resume" in names:
        add_resume_argument(parser)
    if verb == "train":
        configs = tuple(configs)
        parser.add_argument("--config", default=configs[0], help=f"model config: a name ({', '.join(configs)}) or a "
                            "config file (.py or .yaml, read with mmengine) holding config fields and optionally "
                            f"`base = NAME` (default {configs[0]})")
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help="override one config field (repeatable); the value is JSON, e.g. --set layers=3 "
                            "--set memory=none; stored with the weights")
        parser.add_argument("--seed", type=int, default=0, help="random seed of initialisation and data order")
        parser.add_argument("--amp", choices=("bf16", "fp16"), default=None, help="mixed-precision training: bf16 "
                            "(CPU or CUDA) or fp16 (CUDA, with loss scaling); default full float32")


# ------------------------------------------------------------------------------------------------ device
ALL_DEVICES = ("cpu", "cuda", "mps")


def resolve_device(name: str, supported: Iterable[str] = ALL_DEVICES, what: str = "this task"):
    """``auto|cpu|cuda|cuda:N|mps`` -> a ``torch.device`` that exists here and that ``what`` runs on, or a
    one-line error. ``auto`` is CUDA when it exists and is supported, else the CPU."""
    import torch

    supported = tuple(supported)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and "cuda" in supported else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError("--device", f"'{name}' is not a device (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device", f"'{name}': CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError("--device", f"'{name}': this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise InputError("--device", f"'{name}': MPS is not available on this machine")
    elif device.type != "cpu":
        raise InputError("--device", f"'{name}' is not supported (use auto, cpu, cuda, cuda:N or mps)")
    if device.type not in supported:
        raise InputError("--device", f"'{name}': {what} runs on {' and '.join(supported)} only")
    return device


def supported_devices(module: Any, verb: str) -> tuple[str, ...]:
    """The devices ``verb`` of a task module runs on: its ``<VERB>_DEVICES`` (e.g. ``BENCH_DEVICES``), else its
    ``DEVICES``, else every device."""
    return tuple(getattr(module, f"{verb.upper()}_DEVICES", getattr(module, "DEVICES", ALL_DEVICES)))


# --------------------------------------------------------------------------------------- mixed precision
def add_amp_argument(parser: argparse.ArgumentParser) -> None:
    """``--amp bf16|fp16`` of an inference verb (``eval``, ``run``, ``demo``) whose model runs under autocast."""
    parser.add_argument("--amp", choices=("bf16", "fp16"), default=None, help="mixed-precision inference: "
                        "torch.autocast in bf16 (any device) or fp16 (CUDA); default full float32")


def autocast(amp: str | None, device: Any) -> contextlib.AbstractContextManager:
    """``--amp`` of an inference verb: ``torch.autocast`` on ``device`` in bfloat16 or float16, or no change without
    it. Call it right after :func:`start`, so fp16 off CUDA is a one-line error before any work."""
    if amp is None:
        return contextlib.nullcontext()
    import torch

    from streammem.training import amp_dtype  # the one place --amp becomes a dtype, for training too

    return torch.autocast(device.type, dtype=amp_dtype(amp, device, use="inference"))


# ----------------------------------------------------------------------------------------------- weights
def resolve_weights(weights: str | os.PathLike | None, model: str, config: str = "tiny") -> Path:
    """The user's weights file, or the shipped ``<model>_<config>.safetensors``; a missing file is one line."""
    from streammem.models import weights_path

    path = Path(weights) if weights else weights_path(model, config)
    if not path.is_file():
        hint = "" if weights else f" (no shipped {config} weights for {model}: train them with `streammem train`)"
        raise InputError(path, f"weights not found{hint}")
    return path


# ----------------------------------------------------------------------------------------------- outputs
def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


@dataclass
class Outputs:
    """Where a verb writes, and the guard that keeps it from destroying anything.

    ``folder`` is ``runs/<task>/<verb>/<stem>/`` or the user's ``--out``. When ``--out`` ends in one of the
    verb's ``main_suffixes`` (``.json``, ``.safetensors``, ``.pt`` ...), it names the main output file and the
    other outputs go beside it. Every path handed out is checked against the command's inputs and the package;
    the folder is checked writable at once but created only when the first output is written.
    """

    folder: Path
    main: Path | None = None
    inputs: tuple[Path, ...] = ()
    written: list[Path] = field(default_factory=list)

    @classmethod
    def plan(cls, task: str, verb: str, stem: str, out: Path | None, inputs: Iterable[str | os.PathLike | None] = (),
             main_suffixes: Iterable[str] = (".json",)) -> Outputs:
        """Decide the output folder and check it before any work starts."""
        resolved = tuple(Path(p).resolve() for p in inputs if p is not None and str(p) != "")
        main = None
        if out is None:
            folder = RUNS_DIR / task / verb / (_safe_stem(stem) or task)
        elif out.suffix.lower() in tuple(main_suffixes) and not out.is_dir():
            folder, main = out.parent, out
        else:
            folder = out
        outputs = cls(folder=folder, main=main, inputs=resolved)
        outputs._check_folder()
        if main is not None:
            outputs._checked(main.name)
        return outputs

    def _check_folder(self) -> None:
        where = self.folder.resolve()
        if _inside(where, PACKAGE_DIR):
            raise InputError(self.folder, "refusing to write inside the streammem package (shipped weights and "
                             "samples); choose another --out")
        if where.exists() and not where.is_dir():
            raise InputError(self.folder, "is a file, not a folder (give a folder, or a file name with the expected "
                             "suffix)")
        existing = next(p for p in (where, *where.parents) if p.exists())
        if not existing.is_dir():
            raise InputError(existing, "is a file, so the output folder cannot be created there")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise InputError(self.folder if existing == where else existing, "is not writable")

    def path(self, name: str) -> Path:
        """``folder/name`` (or the main file when ``name`` is its name), refused if it would overwrite an input
        or a file inside the package; its folder is created."""
        target = self._checked(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(target.parent, f"cannot create the output folder ({err.strerror or err})") from None
        return target

    def folder_path(self, name: str) -> Path:
        """``folder/name/`` as a folder of outputs (kept if it exists, e.g. from an earlier run), with the same
        guards as :meth:`path`."""
        target = self.folder / name
        where = target.resolve()
        if where in self.inputs or any(_inside(i, where) for i in self.inputs):
            raise InputError(target, "holds an input of this command; choose another --out")
        if _inside(where, PACKAGE_DIR):
            raise InputError(target, "refusing to write inside the streammem package; choose another --out")
        if where.exists() and not where.is_dir():
            raise InputError(target, "is a file, not a folder")
        target.mkdir(parents=True, exist_ok=True)
        return target

    def _checked(self, name: str) -> Path:
        target = self.main if self.main is not None and name == self.main.name else self.folder / name
        where = target.resolve()
        if where in self.inputs:
            raise InputError(target, "is an input of this command; refusing to overwrite it (choose another --out)")
        if where.exists() and any(_inside(where, i) for i in self.inputs if i.is_dir()):
            raise InputError(target, "is a file of an input folder of this command; refusing to overwrite it (choose "
                             "another --out)")
        if _inside(where, PACKAGE_DIR):
            raise InputError(target, "refusing to write inside the streammem package; choose another --out")
        if where.is_dir():
            raise InputError(target, "is a folder; cannot write the output there")
        return target

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as indented JSON, atomically, and remember it for :meth:`report`."""
        target = self.path(name)
        with atomic_output(target) as tmp:
            tmp.write_text(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
        return self.record(target)

    def record(self, path: Path) -> Path:
        """Note a file written by other code (a PNG, a video, weights) for :meth:`report`."""
        if path not in self.written:
            self.written.append(path)
        return path

    def report(self) -> None:
        """The last line of a verb: what was written, where."""
        if self.written:
            print("wrote: " + ", ".join(str(p) for p in self.written), flush=True)


def json_safe(value: Any) -> Any:
    """Results as strict JSON values: NaN/inf -> null, numpy scalars and arrays -> numbers and lists,
    paths -> strings, tuples -> lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy / torch scalars and arrays
        return json_safe(value.tolist())
    return value


def _safe_stem(text: str) -> str:
    """A folder name from a source: a file's stem, a URL's last part, ``camera0`` for camera 0."""
    text = str(text).rstrip("/")
    if text.isdigit():
        return f"camera{text}"
    name = text.split("?")[0].split("/")[-1]
    stem = Path(name).stem if "." in name else name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._")


# ----------------------------------------------------------------------------------------------- the run
@dataclass
class Run:
    """What :func:`start` hands a verb: the device and the outputs. Under torchrun only rank 0
    (``is_main``) writes the JSON outputs and reports; the other ranks compute their share."""

    device: Any
    outputs: Outputs

    @property
    def is_main(self) -> bool:
        if self.device is None:
            return True
        from streammem import distributed

        return distributed.is_main()

    def path(self, name: str) -> Path:
        return self.outputs.path(name)

    def folder_path(self, name: str) -> Path:
        return self.outputs.folder_path(name)

    def main_path(self, default: str) -> Path:
        """The verb's main output: the file ``--out`` named, else ``default`` in the output folder."""
        return self.outputs.main or self.path(default)

    def write_main_json(self, default: str, obj: Any) -> Path:
        """Write the verb's main JSON result: to the file ``--out`` named, else to ``default`` in the folder."""
        return self.write_json(self.main_path(default).name, obj)

    def write_json(self, name: str, obj: Any) -> Path:
        target = self.outputs.path(name)
        return self.outputs.write_json(name, obj) if self.is_main else target

    def record(self, path: Path) -> Path:
        return self.outputs.record(path)

    def finish(self) -> int:
        if self.is_main:
            self.outputs.report()
        return 0


def start(args: argparse.Namespace, *, task: str, verb: str, stem: str, inputs: Iterable[Any] = (),
          main_suffixes: Iterable[str] = (".json",)) -> Run:
    """Set threads and device from ``args`` and plan the outputs (checked before any work starts).

    ``inputs``: every file or folder the command reads (weights, data, source); none may be overwritten.
    """
    device = None
    if hasattr(args, "device"):  # verbs that run a model (score reads files only and never imports torch)
        import torch

        from streammem import distributed

        torch.set_num_threads(int(args.threads))
        module = sys.modules.get(f"streammem.tasks.{task}")
        device = resolve_device(args.device, supported_devices(module, verb), f"streammem {verb} {task}")
        distributed.init_from_env(device)  # a no-op unless started by torchrun
        if verb == "train":  # --seed fixes the initial weights too (the same on every rank), not only the data order
            torch.manual_seed(int(args.seed))
            from streammem.training import amp_dtype

            amp_dtype(getattr(args, "amp", None), device)  # --amp fp16 off CUDA: refused before any work
    weights = getattr(args, "weights", None)
    all_inputs = [*inputs, weights] + ([_sidecar(weights)] if weights else [])
    outputs = Outputs.plan(task, verb, stem, getattr(args, "out", None), all_inputs, main_suffixes)
    run = Run(device=device, outputs=outputs)
    if verb == "train" and run.is_main:
        _log_to(run.record(outputs.path("train.log")))
    return run


class _Tee:
    """A text stream that also copies everything to a log file (whole lines: progress bars go line by line)."""

    def __init__(self, stream, log) -> None:
        self.stream, self.log = stream, log

    def write(self, text: str) -> int:
        self.log.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()
        self.log.flush()

    def isatty(self) -> bool:  # progress bars print plain lines, so the log holds no carriage-return redraws
        return False

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


_LOGS: list[tuple[Any, Any, Any]] = []  # (log file, stdout, stderr) to restore


def _log_to(path: Path) -> None:
    """Copy this process's stdout and stderr into ``path`` (a training run's log) until :func:`close_logs`."""
    log = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - closed by close_logs
    _LOGS.append((log, sys.stdout, sys.stderr))
    sys.stdout, sys.stderr = _Tee(sys.stdout, log), _Tee(sys.stderr, log)


def close_logs() -> None:
    """Stop copying output to log files and close them (the CLI calls this when a verb ends)."""
    while _LOGS:
        log, stdout, stderr = _LOGS.pop()
        sys.stdout, sys.stderr = stdout, stderr
        log.close()


def start_score(args: argparse.Namespace, *, task: str) -> Run:
    """:func:`start` for ``score``: outputs go to ``runs/<task>/score/<predictions>/`` unless ``--out``; neither the
    ground truth nor the predictions (nor any other input option the verb has) can be overwritten."""
    inputs = [getattr(args, name, None) for name in ("gt", "pred", "maps", "seqmap")]
    return start(args, task=task, verb="score", stem=Path(args.pred).stem, inputs=inputs)


def _sidecar(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


# ------------------------------------------------------------------------------------------------- export
def add_export_options(parser: argparse.ArgumentParser, *, threads: int = 1,
                       weights_help: str = "model weights (.safetensors; default: the shipped tiny weights)") -> None:
    """The common options plus ``--format torchscript|export`` (default: from ``--out``'s suffix, else torchscript)."""
    add_common_arguments(parser, "export", threads=threads, weights_help=weights_help,
                         out_help="the file to write (.pt TorchScript, .pt2 torch.export), or a folder "
                         "(default runs/<task>/export/<weights>/step.pt or step.pt2)")
    parser.add_argument("--format", choices=("torchscript", "export"), default=None,
                        help="torchscript (.pt, torch.jit.load) or export (.pt2, torch.export.load; C++ through "
                        "AOTInductor); default: from --out's suffix, else torchscript")


def start_export(args: argparse.Namespace, *, task: str, model: str) -> tuple[Run, Path]:
    """:func:`start` for ``export``: settles ``args.format`` against ``--out``'s suffix and returns the file to write.

    A ``.pt2`` file asked for as TorchScript (or a ``.pt`` as torch.export) is refused: the file would not load
    with the loader its suffix promises.
    """
    from streammem.export import FORMATS

    out = getattr(args, "out", None)
    suffix = out.suffix.lower() if out is not None and out.suffix.lower() in FORMATS.values() else None
    by_suffix = {v: k for k, v in FORMATS.items()}
    if args.format is None:
        args.format = by_suffix[suffix] if suffix else "torchscript"
    elif suffix and by_suffix[suffix] != args.format:
        raise InputError(out, f"a {suffix} file holds {by_suffix[suffix]}, not --format {args.format}")
    weights = getattr(args, "weights", None)
    stem = Path(weights).stem if weights else f"{model}_tiny"
    run = start(args, task=task, verb="export", stem=stem, main_suffixes=tuple(FORMATS.values()))
    path = run.main_path(f"step{FORMATS[args.format]}")
    return run, path


def finish_export(run: Run, path: Path, args: argparse.Namespace, worst: float, **details: Any) -> int:
    """The end of every ``export``: ``<file>.json`` beside the exported file (format, how to load it, the parity
    measured against eager and its tolerance, the weights), then the list of what was written."""
    from streammem.export import PARITY_TOLERANCE

    loader = "torch.jit.load" if args.format == "torchscript" else "torch.export.load (extra file streammem.json)"
    run.record(path)
    run.write_json(path.with_suffix(".json").name, {
        "file": str(path), "format": args.format, "load_with": loader, "weights": str(getattr(args, "weights", None)
        or "shipped"), "parity_max_abs_diff": worst, "parity_tolerance": PARITY_TOLERANCE, **details})
    return run.finish()


# ------------------------------------------------------------------------------------------------ configs
def train_config(named: Mapping[str, Any], config: str, sets: Iterable[str] = (), **fixed: Any) -> dict[str, Any]:
    """The model config a ``train`` verb builds: ``named[config]`` or a config file, then ``--set`` overrides.

    ``config`` is a name in ``named`` (dataclass configs) or a ``.py``/``.yaml``/``.json`` file read with
    mmengine's ``Config``; a file may name its starting point with ``base = "paper"`` (default: ``tiny``).
    ``fixed`` are fields the data decides (e.g. the number of classes). Unknown fields are left for the
    model's config class to refuse, so the error names the field. The result is printed.
    """
    from dataclasses import asdict, is_dataclass

    from streammem.models.config import parse_overrides

    if config in named:
        base_name, from_file = config, {}
    else:
        path = Path(config)
        if not path.is_file():
            raise InputError(config, f"not a config name ({', '.join(named)}) nor a config file")
        from_file = _read_config_file(path)
        base_name = str(from_file.pop("base", "tiny" if "tiny" in named else next(iter(named))))
        if base_name not in named:
            raise InputError(path, f"base '{base_name}' is not a config name ({', '.join(named)})")
    base = named[base_name]
    resolved = dict(asdict(base) if is_dataclass(base) else base)
    resolved.update(from_file)
    try:
        resolved.update(parse_overrides(sets))
    except ValueError as err:
        raise StreamMemError(f"--set: {err}") from None
    resolved.update(fixed)
    from streammem import distributed

    if distributed.is_main():  # under torchrun rank 0 alone prints
        print(f"config ({config}" + (f", base {base_name}" if base_name != config else "") + "): "
              + json.dumps(resolved, sort_keys=True, default=str), flush=True)
    return resolved


@contextlib.contextmanager
def config_errors(what: str) -> Iterator[None]:
    """A config the model's config class refuses (unknown field, bad value) is one line naming ``what``."""
    try:
        yield
    except (ValueError, TypeError, KeyError) as err:
        raise StreamMemError(f"{what}: bad config: {err}") from None


def _read_config_file(path: Path) -> dict[str, Any]:
    """A config file's fields, through mmengine's ``Config`` (Python, YAML or JSON)."""
    if path.suffix.lower() not in (".py", ".yaml", ".yml", ".json"):
        raise InputError(path, "config files are .py, .yaml or .json")
    try:
        from mmengine.config import Config

        cfg = Config.fromfile(str(path))
    except Exception as err:  # mmengine raises SyntaxError, yaml errors, KeyError ...: one line for the user
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(path, f"cannot read the config: {first}") from None
    return {k: v for k, v in cfg.to_dict().items() if not k.startswith("_")}

