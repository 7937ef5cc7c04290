#!/usr/bin/env bash
# A 4x larger held-out split (seeds 5000-5031, 32 x 200 frames; it contains the 8 standard test sequences) for
# both data variants, to tell a memory effect from one sequence's luck. `identical`: the shipped-recipe models
# (runs/track3); `lookalike`: the look-alike models of rounds 2 and 1 (runs/track4, tools/experiments/track_lookalike.sh).
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
mkdir -p runs/track4/eval32
run() {  # NAME DATA WEIGHTS [--tracker bytetrack]
  local name=$1 data=$2 weights=$3; shift 3
  $S eval track "$data" --threads 1 --weights "$weights" "$@" --out runs/track4/eval32/$name 2>/dev/null | grep HOTA
}
if [ "${1:-identical}" = identical ]; then
  D=runs/synth_track_test32
  [ -f $D/val_seqmap.txt ] || .venv/bin/python -m streammem.data.synthetic_mot $D --split val --seeds 5000-5031
  run memotr $D runs/track3/memotr.safetensors
  run nomem $D runs/track3/nomem.safetensors
  run kalman $D runs/track3/memotr.safetensors --tracker bytetrack
else
  D=runs/synth_track_lookalike_test32
  [ -f $D/val_seqmap.txt ] || .venv/bin/python -m streammem.data.synthetic_mot $D --split val --seeds 5000-5031 --lookalike
  run memotr_look2 $D runs/track4/memotr_look2.safetensors
  run nomem_look2 $D runs/track4/nomem_look2.safetensors
  run kalman_look2 $D runs/track4/memotr_look2.safetensors --tracker bytetrack
  # round 1's models too
  run memotr_look $D runs/track4/memotr_look.safetensors
  run nomem_look $D runs/track4/nomem_look.safetensors
  run kalman_look $D runs/track4/memotr_look.safetensors --tracker bytetrack
fi
