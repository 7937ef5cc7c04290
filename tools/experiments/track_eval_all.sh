#!/usr/bin/env bash
# Every number in docs/track.md: held-out synthetic val split (seeds 5000-5007), tiny config.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
$S eval track --weights runs/track/memotr_tiny.safetensors --out runs/track_eval/memotr.json
$S eval track --weights runs/track/memotr_tiny_nomem.safetensors --out runs/track_eval/nomem.json
$S eval track --weights runs/track/memotr_tiny.safetensors --tracker bytetrack --out runs/track_eval/bytetrack.json
