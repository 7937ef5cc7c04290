"""A synthetic speech corpus in LibriSpeech layout, spoken by espeak-ng.

Why: LibriSpeech itself is too large to train on in a CPU budget; a formant synthesiser with a few
hundred words, several voices, rates, pitches, noise and light reverberation gives a learnable but
non-trivial ASR task. The corpus is written exactly like LibriSpeech
(``<split>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac`` + ``<speaker>-<chapter>.trans.txt``)
and read back by :mod:`streammem.data.librispeech`.

Splits: ``train`` (training voices, training sentences), ``dev`` (training voices, held-out sentences),
``test`` (held-out voices, held-out sentences) and ``test-long`` (held-out voices, one long chapter per
speaker, so that long-form buckets of several minutes can be joined from it).
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from streammem.data.completion import generation

__all__ = ["SentenceGrammar", "Voice", "TRAIN_VOICES", "TEST_VOICES", "synthesize", "write_corpus", "write_demo_recording"]

SAMPLE_RATE = 16000

_DET = "the a this that every some my your our their one another".split()
_ADJ = (
    "old young small large quiet loud bright dark green red blue yellow white black heavy light warm cold "
    "happy tired clever brave gentle strange busy empty narrow wide early late simple careful honest hungry "
    "little tall short soft sharp sweet bitter wooden silver golden broken hidden famous lonely distant"
).split()
_NOUN = (
    "man woman child doctor teacher farmer captain driver sailor painter king queen dog cat horse bird fish "
    "river mountain forest garden village city house door window table chair road bridge boat train car "
    "letter book story song picture message window island valley market school church kitchen lamp clock "
    "apple bread cheese coffee water stone flower tree field beach ocean cloud storm winter summer morning "
    "evening night friend brother sister mother father neighbour stranger soldier student engine machine"
).split()
_VERB_T = (
    "found saw watched painted carried opened closed visited followed helped called pushed pulled lifted "
    "cleaned built bought sold borrowed answered noticed remembered forgot wanted needed liked loved hated "
    "brought took gave kept left moved"
).split()
_VERB_I = (
    "walked waited laughed smiled slept worked arrived returned stopped listened danced travelled rested "
    "shouted whispered appeared vanished stayed"
).split()
_ADV = "slowly quickly quietly loudly happily sadly carefully suddenly finally again early late together".split()
_PREP = "near behind under over beside across through towards inside outside above below around into".split()
_NAME = (
    "john mary peter susan james anna david laura michael emma robert alice thomas grace william rose "
    "henry clara george lucy"
).split()
_NUM = "two three four five six seven eight nine ten twelve twenty".split()
_PLURAL = (
    "men women children dogs cats horses birds boats trains cars letters books songs apples flowers trees "
    "students soldiers friends clocks"
).split()
_TIME = ["yesterday", "today", "tonight", "last week", "every morning", "in the evening", "at night",
         "on monday", "on friday", "after dinner", "before noon", "in winter", "in summer"]
_CONTRACT = ["it's", "don't", "didn't", "can't", "won't", "isn't", "wasn't", "i'm", "we're", "they're"]


class SentenceGrammar:
    """Sentences from a small phrase-structure grammar over a vocabulary of about 400 words."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def _np(self) -> str:
        r = self.rng
        if r.random() < 0.2:
            return r.choice(_NAME)
        if r.random() < 0.15:
            return f"{r.choice(_NUM)} {r.choice(_PLURAL)}"
        adj = f"{r.choice(_ADJ)} " if r.random() < 0.6 else ""
        return f"{r.choice(_DET)} {adj}{r.choice(_NOUN)}"

    def _pp(self) -> str:
        return f"{self.rng.choice(_PREP)} {self._np()}"

    def sentence(self) -> str:
        """One upper-case sentence, LibriSpeech style (letters, spaces, apostrophes)."""
        r = self.rng
        form = r.randrange(6)
        if form == 0:
            s = f"{self._np()} {r.choice(_VERB_T)} {self._np()}"
        elif form == 1:
            s = f"{self._np()} {r.choice(_VERB_I)} {r.choice(_ADV)} {self._pp()}"
        elif form == 2:
            s = f"{r.choice(_TIME)} {self._np()} {r.choice(_VERB_T)} {self._np()} {self._pp()}"
        elif form == 3:
            s = f"{self._np()} {r.choice(_VERB_I)} and {self._np()} {r.choice(_VERB_T)} {self._np()}"
        elif form == 4:
            s = f"{r.choice(_CONTRACT)} {r.choice(_ADJ)} {self._pp()} {r.choice(_TIME)}"
        else:
            s = f"{self._np()} {r.choice(_VERB_I)} {r.choice(_TIME)} {r.choice(_ADV)}"
        return " ".join(s.split()).upper()

    def unique_sentences(self, count: int, exclude: set[str] = frozenset()) -> list[str]:
        """``count`` distinct sentences, none of them in ``exclude`` (keeps test sentences unseen)."""
        return self.unique(self.sentence, count, exclude)

    @staticmethod
    def unique(draw: Callable[[], Hashable], count: int, exclude: set = frozenset()) -> list:
        """``count`` distinct results of ``draw()``, none of them in ``exclude``."""
        out: list = []
        seen = set(exclude)
        while len(out) < count:
            s = draw()
            if s not in seen:
                seen.add(s)
                out.append(s)
        return out


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice (language + variant) with a base speaking rate (words/min) and pitch (0-99)."""

    name: str
    rate: int
    pitch: int


TRAIN_VOICES: tuple[Voice, ...] = tuple(
    Voice(f"{lang}+{var}", rate, pitch)
    for lang, var, rate, pitch in [
        ("en-us", "m1", 150, 45), ("en-us", "f2", 165, 55), ("en-us", "m3", 175, 40), ("en-us", "f1", 140, 60),
        ("en-gb", "m2", 160, 50), ("en-gb", "f3", 150, 60), ("en-gb", "m7", 170, 35), ("en-gb", "f5", 180, 55),
        ("en-gb-x-rp", "m4", 155, 45), ("en-gb-x-rp", "f2", 165, 65), ("en-us-nyc", "m6", 160, 40),
        ("en-us-nyc", "f1", 150, 55), ("en-us", "m2", 185, 50), ("en-gb", "m1", 140, 55),
        ("en-us", "f5", 160, 70), ("en-gb-x-rp", "m3", 170, 30),
    ]
)
# Held out: variants never paired with that language in training, plus unseen rate/pitch combinations.
TEST_VOICES: tuple[Voice, ...] = tuple(
    Voice(f"{lang}+{var}", rate, pitch)
    for lang, var, rate, pitch in [
        ("en-us", "f3", 160, 50), ("en-gb", "m5", 150, 45), ("en-us", "m7", 170, 40),
        ("en-gb-x-rp", "f1", 155, 60), ("en-us-nyc", "m2", 165, 45), ("en-gb", "f4", 160, 55),
    ]
)


def synthesize(text: str, voice: Voice, rng: np.random.Generator, clean: bool = False) -> np.ndarray:
    """16 kHz mono float32 audio of ``text``: espeak-ng, then (unless ``clean``) noise and light reverb.

    Rate and pitch jitter around the voice's base; noise at 15-40 dB SNR; reverberation from an
    exponentially decaying noise impulse response (RT60 0.1-0.4 s) mixed in at 10-40 %.
    """
    import soundfile as sf
    from scipy.signal import fftconvolve, resample_poly

    rate = int(voice.rate * rng.uniform(0.9, 1.1))
    pitch = int(np.clip(voice.pitch + rng.integers(-8, 9), 0, 99))
    wav = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-s", str(rate), "-p", str(pitch), "--stdout", text.lower()],
        check=True, capture_output=True,
    ).stdout
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    audio = resample_poly(audio, SAMPLE_RATE, sr).astype(np.float32)  # espeak-ng speaks at 22.05 kHz
    pad = [np.zeros(int(rng.uniform(0.05, 0.3) * SAMPLE_RATE), np.float32) for _ in range(2)]
    audio = np.concatenate([pad[0], audio, pad[1]])
    if not clean:
        rt60 = rng.uniform(0.1, 0.4)
        n = int(rt60 * SAMPLE_RATE)
        ir = rng.standard_normal(n).astype(np.float32) * np.exp(-6.9 * np.arange(n) / n).astype(np.float32)
        ir /= np.sqrt((ir**2).sum()) + 1e-8
        wet = fftconvolve(audio, ir)[: len(audio)].astype(np.float32)
        audio = audio + rng.uniform(0.1, 0.4) * wet
        snr_db = rng.uniform(15, 40)
        power = float((audio**2).mean()) + 1e-10
        audio = audio + rng.standard_normal(len(audio)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    peak = np.abs(audio).max() + 1e-8
    return (audio * (rng.uniform(0.3, 0.9) / peak)).astype(np.float32)


def _write_chapter(job: tuple[Path, int, int, Voice, list[str] | list[tuple[str, str]], int]) -> int:
    """Synthesize one chapter (one speaker, consecutive utterances) and write its flac + trans.txt.

    An utterance is its text, or (text spoken, text written) where the transcript differs from what
    espeak-ng reads (:mod:`streammem.data.synthetic_speech_spelling`)."""
    import soundfile as sf

    split_dir, speaker, chapter, voice, sentences, seed = job
    rng = np.random.default_rng(seed)
    folder = split_dir / str(speaker) / str(chapter)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, sentence in enumerate(sentences):
        spoken, text = (sentence, sentence) if isinstance(sentence, str) else sentence
        utt = f"{speaker}-{chapter}-{i:04d}"
        sf.write(folder / f"{utt}.flac", synthesize(spoken, voice, rng), SAMPLE_RATE, subtype="PCM_16")
        lines.append(f"{utt} {text}\n")
    (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
    return len(sentences)


class Reading(NamedTuple):
    """What one speaker reads into one split: ``index`` counts the split's readers, ``seed`` seeds the audio."""

    split: str
    speaker: int
    index: int
    voice: Voice
    texts: list
    seed: int


