"""A synthetic English->German speech translation corpus in MuST-C layout, spoken by espeak-ng.

Why: MuST-C is far too large to train on a CPU budget, and a corpus whose difficulty we control shows what
a simultaneous policy and a memory actually buy. Each talk is one voice reading many segments with pauses
between them; it is written exactly like MuST-C (``en-de/data/{split}/wav/ted_<id>.wav`` whole talks and
``txt/{split}.yaml`` / ``.en`` / ``.de``, one line per segment) and read back by :mod:`streammem.data.mustc`.

What makes it a simultaneous-translation task: the German targets follow German word order, so a policy
that writes early must guess what it has not heard yet:

- verb-second after a fronted adverbial (``Yesterday the man saw the dog.`` -> ``Gestern sah der Mann den
  Hund.``: the verb comes before the subject),
- verb-final subordinate clauses (``I think that the man saw the dog.`` -> ``Ich denke, dass der Mann den
  Hund sah.``: the verb is the last word, heard before the object in English),
- separable verbs (``The man picked up the book.`` -> ``Der Mann hob das Buch auf.``; in a subordinate
  clause the particle rejoins the verb: ``..., dass der Mann das Buch aufhob.``).

What needs memory: about a third of the segments are *pronoun segments* (``Later it was heavy.``) whose
``it`` refers to the object of the previous segment. German must choose ``er``/``sie``/``es`` (``ihn`` in
the accusative) by that noun's grammatical gender (``der Hund`` -> ``er``, ``die Lampe`` -> ``sie``, ``das
Buch`` -> ``es``), which nothing in the pronoun segment itself reveals. The noun was spoken in the previous
segment, 1-3 s earlier and across a pause, so it lies outside the encoder's window; the translator keeps the
talk's encoder memory across segment boundaries (:meth:`AMTSimulST.start_segment`), and only the memory
bank can carry the gender forward. Without memory the pronoun is a three-way guess.

Splits: ``train`` (training voices and sentences), ``dev`` (training voices, held-out sentences) and
``tst-COMMON`` (held-out voices, held-out sentences). Content sentences of dev/test never occur in train;
pronoun sentences are few (``It was big.``) and recur, but what they must be translated to depends on the
held-out sentence before them.
"""

from __future__ import annotations

import argparse
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streammem.data.synthetic_speech import (
    SAMPLE_RATE,
    TEST_VOICES,
    TRAIN_VOICES,
    SentenceGrammar,
    Voice,
    synthesize,
)

__all__ = ["Segment", "TranslationGrammar", "write_corpus", "write_demo_recording", "pronoun_accuracy",
           "is_pronoun_segment", "pronoun_right", "object_named", "SPLITS"]

SPLITS = ("train", "dev", "tst-COMMON")

