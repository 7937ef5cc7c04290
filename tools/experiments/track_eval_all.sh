#!/usr/bin/env bash
# Every number in docs/track.md "Results": held-out synthetic test split (seeds 5000-5007), tiny config,
# weights from tools/experiments/track_train_long.sh. The runtime knob miss_tolerance is chosen on a separate
# dev split (seeds 6000-6007, runs/synth_track_dev), never on the test split.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
W=${W:-runs/track3}
mkdir -p $W/eval
.venv/bin/python -c "
from pathlib import Path
from streammem.data.synthetic_mot import write_split
if not Path('runs/synth_track_dev/val_seqmap.txt').is_file():
    write_split('runs/synth_track_dev', 'val', list(range(6000, 6008)))"
# dev split: miss tolerance sweep for both models (the other runtime settings stay at the paper's 0.5)
for w in memotr nomem; do
  OMP_NUM_THREADS=1 .venv/bin/python tools/experiments/track_diag.py sweep $W/$w.safetensors runs/synth_track_dev \
      "miss_tolerance=5;miss_tolerance=10;miss_tolerance=20;miss_tolerance=30" | tee $W/eval/dev_sweep_$w.txt
done
# test split with the weights' own settings (miss tolerance 10)
$S eval track --threads 1 --weights $W/memotr.safetensors --out $W/eval/memotr
$S eval track --threads 1 --weights $W/nomem.safetensors --out $W/eval/nomem
$S eval track --threads 1 --weights $W/memotr.safetensors --tracker bytetrack --out $W/eval/bytetrack
