"""Output units of Conformer-NTM: characters, or SentencePiece BPE pieces (the paper: BPE 5000).

Both tokenizers share one id layout: 0 is the CTC blank, the last id is <sos/eos> of the attention decoder,
and ``symbols[i]`` is the text of id i with a leading space where a word starts, so CTC word timings and
transcripts are built the same way for both.

The SentencePiece model is fitted on the training transcripts when training starts and stored, base64, in
the model config (so in the checkpoint's JSON sidecar): a serialized protobuf, never a pickle.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable

__all__ = ["CharTokenizer", "SentencePieceTokenizer", "fit_sentencepiece", "make_tokenizer"]


class CharTokenizer:
    """Characters of LibriSpeech transcripts: blank 0, space, apostrophe, A-Z, then <sos/eos>."""

    symbols: tuple[str, ...] = ("<blank>", " ", "'", *[chr(c) for c in range(ord("A"), ord("Z") + 1)], "<sos/eos>")
    blank = 0
    sos_eos = len(symbols) - 1
    separator: tuple[int, ...] = (1,)  # ids put between two utterances joined into one training item
    fitted = True

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Upper-cased text -> ids; characters outside the set are dropped, spaces collapsed."""
        index = {s: i for i, s in enumerate(self.symbols[1:-1], start=1)}
        return [index[c] for c in " ".join(text.upper().split()) if c in index]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.symbols[i] for i in ids if 0 < i < self.sos_eos).strip()


class SentencePieceTokenizer:
    """SentencePiece pieces shifted by one (id 0 is the CTC blank), then <sos/eos>; ``pieces`` of them.

    Unfitted (no model yet) it still has its final size, so a model can be built before training fits it.
    """

    blank = 0
    separator: tuple[int, ...] = ()  # every utterance's first piece already starts a word

    def __init__(self, pieces: int, model: bytes | None = None):
        self.pieces = pieces
        self.sos_eos = pieces + 1
        self.processor = None
        self.symbols: tuple[str, ...] = ("<blank>", *(f"<piece {i}>" for i in range(pieces)), "<sos/eos>")
        if model is not None:
            import sentencepiece

            try:
                self.processor = sentencepiece.SentencePieceProcessor(model_proto=model)
            except RuntimeError:
                raise ValueError("the stored SentencePiece model is not a readable SentencePiece model") from None
            if self.processor.get_piece_size() != pieces:
                raise ValueError(f"SentencePiece model has {self.processor.get_piece_size()} pieces, config says {pieces}")
            texts = [self.processor.id_to_piece(i).replace("\u2581", " ") for i in range(pieces)]
            self.symbols = ("<blank>", *texts, "<sos/eos>")

    @property
    def fitted(self) -> bool:
        return self.processor is not None

    def __len__(self) -> int:
        return self.pieces + 2

    def encode(self, text: str) -> list[int]:
        """Upper-cased text -> piece ids + 1."""
        if self.processor is None:
            raise RuntimeError("SentencePiece tokenizer not fitted yet (training fits it on the transcripts)")
        return [i + 1 for i in self.processor.encode(" ".join(text.upper().split()))]

    def decode(self, ids: list[int]) -> str:
        return " ".join("".join(self.symbols[i] for i in ids if 0 < i < self.sos_eos).split())


def fit_sentencepiece(texts: Iterable[str], pieces: int) -> bytes:
    """A BPE SentencePiece model of exactly ``pieces`` pieces (``<unk>`` first) fitted on ``texts``.

    No Unicode normalisation rules are stored (``identity``): transcripts are normalised (upper case, single
    spaces) before they reach the tokenizer, and the NFKC table would add 240 kB to every config."""
    import sentencepiece

    out = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter([" ".join(t.upper().split()) for t in texts]), model_writer=out,
            vocab_size=pieces, model_type="bpe", character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1,
            pad_id=-1, num_threads=1, minloglevel=2, normalization_rule_name="identity",
        )
    except RuntimeError as err:  # e.g. a vocabulary larger than the transcripts allow
        raise ValueError(f"cannot fit {pieces} SentencePiece pieces: {str(err).splitlines()[-1]}") from None
    return out.getvalue()


def make_tokenizer(tokens: str, pieces: int = 0, model_b64: str = "") -> CharTokenizer | SentencePieceTokenizer:
    """The tokenizer a config names: ``char``, or ``bpe`` with ``pieces`` pieces (its model, base64, if fitted)."""
    if tokens == "char":
        return CharTokenizer()
    if tokens == "bpe":
        if pieces < 1:
            raise ValueError("tokens='bpe' needs bpe_pieces > 0")
        try:
            model = base64.b64decode(model_b64, validate=True) if model_b64 else None
        except binascii.Error:
            raise ValueError("the stored SentencePiece model is not base64") from None
        return SentencePieceTokenizer(pieces, model)
    raise ValueError(f"unknown tokens {tokens!r} (expected 'char' or 'bpe')")
