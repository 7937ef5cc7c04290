#!/usr/bin/env bash
# Look-alike variant: objects wear one of 3 close tints (streammem.data.synthetic_mot --lookalike),
# so appearance narrows identity down but never settles it. Both shipped-recipe models (runs/track3, from
# track_train_long.sh) are fine-tuned on it with the same schedule (4,000 iterations x 2 clips of 5 frames,
# lr 2e-4), one core each, then scored on its held-out split (seeds 5000-5007) with the Kalman baseline.
# `track_lookalike.sh round2`: 8,000 more iterations of the same schedule from round 1's weights, same scoring.
# `track_lookalike.sh eval`: round 1's scoring only.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
D=runs/synth_track_lookalike
W=runs/track4
mkdir -p $W/eval
[ -f $D/train_seqmap.txt ] || .venv/bin/python -m streammem.data.synthetic_mot $D --split train --seeds 1000-1023 --lookalike
[ -f $D/val_seqmap.txt ] || .venv/bin/python -m streammem.data.synthetic_mot $D --split val --seeds 5000-5007 --lookalike
if [ "${1:-}" = "round2" ]; then
  common=(--data $D --iterations 8000 --threads 1 --seed 2 --set "clip_lengths=[5]" --set "clip_milestones=[]"
          --set lr=2e-4 --set lr_backbone=2e-4)
  $S train track "${common[@]}" --init $W/memotr_look.safetensors --out $W/memotr_look2.safetensors > $W/memotr_look2.log 2>&1 &
  $S train track "${common[@]}" --init $W/nomem_look.safetensors --no-memory --out $W/nomem_look2.safetensors > $W/nomem_look2.log 2>&1 &
  wait
  for w in memotr_look2 nomem_look2; do
    $S eval track $D --threads 1 --weights $W/$w.safetensors --out $W/eval/$w 2>/dev/null
  done
  $S eval track $D --threads 1 --weights $W/memotr_look2.safetensors --tracker bytetrack --out $W/eval/bytetrack_look2 2>/dev/null
  exit 0
fi
if [ "${1:-}" != "eval" ]; then
  common=(--data $D --iterations 4000 --threads 1 --seed 1 --set "clip_lengths=[5]" --set "clip_milestones=[]"
          --set lr=2e-4 --set lr_backbone=2e-4)
  $S train track "${common[@]}" --init runs/track3/memotr.safetensors --out $W/memotr_look.safetensors > $W/memotr_look.log 2>&1 &
  $S train track "${common[@]}" --init runs/track3/nomem.safetensors --no-memory --out $W/nomem_look.safetensors > $W/nomem_look.log 2>&1 &
  wait
fi
for w in memotr_look nomem_look; do
  $S eval track $D --threads 1 --weights $W/$w.safetensors --out $W/eval/$w 2>/dev/null
done
$S eval track $D --threads 1 --weights $W/memotr_look.safetensors --tracker bytetrack --out $W/eval/bytetrack_look 2>/dev/null
# the untuned identical-disc models on the same split, for reference
$S eval track $D --threads 1 --weights runs/track3/memotr.safetensors --out $W/eval/memotr_untuned 2>/dev/null
.venv/bin/python tools/experiments/track_events.py $D val memotr=$W/eval/memotr_look/tracks \
    nomem=$W/eval/nomem_look/tracks kalman=$W/eval/bytetrack_look/tracks | tee $W/eval/events.md
