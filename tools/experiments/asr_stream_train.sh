#!/bin/bash
# Session 3, stages 5-6 (after tools/experiments/asr_train.sh): both stage-4 models (runs/asr2/{ntm,nomem}_long)
# fine-tuned on long streams: 4 rows per batch, each row a stream of consecutive items (items of 1-8 utterances)
# whose NTM state is carried, detached, from item to item (--stream-items: truncated backpropagation through
# time), rows renewing their memory staggered. Stage 5: 400 steps, 30 items (~6 min) per stream; stage 6: 400
# steps, 60 items (~12 min). The no-memory model gets the same batches (the carry is a no-op there).
# One core each, side by side: ~30 min per stage on this 2-core machine.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
mkdir -p runs/asr3
# stage FROM_DIR FROM_SUFFIX TO_SUFFIX LR STREAM_ITEMS SEED: both models side by side, one core each
stage() {
  for m in ntm nomem; do
    $S train asr --resume "$1/${m}_$2.safetensors" --minutes 90 --max-steps 400 --lr "$4" --freq-mask 15 \
        --join-fraction 0.7 --join-max 8 --stream-items "$5" --stream-rows 4 --threads 1 --seed "$6" \
        --out "runs/asr3/${m}_$3.safetensors" > "runs/asr3/train_${m}_$3.log" 2>&1 &
  done
  wait
}
stage runs/asr2 long stream 3e-4 30 4      # stage 5: ~6-minute streams
stage runs/asr3 stream stream2 2e-4 60 5   # stage 6: ~12-minute streams, lower LR
cp runs/asr3/ntm_stream2.safetensors streammem/weights/conformer_ntm_tiny.safetensors
cp runs/asr3/ntm_stream2.json streammem/weights/conformer_ntm_tiny.json
