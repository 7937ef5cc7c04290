"""Old code (asr_speed_compare.py's copies) vs new: training loss and gradients on tiny and paper (dropout 0),
and the shipped conformer_ntm_tiny checkpoint (loads strictly) streamed for 20 chunks.

Usage: python tools/experiments/asr_speed_parity.py
"""
import sys

import torch

sys.path.insert(0, "tools/experiments")
import asr_speed_compare as compare  # noqa: E402

from streammem.checkpoints import load_checkpoint, load_weights  # noqa: E402
from streammem.models import build_model  # noqa: E402

torch.set_num_threads(1)
for config in ("tiny", "paper"):
    for streaming in (True, False):
        torch.manual_seed(0)
        model = build_model("conformer_ntm", config, dropout=0.0).train()
        feats = torch.randn(2, 400, 80)
        lengths = torch.tensor([400, 287])
        targets = [[3, 4, 1, 5, 9, 2], [6, 7, 8]]
        results = {}
        for name, old in (("before", True), ("after", False)):
            compare.use(old, old)
            model.zero_grad()
            loss = model.loss(feats, lengths, targets, streaming)[0]
            loss.backward()
            results[name] = (loss.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None])
        compare.use(False, False)
        (lb, gb), (la, ga) = results["before"], results["after"]
        # Gradients that are zero in exact arithmetic (attention key biases: softmax is shift-invariant; the
        # NTM read head under a constant initial memory) are float noise (norm < 1e-6); left out of the ratio.
        pairs = [(a, b) for a, b in zip(ga, gb, strict=True) if b.norm() > 1e-6]
        rel = max(((a - b).norm() / b.norm()).item() for a, b in pairs)
        print(f"{config} streaming={streaming}: loss before {lb:.6f} after {la:.6f} |diff| {abs(la - lb):.2e}; "
              f"max relative gradient diff {rel:.2e} over {len(pairs)} tensors "
              f"({len(ga) - len(pairs)} zero-gradient tensors left out)")

path = "streammem/weights/conformer_ntm_tiny.safetensors"
_, meta = load_checkpoint(path)
model = build_model("conformer_ntm", meta["config"]).eval()
load_weights(model, path, expect_model="conformer_ntm")
gen = torch.Generator().manual_seed(0)
audio = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(20)]
outs = {}
with torch.no_grad():
    for name, old in (("before", True), ("after", False)):
        compare.use(old, old)
        state, chunks = model.initial_state(1), []
        for a in audio:
            out, state = model(a, state)
            chunks.append(out)
        outs[name] = (torch.cat(chunks, 1), state)
compare.use(False, False)
print("logprob max|diff|", (outs["before"][0] - outs["after"][0]).abs().max().item(),
      "argmax equal", torch.equal(outs["before"][0].argmax(-1), outs["after"][0].argmax(-1)),
      "state max|diff|", max((a.float() - b.float()).abs().max().item() for a, b in zip(*(o[1] for o in outs.values()), strict=True) if a.numel()))

# The bundled recording through the shipped weights: greedy transcripts, old code vs new.
import numpy as np  # noqa: E402

from streammem.models.conformer_ntm.decoding import ctc_greedy  # noqa: E402
from streammem.streams.sources import open_source  # noqa: E402
from streammem.tasks import asr  # noqa: E402

samples = np.concatenate([c for _, c in open_source(str(asr.SAMPLE_AUDIO), kind="audio")])
n = model.chunk_samples
samples = np.pad(samples, (0, (-len(samples)) % n)).astype(np.float32)
texts = {}
with torch.no_grad():
    for name, old in (("before", True), ("after", False)):
        compare.use(old, old)
        state, outs = model.initial_state(1), []
        for i in range(0, len(samples), n):
            out, state = model(torch.from_numpy(samples[i:i + n]).unsqueeze(0), state)
            outs.append(out)
        texts[name] = model.tokenizer.decode(ctc_greedy(torch.cat(outs, 1)[0])[0])
compare.use(False, False)
print(f"bundled recording ({len(samples) / 16000:.1f} s): transcripts identical: {texts['before'] == texts['after']}; "
      f"{texts['after'][:80]!r}...")
