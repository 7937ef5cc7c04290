"""anomalib Folder, Hyper-Kvasir anomaly split and chest X-ray class folders, on fixtures in those layouts."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from streammem.data.anomaly_folders import read_chest_xray, read_folder, read_hyper_kvasir
from streammem.errors import InputError


def _png(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((6, 6), value, np.uint8))
    return path


def test_folder_with_normal_test_dir_and_masks(tmp_path):
    for i in range(4):
        _png(tmp_path / "good" / f"n{i}.png")
    _png(tmp_path / "good_test" / "t0.png")
    _png(tmp_path / "defect" / "d0.png")
    _png(tmp_path / "defect" / "d1.png")
    _png(tmp_path / "masks" / "d0_mask.png")
    _png(tmp_path / "masks" / "d1.png")  # anomalib accepts any mask stem containing the image stem
    split = read_folder(tmp_path, "good", "defect", normal_test_dir="good_test", mask_dir="masks")
    assert [p.path.name for p in split.train] == ["n0.png", "n1.png", "n2.png", "n3.png"]
    labels = {item.path.name: (item.label, item.mask.name if item.mask else None) for item in split.test}
    assert labels == {"t0.png": (0, None), "d0.png": (1, "d0_mask.png"), "d1.png": (1, "d1.png")}


def test_folder_without_normal_test_dir_holds_out_a_seeded_fraction(tmp_path):
    for i in range(10):
        _png(tmp_path / "normal" / f"{i}.png")
    _png(tmp_path / "abnormal" / "x.png")
    a = read_folder(tmp_path, "normal", "abnormal", test_split_ratio=0.3, seed=4)
    b = read_folder(tmp_path, "normal", "abnormal", test_split_ratio=0.3, seed=4)
    held = [item.path for item in a.test if item.label == 0]
    assert len(held) == 3 and len(a.train) == 7 and held == [item.path for item in b.test if item.label == 0]
    assert not set(held) & {item.path for item in a.train}


def test_folder_mask_without_image_is_named(tmp_path):
    _png(tmp_path / "normal" / "n.png")
    _png(tmp_path / "normal_test" / "t.png")
    _png(tmp_path / "abnormal" / "img7.png")
    orphan = _png(tmp_path / "mask" / "img8_mask.png")
    with pytest.raises(InputError, match="no matching image") as err:
        read_folder(tmp_path, "normal", "abnormal", normal_test_dir="normal_test", mask_dir="mask")
    assert str(orphan) in str(err.value)


def test_hyper_kvasir_layout(tmp_path):
    for i in range(3):
        _png(tmp_path / "train_set" / f"{i}.jpg")
    _png(tmp_path / "test_set" / "normal_test" / "n.jpg")
    _png(tmp_path / "test_set" / "abnormal_test" / "polyp.jpg")
    split = read_hyper_kvasir(tmp_path)
    assert len(split.train) == 3 and not split.has_masks
    assert sorted((i.path.name, i.label) for i in split.test) == [("n.jpg", 0), ("polyp.jpg", 1)]


def test_hyper_kvasir_empty_train_folder_is_named(tmp_path):
    (tmp_path / "train_set").mkdir()
    with pytest.raises(InputError, match="holds no images") as err:
        read_hyper_kvasir(tmp_path)
    assert "train_set" in str(err.value)


def test_chest_xray_class_folders(tmp_path):
    for i in range(2):
        _png(tmp_path / "train" / "NORMAL" / f"n{i}.jpeg")
    _png(tmp_path / "train" / "PNEUMONIA" / "p.jpeg")  # never trained on
    _png(tmp_path / "test" / "NORMAL" / "tn.jpeg")
    _png(tmp_path / "test" / "PNEUMONIA" / "tp.jpeg")
    split = read_chest_xray(tmp_path)
    assert [i.path.name for i in split.train] == ["n0.jpeg", "n1.jpeg"]
    assert sorted((i.path.name, i.label, i.defect) for i in split.test) == [
        ("tn.jpeg", 0, "good"), ("tp.jpeg", 1, "pneumonia")]
    (tmp_path / "test" / "PNEUMONIA" / "tp.jpeg").unlink()
    (tmp_path / "test" / "PNEUMONIA").rmdir()
    with pytest.raises(InputError, match="NORMAL folder and at least one abnormal"):
        read_chest_xray(tmp_path)
