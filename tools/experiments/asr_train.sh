#!/bin/bash
# How the shipped asr tiny weights and their no-memory ablation were trained, on one core each.
# 1. A conformer without memory is trained for 65 wall-clock minutes (5,8xx steps on this machine).
# 2. Two branches from it, same data order (--seed 1), same steps and schedule (warm restart at lr 1e-3):
#    a. the NTM inserted as a pass-through (--init-from) and trained with the conformer -> shipped weights;
#    b. the conformer alone, continued (--resume) -> the ablation.
# 3. Both branches fine-tuned 600 steps with half the items two utterances joined (--join-fraction 0.5), so
#    sentences also start mid-stream as in long-form audio.
# 4. Both fine-tuned 300 more steps on longer items (70 % of them 2-8 utterances joined, up to ~30 s) so the
#    NTM runs over longer streams in training.
# Both models therefore see exactly the same number of updates on the same batches.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
mkdir -p runs/asr2
$S train asr --config tiny --no-memory --minutes 65 --lr 3e-3 --freq-mask 15 --threads 1 \
    --out runs/asr2/pre_nomem.safetensors
$S train asr --config tiny --init-from runs/asr2/pre_nomem.safetensors --memory-init random --minutes 90 \
    --max-steps 2500 --lr 1e-3 --freq-mask 15 --threads 1 --seed 1 --out runs/asr2/ntm.safetensors &
$S train asr --resume runs/asr2/pre_nomem.safetensors --minutes 90 --max-steps 2500 --lr 1e-3 --freq-mask 15 \
    --threads 1 --seed 1 --out runs/asr2/nomem.safetensors
wait
for m in ntm nomem; do
  $S train asr --resume runs/asr2/$m.safetensors --minutes 40 --max-steps 600 --lr 5e-4 --freq-mask 15 \
      --join-fraction 0.5 --threads 1 --seed 2 --out runs/asr2/${m}_join.safetensors &
done
wait
for m in ntm nomem; do
  $S train asr --resume runs/asr2/${m}_join.safetensors --minutes 30 --max-steps 300 --lr 3e-4 --freq-mask 15 \
      --join-fraction 0.7 --join-max 8 --batch-frames 12000 --threads 1 --seed 3 --out runs/asr2/${m}_long.safetensors &
done
wait
cp runs/asr2/ntm_long.safetensors streammem/weights/conformer_ntm_tiny.safetensors
cp runs/asr2/ntm_long.json streammem/weights/conformer_ntm_tiny.json
