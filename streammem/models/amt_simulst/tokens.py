"""Target vocabulary: cased SentencePiece pieces (German keeps its capitals; BLEU is case-sensitive).

Same id layout as :mod:`streammem.models.conformer_ntm.tokens` (0 unused here, pieces 1..P, <sos/eos> last)
and the same storage (the fitted model, base64, in the config). That module upper-cases transcripts for
ASR; this subclass only leaves the case alone and fits a unigram model, as the SimulST recipes do.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable

from streammem.models.conformer_ntm.tokens import SentencePieceTokenizer

__all__ = ["CasedPieces", "make_target_tokenizer"]


class CasedPieces(SentencePieceTokenizer):
    """:class:`SentencePieceTokenizer` without upper-casing; ``fit`` trains a unigram model on raw text."""

    def encode(self, text: str) -> list[int]:
        if self.processor is None:
            raise RuntimeError("SentencePiece tokenizer not fitted yet (training fits it on the translations)")
        return [i + 1 for i in self.processor.encode(" ".join(text.split()))]

    @staticmethod
    def fit(texts: Iterable[str], pieces: int) -> bytes:
        """A unigram SentencePiece model of exactly ``pieces`` pieces (``<unk>`` first), no normalisation."""
        import sentencepiece

        out = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter([" ".join(t.split()) for t in texts]), model_writer=out, vocab_size=pieces,
                model_type="unigram", character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
                num_threads=1, minloglevel=2, normalization_rule_name="identity", hard_vocab_limit=True,
            )
        except RuntimeError as err:
            raise ValueError(f"cannot fit {pieces} SentencePiece pieces: {str(err).splitlines()[-1]}") from None
        return out.getvalue()


def make_target_tokenizer(pieces: int, model_b64: str = "") -> CasedPieces:
    """The tokenizer a config names: ``pieces`` pieces and, once fitted, its model (base64)."""
    try:
        model = base64.b64decode(model_b64, validate=True) if model_b64 else None
    except binascii.Error:
        raise ValueError("the stored SentencePiece model is not base64") from None
    return CasedPieces(pieces, model)