# Objects (things and animals): English -> (German noun, gender). Pronouns refer to these.
_OBJECTS = {
    "dog": ("Hund", "m"), "bird": ("Vogel", "m"), "train": ("Zug", "m"), "table": ("Tisch", "m"),
    "chair": ("Stuhl", "m"), "tree": ("Baum", "m"), "ball": ("Ball", "m"), "key": ("Schlüssel", "m"),
    "cat": ("Katze", "f"), "lamp": ("Lampe", "f"), "door": ("Tür", "f"), "flower": ("Blume", "f"),
    "bridge": ("Brücke", "f"), "clock": ("Uhr", "f"), "bottle": ("Flasche", "f"), "box": ("Kiste", "f"),
    "horse": ("Pferd", "n"), "house": ("Haus", "n"), "car": ("Auto", "n"), "book": ("Buch", "n"),
    "window": ("Fenster", "n"), "boat": ("Boot", "n"), "picture": ("Bild", "n"), "bed": ("Bett", "n"),
}
# Subjects (people): English -> (German noun, gender).
_PEOPLE = {
    "man": ("Mann", "m"), "woman": ("Frau", "f"), "child": ("Kind", "n"), "teacher": ("Lehrer", "m"),
    "girl": ("Mädchen", "n"), "boy": ("Junge", "m"), "mother": ("Mutter", "f"), "father": ("Vater", "m"),
}
_DEF = {"nom": {"m": "der", "f": "die", "n": "das"}, "acc": {"m": "den", "f": "die", "n": "das"}}
_PRONOUN = {"nom": {"m": "er", "f": "sie", "n": "es"}, "acc": {"m": "ihn", "f": "sie", "n": "es"}}
_VERBS = {  # simple past: English -> German
    "saw": "sah", "found": "fand", "bought": "kaufte", "sold": "verkaufte", "liked": "mochte",
    "carried": "trug", "painted": "malte", "washed": "wusch", "needed": "brauchte", "forgot": "vergaß",
}
_SEPARABLE = {  # English phrasal verb -> (German finite stem, particle)
    "switched on": ("schaltete", "ein"), "switched off": ("schaltete", "aus"), "picked up": ("hob", "auf"),
    "opened": ("machte", "auf"), "closed": ("machte", "zu"), "brought back": ("brachte", "zurück"),
    "looked at": ("sah", "an"),
}
_FRONTED = {
    "yesterday": "gestern", "today": "heute", "later": "später", "then": "dann", "in the morning": "am Morgen",
    "in the evening": "am Abend", "at night": "in der Nacht", "on Monday": "am Montag",
}
_THAT = {"I think that": "ich denke, dass", "she said that": "sie sagte, dass", "we know that": "wir wissen, dass",
         "he believes that": "er glaubt, dass"}
_ADJECTIVES = {
    "big": "groß", "small": "klein", "old": "alt", "new": "neu", "loud": "laut", "quiet": "leise", "red": "rot",
    "heavy": "schwer", "beautiful": "schön", "cheap": "billig", "broken": "kaputt", "clean": "sauber",
}


@dataclass(frozen=True)
class Segment:
    """One sentence pair; ``referent`` is the object noun a following pronoun refers to ('' for pronoun
    segments), ``gender`` the gender a pronoun segment's German pronoun encodes ('' otherwise)."""

    en: str
    de: str
    referent: str = ""
    gender: str = ""


def _sentence_case(text: str) -> str:
    return text[0].upper() + text[1:] + "."


