"""Conformer-NTM training loop: joined-utterance items, their targets, CMVN fitting, checkpoints."""

import random

import numpy as np
import pytest
import soundfile as sf
import torch

from streammem.models import build_model
from streammem.models.conformer_ntm.training import (
    TrainOptions,
    _items,
    _param_groups,
    _stream_batches,
    _stream_order,
    spec_augment,
    train,
)

SMALL = dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2, kernel_size=5, subsampling_channels=8,
             chunk_frames=4, left_frames=8, memory_slots=16, memory_dim=4, decoder_layers=1, decoder_ffn_dim=64,
             max_relative_distance=32, dropout=0.0)


def _corpus(root, texts, chapter=2):
    folder = root / "train" / "1" / str(chapter)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, text in enumerate(texts):
        sf.write(folder / f"1-{chapter}-{i:04d}.flac", 0.1 * rng.standard_normal(4000 + 1600 * i).astype(np.float32), 16000)
        lines.append(f"1-{chapter}-{i:04d} {text}\n")
    (folder / f"1-{chapter}.trans.txt").write_text("".join(lines))
    return root / "train"


def test_items_without_joining_draw_nothing_and_with_joining_pair_every_item():
    rng = random.Random(0)
    assert _items(5, 0.0, rng) == [(i,) for i in range(5)]
    assert rng.random() == random.Random(0).random()  # no draws: batch order unchanged for a seed
    joined = _items(50, 1.0, random.Random(1))
    assert all(len(item) == 2 and item[0] == i for i, item in enumerate(joined))
    half = _items(400, 0.5, random.Random(2))
    assert 150 < sum(len(item) == 2 for item in half) < 250
    long = _items(300, 1.0, random.Random(3), join_max=4)
    assert {len(item) for item in long} == {2, 3, 4}


def test_consecutive_joins_take_the_next_utterances_of_the_same_chapter_only():
    chapters = ["a"] * 5 + ["b"] * 3 + ["c"] * 4
    items = _items(len(chapters), 1.0, random.Random(0), join_max=4, chapters=chapters)
    assert [item[0] for item in items] == list(range(len(chapters)))
    for item in items:
        assert list(item) == list(range(item[0], item[0] + len(item)))  # consecutive, in order
        assert {chapters[j] for j in item} == {chapters[item[0]]}  # never across a chapter boundary
    assert items[7] == (7,) and items[11] == (11,)  # last utterance of a chapter has no one to join
    assert max(len(item) for item in items) == 4
    # the random joins draw the same numbers as before the option existed (seeded runs unchanged)
    rng = random.Random(5)
    before = [(i, *(rng.randrange(40) for _ in range(rng.randint(1, 7)))) if rng.random() < 0.7 else (i,)
              for i in range(40)]
    assert _items(40, 0.7, random.Random(5), join_max=8) == before


def test_joined_items_train_on_concatenated_features_and_space_joined_targets(tmp_path, monkeypatch):
    split = _corpus(tmp_path, ["AB", "CD", "EF"])
    torch.manual_seed(0)
    model = build_model("conformer_ntm", SMALL)
    seen = []
    original = model.loss

    def recording_loss(feats, feat_lengths, targets, streaming, memory=None):
        seen.append((feat_lengths.tolist(), [model.tokenizer.decode(t) for t in targets]))
        return original(feats, feat_lengths, targets, streaming, memory)

    monkeypatch.setattr(model, "loss", recording_loss)
    stats = train(model, split, TrainOptions(minutes=5, max_steps=3, batch_frames=100000, join_fraction=1.0,
                                             freq_mask=2, warmup=1))
    assert stats["steps"] == 3 and np.isfinite(stats["loss"])
    single = {"AB": 25, "CD": 35, "EF": 45}  # 10 ms frames of 0.25 / 0.35 / 0.45 s of audio
    for lengths, texts in seen:
        for n, text in zip(lengths, texts, strict=True):
            first, second = text.split(" ")
            assert n == single[first] + single[second]
    assert float(model.frontend.istd.abs().sum()) > 0 and not model.training


def test_training_joins_within_chapters_and_can_stream_every_batch(tmp_path, monkeypatch):
    _corpus(tmp_path, ["AB", "CD", "EF"], chapter=2)
    split = _corpus(tmp_path, ["GH", "IJ"], chapter=3)
    model = build_model("conformer_ntm", SMALL)
    seen = []
    original = model.loss

    def recording_loss(feats, feat_lengths, targets, streaming, memory=None):
        seen.append((streaming, [model.tokenizer.decode(t) for t in targets]))
        return original(feats, feat_lengths, targets, streaming, memory)

    monkeypatch.setattr(model, "loss", recording_loss)
    train(model, split, TrainOptions(minutes=5, max_steps=4, batch_frames=100000, join_fraction=1.0, join_max=3,
                                     join_consecutive=True, streaming_fraction=1.0, freq_mask=2, warmup=1))
    order = ["AB", "CD", "EF", "GH", "IJ"]
    chapter = {"AB": 2, "CD": 2, "EF": 2, "GH": 3, "IJ": 3}
    texts = [t for _, batch in seen for t in batch]
    assert all(streaming for streaming, _ in seen) and len(texts) >= 5
    for text in texts:
        words = text.split(" ")
        assert words == order[order.index(words[0]):order.index(words[0]) + len(words)]  # consecutive
        assert len({chapter[w] for w in words}) == 1  # one chapter per item
    assert any(len(t.split(" ")) > 1 for t in texts)


