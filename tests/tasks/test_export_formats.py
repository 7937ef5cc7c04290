"""`streammem export TASK --format torchscript|export`: each file loads in a fresh Python that does not import
streammem, streams a few chunks from the stored initial state, and gives the outputs eager gives."""

import json
import subprocess
import sys

import pytest
import torch

from streammem.cli import main

# task -> (export options for a short parity check, the loader's chunk expression)
TASKS = {
    "tal": (["--parity-steps", "40"], "torch.randn(1, 32, generator=g)"),
    "track": (["--check-frames", "3"], "torch.rand(1, 3, 120, 160, generator=g)"),
    "asr": (["--check-chunks", "2"], "0.1 * torch.randn(1, CHUNK, generator=g)"),
}

TORCHSCRIPT = """
import sys, torch
sys.modules["streammem"] = None  # importing streammem here would fail: the file must stand alone
m = torch.jit.load(sys.argv[1]); s = m.initial_state(1); g = torch.Generator().manual_seed(0)
CHUNK = getattr(m, "chunk_samples", 0)
outs = []
for _ in range(3):
    o, s = m({chunk}, s)
    outs.append(o)
print("ok", len(outs))
"""

PROGRAM = """
import json, sys, torch
sys.modules["streammem"] = None
extra = {{"streammem.json": ""}}
program = torch.export.load(sys.argv[1], extra_files=extra)
info = json.loads(extra["streammem.json"])
state = [torch.tensor(s["values"], dtype=getattr(torch, s["dtype"])).reshape(s["shape"]) for s in info["initial_state"]]
CHUNK = info["chunk_shape"][-1]
g = torch.Generator().manual_seed(0)
step = program.module()
for _ in range(3):
    out = step({chunk}, *state)
    state = list(out[info["num_outputs"]:])
torch.save([t.contiguous() for t in out], sys.argv[2])
print("ok", len(out))
"""


@pytest.mark.slow
@pytest.mark.export
@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("fmt, suffix", [("torchscript", ".pt"), ("export", ".pt2")])
def test_exported_step_runs_in_a_process_without_streammem(task, fmt, suffix, tmp_path):
    options, chunk = TASKS[task]
    path = tmp_path / f"step{suffix}"
    assert main(["export", task, "--format", fmt, "--out", str(path), "--threads", "1", *options]) == 0
    code = (TORCHSCRIPT if fmt == "torchscript" else PROGRAM).format(chunk=chunk)
    run = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "out.pt")], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.startswith("ok"), run.stderr[-2000:]


@pytest.mark.export
def test_exported_program_matches_eager_on_the_same_stream(tmp_path):
    from streammem.export import load_program
    from streammem.tasks.tal import load_model

    path = tmp_path / "tal.pt2"
    assert main(["export", "tal", "--format", "export", "--out", str(path), "--parity-steps", "20"]) == 0
    program, state, info = load_program(path)
    model, _ = load_model()
    eager_state = model.initial_state(1)
    assert info["inputs"][0] == "chunk" and len(info["inputs"]) == 1 + len(state)
    g = torch.Generator().manual_seed(1)
    for _ in range(40):  # past two memory writes (segment 16): the write path is in the graph, not traced away
        chunk = torch.randn(1, 32, generator=g)
        out, eager_state = model(chunk, eager_state)
        got = program(chunk, *state)
        state = list(got[info["num_outputs"]:])
        assert (got[0] - out.logits).abs().max() <= 1e-4  # 40 steps: far below the whole-stream tolerance
    assert json.loads(json.dumps(info))["outputs"][0].startswith("output.")
