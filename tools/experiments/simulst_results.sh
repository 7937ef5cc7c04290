#!/usr/bin/env bash
# Every number of docs/simulst.md "Results": the corpus, the tiny model (memory on) and its memory ablation
# (memory_size=0; same data, steps, seed), the evaluations and the BLEU-vs-AL plot. 1 CPU thread, nice'd.
set -euo pipefail
export OMP_NUM_THREADS=1
PY="nice -n 10 .venv/bin/python"
C=runs/simulst/corpus
ASR_STEPS=${ASR_STEPS:-241}
ST_STEPS=${ST_STEPS:-1462}
[ -d $C/en-de ] || $PY -m streammem.data.synthetic_simulst $C
for variant in m0 nomem; do
  set_args=(); [ $variant = nomem ] && set_args=(--set memory_size=0)
  $PY tools/experiments/simulst_train.py $C runs/simulst/$variant --stage asr --minutes 600 --max-steps $ASR_STEPS "${set_args[@]}"
  $PY tools/experiments/simulst_train.py $C runs/simulst/$variant --stage st --minutes 600 --max-steps $ST_STEPS \
      --init runs/simulst/$variant/asr.safetensors
done
$PY tools/experiments/simulst_eval.py runs/simulst/m0/st.safetensors $C --k 1 3 5 7 --shift both --json runs/simulst/m0/eval.json
$PY tools/experiments/simulst_eval.py runs/simulst/nomem/st.safetensors $C --k 1 3 5 7 --shift on --json runs/simulst/nomem/eval.json
$PY tools/experiments/simulst_plot.py docs/simulst_bleu_al.png "memory 3=runs/simulst/m0/eval.json" \
    "no memory=runs/simulst/nomem/eval.json"
