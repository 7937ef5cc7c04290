#!/usr/bin/env bash
# Every Test-subset figure of docs/tal.md's results table (metrics JSONs under runs/tal/).
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
$S eval tal --out runs/tal/eval_matr.json --predictions runs/tal/pred_matr.json
$S eval tal --weights runs/tal/matr_nomem_tiny_r2800.safetensors --out runs/tal/eval_nomem.json
$S eval tal --weights runs/tal/matr_tiny_r2800.safetensors --out runs/tal/eval_matr_r2800.json
$S eval tal --weights runs/tal/matr_nomem_tiny_r2800.safetensors --out runs/tal/eval_nomem_r2800.json
$S eval tal --weights runs/tal/matr_tiny_r2350.safetensors --out runs/tal/eval_matr_r2350.json
$S eval tal --weights runs/tal/matr_nomem_tiny_r2350.safetensors --out runs/tal/eval_nomem_r2350.json
$S eval tal --weights runs/tal/matr_oad_baseline_tiny.safetensors --out runs/tal/eval_oad.json
$S eval tal --weights runs/tal/matr_tiny_r1900.safetensors --out runs/tal/eval_matr_r1900.json
$S eval tal --weights runs/tal/matr_nomem_tiny_r1900.safetensors --out runs/tal/eval_nomem_r1900.json
$S eval tal --weights runs/tal/matr_tiny_1k.safetensors --out runs/tal/eval_matr_1k.json
$S eval tal --weights runs/tal/matr_nomem_tiny_1k.safetensors --out runs/tal/eval_nomem_1k.json
