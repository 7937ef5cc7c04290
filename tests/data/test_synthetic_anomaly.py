"""Synthetic anomaly sets: written in the MVTec AD layout, masks where the defects are, reproducible."""

from __future__ import annotations

import numpy as np

from streammem.data.anomaly_images import load_image, load_mask
from streammem.data.mvtec import read_mvtec
from streammem.data.synthetic_anomaly import (
    DEFECTS,
    TextureConfig,
    inject_defect,
    render_texture,
    write_digits,
    write_textures,
)

SMALL = TextureConfig(train=3, test_good=2, test_per_defect=2)


def test_digits_category_is_one_class_protocol(tmp_path):
    (cat,) = write_digits(tmp_path, (3,), seed=0)
    split = read_mvtec(cat)
    assert {i.defect for i in split.test} == {"good"} | {f"digit_{k}" for k in range(10) if k != 3}
    assert not split.has_masks
    assert 130 < len(split.train) < 160  # 80% of the ~183 threes
    assert load_image(split.train[0].path, 1).shape == (32, 32, 1)
    train_names = {p.path.name for p in split.train}
    assert not train_names & {p.path.name for p in split.test if p.defect == "good"}


def test_texture_category_reads_back_with_masks_covering_the_change(tmp_path):
    cat = write_textures(tmp_path, SMALL, seed=1)
    split = read_mvtec(cat)
    assert len(split.train) == 3 and split.has_masks
    assert sorted({i.defect for i in split.test}) == sorted(("good",) + DEFECTS)
    for item in split.test:
        if item.label:
            mask = load_mask(item.mask, (SMALL.size, SMALL.size))
            assert 0 < mask.sum() < mask.size / 4


def test_defect_changes_pixels_only_inside_its_mask():
    rng = np.random.default_rng(0)
    for kind in DEFECTS:
        image = render_texture(SMALL, rng)
        out, mask = inject_defect(image, kind, SMALL, rng)
        changed = np.abs(out - image).max(axis=-1) > 1e-9
        assert changed.any() and not (changed & ~mask).any()


def test_writing_is_reproducible(tmp_path):
    a = write_textures(tmp_path / "a", SMALL, seed=5)
    b = write_textures(tmp_path / "b", SMALL, seed=5)
    for pa in sorted(a.rglob("*.png")):
        assert pa.read_bytes() == (b / pa.relative_to(a)).read_bytes()