def plan_readings(
    unique: Callable[..., list],
    train_per_voice: int,
    dev_per_voice: int,
    test_per_voice: int,
    long_utterances: int,
    long_speakers: int,
    seed: int,
) -> list[Reading]:
    """Who reads what in each split, shared by the synthetic corpora.

    ``unique(count, exclude=...)`` draws distinct sentences (or templates); the held-out ones (dev, test,
    test-long) are drawn first and excluded from training. Training voices read ``train`` (speakers 100+)
    and ``dev``; held-out voices read ``test`` (900+) and ``test-long`` (950+, one long reading each)."""
    n_test = len(TEST_VOICES) * test_per_voice + long_speakers * long_utterances
    n_dev = len(TRAIN_VOICES) * dev_per_voice
    held_out = unique(n_test + n_dev)
    train = unique(len(TRAIN_VOICES) * train_per_voice, exclude=set(held_out))
    readings: list[Reading] = []
    for i, voice in enumerate(TRAIN_VOICES):
        spk = 100 + i
        readings.append(Reading("train", spk, i, voice, train[i * train_per_voice:(i + 1) * train_per_voice], seed * 1000 + spk))
        readings.append(Reading("dev", spk, i, voice, held_out[n_test + i * dev_per_voice: n_test + (i + 1) * dev_per_voice],
                                seed * 1000 + spk + 500))
    for i, voice in enumerate(TEST_VOICES):
        spk = 900 + i
        readings.append(Reading("test", spk, i, voice, held_out[i * test_per_voice:(i + 1) * test_per_voice], seed * 1000 + spk))
    start = len(TEST_VOICES) * test_per_voice
    for i in range(long_speakers):
        spk = 950 + i
        readings.append(Reading("test-long", spk, i, TEST_VOICES[i % len(TEST_VOICES)],
                                held_out[start + i * long_utterances: start + (i + 1) * long_utterances], seed * 1000 + spk))
    return readings


