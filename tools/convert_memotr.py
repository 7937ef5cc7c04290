"""Convert an official MeMOTR checkpoint (MCG-NJU/MeMOTR, DAB variant) to streammem's weights.

    python tools/convert_memotr.py memotr_dancetrack.pth memotr_dancetrack.safetensors
    streammem eval track DanceTrack --split val --weights memotr_dancetrack.safetensors

The checkpoint is read with torch.load(weights_only=True); parameter names are mapped by
streammem.models.memotr.convert and checked against the paper config (the released DanceTrack config).
"""

import argparse
import sys
from pathlib import Path

from streammem.errors import InputError, StreamMemError, report
from streammem.models.memotr.convert import convert_checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Rename an official MeMOTR checkpoint's parameters to streammem's "
                                     "and write .safetensors + .json")
    parser.add_argument("checkpoint", type=Path, help="the official .pth (e.g. memotr_dancetrack.pth)")
    parser.add_argument("out", type=Path, help="the weights to write (.safetensors; the .json sidecar goes beside it)")
    parser.add_argument("--config", default="paper", help="the streammem MeMOTR config the checkpoint matches "
                        "(default paper = the released DanceTrack config)")
    args = parser.parse_args(argv)
    if args.out.suffix != ".safetensors":
        return report(InputError(args.out, "the output must end in .safetensors"))
    try:
        written = convert_checkpoint(args.checkpoint, args.out, args.config)
    except StreamMemError as err:
        return report(err)
    print(f"wrote: {written}, {written.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
