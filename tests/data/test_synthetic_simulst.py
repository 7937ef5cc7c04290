import shutil

import pytest

from streammem.data.mustc import read_split, segment_audio
from streammem.data.synthetic_simulst import TranslationGrammar, write_corpus

ARTICLE_GENDER = {"den": "m", "die": "f", "das": "n"}  # accusative article of the object
PRONOUN_GENDER = {"er": "m", "ihn": "m", "sie": "f", "es": "n"}


def _words(text):
    return text.rstrip(".").replace(",", "").split()


def test_pronoun_follows_gender_of_previous_object():
    grammar = TranslationGrammar(3)
    talk = grammar.talk([grammar.content() for _ in range(60)], pronoun_share=0.5)
    pairs = [(a, b) for a, b in zip(talk, talk[1:], strict=False) if b.gender]
    assert len(pairs) > 15
    genders = set()
    for content, pronoun in pairs:
        words = _words(content.de)
        noun = max(i for i, w in enumerate(words) if i > 0 and w[0].isupper())  # the object noun, last capitalised
        pronouns = [PRONOUN_GENDER[w.lower()] for w in _words(pronoun.de) if w.lower() in PRONOUN_GENDER]
        assert pronoun.gender == ARTICLE_GENDER[words[noun - 1]] == pronouns[-1]  # "Sie sagte, dass es ..."
        assert "it" in _words(pronoun.en.lower()) and content.referent in _words(content.en)
        genders.add(pronoun.gender)
    assert genders == {"m", "f", "n"}


def test_word_order_is_german():
    grammar = TranslationGrammar(0)
    segments = [grammar.content() for _ in range(300)]
    fronted = [s for s in segments if s.en.startswith("Yesterday the")]
    subordinate = [s for s in segments if s.en.startswith("I think that")]
    separable = [s for s in segments if " picked up " in s.en and s.en.startswith("The ")]
    assert fronted and subordinate and separable
    for s in fronted:  # verb second: "Gestern <verb> <article> <subject> ..."
        assert s.de.split()[2] in {"der", "die", "das"}
    for s in subordinate:  # verb last
        assert s.de.split()[-1].rstrip(".") in {"sah", "fand", "kaufte", "verkaufte", "mochte", "trug", "malte",
                                                "wusch", "brauchte", "vergaß"} or s.de.split()[-1][:2] in {"ei", "au", "an", "zu", "zur"}
    for s in separable:  # particle last in a main clause
        assert s.de.endswith(" auf.") and s.de.split()[2] == "hob"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_corpus_is_readable_mustc_with_held_out_sentences(tmp_path):
    counts = write_corpus(tmp_path, train_talks=2, dev_talks=1, test_talks_per_voice=1, contents_per_talk=3)
    train, test = read_split(tmp_path, "train"), read_split(tmp_path, "tst-COMMON")
    assert counts["train"] == len(train) and counts["tst-COMMON"] == len(test) >= 18
    train_sources = {s.source for s in train}
    assert not {s.source for s in test if "it" not in s.source.split()} & train_sources
    assert len({s.talk for s in test}) == 6
    assert len(segment_audio(test[0])) > 8000


def test_pronoun_accuracy_counts_only_pronoun_segments():
    from streammem.data.synthetic_simulst import pronoun_accuracy

    sources = ["Later it was big.", "The man saw the dog.", "I think that it was old."]
    references = ["Später war er groß.", "Der Mann sah den Hund.", "Ich denke, dass es alt war."]
    hypotheses = ["Später war er groß.", "Der Mann sah die Katze.", "Ich denke, dass sie alt war."]
    assert pronoun_accuracy(sources, references, hypotheses) == (50.0, 2)


def test_object_named_looks_for_the_german_noun_of_the_english_object():
    from streammem.data.synthetic_simulst import object_named

    assert object_named("I think that the man saw the dog.", "Ich denke, dass der Mann den Hund sah.")
    assert not object_named("I think that the man saw the dog.", "Ich denke, dass der Mann die Katze sah.")
    assert not object_named("Later it was big.", "Später war er groß.")  # no object: not a content segment