def write_corpus(
    root: str | Path,
    train_per_voice: int = 220,
    dev_per_voice: int = 8,
    test_per_voice: int = 50,
    long_utterances: int = 110,
    long_speakers: int = 3,
    seed: int = 0,
    workers: int = 2,
) -> dict[str, int]:
    """Write all splits under ``root``; returns utterance counts per split.

    Test and dev sentences are excluded from the training sentences, test voices from the training voices.
    """
    readings = plan_readings(SentenceGrammar(seed).unique_sentences, train_per_voice, dev_per_voice, test_per_voice,
                             long_utterances, long_speakers, seed)
    parameters = dict(train_per_voice=train_per_voice, dev_per_voice=dev_per_voice, test_per_voice=test_per_voice,
                      long_utterances=long_utterances, long_speakers=long_speakers, seed=seed)
    with generation(root, "synthetic_speech", **parameters) as root:
        jobs = [(root / r.split, r.speaker, 2 if r.split == "dev" else 1, r.voice, r.texts, r.seed) for r in readings]
        return write_chapters(jobs, workers)


def write_chapters(jobs: list[tuple], workers: int) -> dict[str, int]:
    """Run :func:`_write_chapter` over ``jobs`` in ``workers`` processes; utterance counts per split."""
    from streammem.progress import progress

    counts: dict[str, int] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for job, n in progress(zip(jobs, pool.map(_write_chapter, jobs), strict=True), total=len(jobs), desc="synthesizing"):
            counts[job[0].name] = counts.get(job[0].name, 0) + n
    return counts


def write_demo_recording(path: str | Path, sentences: int = 15, seed: int = 12345) -> str:
    """The bundled demo recording: ``sentences`` unseen sentences by a held-out voice, clean (so FLAC keeps
    it under 1 MB). Returns the reference transcript."""
    import soundfile as sf

    texts = SentenceGrammar(seed).unique_sentences(sentences)
    rng = np.random.default_rng(7)
    audio = np.concatenate([synthesize(t, TEST_VOICES[0], rng, clean=True) for t in texts])
    sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return " ".join(texts)


def main(argv: list[str] | None = None) -> int:
    """``python -m streammem.data.synthetic_speech ROOT``: write the corpus (2 worker processes)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("--train-per-voice", type=int, default=220)
    p.add_argument("--test-per-voice", type=int, default=50)
    p.add_argument("--long-utterances", type=int, default=110)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    counts = write_corpus(a.root, a.train_per_voice, test_per_voice=a.test_per_voice,
                          long_utterances=a.long_utterances, seed=a.seed, workers=a.workers)
    print(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
