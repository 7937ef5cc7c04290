#!/usr/bin/env bash
# Rendered-video TAL: procedural clips -> frame encoder (per-frame cue/middle/background) -> features/ at 4/s
# -> MATR tiny on those features (fine-tuned from the shipped feature-trained matr_tiny) -> held-out Test eval;
# the no-memory ablation needs runs/tal/matr_nomem_tiny_r2800 from tal_train.sh.
# Every command 1 torch thread (a 2-core machine shared with another training). Outputs under runs/tal_video/.
set -e
cd "$(dirname "$0")/../.."
S=.venv/bin/streammem
export OMP_NUM_THREADS=1
mkdir -p runs/tal_video
# data: 96 Validation (training; every 8th = 12 held-out selection videos) + 24 Test clips, 64x64 at 8 fps, seed 0
.venv/bin/python -c "from streammem.data.synthetic_tal_video import generate_synthetic_tal_video as g; g('runs/tal_video/data', seed=0)"
# frame encoder (mobilenet_v3_small, 64 px, random init -> 32-d), then features/<video>.npy for all 120 videos
$S train tal --stage encoder --data runs/tal_video/data --iterations 1200 --eval-every 300 --threads 1 \
  --out runs/tal_video/frame_encoder_tiny.safetensors 2>&1 | tee runs/tal_video/train_encoder.log
# MATR tiny on the extracted features (held-out selection on the 12 selection videos, never Test)
$S train tal --data runs/tal_video/data --resume streammem/weights/matr_tiny.safetensors --iterations 1500 \
  --eval-every 250 --seed 56 --threads 1 --out runs/tal_video/matr_tiny_video.safetensors 2>&1 | tee runs/tal_video/train_matr.log
cp runs/tal_video/frame_encoder_tiny.safetensors runs/tal_video/frame_encoder_tiny.json streammem/weights/
cp runs/tal_video/matr_tiny_video.safetensors streammem/weights/matr_tiny_video.safetensors
cp runs/tal_video/matr_tiny_video.json streammem/weights/matr_tiny_video.json
chmod 644 streammem/weights/frame_encoder_tiny.* streammem/weights/matr_tiny_video.*
# held-out Test videos (24): mAP@0.3..0.7, mAP_avg, latency_s
$S eval tal --data runs/tal_video/data --weights streammem/weights/matr_tiny_video.safetensors \
  --out runs/tal_video/eval
# the same without memory (queue 0), same data and schedule, from the feature-trained no-memory model
$S train tal --variant nomem --set memory_len=0 --data runs/tal_video/data --resume runs/tal/matr_nomem_tiny_r2800.safetensors --iterations 1500 \
  --eval-every 250 --seed 56 --threads 1 --out runs/tal_video/matr_nomem_tiny_video.safetensors 2>&1 | tee runs/tal_video/train_nomem.log
$S eval tal --data runs/tal_video/data --weights runs/tal_video/matr_nomem_tiny_video.safetensors --out runs/tal_video/eval_nomem
# bundled clip (data seed 7, Test video 4: seed 15,000,049, 73 s) and the demo / run on it
.venv/bin/python -c "
from streammem.data.synthetic_tal import SyntheticTALConfig
from streammem.data.synthetic_tal_video import VideoTALConfig, write_sample_clip
write_sample_clip('streammem/samples/tal_clip.mp4', 15_000_049, VideoTALConfig(timing=SyntheticTALConfig(num_features=(280, 340))))"
$S demo tal --source streammem/samples/tal_clip.mp4 --out runs/tal_video/demo
$S run tal streammem/samples/tal_clip.mp4 --out runs/tal_video/run
