"""MeMOTR diagnostics (docs/track.md). Single-threaded, CPU.

  births   WEIGHTS SEQS           per-frame counts on held-out sequences: GT objects, live/shown tracks, births,
                                  and for every GT not covered by a shown track whether a detect query scores
                                  >= 0.5 at IoU >= 0.5 in the joint layer (what births use), in layer 0, and in
                                  the detect-only pass (`MeMOTR.detect`, no track queries)
  probe    WEIGHTS FRAME          one frame of synth05000: joint-layer detect scores per GT with the real track
                                  queries, the track moved elsewhere, the tracks masked, random/zero content
  sweep    WEIGHTS DATA SPECS     `evaluate` with config overrides, e.g. "miss_tolerance=10;det_thresh=0.4"
                                  (';' separates settings, ',' separates keys; '' = the weights' own config)
  trainstats WEIGHTS              30 batches of 2 training clips of length 4 (TP-drop on, no gradient): per frame
                                  index and decoder layer, GTs matched to detect queries and their mean score
  finetune INIT OUT ITERS k=v..   continue training from INIT with config overrides (JSON values), save to OUT

WEIGHTS '' means the shipped tiny weights. Run from the repository root with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torchvision.ops import box_convert, box_iou

from streammem.models.memotr.data import load_sequence, normalize
from streammem.tasks.track import evaluate, load_model

VAL = Path("runs/synth_track/val")


def _xy(b):
    return box_convert(b, "cxcywh", "xyxy")


def _covered(gt, boxes, scores, thresh=0.5):
    """(n,) bool: some box with score >= thresh has IoU >= 0.5 with the GT."""
    if boxes.shape[0] == 0:
        return torch.zeros(gt.shape[0], dtype=torch.bool)
    return ((box_iou(_xy(gt), _xy(boxes)) >= 0.5) & (scores[None] >= thresh)).any(1)


def births(weights: str, seqs: str) -> None:
    m = load_model(weights or None)
    tot = dict(gt=0, live=0, max_live=0, shown=0, births=0, uncovered=0, uncovered_det_joint=0, uncovered_det_layer0=0,
               uncovered_det_alone=0)
    for name in seqs.split(","):
        seq = load_sequence(VAL / name, tuple(m.cfg.image_size))
        state = m.initial_state(1)
        for t in range(seq.frames.shape[0]):
            f = normalize(seq.frames[t : t + 1])
            memory, shapes = m.encode(f)
            dec = m.decode(memory, shapes, state.query, state.ref, state.alive)
            alone_b, alone_s = m.detect(f)
            prev_next = int(state.next_id[0])
            out, state = m(f, state)
            gt = seq.boxes[t]
            keep = out.keep[0]
            unc = ~_covered(gt, out.boxes[0][keep], out.scores[0][keep])
            tot["gt"] += gt.shape[0]
            tot["live"] += int(state.alive.sum())
            tot["max_live"] = max(tot["max_live"], int(state.alive.sum()))
            tot["shown"] += int(keep.sum())
            tot["births"] += int(state.next_id[0]) - prev_next
            tot["uncovered"] += int(unc.sum())
            for key, y in (("joint", -1), ("layer0", 0)):
                hit = _covered(gt, dec.det_boxes[y][0], dec.det_logits[y].sigmoid().amax(-1)[0])
                tot[f"uncovered_det_{key}"] += int((unc & hit).sum())
            tot["uncovered_det_alone"] += int((unc & _covered(gt, alone_b[0], alone_s[0])).sum())
    print(json.dumps(tot))


def probe(weights: str, frame: str) -> None:
    m = load_model(weights or None)
    seq = load_sequence(VAL / "synth05000", tuple(m.cfg.image_size))
    t_probe = int(frame)
    state = m.initial_state(1)
    for t in range(t_probe):
        _, state = m(normalize(seq.frames[t : t + 1]), state)
    memory, shapes = m.encode(normalize(seq.frames[t_probe : t_probe + 1]))
    gt = seq.boxes[t_probe]

    def best(q, r, a):
        dec = m.decode(memory, shapes, q, r, a)
        s = dec.det_logits[-1].sigmoid()[0, :, 0]
        iou = box_iou(_xy(gt), _xy(dec.det_boxes[-1][0]))
        return [round(float((s * (iou[i] >= 0.5)).max()), 2) for i in range(gt.shape[0])]

    print("GT centres", [[round(v, 2) for v in b[:2]] for b in gt.tolist()])
    print("live tracks at", [[round(v, 2) for v in b[:2]] for b in state.ref[0][state.alive[0]].tolist()])
    print("joint-layer best detect score per GT, real state:", best(state.query, state.ref, state.alive))
    for pos in ((0.1, 0.1), (0.5, 0.5)):
        r = state.ref.clone()
        r[0, :, :2] = torch.tensor(pos)
        print(f"  tracks' boxes moved to {pos}:", best(state.query, r, state.alive))
    print("  track slots masked:", best(state.query, state.ref, torch.zeros_like(state.alive)))
    print("  random track content:", best(torch.randn_like(state.query), state.ref, state.alive))
    print("  zero track content:", best(torch.zeros_like(state.query), state.ref, state.alive))


def sweep(weights: str, data: str, specs: str) -> None:
    for spec in specs.split(";"):
        ov: dict = {}
        for kv in filter(None, spec.split(",")):
            k, v = kv.split("=")
            ov[k] = int(v) if k == "miss_tolerance" else float(v)
        t0 = time.time()
        m = load_model(weights or None, **ov)
        met = evaluate(m, Path(data), "val", Path("runs/track_fix/preds_tmp"), progress=False)
        print(json.dumps(ov), " ".join(f"{k} {met[k]:.1f}" for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")),
              f"({time.time() - t0:.0f}s)", flush=True)


def trainstats(weights: str) -> None:
    import numpy as np

    import streammem.models.memotr.training as tr
    from streammem.models.memotr.data import load_split, sample_clip

    m = load_model(weights or None)
    m.train()
    seqs = load_split("runs/synth_track", "train", tuple(m.cfg.image_size))[:6]
    rec: list = []
    orig = tr._match

    def wrapped(logits, boxes, gt, cfg):
        r, c = orig(logits, boxes, gt, cfg)
        rec.append((gt.shape[0], logits.sigmoid()[r, 0].tolist()))
        return r, c

    tr._match = wrapped
    rng = np.random.default_rng(0)
    stats = []
    for _ in range(30):
        clips = [sample_clip(seqs, 4, 4, rng) for _ in range(2)]
        frames = torch.stack([c[0] for c in clips])
        rec.clear()
        tr.clip_loss(m, frames, [[c[1][t] for c in clips] for t in range(4)])
        layers = m.dec_layers
        for j, (ng, s) in enumerate(rec):  # order: frame, clip, layer
            stats.append((j // (2 * layers), j % layers, ng, s))
    tr._match = orig
    for t in range(4):
        for y in range(m.dec_layers):
            sel = [s for s in stats if s[0] == t and s[1] == y]
            sc = [x for s in sel for x in s[3]]
            print(f"frame {t} layer {y}: GTs matched to detect queries per clip {sum(s[2] for s in sel) / len(sel):.2f}, "
                  f"their mean score {np.mean(sc) if sc else float('nan'):.3f}")


def finetune(init: str, out: str, iters: str, *overrides: str) -> None:
    from streammem.checkpoints import save_checkpoint
    from streammem.models.memotr.data import load_split
    from streammem.models.memotr.training import train_loop

    ov = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in overrides)}
    if "dec_layers" in ov:  # deeper decoder: new layers start as copies of the last trained one
        from streammem.checkpoints import load_checkpoint
        from streammem.models.memotr import build
        from streammem.tasks.track import _weights_path

        state, meta = load_checkpoint(Path(init) if init else _weights_path())
        model = build(meta["config"], **ov)
        old = meta["config"]["dec_layers"]
        for i in range(old, model.dec_layers):
            for part in ("decoder", "class_embed", "bbox_embed"):
                for k in [k for k in state if k.startswith(f"{part}.{old - 1}.")]:
                    state[f"{part}.{i}." + k[len(f"{part}.{old - 1}."):]] = state[k].clone()
        model.load_state_dict(state)
    else:
        model = load_model(init or None, **ov)
    seqs = load_split("runs/synth_track", "train", tuple(model.cfg.image_size))
    t0 = time.time()
    run = train_loop(model, seqs, int(iters), 2, 1, progress=False, lr_drop=0.8, log=lambda s: print(s, flush=True))
    save_checkpoint(Path(out), model, model_name="memotr", config=model.cfg.to_dict(),
                    training_command="tools/experiments/track_diag.py finetune " + " ".join(sys.argv[2:]),
                    data_seed=1000, metrics={"iterations": int(iters), "train_loss": run.get("loss"),
                                             "train_minutes": (time.time() - t0) / 60})
    print("done", out, f"{(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    verb = sys.argv[1]
    torch.set_grad_enabled(verb == "finetune")  # the diagnostics are inference only
    {"births": births, "probe": probe, "sweep": sweep, "trainstats": trainstats, "finetune": finetune}[verb](*sys.argv[2:])
