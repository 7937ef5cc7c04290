#!/bin/bash
# Session 5: both models after stage 6 (runs/asr3/{ntm,nomem}_stream2; the shipped NTM and its ablation)
# fine-tuned on the spelling-convention corpus (streammem/data/synthetic_speech_spelling.py), where a
# chapter's spelling can only be inferred from words heard earlier. Same batches for both (same seed);
# items are stretches of 1-8 consecutive utterances of one chapter (--join-consecutive), 4 rows per batch
# carrying the NTM state (detached) across 30 items. One core each, side by side.
#   stage S1: 700 steps, half the batches full context (as in stages 1-6)
#   stage S2: 1500 steps, every batch with the streaming chunk mask, so that (as at test time) anything
#             older than the 2.56 s left context can reach a frame only through the memory
#   stage S3: 1200 steps as S2, the NTM and its output layer at 10x the learning rate (--memory-lr-scale);
#             stopped at step ~470 (NTM CTC loss above the ablation's throughout), not evaluated
#   stage S4: from S2, 1200 steps as S2 with CTC alone (--ctc-weight 1): the attention decoder sees a whole
#             item and can take the convention from an earlier marker without the memory, CTC cannot
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
D=runs/synth_speech_spelling
[ -f $D/conventions.txt ] || .venv/bin/python -m streammem.data.synthetic_speech_spelling $D
mkdir -p runs/asr5
# stage FROM TO_SUFFIX STEPS STREAMING_FRACTION SEED MEMORY_LR_SCALE CTC_WEIGHT
stage() {
  for m in ntm nomem; do
    $S train asr --data $D --resume "$(printf "$1" $m)" --minutes 120 --max-steps "$3" --lr 5e-4 \
        --freq-mask 15 --join-fraction 0.8 --join-max 8 --join-consecutive --stream-items 30 --stream-rows 4 \
        --streaming-fraction "$4" --memory-lr-scale "${6:-1}" ${7:+--ctc-weight $7} --threads 1 --seed "$5" \
        --out "runs/asr5/${m}_$2.safetensors" > "runs/asr5/train_${m}_$2.log" 2>&1 &
  done
  wait
}
case "${1:-S1}" in  # start at stage S1 (default), S2, S3 or S4
  S1) stage runs/asr3/%s_stream2.safetensors spell 700 0.5 6 ;&
  S2) stage runs/asr5/%s_spell.safetensors spell2 1500 1.0 7 ;;
  S3) stage runs/asr5/%s_spell2.safetensors spell3 1200 1.0 8 10 ;;
  S4) stage runs/asr5/%s_spell2.safetensors spell4 1200 1.0 8 1 1.0 ;;
esac
