#!/bin/bash
# Streaming evaluation of spelling-corpus weights: WER/CER per bucket, the test-long utterances one by one,
# then how often each model wrote the chapter's spelling. Usage: asr_spelling_eval.sh NAME... (weights
# runs/asr5/NAME.safetensors); the models run side by side, one core each.
set -e
cd "$(dirname "$0")/../.."
D=${D:-runs/synth_speech_spelling}
W=${W:-runs/asr5}
S=.venv/bin/streammem
for name in "$@"; do
  ( $S eval asr --data $D --weights $W/$name.safetensors --mode streaming --threads 1 \
        --out $W/eval_${name}_streaming.json 2>/dev/null
    $S eval asr --data $D --weights $W/$name.safetensors --mode streaming --split test-long --long-split "" \
        --threads 1 --out $W/eval_${name}_testlong_utts.json 2>/dev/null ) &
done
wait
for name in "$@"; do
  .venv/bin/python tools/experiments/asr_spelling.py $W/eval_${name}_streaming.json $D
  .venv/bin/python tools/experiments/asr_spelling.py $W/eval_${name}_testlong_utts.json $D | grep "one by one"
  .venv/bin/python -c "import json; d = json.load(open('$W/eval_${name}_testlong_utts.json')); print('test-long one by one', round(d['WER'], 2), round(d['CER'], 2))"
done
