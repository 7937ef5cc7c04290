import pytest

from streammem.models.amt_simulst.tokens import CasedPieces, make_target_tokenizer

TEXTS = ["Gestern sah der Mann den Hund.", "Die Frau machte das Fenster zu.", "Ich denke, dass er alt war."] * 20


def test_pieces_keep_case_and_round_trip():
    import base64

    model = CasedPieces.fit(TEXTS, 30)
    tokenizer = make_target_tokenizer(30, base64.b64encode(model).decode())
    ids = tokenizer.encode("Der Hund war alt.")
    assert tokenizer.decode(ids) == "Der Hund war alt."
    assert ids != tokenizer.encode("der hund war alt.")
    assert all(0 < i < tokenizer.sos_eos for i in ids)


def test_unfitted_vocabulary_has_its_final_size():
    assert len(make_target_tokenizer(30)) == 32


def test_bad_base64_is_a_clear_error():
    with pytest.raises(ValueError, match="not base64"):
        make_target_tokenizer(30, "%%%")
