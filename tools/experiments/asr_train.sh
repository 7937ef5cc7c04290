#!/bin/bash
# How the shipped asr tiny weights were trained: phase 1 (equal steps for both models), then phase 2 resumed.
set -e
cd "$(dirname "$0")/../.."
.venv/bin/streammem train asr --config tiny --minutes 14 --threads 1 --out runs/asr/conformer_ntm_tiny.safetensors
STEPS=$(.venv/bin/python -c "import json;print(json.load(open('runs/asr/conformer_ntm_tiny.json'))['metrics']['steps'])")
.venv/bin/streammem train asr --config tiny --no-memory --minutes 30 --max-steps $STEPS --threads 1 --out runs/asr/conformer_ntm_tiny_nomem.safetensors
cp runs/asr/conformer_ntm_tiny.safetensors runs/asr/phase1_ntm.safetensors; cp runs/asr/conformer_ntm_tiny.json runs/asr/phase1_ntm.json
cp runs/asr/conformer_ntm_tiny_nomem.safetensors runs/asr/phase1_nomem.safetensors; cp runs/asr/conformer_ntm_tiny_nomem.json runs/asr/phase1_nomem.json
.venv/bin/streammem train asr --resume runs/asr/phase1_ntm.safetensors --minutes 9 --lr 1e-3 --freq-mask 15 --threads 1 --seed 1 --out runs/asr/conformer_ntm_tiny.safetensors
STEPS=$(.venv/bin/python -c "import json;print(json.load(open('runs/asr/conformer_ntm_tiny.json'))['metrics']['steps'])")
.venv/bin/streammem train asr --resume runs/asr/phase1_nomem.safetensors --minutes 30 --max-steps $STEPS --lr 1e-3 --freq-mask 15 --threads 1 --seed 1 --out runs/asr/conformer_ntm_tiny_nomem.safetensors
cp runs/asr/conformer_ntm_tiny.safetensors runs/asr/final_ntm.safetensors; cp runs/asr/conformer_ntm_tiny.json runs/asr/final_ntm.json
cp runs/asr/conformer_ntm_tiny_nomem.safetensors runs/asr/final_nomem.safetensors; cp runs/asr/conformer_ntm_tiny_nomem.json runs/asr/final_nomem.json
