#!/usr/bin/env bash
# Every Test-subset figure of docs/tal.md's results table (runs/tal/eval/<name>/metrics.json + predictions.json).
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
$S eval tal --out runs/tal/eval/matr
$S eval tal --weights runs/tal/matr_nomem_tiny_r2800.safetensors --out runs/tal/eval/nomem
$S eval tal --weights runs/tal/matr_tiny_r2800.safetensors --out runs/tal/eval/matr_r2800
$S eval tal --weights runs/tal/matr_nomem_tiny_r2800.safetensors --out runs/tal/eval/nomem_r2800
$S eval tal --weights runs/tal/matr_tiny_r2350.safetensors --out runs/tal/eval/matr_r2350
$S eval tal --weights runs/tal/matr_nomem_tiny_r2350.safetensors --out runs/tal/eval/nomem_r2350
$S eval tal --weights runs/tal/matr_oad_baseline_tiny.safetensors --out runs/tal/eval/oad
$S eval tal --weights runs/tal/matr_tiny_r1900.safetensors --out runs/tal/eval/matr_r1900
$S eval tal --weights runs/tal/matr_nomem_tiny_r1900.safetensors --out runs/tal/eval/nomem_r1900
$S eval tal --weights runs/tal/matr_tiny_1k.safetensors --out runs/tal/eval/matr_1k
$S eval tal --weights runs/tal/matr_nomem_tiny_1k.safetensors --out runs/tal/eval/nomem_1k
