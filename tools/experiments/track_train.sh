#!/usr/bin/env bash
# Session 2's MeMOTR tiny (2,000 iterations, one joint decoder layer), then its ablation: same data, seed and
# schedule. The --set flags restore that model's settings (the tiny config has since changed; see
# track_train_long.sh for the shipped model).
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
old=(--set dec_layers=2 --set "clip_lengths=[2,3,4]" --set "clip_milestones=[0.35,0.7]" --set miss_tolerance=20)
$S train track --config tiny --iterations 2000 --threads 1 --seed 0 "${old[@]}" --out runs/track/memotr_tiny.safetensors
$S train track --config tiny --iterations 2000 --threads 1 --seed 0 "${old[@]}" --no-memory --out runs/track/memotr_tiny_nomem.safetensors
