"""A tiny held-out set per task in its public layout, and the `eval TASK` arguments that read it (shared by the
sharded-evaluation and resumable-evaluation tests; the shipped weights evaluate them)."""

from pathlib import Path

import numpy as np


def write_eval_sets(root: Path) -> dict[str, list[str]]:
    """Three streams per task under ``root/<task>``; returns each task's eval arguments."""
    import soundfile as sf

    from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
    from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal

    generate_synthetic_tal(root / "tal", num_train=1, num_test=3, seed=5, cfg=SyntheticTALConfig(num_features=(80, 120)))
    write_split(root / "track", "val", [5000, 5001, 5002], SyntheticMOTConfig(num_frames=8))
    folder = root / "asr" / "test" / "900" / "1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        sf.write(folder / f"900-1-{i:04d}.flac", 0.1 * rng.standard_normal(16000).astype(np.float32), 16000)
        lines.append(f"900-1-{i:04d} HELLO WORLD\n")
    (folder / "900-1.trans.txt").write_text("".join(lines))
    return {
        "tal": ["--data", str(root / "tal"), "--subset", "Test"],
        "track": [str(root / "track")],
        "asr": ["--data", str(root / "asr"), "--long-split", ""],
    }
