"""MVTec AD reader and the shared image/mask loaders, on fixtures written in that exact layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from streammem.data.anomaly_images import load_image, load_mask
from streammem.data.mvtec import mvtec_categories, read_mvtec
from streammem.errors import InputError


def _png(path: Path, shape=(8, 8), value=100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


def _category(root: Path, name: str = "bottle") -> Path:
    cat = root / name
    for i in range(3):
        _png(cat / "train" / "good" / f"{i:03d}.png")
    _png(cat / "test" / "good" / "000.png")
    for i in range(2):
        _png(cat / "test" / "crack" / f"{i:03d}.png", value=200)
        _png(cat / "ground_truth" / "crack" / f"{i:03d}_mask.png", value=255)
    _png(cat / "test" / "dent" / "000.png", value=50)  # a defect without masks: image-level only
    return cat


def test_reads_train_test_labels_defects_and_masks(tmp_path):
    cat = _category(tmp_path)
    split = read_mvtec(cat)
    assert split.name == "bottle" and len(split.train) == 3 and all(item.label == 0 for item in split.train)
    by_name = {(item.defect, item.path.name): item for item in split.test}
    assert by_name[("good", "000.png")].label == 0 and by_name[("good", "000.png")].mask is None
    crack = by_name[("crack", "001.png")]
    assert crack.label == 1 and crack.mask == cat / "ground_truth" / "crack" / "001_mask.png"
    assert by_name[("dent", "000.png")].label == 1 and by_name[("dent", "000.png")].mask is None
    assert split.has_masks
    assert mvtec_categories(tmp_path) == ["bottle"]


def test_category_without_train_good_is_one_line_error(tmp_path):
    cat = _category(tmp_path)
    for p in (cat / "train" / "good").iterdir():
        p.unlink()
    (cat / "train" / "good").rmdir()
    with pytest.raises(InputError, match="train/good' is missing") as err:
        read_mvtec(cat)
    assert str(cat) in str(err.value) and "\n" not in str(err.value)


def test_empty_folder_and_orphan_mask_and_missing_mask_name_the_path(tmp_path):
    cat = _category(tmp_path)
    (cat / "test" / "scratch").mkdir()
    with pytest.raises(InputError, match="holds no images") as err:
        read_mvtec(cat)
    assert "scratch" in str(err.value)
    (cat / "test" / "scratch").rmdir()
    orphan = _png(cat / "ground_truth" / "crack" / "007_mask.png")
    with pytest.raises(InputError, match="no matching image") as err:
        read_mvtec(cat)
    assert str(orphan) in str(err.value)
    orphan.unlink()
    _png(cat / "test" / "crack" / "002.png")
    with pytest.raises(InputError, match="no mask"):
        read_mvtec(cat)


def test_truncated_image_and_wrong_size_mask_are_one_line_errors(tmp_path):
    good = _png(tmp_path / "a.png", shape=(16, 16))
    truncated = tmp_path / "b.png"
    truncated.write_bytes(good.read_bytes()[:40])
    with pytest.raises(InputError, match="unreadable or truncated") as err:
        load_image(truncated, 1)
    assert str(truncated) in str(err.value)
    with pytest.raises(InputError, match="mask is 16x16 but its image is 12x10"):
        load_mask(good, (10, 12))


def test_grey_and_colour_images_are_converted_to_the_asked_channels(tmp_path):
    grey = _png(tmp_path / "g.png", value=90)
    colour = tmp_path / "c.png"
    cv2.imwrite(str(colour), np.dstack([np.full((8, 8), v, np.uint8) for v in (10, 20, 30)]))  # BGR on disk
    assert load_image(grey, 3).shape == (8, 8, 3) and (load_image(grey, 3) == 90).all()
    rgb = load_image(colour, 3)
    assert tuple(rgb[0, 0]) == (30, 20, 10)
    assert load_image(colour, 1).shape == (8, 8, 1)
