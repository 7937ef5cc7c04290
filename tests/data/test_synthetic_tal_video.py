"""The rendered-video TAL generator: class cues only at an action's start, labels that match the JSON."""

import json

import numpy as np
import torch

from streammem.data.synthetic_tal import SyntheticTALConfig, synthetic_video
from streammem.data.synthetic_tal_video import (
    BACKGROUND,
    MIDDLE,
    VideoTALConfig,
    frame_labels,
    generate_synthetic_tal_video,
    render_video,
)
from streammem.data.tal_features import load_tal_split
from streammem.models.matr.encoder_training import extract_features
from streammem.models.matr.frontend import FrameEncoder

SHORT = VideoTALConfig(timing=SyntheticTALConfig(num_features=(80, 100)))


def test_same_timing_as_the_feature_generator():
    cfg = VideoTALConfig()
    frames, actions = render_video(cfg, 11)
    feats, expected = synthetic_video(cfg.timing, 11)
    assert actions == expected
    assert frames.shape == (len(feats) * 2, 64, 64, 3) and frames.dtype == np.uint8


def test_cues_differ_by_class_middles_do_not():
    cfg = VideoTALConfig()
    first, middle = [], []
    for seed in range(5):
        frames, actions = render_video(cfg, seed)
        per = cfg.frames_per_feature
        colour = frames.reshape(len(frames), -1, 3).mean(1)  # (N, 3) mean RGB per frame, minus the background's
        colour -= colour[frame_labels(cfg, len(frames), actions) == BACKGROUND].mean(0)
        for c, s, e in actions:
            if e - s > 10:
                first.append((c, colour[s * per : (s + cfg.timing.id_frames) * per].mean(0)))
                middle.append((c, colour[(s + 5) * per : (e - 1) * per].mean(0)))

    def spread(items):
        means = [np.mean([f for c, f in items if c == k], axis=0) for k in sorted({c for c, _ in items})]
        return np.mean([np.linalg.norm(a - b) for a in means for b in means])

    assert len({c for c, _ in first}) >= 4
    assert spread(first) > 3 * spread(middle)


def test_layout_labels_match_json_and_reader_loads_features(tmp_path):
    generate_synthetic_tal_video(tmp_path, num_train=2, num_test=1, seed=3, cfg=SHORT)
    data = json.loads((tmp_path / "annotations" / "thumos14.json").read_text())
    assert {v["subset"] for v in data["database"].values()} == {"Validation", "Test"}
    for name, info in data["database"].items():
        labels = np.load(tmp_path / "labels" / f"{name}.npy")
        assert len(labels) == round(info["duration"] * SHORT.fps)
        times = np.arange(len(labels)) / SHORT.fps
        inside = np.zeros(len(labels), bool)
        for a in info["annotations"]:
            start, end = a["segment"]
            span = (times >= start) & (times < end)
            inside |= span
            cue = span & (times < start + SHORT.timing.id_frames / SHORT.timing.feature_rate)
            assert (labels[cue] == 2 + a["label_id"]).all() and cue.sum() > 0
            assert (labels[span & ~cue] == MIDDLE).all()
        assert (labels[~inside] == BACKGROUND).all()
    torch.manual_seed(0)
    encoder = FrameEncoder(32, backbone="mobilenet_v3_small", image_size=32)
    extract_features(encoder, tmp_path, sorted(data["database"]), rate=4.0)
    split = load_tal_split(tmp_path, "Validation")
    assert len(split.videos) == 2 and all(v.features.shape[1] == 32 for v in split.videos)
    assert all(abs(len(v.features) - v.duration * 4) <= 1 for v in split.videos)
    assert split.ground_truth() and split.classes[:2] == ["Pitch", "Dive"]
