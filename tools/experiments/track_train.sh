#!/usr/bin/env bash
# MeMOTR tiny, then the ablation without long-term memory / memory-attention: same data, seed and schedule.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
$S train track --config tiny --iterations 2000 --threads 1 --seed 0 --out runs/track/memotr_tiny.safetensors
$S train track --config tiny --iterations 2000 --threads 1 --seed 0 --no-memory --out runs/track/memotr_tiny_nomem.safetensors
