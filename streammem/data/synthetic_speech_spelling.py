"""A synthetic speech corpus whose transcripts need memory: each chapter keeps one spelling convention.

Why: in :mod:`streammem.data.synthetic_speech` every sentence is independent, so nothing minutes back helps
to transcribe the next word and a memory has nothing to carry. Here every chapter is written either in
American or in British spelling, chosen at random per chapter and independent of the voice's accent. Words
whose two spellings sound the same (COLOR / COLOUR, TRAVELED / TRAVELLED) are spoken identically in both
conventions (espeak-ng reads the American spelling), so their spelling cannot be heard, only inferred; the
convention shows only in words that differ in sound (TRUCK / LORRY, FALL / AUTUMN), which occur in some
sentences and not others. A recogniser with a bounded left context must guess the spelling whenever no such
word is within reach; one with a memory can carry the chapter's convention forward, as a long-form transcriber
of a lecture keeps its spelling of names consistent.

Layout and splits as :func:`streammem.data.synthetic_speech.write_corpus` (same voices, noise and
reverberation), but each training voice reads several short chapters (a fresh convention each), and test-long
has an even number of chapters, half in each convention.

    python -m streammem.data.synthetic_speech_spelling runs/synth_speech_spelling
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from streammem.data.completion import generation
from streammem.data.synthetic_speech import (
    _ADJ,
    _NOUN,
    _PREP,
    _TIME,
    SentenceGrammar,
    Voice,
    plan_readings,
    write_chapters,
)

__all__ = ["SPELLINGS", "MARKERS", "CONVENTIONS", "SpellingGrammar", "render", "write_spelling_corpus",
           "spelled_word", "spelling_verdicts"]

CONVENTIONS = ("US", "UK")

# Same sound, two spellings (American, British): nouns, adjectives, transitive and intransitive past verbs.
_SPELL_NOUN = [
    ("COLOR", "COLOUR"), ("CENTER", "CENTRE"), ("THEATER", "THEATRE"), ("NEIGHBOR", "NEIGHBOUR"),
    ("HARBOR", "HARBOUR"), ("HONOR", "HONOUR"), ("LABOR", "LABOUR"), ("FLAVOR", "FLAVOUR"), ("HUMOR", "HUMOUR"),
    ("METER", "METRE"), ("TIRE", "TYRE"), ("PLOW", "PLOUGH"), ("CATALOG", "CATALOGUE"), ("PROGRAM", "PROGRAMME"),
    ("PAJAMAS", "PYJAMAS"), ("JEWELRY", "JEWELLERY"), ("ODOR", "ODOUR"), ("RUMOR", "RUMOUR"), ("PARLOR", "PARLOUR"),
    ("ARMOR", "ARMOUR"),
]
_SPELL_ADJ = [("GRAY", "GREY"), ("FAVORITE", "FAVOURITE"), ("MOLDY", "MOULDY")]
_SPELL_VERB_T = [
    ("ORGANIZED", "ORGANISED"), ("RECOGNIZED", "RECOGNISED"), ("CANCELED", "CANCELLED"), ("LABELED", "LABELLED"),
    ("CRITICIZED", "CRITICISED"), ("MEMORIZED", "MEMORISED"), ("REALIZED", "REALISED"), ("COLORED", "COLOURED"),
]
_SPELL_VERB_I = [("TRAVELED", "TRAVELLED"), ("APOLOGIZED", "APOLOGISED"), ("PRACTICED", "PRACTISED")]
SPELLINGS: tuple[tuple[str, str], ...] = (*_SPELL_NOUN, *_SPELL_ADJ, *_SPELL_VERB_T, *_SPELL_VERB_I)
# Different words (American, British): the only audible sign of a chapter's convention.
MARKERS: tuple[tuple[str, str], ...] = (
    ("TRUCK", "LORRY"), ("APARTMENT", "FLAT"), ("ELEVATOR", "LIFT"), ("COOKIE", "BISCUIT"), ("PANTS", "TROUSERS"),
    ("GAS", "PETROL"), ("GARBAGE", "RUBBISH"), ("SIDEWALK", "PAVEMENT"), ("CELLPHONE", "MOBILE"),
    ("DRUGSTORE", "CHEMIST"), ("CANDY", "SWEETS"), ("FLASHLIGHT", "TORCH"), ("SOCCER", "FOOTBALL"),
    ("FALL", "AUTUMN"), ("VACATION", "HOLIDAY"), ("MOVIE", "FILM"), ("MOM", "MUM"), ("FAUCET", "TAP"),
    ("SWEATER", "JUMPER"), ("DIAPER", "NAPPY"),
)
_NEUTRAL_NOUN = [w for w in _NOUN if w != "neighbour"]  # the base grammar spells it the British way

Token = str | tuple[str, int]  # a plain word, or ("S", i) / ("M", i): a SPELLINGS / MARKERS entry


class SpellingGrammar(SentenceGrammar):
    """Sentence templates with at least one convention-spelled word and, in ``marker_rate`` of them, a word
    that reveals the convention (before or after the clause, at random)."""

    def __init__(self, seed: int, marker_rate: float = 0.35):
        super().__init__(seed)
        self.marker_rate = marker_rate

    def _key(self, kind: str, pairs: list[tuple[str, str]], table: tuple[tuple[str, str], ...]) -> tuple[str, int]:
        return kind, table.index(self.rng.choice(pairs))

    def _spelled_np(self) -> list[Token]:
        r = self.rng
        adj: list[Token] = []
        if r.random() < 0.3:
            adj = [self._key("S", _SPELL_ADJ, SPELLINGS)]
        elif r.random() < 0.4:
            adj = [r.choice(_ADJ)]
        return [r.choice(["the", "a", "my", "our", "their"]), *adj, self._key("S", _SPELL_NOUN, SPELLINGS)]

    def _plain_np(self) -> list[Token]:
        return self._np().replace("neighbour", self.rng.choice(_NEUTRAL_NOUN)).split()

    def template(self) -> tuple[Token, ...]:
        """One sentence as tokens; :func:`render` spells it in a convention."""
        r = self.rng
        form = r.randrange(4)
        if form == 0:
            clause = [*self._plain_np(), self._key("S", _SPELL_VERB_T, SPELLINGS), *self._spelled_np()]
        elif form == 1:
            clause = [*self._plain_np(), self._key("S", _SPELL_VERB_I, SPELLINGS), r.choice(_PREP), *self._spelled_np()]
        elif form == 2:
            clause = [*self._spelled_np(), r.choice(["was", "looked", "seemed"]), r.choice(_ADJ), *r.choice(_TIME).split()]
        else:
            clause = [*self._plain_np(), r.choice(["found", "saw", "liked", "painted"]), *self._spelled_np(),
                      r.choice(_PREP), *self._spelled_np()]
        if r.random() < self.marker_rate:
            marker: list[Token] = [r.choice(["near", "with", "after", "behind"]), "the", ("M", r.randrange(len(MARKERS)))]
            clause = marker + clause if r.random() < 0.5 else clause + marker
        return tuple(w.upper() if isinstance(w, str) else w for w in clause)

    def unique_templates(self, count: int, exclude: set = frozenset()) -> list[tuple[Token, ...]]:
        """``count`` distinct templates, none of them in ``exclude``."""
        return self.unique(self.template, count, exclude)


def render(template: tuple[Token, ...], convention: str) -> tuple[str, str]:
    """(spoken text, transcript) of a template in ``convention`` ("US" or "UK"): a spelled word is spoken
    the American way in both (so it sounds the same) and written in the convention; a marker is both."""
    side = CONVENTIONS.index(convention)
    spoken, written = [], []
    for token in template:
        if isinstance(token, str):
            spoken.append(token)
            written.append(token)
        elif token[0] == "S":
            spoken.append(SPELLINGS[token[1]][0])
            written.append(SPELLINGS[token[1]][side])
        else:
            spoken.append(MARKERS[token[1]][side])
            written.append(MARKERS[token[1]][side])
    return " ".join(spoken), " ".join(written)


_OTHER_SPELLING = {w.lower(): o.lower() for pair in SPELLINGS for w, o in (pair, pair[::-1])}


def spelled_word(word: str) -> bool:
    """Whether ``word`` (any case) is one spelling of a SPELLINGS pair."""
    return word.lower() in _OTHER_SPELLING


def spelling_verdicts(reference: str, hypothesis: str) -> list[str]:
    """For each spelled word of ``reference`` in order: 'right', 'other' (hypothesis has the other
    convention's spelling there: the error only a memory of the chapter avoids) or 'error' (anything else),
    from jiwer's word alignment of the normalised texts."""
    import jiwer

    from streammem.evaluation.functional.speech import normalize_transcript

    ref_words = normalize_transcript(reference).split()
    out = jiwer.process_words(" ".join(ref_words), normalize_transcript(hypothesis) or "<empty>")
    hyp_words = out.hypotheses[0]
    verdict: dict[int, str] = {}
    for chunk in out.alignments[0]:
        for k in range(chunk.ref_start_idx, chunk.ref_end_idx):
            if not spelled_word(ref_words[k]):
                continue
            if chunk.type == "equal":
                verdict[k] = "right"
            elif (chunk.type == "substitute"
                  and hyp_words[chunk.hyp_start_idx + k - chunk.ref_start_idx] == _OTHER_SPELLING[ref_words[k]]):
                verdict[k] = "other"
            else:
                verdict[k] = "error"
    return [verdict[k] for k in sorted(verdict)]


Job = tuple[Path, int, int, Voice, list[tuple[str, str]], int]


def _chapters(split_dir: Path, speaker: int, voice: Voice, templates: list, size: int, seed: int,
              first: int = 1, conventions: list[str] | None = None) -> list[tuple[Job, str]]:
    """(job, convention) for consecutive chapters ``first``, ``first + 1`` ... of ``size`` templates each;
    each chapter's convention drawn from ``seed`` unless given."""
    rng = random.Random(seed)
    out: list[tuple[Job, str]] = []
    for c, start in enumerate(range(0, len(templates), size)):
        convention = conventions[c] if conventions else rng.choice(CONVENTIONS)
        texts = [render(t, convention) for t in templates[start:start + size]]
        out.append(((split_dir, speaker, first + c, voice, texts, seed * 100 + c), convention))
    return out


def chapter_conventions(root: str | Path) -> dict[str, str]:
    """``speaker-chapter`` -> convention of a written corpus (from its ``conventions.txt``)."""
    lines = (Path(root) / "conventions.txt").read_text().split("\n")
    return dict(line.split() for line in lines if line.strip())


def write_spelling_corpus(
    root: str | Path,
    train_per_voice: int = 220,
    train_chapter: int = 20,
    dev_per_voice: int = 8,
    test_per_voice: int = 50,
    test_chapter: int = 10,
    long_utterances: int = 110,
    long_speakers: int = 4,
    seed: int = 0,
    workers: int = 2,
) -> dict[str, int]:
    """Write train/dev/test/test-long under ``root`` and ``conventions.txt`` (``speaker-chapter convention``
    per line); returns utterance counts per split. Test sentences and voices are held out as in
    :func:`streammem.data.synthetic_speech.write_corpus`."""
    readings = plan_readings(SpellingGrammar(seed).unique_templates, train_per_voice, dev_per_voice, test_per_voice,
                             long_utterances, long_speakers, seed)
    parameters = dict(train_per_voice=train_per_voice, train_chapter=train_chapter, dev_per_voice=dev_per_voice,
                      test_per_voice=test_per_voice, test_chapter=test_chapter, long_utterances=long_utterances,
                      long_speakers=long_speakers, seed=seed)
    with generation(root, "synthetic_speech_spelling", **parameters) as root:
        return _write_spelling_chapters(root, readings, workers, train_chapter, dev_per_voice, test_chapter,
                                        long_utterances)


def _write_spelling_chapters(root: Path, readings: list, workers: int, train_chapter: int, dev_per_voice: int,
                             test_chapter: int, long_utterances: int) -> dict[str, int]:
    """The chapters of :func:`write_spelling_corpus` and its ``conventions.txt``."""
    size = {"train": train_chapter, "dev": dev_per_voice, "test": test_chapter, "test-long": long_utterances}
    planned: list[tuple[Job, str]] = []
    for r in readings:  # dev chapters numbered from 50 (the speaker's train chapters come first); half the
        # long chapters in each convention
        conventions = [CONVENTIONS[r.index % 2]] if r.split == "test-long" else None
        planned += _chapters(root / r.split, r.speaker, r.voice, r.texts, size[r.split], r.seed,
                             first=50 if r.split == "dev" else 1, conventions=conventions)
    counts = write_chapters([job for job, _ in planned], workers)
    lines = sorted(f"{job[1]}-{job[2]} {convention}\n" for job, convention in planned)
    (root / "conventions.txt").write_text("".join(lines))
    return counts


def main(argv: list[str] | None = None) -> int:
    """``python -m streammem.data.synthetic_speech_spelling ROOT``: write the corpus (2 worker processes)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("--train-per-voice", type=int, default=220)
    p.add_argument("--test-per-voice", type=int, default=50)
    p.add_argument("--long-utterances", type=int, default=110)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    print(write_spelling_corpus(a.root, a.train_per_voice, test_per_voice=a.test_per_voice,
                                long_utterances=a.long_utterances, seed=a.seed, workers=a.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
