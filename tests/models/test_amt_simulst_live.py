"""Live translation (a microphone's stream): words come out while the audio is still arriving, segments are
found online where the file path finds them, and memory stays bounded on an endless stream."""

import tracemalloc

import numpy as np
import pytest
import torch

from streammem.models import build_model
from streammem.models.amt_simulst.decoding import split_on_pauses, translate_recording, translate_talk
from streammem.models.amt_simulst.live import LiveTranslator
from streammem.streams.audio import load_audio_file
from streammem.tasks.simulst import SAMPLE_AUDIO, _load_model

CHUNK = 5120  # 0.32 s, what the demo asks the microphone for
TEXTS = ["Gestern sah der Mann den Hund.", "Die Frau machte das Fenster zu.", "Ich denke, dass er alt war."] * 20


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return _load_model(None)


def test_words_are_emitted_while_the_talk_is_still_arriving(shipped):
    audio = load_audio_file(SAMPLE_AUDIO)
    pushes, printed = 0, []
    live = LiveTranslator(shipped, lambda words, at: printed.append((words, at, pushes * CHUNK / 16000)))
    for i in range(0, len(audio), CHUNK):
        pushes += 1
        live.push(audio[i:i + CHUNK])
    total = pushes * CHUNK / 16000
    before_finish = len(printed)
    live.finish()
    assert before_finish == len(printed) > 0  # everything was said before the stream stopped
    assert printed[0][2] < total / 2  # the first words came out in the first half of the talk
    assert all(at <= heard + 1e-6 for _, at, heard in printed)  # a word is never stamped later than it was heard
    # the same segments as the file path (which sees the whole recording), each ending at the detected pause
    assert [a for (a, _), _ in live.segments] == [a for a, _ in split_on_pauses(audio)]
    words = [w for group, _, _ in printed for w in group]
    assert words == [w for _, t in live.segments for w in t.words]
    assert len(words) >= len(" ".join(t.text for _, t in translate_talk(shipped, audio)).split()) - 2


def test_a_stream_stopped_mid_sentence_ends_the_open_segment(shipped):
    audio = load_audio_file(SAMPLE_AUDIO)[: int(1.2 * 16000)]  # cut inside the first sentence
    live = LiveTranslator(shipped)
    for i in range(0, len(audio), CHUNK):
        live.push(audio[i:i + CHUNK])
    assert live.segment is not None
    live.finish()
    (start, end), timed = live.segments[-1]
    assert live.segment is None and end == len(audio) and timed.source_length == (end - start) / 16
    assert timed.words  # the end of a segment writes the rest of its translation


def test_memory_stays_bounded_on_an_endless_stream():
    model = _small_model()
    live = LiveTranslator(model)
    held = []
    for piece in _bursts(60):  # a minute
        live.push(piece)
        held.append(len(live.buffer))
    assert len(live.segments) >= 28  # one per burst
    assert max(held) <= 2 * 16000 + 1600 + 160 + 16000  # context + pad + a frame + what the last push brought
    assert live.heard == 60 * 16000


def _small_model():
    """A one-layer random-weight model (seed 0) with its tokenizer fitted on ``TEXTS``."""
    torch.manual_seed(0)
    model = build_model("amt_simulst", dict(num_mels=80, d_model=16, num_heads=2, ffn_dim=32, encoder_layers=1,
                                            decoder_layers=1, subsampling_channels=4, center_frames=32, left_frames=16,
                                            right_frames=16, memory_size=2, pre_decision=4, wait_k=1,
                                            max_target_tokens=4, target_pieces=30)).eval()
    model.fit_tokenizer(TEXTS)
    return model


def _bursts(seconds: int):
    """1.5 s bursts of a tone between pauses of 0.5 s, over quiet noise, one second per piece."""
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for second in range(seconds):
        on = (second * 16000 + np.arange(16000)) % 32000 < 24000
        yield (0.3 * np.sin(2 * np.pi * 220 * t) * on + 1e-4 * rng.standard_normal(16000)).astype(np.float32)


def test_a_recording_in_pieces_translates_as_the_whole_does(shipped):
    audio = np.concatenate([load_audio_file(SAMPLE_AUDIO)] * 3)
    cuts = np.cumsum(np.random.default_rng(0).integers(1, 9000, 200))
    pieces = np.split(audio, cuts[cuts < len(audio)])
    whole = translate_talk(shipped, audio)
    streamed = translate_recording(shipped, lambda: pieces)
    assert len(whole) == 6
    assert [(s, t.words, t.delays, t.source_length) for s, t in streamed] == [
        (s, t.words, t.delays, t.source_length) for s, t in whole]


def test_a_long_recording_is_translated_in_bounded_memory():
    model = _small_model()
    tracemalloc.start()
    try:
        segments = translate_recording(model, lambda: _bursts(60))  # a minute: 3.8 MB of float32 audio
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(segments) == 30
    assert peak < 2_000_000  # the last seconds of audio and 400 bytes of energies per second, not the recording
