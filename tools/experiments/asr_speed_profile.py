"""Where a streaming step's time goes: profiler over 30 steps, per component (1 thread, random weights).

Usage: python tools/experiments/asr_speed_profile.py paper|tiny [before]
"""
import sys

import torch

from streammem.models import build_model

torch.set_num_threads(1)
config = sys.argv[1] if len(sys.argv) > 1 else "paper"
if "before" in sys.argv[2:]:  # the code before the speed-ups (compare.py's copies)
    sys.path.insert(0, "tools/experiments")
    import asr_speed_compare

    asr_speed_compare.use(True, True)
torch.manual_seed(0)
model = build_model("conformer_ntm", config).eval()


def wrap(module, name):
    forward = module.forward

    def timed(*args, **kwargs):
        with torch.profiler.record_function(name):
            return forward(*args, **kwargs)

    module.forward = timed


wrap(model.frontend, "1 frontend (log-Mel)")
wrap(model.encoder.subsampling, "2 subsampling (2x Conv2d + Linear)")
for block in model.encoder.blocks:
    wrap(block.ffn1, "3 blocks: FFN x2")
    wrap(block.ffn2, "3 blocks: FFN x2")
    wrap(block.attn, "4 blocks: attention (rel-pos, cached K/V)")
    wrap(block.conv, "5 blocks: conv module (cached)")
wrap(model.encoder, "encoder.step total")
model.encoder.forward = model.encoder.step
enc_step = model.encoder.step


def encoder_step(*args):
    with torch.profiler.record_function("encoder.step total"):
        return enc_step(*args)


model.encoder.step = encoder_step
ntm_seq = model.memory.forward_sequence


def ntm(*args):
    with torch.profiler.record_function("6 NTM forward_sequence (16 frames)"):
        return ntm_seq(*args)


model.memory.forward_sequence = ntm
ctc = model.ctc.forward


def ctc_head(*args):
    with torch.profiler.record_function("7 memory_out + CTC head"):
        return ctc(*args)


model.ctc.forward = ctc_head
gen = torch.Generator().manual_seed(0)
audio = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(8)]
with torch.no_grad():
    state = model.initial_state(1)
    for i in range(10):
        _, state = model(audio[i % 8], state)
    with torch.profiler.profile() as prof:
        for i in range(30):
            with torch.profiler.record_function("0 step total"):
                _, state = model(audio[i % 8], state)
rows = [e for e in prof.key_averages() if e.key[0].isdigit() or e.key.startswith("encoder")]
total = next(e for e in rows if e.key == "0 step total").cpu_time_total
print(f"{config}: {'part':45s} ms/step  share")
for e in sorted(rows, key=lambda e: e.key):
    print(f"{e.key:52s} {e.cpu_time_total / 30 / 1000:7.2f}  {100 * e.cpu_time_total / total:5.1f}%")
