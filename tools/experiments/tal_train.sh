#!/usr/bin/env bash
# MATR tiny vs the same model without memory (queue of length 0), same data and schedule: 1,000 iterations, then three
# warm restarts (+900, +450, +450) from the held-out-selected checkpoint; OAD->TAL baseline; ship the selected MATR.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
L="flock /tmp/streammem-train.lock"
$L $S train tal --variant matr  --iterations 1000 --eval-every 200 --out runs/tal/matr_tiny_1k.safetensors
$L $S train tal --variant nomem --set memory_len=0 --iterations 1000 --eval-every 200 --out runs/tal/matr_nomem_tiny_1k.safetensors
$L $S train tal --variant oad   --iterations 400  --eval-every 100 --out runs/tal/matr_oad_baseline_tiny.safetensors
for v in matr nomem; do
  n=$([ $v = matr ] && echo matr_tiny || echo matr_nomem_tiny)
  q=$([ $v = matr ] && echo "" || echo "--set memory_len=0")  # the no-memory model: a queue of length 0
  $L $S train tal --variant $v $q --resume runs/tal/${n}_1k.safetensors --iterations 900 --eval-every 150 --seed 53 --threads 1 --out runs/tal/${n}_r1900.safetensors
  $L $S train tal --variant $v $q --resume runs/tal/${n}_r1900.safetensors --iterations 450 --eval-every 150 --seed 54 --threads 1 --out runs/tal/${n}_r2350.safetensors
  $L $S train tal --variant $v $q --resume runs/tal/${n}_r2350.safetensors --iterations 450 --eval-every 150 --seed 55 --threads 1 --out runs/tal/${n}_r2800.safetensors
done
cp runs/tal/matr_tiny_r2800.safetensors streammem/weights/matr_tiny.safetensors
cp runs/tal/matr_tiny_r2800.json streammem/weights/matr_tiny.json
chmod 644 streammem/weights/matr_tiny.*
