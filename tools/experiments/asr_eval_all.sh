#!/bin/bash
# Every accuracy number in docs/asr.md. Usage: W=runs/asr2 asr_eval_all.sh <weights name under $W> ...
# Full context is scored on the 1- and 2-minute buckets only: 5-minute full-context attention is O(T^2)
# and takes minutes per recording on this CPU.
set -e
cd "$(dirname "$0")/../.."
W=${W:-runs/asr2}
for name in "$@"; do
  .venv/bin/streammem eval asr --weights $W/$name.safetensors --mode streaming --threads 1 --out $W/eval_${name}_streaming.json
  .venv/bin/streammem eval asr --weights $W/$name.safetensors --mode full --buckets 1min=60,2min=120 --threads 1 --out $W/eval_${name}_full.json
  .venv/bin/streammem eval asr --weights $W/$name.safetensors --mode full --decode joint --long-split "" --threads 1 --out $W/eval_${name}_full_joint.json
done