class TranslationGrammar:
    """Parallel sentences with German word order (V2, verb-final clauses, separable verbs) and pronouns."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def content(self) -> Segment:
        """A sentence with a person subject and a thing/animal object, in one of six word-order forms."""
        r = self.rng
        subj = r.choice(sorted(_PEOPLE))
        obj = r.choice(sorted(_OBJECTS))
        s_de, s_g = _PEOPLE[subj]
        o_de, o_g = _OBJECTS[obj]
        subject_de = f"{_DEF['nom'][s_g]} {s_de}"
        object_de = f"{_DEF['acc'][o_g]} {o_de}"
        separable = r.random() < 0.4
        if separable:
            verb_en = r.choice(sorted(_SEPARABLE))
            stem, particle = _SEPARABLE[verb_en]
        else:
            verb_en = r.choice(sorted(_VERBS))
            stem, particle = _VERBS[verb_en], ""
        clause_en = f"the {subj} {verb_en} the {obj}"
        form = r.randrange(3)
        if form == 0:  # main clause: S V O (particle last)
            en, de = clause_en, " ".join(filter(None, [subject_de, stem, object_de, particle]))
        elif form == 1:  # fronted adverbial: verb second, subject after it
            adv = r.choice(sorted(_FRONTED))
            en, de = f"{adv} {clause_en}", " ".join(filter(None, [_FRONTED[adv], stem, subject_de, object_de, particle]))
        else:  # subordinate clause: verb (with its particle) last
            that = r.choice(sorted(_THAT))
            en, de = f"{that} {clause_en}", f"{_THAT[that]} {subject_de} {object_de} {particle}{stem}"
        return Segment(_sentence_case(en), _sentence_case(de), referent=obj)

    def pronoun(self, referent: str) -> Segment:
        """A sentence whose ``it`` refers to ``referent`` (the previous segment's object)."""
        r = self.rng
        gender = _OBJECTS[referent][1]
        nom, acc = _PRONOUN["nom"][gender], _PRONOUN["acc"][gender]
        adj = r.choice(sorted(_ADJECTIVES))
        form = r.randrange(4)
        if form == 0:
            en, de = f"it was {adj}", f"{nom} war {_ADJECTIVES[adj]}"
        elif form == 1:
            adv = r.choice(sorted(_FRONTED))
            en, de = f"{adv} it was {adj}", f"{_FRONTED[adv]} war {nom} {_ADJECTIVES[adj]}"
        elif form == 2:
            that = r.choice(sorted(_THAT))
            en, de = f"{that} it was {adj}", f"{_THAT[that]} {nom} {_ADJECTIVES[adj]} war"
        else:
            adv = r.choice(sorted(_FRONTED))
            verb = r.choice(sorted(_VERBS))
            en, de = f"{adv} I {verb} it", f"{_FRONTED[adv]} {_VERBS[verb]} ich {acc}"
        return Segment(_sentence_case(en), _sentence_case(de), gender=gender)

    def talk(self, contents: list[Segment], pronoun_share: float = 0.35) -> list[Segment]:
        """Interleave ``contents`` with pronoun segments, each right after a content segment."""
        out: list[Segment] = []
        for segment in contents:
            out.append(segment)
            if self.rng.random() < pronoun_share:
                out.append(self.pronoun(segment.referent))
        return out


def _write_talk(job: tuple[Path, str, Voice, list[Segment], int, bool]) -> tuple[list[str], list[str], list[str]]:
    """Synthesize one talk (segments separated by pauses) to ``wav/<talk>.wav``; its YAML, .en and .de lines."""
    import soundfile as sf

    split_dir, talk, voice, segments, seed, clean = job
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(int(rng.uniform(0.3, 1.0) * SAMPLE_RATE), np.float32)]
    yaml_lines, en, de = [], [], []
    position = len(pieces[0])
    for segment in segments:
        audio = synthesize(segment.en.rstrip("."), voice, rng, clean=clean)
        pause = np.zeros(int(rng.uniform(0.4, 0.9) * SAMPLE_RATE), np.float32)
        yaml_lines.append(
            f"- {{duration: {len(audio) / SAMPLE_RATE:.6f}, offset: {position / SAMPLE_RATE:.6f}, "
            f"speaker_id: spk.{talk}, wav: {talk}.wav}}"
        )
        en.append(segment.en)
        de.append(segment.de)
        pieces += [audio, pause]
        position += len(audio) + len(pause)
    (split_dir / "wav").mkdir(parents=True, exist_ok=True)
    sf.write(split_dir / "wav" / f"{talk}.wav", np.concatenate(pieces), SAMPLE_RATE, subtype="PCM_16")
    return yaml_lines, en, de


