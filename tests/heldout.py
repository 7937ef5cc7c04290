"""A tiny held-out set per task in its public layout, and the `eval TASK` arguments that read it (shared by the
sharded-evaluation and resumable-evaluation tests; the shipped weights evaluate them)."""

import shutil
from pathlib import Path

import numpy as np


def write_eval_sets(root: Path) -> dict[str, list[str]]:
    """Three streams per task under ``root/<task>``; returns each task's eval arguments."""
    import soundfile as sf

    from streammem.data.synthetic_anomaly import TextureConfig, write_textures
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
    _mustc(root / "simulst")
    write_textures(root / "anomaly", TextureConfig(size=16, period=4.0, train=2, test_good=3, test_per_defect=1), seed=3)
    return {
        "tal": ["--data", str(root / "tal"), "--subset", "Test"],
        "track": [str(root / "track")],
        "asr": ["--data", str(root / "asr"), "--long-split", ""],
        "simulst": ["--data", str(root / "simulst")],
        "anomaly": ["--data", str(root / "anomaly" / "texture"), "--batch-size", "2"],
    }


def _mustc(root: Path) -> None:
    """A MuST-C en-de tst-COMMON split of three talks (copies of the bundled talk), two segments each."""
    from streammem.tasks.simulst import SAMPLE_AUDIO

    split = root / "en-de" / "data" / "tst-COMMON"
    (split / "wav").mkdir(parents=True)
    (split / "txt").mkdir()
    yaml, en, de = [], [], []
    english = SAMPLE_AUDIO.with_suffix(".en").read_text().splitlines()[:2]
    german = SAMPLE_AUDIO.with_suffix(".de").read_text().splitlines()[:2]
    for talk in ("ted_1", "ted_2", "ted_3"):
        shutil.copy(SAMPLE_AUDIO, split / "wav" / f"{talk}.wav")
        yaml += [f"- {{duration: 1.9, offset: 0.0, wav: {talk}.wav}}", f"- {{duration: 1.9, offset: 2.6, wav: {talk}.wav}}"]
        en += english
        de += german
    for name, lines in (("tst-COMMON.yaml", yaml), ("tst-COMMON.en", en), ("tst-COMMON.de", de)):
        (split / "txt" / name).write_text("\n".join(lines) + "\n")