def test_memory_learning_rate_scale_covers_exactly_the_ntm_path():
    model = build_model("conformer_ntm", SMALL)
    rest, memory = _param_groups(model, 1e-3, 10.0)
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)].split(".")[0] for p in memory["params"]} == {"memory", "memory_out"}
    assert memory["lr"] == pytest.approx(1e-2) and rest["lr"] == 1e-3
    assert len(rest["params"]) + len(memory["params"]) == len(list(model.parameters()))
    ablation = build_model("conformer_ntm", SMALL | {"use_memory": False})
    assert len(_param_groups(ablation, 1e-3, 10.0)) == 1  # nothing to scale without an NTM


def test_stream_batches_give_each_row_its_own_items_and_staggered_resets():
    order = list(range(100, 124))
    plan = list(_stream_batches(order, rows=3, stream_items=4, step=0))
    assert [batch for batch, _ in plan] == [[100 + k, 108 + k, 116 + k] for k in range(8)]  # contiguous pieces
    fresh = torch.stack([f for _, f in plan])  # (steps, rows)
    assert fresh[:, 0].nonzero().flatten().tolist() == [0, 4]  # row 0 renews its memory every 4 items
    assert fresh[:, 1].nonzero().flatten().tolist() == [3, 7]  # staggered by 4 // 3 = 1 item
    assert fresh.sum(1).max() == 1  # never all rows at once
    later = next(iter(_stream_batches(order, rows=3, stream_items=4, step=1)))[1]
    assert later.tolist() == fresh[1].tolist()  # the step count, not the epoch, sets the ages


def test_stream_order_shuffles_recordings_each_epoch_and_keeps_each_in_order():
    recordings = [c for c, n in (("a", 5), ("b", 3), ("c", 4), ("d", 6)) for _ in range(n)]
    items = _items(len(recordings), 1.0, random.Random(0), join_max=3, chapters=recordings)
    rng = random.Random(1)
    epochs = [_stream_order(items, recordings, rng) for _ in range(4)]
    for order in epochs:
        assert sorted(order) == list(range(len(items)))  # every item once
        runs = [recordings[items[k][0]] for k in order]
        assert sum(a != b for a, b in zip(runs, runs[1:], strict=False)) == 3  # each recording one contiguous stretch ...
        for name in "abcd":
            mine = [k for k in order if recordings[items[k][0]] == name]
            assert mine == sorted(mine)  # ... read in corpus order
        assert all(len({recordings[j] for j in items[k]}) == 1 for k in order)  # joins stay in one chapter
    assert len({tuple(order) for order in epochs}) > 1  # rows do not read the same items every epoch
    rows = [[batch[0] for batch, _ in _stream_batches(order, 2, 4, 0)] for order in epochs]
    assert len({tuple(r) for r in rows}) > 1


def test_spec_augment_masks_each_utterance_independently():
    torch.manual_seed(0)
    masked = spec_augment(10)(torch.ones(2, 400, 40)) == 0  # (B, T, F)
    freq = [masked[b].all(0) for b in range(2)]  # frequency bins masked over the whole utterance
    time = [masked[b].all(1) for b in range(2)]  # frames masked in every bin
    assert freq[0].any() and freq[1].any() and time[0].any() and time[1].any()
    assert not torch.equal(freq[0], freq[1]) and not torch.equal(time[0], time[1])


def test_streamed_training_carries_the_memory_from_one_item_to_the_next(tmp_path, monkeypatch):
    split = _corpus(tmp_path, ["AB", "CD", "EF", "GH"])
    torch.manual_seed(0)
    model = build_model("conformer_ntm", SMALL | {"memory_init": "random"})
    fresh = model.initial_memory(2).memory
    starts = []
    original = model.loss

    def recording_loss(feats, feat_lengths, targets, streaming, memory=None):
        starts.append(memory.memory.clone())
        return original(feats, feat_lengths, targets, streaming, memory)

    monkeypatch.setattr(model, "loss", recording_loss)
    train(model, split, TrainOptions(minutes=5, max_steps=3, stream_items=2, stream_rows=2, freq_mask=2, warmup=1))
    assert len(starts) == 3
    # step 0: both rows fresh; step 1: row 1 renews (stagger), row 0 carries what step 0 wrote
    assert torch.equal(starts[0], fresh)
    assert not torch.allclose(starts[1][0], fresh[0]) and torch.equal(starts[1][1], fresh[1])
    assert torch.equal(starts[2][0], fresh[0]) and not torch.allclose(starts[2][1], fresh[1])
    assert not starts[1].requires_grad  # carried detached: truncated backpropagation


def test_streamed_training_needs_as_many_utterances_as_rows(tmp_path):
    from streammem.errors import InputError

    split = _corpus(tmp_path, ["AB", "CD"])
    model = build_model("conformer_ntm", SMALL)
    with pytest.raises(InputError, match="fewer than the 4 stream rows"):
        train(model, split, TrainOptions(minutes=1, max_steps=1, stream_items=2, stream_rows=4, freq_mask=2))
