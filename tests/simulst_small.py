"""A small random-weight simulst checkpoint (tokenizer fitted on a few German sentences), for the task tests."""

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from streammem.checkpoints import save_checkpoint
from streammem.models import build_model

SMALL = dict(num_mels=80, d_model=16, num_heads=2, ffn_dim=32, encoder_layers=2, decoder_layers=1,
             subsampling_channels=4, center_frames=32, left_frames=16, right_frames=16, memory_size=2,
             pre_decision=4, wait_k=1, train_wait_k=(), max_source_blocks=32, max_target_tokens=8, target_pieces=30,
             dropout=0.0)
TEXTS = ["Gestern sah der Mann den Hund.", "Die Frau machte das Fenster zu.", "Ich denke, dass er alt war."] * 20


def write_small_checkpoint(path: Path) -> Path:
    """``SMALL`` built from seed 0 with its tokenizer fitted on ``TEXTS``, saved as safetensors + JSON at ``path``."""
    torch.manual_seed(0)
    model = build_model("amt_simulst", SMALL)
    model.fit_tokenizer(TEXTS)
    save_checkpoint(path, model, model_name="amt_simulst", config=model.config.to_dict(), training_command="test",
                    data_seed=0)
    return path


# (offset s, duration s, English, German) of segments cut from one 6 s talk
TWO_SEGMENTS = ((0.5, 1.5, "The dog slept.", "Der Hund schlief."), (3.0, 1.03, "It was big.", "Er war groß."))
FOUR_SEGMENTS = TWO_SEGMENTS + ((4.5, 1.0, "A cat.", "Eine Katze."), (1.5, 0.8, "No.", "Nein."))


def write_talk(root: Path, segments: tuple = TWO_SEGMENTS) -> Path:
    """A MuST-C ``en-de/data/train`` split under ``root``: 6 s of noise as one talk, cut into ``segments``."""
    split = root / "en-de" / "data" / "train"
    (split / "wav").mkdir(parents=True)
    (split / "txt").mkdir()
    sf.write(split / "wav" / "ted_1.wav", 0.1 * np.random.default_rng(0).standard_normal(16000 * 6), 16000)
    (split / "txt" / "train.yaml").write_text(
        "".join(f"- {{duration: {d}, offset: {o}, wav: ted_1.wav}}\n" for o, d, _, _ in segments))
    (split / "txt" / "train.en").write_text("".join(f"{en}\n" for _, _, en, _ in segments))
    (split / "txt" / "train.de").write_text("".join(f"{de}\n" for _, _, _, de in segments))
    return root
