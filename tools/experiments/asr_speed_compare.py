"""Before/after of the streaming-step speed-ups, in one process (1 thread, medians, random weights).

"before" = the code before this change, restored by patching in copies of the old
RelPositionAttention.forward (projects the whole 2R+1-row distance table per block per chunk) and the old
NTMMemory.forward_sequence (a Python loop of ``step``). The eval-mode Dropout skips in the blocks are not
undone here (they are bit-identical and worth about 3 %, measured separately).
Usage: python tools/experiments/asr_speed_compare.py [steps] [threads]
"""
import json
import sys
import time

import torch
from torch import Tensor

from streammem.memory.ntm import NTMMemory, NTMState
from streammem.models import build_model
from streammem.models.conformer_ntm.encoder import RelPositionAttention


def old_attention(self, x, key_cache, value_cache, mask):
    batch, tq = x.shape[0], x.shape[1]
    q = self.query(x).view(batch, tq, self.heads, self.head_dim).transpose(1, 2)
    k = torch.cat([key_cache, self.key(x).view(batch, tq, self.heads, self.head_dim).transpose(1, 2)], 2)
    v = torch.cat([value_cache, self.value(x).view(batch, tq, self.heads, self.head_dim).transpose(1, 2)], 2)
    cached = key_cache.shape[2]
    tk = k.shape[2]
    p = self.pos(self.table).view(-1, self.heads, self.head_dim).transpose(0, 1)
    content = torch.matmul(q + self.pos_bias_u.unsqueeze(1), k.transpose(-2, -1))
    position = torch.matmul(q + self.pos_bias_v.unsqueeze(1), p.transpose(-2, -1))
    qpos = torch.arange(tq, device=x.device) + cached
    kpos = torch.arange(tk, device=x.device)
    index = self.max_distance - (qpos.unsqueeze(1) - kpos.unsqueeze(0)).clamp(-self.max_distance, self.max_distance)
    position = position.gather(-1, index.expand(batch, self.heads, tq, tk))
    scores = (content + position) * (self.head_dim**-0.5)
    scores = scores.masked_fill(~mask.unsqueeze(1), self.neg_inf)
    attn = self.dropout(torch.softmax(scores, dim=-1))
    out = torch.matmul(attn, v).transpose(1, 2).reshape(batch, tq, -1)
    return self.out(out), k, v


def old_forward_sequence(self, x: Tensor, state: NTMState, lengths: Tensor | None = None):
    outputs = []
    for t in range(x.shape[1]):
        reads, new_state = self.step(x[:, t], state)
        if lengths is not None:
            valid = lengths > t
            mask = valid.view(-1, 1, 1)
            state = NTMState(*(torch.where(mask, a, b) for a, b in zip(new_state, state, strict=True)))
            reads = reads * valid.unsqueeze(-1).to(reads.dtype)
        else:
            state = new_state
        outputs.append(reads)
    return torch.stack(outputs, dim=1), state


NEW_ATT, NEW_NTM = RelPositionAttention.forward, NTMMemory.forward_sequence


def use(old_att: bool, old_ntm: bool) -> None:
    RelPositionAttention.forward = old_attention if old_att else NEW_ATT
    NTMMemory.forward_sequence = old_forward_sequence if old_ntm else NEW_NTM


def median(xs):
    return sorted(xs)[len(xs) // 2]


def run(config: str, steps: int, threads: int) -> dict:
    torch.manual_seed(0)
    model = build_model("conformer_ntm", config).eval()
    gen = torch.Generator().manual_seed(0)
    audio = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(8)]
    variants = {"before": (True, True), "attention_only": (False, True), "after": (False, False)}
    times = {name: [] for name in variants}
    outs = {}
    with torch.no_grad():
        states = {name: model.initial_state(1) for name in variants}
        for i in range(10 + steps):  # interleaved, so load changes hit every variant alike
            for name, flags in variants.items():
                use(*flags)
                start = time.perf_counter()
                out, states[name] = model(audio[i % 8], states[name])
                if i >= 10:
                    times[name].append(time.perf_counter() - start)
                outs[name] = out
        # NTM alone: one chunk of C frames through forward_sequence, per frame.
        h = torch.randn(1, model.config.chunk_frames, model.config.d_model, generator=gen)
        ntm = {}
        for name, old in (("before", True), ("after", False)):
            use(False, old)
            reps = []
            for _ in range(30):
                s0 = model.memory.init(1, torch.device("cpu"))
                start = time.perf_counter()
                model.memory.forward_sequence(h, s0)
                reps.append((time.perf_counter() - start) / h.shape[1])
            ntm[name] = reps
        # interleave a second round for robustness
        for name, old in (("before", True), ("after", False)):
            use(False, old)
            for _ in range(30):
                s0 = model.memory.init(1, torch.device("cpu"))
                start = time.perf_counter()
                model.memory.forward_sequence(h, s0)
                ntm[name].append((time.perf_counter() - start) / h.shape[1])
    use(False, False)
    diff = max((outs["before"] - outs["after"]).abs().max().item(), 0.0)
    chunk_ms = {k: 1000 * median(v) for k, v in times.items()}
    result = {
        "config": config,
        "threads": threads,
        "step_ms_median": chunk_ms,
        "speedup_step": chunk_ms["before"] / chunk_ms["after"],
        "ntm_ms_per_frame_median": {k: 1000 * median(v) for k, v in ntm.items()},
        "speedup_ntm": median(ntm["before"]) / median(ntm["after"]),
        f"max_abs_diff_logprobs_after_{10 + steps}_chunks": diff,
    }
    return result


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    for cfg in ("tiny", "paper"):
        print(json.dumps(run(cfg, steps, threads)), flush=True)
