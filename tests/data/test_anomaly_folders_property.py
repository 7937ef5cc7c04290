"""Property tests for the anomaly folder readers (MVTec AD, anomalib Folder, Hyper-Kvasir, chest X-ray) and the
image/mask loaders they share: random folder trees (odd names, latin-1 and NFD-encoded names, stray files,
random, empty or truncated images) give a split whose every image loads, or a one-line InputError; never
another exception or a hang. Re-encoding the images losslessly (PNG, BMP, TIFF, 16-bit, alpha, upper-case
suffixes) never changes what is read."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from streammem.data.anomaly_folders import read_chest_xray, read_folder, read_hyper_kvasir
from streammem.data.anomaly_images import load_image, load_mask
from streammem.data.mvtec import read_mvtec
from streammem.errors import StreamMemError

FAST = settings(max_examples=30, deadline=5000, suppress_health_check=[HealthCheck.too_slow])

# each layout: the reader, its image folders, and its mask folder paired with the folder whose images it masks
LAYOUTS: dict[str, tuple[Callable[[Path], object], list[str], dict[str, str]]] = {
    "mvtec": (read_mvtec, ["train/good", "test/good", "test/crack"], {"ground_truth/crack": "test/crack"}),
    "folder": (lambda root: read_folder(root, "normal", "abnormal", "normal_test", "mask"),
               ["normal", "abnormal", "normal_test"], {"mask": "abnormal"}),
    "folder_split": (lambda root: read_folder(root, "normal", "abnormal", test_split_ratio=0.5),
                     ["normal", "abnormal"], {}),
    "hyper_kvasir": (read_hyper_kvasir, ["train_set", "test_set/normal_test", "test_set/abnormal_test"], {}),
    "chest_xray": (read_chest_xray, ["train/NORMAL", "test/NORMAL", "test/PNEUMONIA", "test/VIRUS"], {}),
}
SIZE = (5, 7)  # every image and mask of a tree is 5 x 7, so masks fit their images
KINDS = ["png", "jpeg", "bmp", "tiff", "grey16", "rgba", "random", "empty", "truncated", "folder", "text"]
_stems = st.text(alphabet="ab1_-é ü", min_size=1, max_size=5).filter(lambda s: s.strip() == s and s not in (".", ".."))


def _image(kind: str, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    if kind == "grey16":
        return Image.fromarray(pixels[..., 0].astype(np.uint16))
    if kind == "rgba":
        return Image.fromarray(np.dstack([pixels, np.full(SIZE, 255, np.uint8)]))
    return Image.fromarray(pixels)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def _file_bytes(kind: str, seed: int) -> bytes:
    if kind in ("png", "grey16", "rgba"):
        return _encode(_image(kind, seed), "PNG")
    if kind in ("jpeg", "bmp", "tiff"):
        return _encode(_image(kind, seed), kind.upper())
    if kind == "random":
        return np.random.default_rng(seed).integers(0, 256, 64, dtype=np.uint8).tobytes()
    if kind == "truncated":
        data = _encode(_image("png", seed), "PNG")
        return data[: len(data) // 2]
    if kind == "text":
        return "a note, not an image\r\n".encode("latin-1")
    return b""


@st.composite
def trees(draw, layout: str) -> list[tuple[str, str, bytes | None]]:
    """(folder, file name, bytes or None for a sub-folder) entries of a random tree in roughly this layout."""
    _, folders, masks = LAYOUTS[layout]
    entries = []
    stems: dict[str, list[str]] = {}
    for folder in folders + ["stray"]:
        if folder != "stray" and draw(st.integers(0, 9)) == 0:
            continue  # a folder of the layout missing now and then
        names = draw(st.lists(_stems, min_size=draw(st.sampled_from([0] + [1] * 9)), max_size=4, unique=True))
        stems[folder] = names
        for stem in names:
            kind = draw(st.sampled_from(KINDS[:6] * 6 + KINDS[6:]))  # mostly valid images
            suffix = draw(st.sampled_from([".png", ".PNG", ".jpg", ".bmp", ".tif"] * 4 + [".txt", ""]))
            name = draw(st.sampled_from([unicodedata.normalize("NFC", stem), unicodedata.normalize("NFD", stem)]))
            entries.append((folder, name + suffix, None if kind == "folder" else _file_bytes(kind, len(entries))))
    for mask_folder, image_folder in masks.items():
        for stem in stems.get(image_folder, []):
            if draw(st.integers(0, 9)):
                mask = draw(st.sampled_from([f"{stem}_mask"] * 8 + [stem, f"x{stem}"]))
                entries.append((mask_folder, mask + ".png", _encode(_image("png", len(entries)).convert("L"), "PNG")))
    return entries


def _write(root: Path, entries: list[tuple[str, str, bytes | None]], latin1_names: bool = False) -> None:
    for folder, name, data in entries:
        directory = root / folder
        directory.mkdir(parents=True, exist_ok=True)
        # latin-1 file names: bytes that are not UTF-8, as a file copied from an old archive has
        raw = os.fsencode(directory) + b"/" + (name.encode("latin-1", "replace") if latin1_names else name.encode())
        if data is None:
            os.makedirs(raw, exist_ok=True)
        else:
            with open(raw, "wb") as f:
                f.write(data)


def _outcome(layout: str, root: Path) -> tuple[str, object]:
    """("ok", what was read, relative to root, with each image's load outcome) or ("error", the one line)."""
    reader = LAYOUTS[layout][0]
    try:
        split = reader(root)
    except StreamMemError as err:
        assert "\n" not in str(err), str(err)
        return "error", str(err)
    read = []
    for part, items in (("train", split.train), ("test", split.test)):
        for item in items:
            loaded = []
            for channels in (1, 3):
                try:
                    arr = load_image(item.path, channels)
                    assert arr.dtype == np.uint8 and arr.shape[2] == channels
                    loaded.append(arr.tolist())
                except StreamMemError as err:
                    assert "\n" not in str(err) and str(item.path) in str(err), str(err)
                    loaded.append("error")
            if item.mask is not None and loaded[0] != "error":
                try:
                    loaded.append(load_mask(item.mask, np.asarray(loaded[0]).shape[:2]).tolist())
                except StreamMemError as err:
                    assert "\n" not in str(err), str(err)
                    loaded.append("error")
            mask = None if item.mask is None else _name(item.mask, root)
            read.append((part, _name(item.path, root), item.label, item.defect, mask, loaded))
    return "ok", read


def _name(path: Path, root: Path) -> str:
    """A file's place in the tree, whatever its suffix and Unicode normal form (as compared between re-encodings)."""
    return unicodedata.normalize("NFC", path.relative_to(root).with_suffix("").as_posix())


def _read_tree(layout: str, entries, latin1_names: bool = False) -> tuple[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "set"
        root.mkdir()
        _write(root, entries, latin1_names)
        first = _outcome(layout, root)
        assert _outcome(layout, root) == first  # reading is deterministic
        return first


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@FAST
@given(data=st.data())
def test_random_trees_give_a_split_that_loads_or_a_one_line_error(layout, data):
    entries = data.draw(trees(layout))
    _read_tree(layout, entries, latin1_names=data.draw(st.booleans()))


@st.composite
def valid_trees(draw, layout: str) -> list[tuple[str, str, bytes | None]]:
    """Every folder of the layout with 2-3 PNG images; every image of a mask folder's folder masked."""
    _, folders, masks = LAYOUTS[layout]
    entries = []
    for folder in folders:
        for stem in draw(st.lists(_stems.map(lambda s: unicodedata.normalize("NFC", s)), min_size=2, max_size=3,
                                  unique=True)):
            entries.append((folder, stem + ".png", _encode(_image(draw(st.sampled_from(["png", "grey16", "rgba"])),
                                                                  len(entries)), "PNG")))
            if folder in masks.values():
                mask_folder = next(m for m, f in masks.items() if f == folder)
                entries.append((mask_folder, f"{stem}_mask.png", _encode(_image("png", len(entries)).convert("L"),
                                                                         "PNG")))
    return entries


def _reencoded(entries, fmt: str, upper: bool, decomposed: list[bool]) -> list[tuple[str, str, bytes | None]]:
    """The same pixels in another lossless format (and suffix): BMP, TIFF or PNG again; the names of the files
    flagged in ``decomposed`` in Unicode NFD (as macOS stores them)."""
    out = []
    for (folder, name, data), nfd in zip(entries, decomposed, strict=True):
        name = unicodedata.normalize("NFD", name) if nfd else name
        img = Image.open(io.BytesIO(data))
        img.load()
        if fmt == "BMP" and img.mode not in ("L", "RGB", "RGBA"):
            fmt_here = "TIFF"  # BMP has no 16-bit grey
        else:
            fmt_here = fmt
        suffix = {"PNG": ".png", "BMP": ".bmp", "TIFF": ".tif"}[fmt_here]
        out.append((folder, Path(name).stem + (suffix.upper() if upper else suffix), _encode(img, fmt_here)))
    return out


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@settings(FAST, max_examples=15)
@given(data=st.data())
def test_lossless_reencoding_never_changes_what_is_read(layout, data):
    entries = data.draw(valid_trees(layout))
    plain = _read_tree(layout, entries)
    assert plain[0] == "ok" and all("error" not in item[5] for item in plain[1]), plain
    fmt = data.draw(st.sampled_from(["PNG", "BMP", "TIFF"]))
    decomposed = data.draw(st.lists(st.booleans(), min_size=len(entries), max_size=len(entries)))
    assert _read_tree(layout, _reencoded(entries, fmt, data.draw(st.booleans()), decomposed)) == plain


def _png_with_size(width: int, height: int, body: bytes) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (valid CRC), followed by ``body`` as its pixel data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b"")


@FAST
@given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1), body=st.binary(max_size=64))
def test_an_image_header_claiming_any_size_is_read_or_refused_in_one_line(width, height, body):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claim.png"
        path.write_bytes(_png_with_size(width, height, body))
        try:
            arr = load_image(path, 1)
        except StreamMemError as err:
            assert "\n" not in str(err) and str(path) in str(err)
        else:
            assert arr.shape == (height, width, 1)


@FAST
@given(data=st.data())
def test_truncated_or_corrupted_images_load_or_are_refused_in_one_line(data):
    kind = data.draw(st.sampled_from(["png", "jpeg", "bmp", "tiff", "grey16", "rgba"]))
    raw = _file_bytes(kind, 0)
    cut = data.draw(st.integers(0, len(raw)))
    position = data.draw(st.integers(0, len(raw) - 1))
    mutated = raw[:position] + bytes([data.draw(st.integers(0, 255))]) + raw[position + 1:]
    with tempfile.TemporaryDirectory() as folder:
        for variant in (raw[:cut], mutated):
            path = Path(folder) / f"x.{kind}"
            path.write_bytes(variant)
            for channels in (1, 3):
                try:
                    load_image(path, channels)
                except StreamMemError as err:
                    assert "\n" not in str(err) and str(path) in str(err)