def write_corpus(
    root: str | Path,
    train_talks: int = 32,
    dev_talks: int = 4,
    test_talks_per_voice: int = 2,
    contents_per_talk: int = 9,
    seed: int = 0,
    workers: int = 1,
) -> dict[str, int]:
    """Write ``root/en-de/data/{train,dev,tst-COMMON}``; returns segment counts per split.

    Training talks are read by the training voices (in turn), test talks by the held-out voices; dev and
    test content sentences are drawn first and never used in training.
    """
    grammar = TranslationGrammar(seed)
    n_test = len(TEST_VOICES) * test_talks_per_voice * contents_per_talk
    n_dev = dev_talks * contents_per_talk
    held_out = SentenceGrammar.unique(grammar.content, n_test + n_dev)
    train = SentenceGrammar.unique(grammar.content, train_talks * contents_per_talk, exclude=set(held_out))
    plan: list[tuple[str, Voice, list[Segment]]] = []

    def chunk(items: list[Segment], i: int) -> list[Segment]:
        return items[i * contents_per_talk:(i + 1) * contents_per_talk]

    for i in range(train_talks):
        plan.append(("train", TRAIN_VOICES[i % len(TRAIN_VOICES)], grammar.talk(chunk(train, i))))
    for i in range(dev_talks):
        plan.append(("dev", TRAIN_VOICES[(i * 5) % len(TRAIN_VOICES)], grammar.talk(chunk(held_out, i + n_test // contents_per_talk))))
    for i in range(len(TEST_VOICES) * test_talks_per_voice):
        plan.append(("tst-COMMON", TEST_VOICES[i % len(TEST_VOICES)], grammar.talk(chunk(held_out, i))))
    data = Path(root) / "en-de" / "data"
    jobs = [(data / split, f"ted_{1000 + n}", voice, segments, seed * 10_000 + n, False)
            for n, (split, voice, segments) in enumerate(plan)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_write_talk, jobs))
    counts: dict[str, int] = {}
    for split in SPLITS:
        parts = [r for (d, *_), r in zip(jobs, results, strict=True) if d.name == split]
        txt = data / split / "txt"
        txt.mkdir(parents=True, exist_ok=True)
        for suffix, index in (("yaml", 0), ("en", 1), ("de", 2)):
            (txt / f"{split}.{suffix}").write_text("".join(line + "\n" for part in parts for line in part[index]), encoding="utf-8")
        counts[split] = sum(len(part[0]) for part in parts)
    return counts


def write_demo_recording(path: str | Path, seed: int = 4242) -> tuple[str, str]:
    """A short clean talk (a content segment, then a pronoun segment) by a held-out voice; returns (en, de)."""
    import soundfile as sf

    grammar = TranslationGrammar(seed)
    first = grammar.content()
    segments = [first, grammar.pronoun(first.referent)]
    rng = np.random.default_rng(seed)
    pause = np.zeros(int(0.5 * SAMPLE_RATE), np.float32)
    audio = np.concatenate([a for s in segments for a in (synthesize(s.en.rstrip("."), TEST_VOICES[0], rng, clean=True), pause)])
    sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return " ".join(s.en for s in segments), " ".join(s.de for s in segments)


def _pronoun(german: str) -> str:
    """The pronoun standing for 'it' in a German sentence of this grammar: its last er/sie/es/ihn."""
    found = [w for w in (w.strip(".,").lower() for w in german.split()) if w in ("er", "sie", "es", "ihn")]
    return found[-1] if found else ""


def is_pronoun_segment(source: str) -> bool:
    """Whether an English segment of this grammar is a pronoun segment (it says 'it')."""
    return "it" in source.lower().rstrip(".").split()


def pronoun_right(reference: str, hypothesis: str) -> bool:
    """Whether a pronoun segment's translation uses the reference's German pronoun."""
    return _pronoun(reference) == _pronoun(hypothesis)


def object_named(source: str, hypothesis: str) -> bool:
    """Whether the translation of a content segment names its object in German (*Hund* for 'the dog'): the noun
    whose gender the pronoun of a following pronoun segment must carry. A model that misses the noun cannot
    get the pronoun from memory either, so the pronoun is also scored on the segments whose antecedent it got."""
    words = source.lower().rstrip(".").split()
    if not words or words[-1] not in _OBJECTS:
        return False
    return _OBJECTS[words[-1]][0].lower() in {w.strip(".,").lower() for w in hypothesis.split()}


def pronoun_accuracy(sources: list[str], references: list[str], hypotheses: list[str]) -> tuple[float, int]:
    """(percent of pronoun segments whose translation has the reference's pronoun, number of such segments):
    the score of what needs memory. A pronoun segment is one whose English says 'it'."""
    pairs = [(r, h) for s, r, h in zip(sources, references, hypotheses, strict=True) if is_pronoun_segment(s)]
    if not pairs:
        return float("nan"), 0
    return 100.0 * sum(pronoun_right(r, h) for r, h in pairs) / len(pairs), len(pairs)


def main(argv: list[str] | None = None) -> int:
    """``python -m streammem.data.synthetic_simulst ROOT``: write the corpus."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("--train-talks", type=int, default=32)
    p.add_argument("--contents-per-talk", type=int, default=9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args(argv)
    print(write_corpus(a.root, a.train_talks, contents_per_talk=a.contents_per_talk, seed=a.seed, workers=a.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
