#!/usr/bin/env bash
# MeMOTR tiny: a 3-layer decoder (two joint detect+track layers), clips growing 2 -> 5, 15,000
# iterations x 2 clips from scratch, miss tolerance 10; the ablation with the same data, seed and schedule.
# Both run side by side, one core each (~60 min on this 2-core machine).
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
mkdir -p runs/track3
common=(--config tiny --iterations 15000 --threads 1 --seed 0 --set dec_layers=3 --set "clip_lengths=[2,3,4,5]"
        --set "clip_milestones=[0.25,0.5,0.75]" --set miss_tolerance=10)
$S train track "${common[@]}" --out runs/track3/memotr.safetensors > runs/track3/memotr.log 2>&1 &
$S train track "${common[@]}" --no-memory --out runs/track3/nomem.safetensors > runs/track3/nomem.log 2>&1 &
wait
