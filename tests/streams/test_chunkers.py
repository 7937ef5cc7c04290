import numpy as np
import pytest
import torch

from streammem.streams.chunkers import ContextChunker, FixedChunker, ShiftableContextChunker


def _pieces(stream, seed: int, max_piece: int):
    """``stream`` cut at random points into pieces of 1 .. max_piece frames."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(stream):
        size = int(rng.integers(1, max_piece + 1))
        yield stream[start : start + size]
        start += size


def _stream(length: int) -> np.ndarray:
    """Frames ``[T, 2]`` whose values are their index, so any slice shows where it came from."""
    return np.stack([np.arange(length), -np.arange(length)], axis=1).astype(np.float32) + 1


@pytest.mark.parametrize("seed", range(3))
def test_fixed_chunks_concatenate_back_to_the_input(seed):
    stream = _stream(103)
    chunker = FixedChunker(8)
    blocks = [b for piece in _pieces(stream, seed, 20) for b in chunker.push(piece)] + chunker.flush()
    assert [len(b) for b in blocks] == [8] * 12 + [7]
    np.testing.assert_array_equal(np.concatenate(blocks), stream)
    assert chunker.flush() == []


def test_fixed_chunker_pads_the_last_block_on_request():
    chunker = FixedChunker(4, pad_last=True)
    assert [block.tolist() for block in chunker.push(torch.arange(6.0))] == [[0.0, 1.0, 2.0, 3.0]]
    (last,) = chunker.flush()
    assert last.tolist() == [4.0, 5.0, 0.0, 0.0]


def _padded(stream: np.ndarray, left: int, right: int, pad: str) -> np.ndarray:
    if pad == "edge":
        return np.concatenate([np.repeat(stream[:1], left, 0), stream, np.repeat(stream[-1:], right, 0)])
    zeros = np.zeros((max(left, right), *stream.shape[1:]), stream.dtype)
    return np.concatenate([zeros[:left], stream, zeros[:right]])


@pytest.mark.parametrize("pad", ["zeros", "edge", "none"])
@pytest.mark.parametrize(("center", "left", "right"), [(4, 2, 3), (5, 0, 0), (3, 7, 1), (4, 2, 9)])
def test_context_windows_are_the_right_slices(center, left, right, pad):
    stream = _stream(37)
    chunker = ContextChunker(center, left, right, pad=pad)
    windows, received = [], 0
    for piece in _pieces(stream, 7, 6):
        received += len(piece)
        for window in chunker.push(piece):
            assert window.start + window.center + right <= received  # waited for its full lookahead
            windows.append(window)
        assert len(chunker._buffer) <= left + center + right + 6  # bounded: a window plus one piece
    windows += chunker.flush()
    np.testing.assert_array_equal(np.concatenate([w.center_data for w in windows]), stream)
    assert [w.start for w in windows] == list(range(0, 37, center))
    padded = _padded(stream, left, right, pad)
    for w in windows:
        if pad == "none":
            assert (w.left, w.right) == (min(left, w.start), min(right, 37 - w.start - w.center))
            expected = stream[w.start - w.left : w.start + w.center + w.right]
        else:
            assert (w.left, w.right) == (left, right)
            expected = padded[w.start : w.start + left + w.center + right]
        np.testing.assert_array_equal(w.data, expected)


def test_context_chunker_works_on_tensors():
    chunker = ContextChunker(2, 1, 1)
    windows = chunker.push(torch.arange(5.0)) + chunker.flush()
    assert [w.data.tolist() for w in windows] == [[0, 0, 1, 2], [1, 2, 3, 4], [3, 4, 0]]
    assert [w.center for w in windows] == [2, 2, 1]


def _spans(windows):
    """(first frame, end, left, center, right) of each window, read from the frame values."""
    return [(int(w.data[0, 0]) - 1, int(w.data[-1, 0]), w.left, w.center, w.right) for w in windows]


def test_shiftable_context_reads_smaller_than_a_segment_shift_center_and_right():
    stream = _stream(12)
    chunker = ShiftableContextChunker(center=4, left=2, right=2)
    windows = [chunker.push(stream[i : i + 2]) for i in range(0, 12, 2)]
    assert all(len(w) == 1 for w in windows)
    assert _spans(w[0] for w in windows) == [
        (0, 2, 0, 2, 0),  # first segment, nothing else received yet
        (0, 4, 2, 2, 0),  # center and right shifted into the past; not enough past for full size
        (0, 6, 4, 2, 0),
        (0, 8, 6, 2, 0),  # from here on every window has the trained size 2 + 4 + 2
        (2, 10, 6, 2, 0),
        (4, 12, 6, 2, 0),
    ]
    assert chunker.flush() == []


def test_shiftable_context_one_large_read_uses_real_right_context_and_shifts_left_at_the_start():
    chunker = ShiftableContextChunker(center=4, left=2, right=2)
    windows = chunker.push(_stream(12))
    assert _spans(windows) == [
        (0, 8, 0, 4, 4),  # first segment: right context plus `left` more future frames (shift left)
        (2, 10, 2, 4, 2),  # a normal window
        (4, 12, 4, 4, 0),  # the newest segment: the missing right context becomes extra left context
    ]


@pytest.mark.parametrize("seed", range(4))
def test_shiftable_context_windows_are_contiguous_full_size_and_cover_the_stream(seed):
    center, left, right = 8, 4, 4
    stream = _stream(150)
    chunker = ShiftableContextChunker(center, left, right)
    windows, received = [], 0
    for piece in _pieces(stream, seed, 20):
        received += len(piece)
        new = chunker.push(piece)
        assert new and new[-1].start + new[-1].center == received  # no lookahead wait
        windows += new
        assert len(chunker._buffer) <= left + center + right
    np.testing.assert_array_equal(np.concatenate([w.center_data for w in windows]), stream)
    for w in windows:
        np.testing.assert_array_equal(w.data, stream[w.start - w.left : w.start + w.center + w.right])
        assert w.center <= center
        if w.start + w.center + w.right >= left + center + right:
            assert len(w.data) == left + center + right
