"""Conformer-NTM (Carvalho & Abad, Interspeech 2023): Conformer encoder -> NTM memory -> CTC + attention decoder.

Legend: B batch, S audio samples, T encoder frames (40 ms), D model dim, V vocabulary, U tokens,
N memory slots, M slot dim, NB blocks, H heads, L cached left frames, K conv kernel.

The NTM is stepped once per 40 ms encoder frame (read, then write) and its read vector replaces the
encoder output through ``Linear([h_t; r_t])``, as in the authors' code. In streaming its state crosses
chunk boundaries, so the encoder context stays bounded while the memory carries the long range.

The memory slot is swappable (``ConformerNTMConfig.memory``): ``ntm`` (the paper), ``gated``
(:class:`GatedMemory`, N slots of width D) or ``knn`` (:class:`KNNMemory` of the last N encoder frames, the
``memory_top_k`` nearest read by softmax attention over their scores), each giving r_t for the same
``Linear([h_t; r_t])``; ``none`` (or ``use_memory=False``) passes h_t on. Gated and kNN memories are read
and written once per chunk of ``chunk_frames`` frames (every frame of a chunk reads the memory as it was
before the chunk, then the chunk is written), in streaming and in training alike.
"""


import base64
from typing import Final, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streammem.memory import GatedMemory, GatedState, KNNMemory, KNNState, NTMMemory, NTMState
from streammem.models.conformer_ntm.config import ConformerNTMConfig
from streammem.models.conformer_ntm.encoder import ConformerEncoder, sinusoid
from streammem.models.conformer_ntm.tokens import fit_sentencepiece, make_tokenizer
from streammem.nn.log_mel import HOP, LogMelFrontend, pad_signal

__all__ = ["ConformerNTM", "ConformerNTMState", "FRAME_SECONDS", "MEMORY_KINDS"]

MEMORY_KINDS = ("ntm", "gated", "knn", "none")

FRAME_SECONDS = 0.04


class ConformerNTMState(NamedTuple):
    """Everything the streaming step remembers; every size is fixed by the config, not the stream length.

    audio_tail: (B, 240) last samples not yet a full analysis window.
    feature_cache: (B, 2, F) last feature frames (subsampling conv 1 context).
    subsample_cache: (B, C1, 2, F1) last conv-1 outputs (subsampling conv 2 context).
    key_cache, value_cache: (NB, B, H, L, D/H) attention keys/values of the last L frames per block.
    conv_cache: (NB, B, D, K-1) last depthwise-conv inputs per block.
    frames: (B,) int64 encoder frames emitted so far.
    memory, read_weights, write_weights, reads: the memory component's state, by ``config.memory``:
      ntm: the fields of :class:`streammem.memory.NTMState`; gated: slots (B, N, D) then three (B, 0) tensors;
      knn: keys (B, N, D), values (B, N, D), valid (B, N) bool, next slot (B,) int64; none: zero-sized.
    """

    audio_tail: Tensor
    feature_cache: Tensor
    subsample_cache: Tensor
    key_cache: Tensor
    value_cache: Tensor
    conv_cache: Tensor
    frames: Tensor
    memory: Tensor
    read_weights: Tensor
    write_weights: Tensor
    reads: Tensor


class _AttentionDecoder(nn.Module):
    """Transformer decoder (pre-LN, sinusoidal positions) over the memory-augmented encoder output."""

    def __init__(self, vocab: int, d_model: int, heads: int, ffn_dim: int, layers: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        layer = nn.TransformerDecoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.out = nn.Linear(d_model, vocab)
        self.d_model = d_model

    @torch.jit.unused
    def forward(self, tokens: Tensor, encoded: Tensor, encoded_pad: Tensor) -> Tensor:
        """tokens (B, U), encoded (B, T, D), encoded_pad (B, T) True on padding -> logits (B, U, V)."""
        u = tokens.shape[1]
        x = self.embed(tokens) * (self.d_model**0.5) + sinusoid(torch.arange(u, device=tokens.device), self.d_model)
        causal = torch.triu(torch.ones(u, u, dtype=torch.bool, device=tokens.device), diagonal=1)
        return self.out(self.layers(x, encoded, tgt_mask=causal, memory_key_padding_mask=encoded_pad))


class ConformerNTM(nn.Module):
    """Conformer encoder, NTM memory between encoder and decoders, CTC head and attention decoder.

    ``forward`` is the streaming ``step``: an audio chunk of ``chunk_samples`` (B, S) and the state ->
    CTC log-probabilities of the chunk's C frames (B, C, V) and the new state.
    """

    chunk_samples: Final[int]
    chunk_frames: Final[int]
    left_frames: Final[int]
    use_memory: Final[bool]
    vocabulary: list[str]  # text of each output id, kept in the TorchScript export (decoding needs no Python)

    def __init__(self, config: ConformerNTMConfig):
        super().__init__()
        self.config = config
        self.tokenizer = make_tokenizer(config.tokens, config.bpe_pieces, config.bpe_model)
        vocab = len(self.tokenizer)
        self.vocabulary = list(self.tokenizer.symbols)
        d = config.d_model
        self.chunk_frames = config.chunk_frames
        self.chunk_samples = config.chunk_frames * 4 * HOP
        self.left_frames = config.left_frames
        self.use_memory = config.use_memory
        self.frontend = LogMelFrontend(config.num_mels)
        self.encoder = ConformerEncoder(
            config.num_mels, d, config.num_heads, config.ffn_dim, config.num_blocks, config.kernel_size,
            config.subsampling_channels, config.dropout, config.max_relative_distance, config.chunk_frames,
            config.left_frames,
        )
        kind = config.memory if config.use_memory else "none"
        if kind not in MEMORY_KINDS:
            raise ValueError(f"conformer_ntm: memory must be one of {', '.join(MEMORY_KINDS)}, got {kind!r}")
        # Exactly one component (or none: the ablation, encoder output straight to the decoders); the others
        # are None, so TorchScript compiles only its branch.
        self.memory: NTMMemory | None = None
        self.gated: GatedMemory | None = None
        self.knn: KNNMemory | None = None
        self.memory_out: nn.Linear | None = None
        if kind == "ntm":
            self.memory = NTMMemory(
                d, config.memory_slots, config.memory_dim, 1, 1, config.memory_addressing, config.memory_init
            )
            self.memory_out = nn.Linear(d + config.memory_dim, d)
        elif kind == "gated":
            self.gated = GatedMemory(config.memory_slots, d)
            self.memory_out = nn.Linear(2 * d, d)
        elif kind == "knn":
            self.knn = KNNMemory(config.memory_slots, d, d, min(config.memory_top_k, config.memory_slots))
            self.memory_out = nn.Linear(2 * d, d)
        self.ctc = nn.Linear(d, vocab)
        self.decoder = _AttentionDecoder(vocab, d, config.num_heads, config.decoder_ffn_dim, config.decoder_layers,
                                         config.dropout)

    @torch.jit.unused
    def fit_tokenizer(self, texts: list[str]) -> None:
        """Fit a BPE config's SentencePiece model on training transcripts (no-op when already fitted)."""
        if self.tokenizer.fitted:
            return
        model = fit_sentencepiece(texts, self.config.bpe_pieces)
        self.config.bpe_model = base64.b64encode(model).decode("ascii")
        self.tokenizer = make_tokenizer(self.config.tokens, self.config.bpe_pieces, self.config.bpe_model)
        self.vocabulary = list(self.tokenizer.symbols)

    @torch.jit.unused
    def pass_encoder_through_memory(self) -> None:
        """Set y_t = Linear([h_t; r_t]) to y_t = h_t, so an NTM inserted into a trained conformer starts as
        that conformer; the zero read weights still receive gradient, so the memory is learned from there."""
        if self.memory_out is None:
            return
        d = self.config.d_model
        with torch.no_grad():
            self.memory_out.weight.zero_()
            self.memory_out.weight[:, :d].copy_(torch.eye(d))
            self.memory_out.bias.zero_()

    # ----------------------------------------------------------------- streaming
    @torch.jit.export
    def initial_state(self, batch_size: int) -> ConformerNTMState:
        """A fresh stream: zero caches, no frames seen, NTM memory at its initial value."""
        ref = self.frontend.mean  # a float buffer: Linear weights may be int8-packed (quantize_int8)
        enc = self.encoder
        blocks = len(enc.blocks)
        d = enc.heads * enc.head_dim
        sub = enc.subsampling
        feats = self.frontend.mean.shape[0]
        zeros = ref.new_zeros
        ntm = self.initial_memory(batch_size)
        return ConformerNTMState(
            zeros(batch_size, self.frontend.tail),
            zeros(batch_size, 2, feats),
            zeros(batch_size, sub.conv1.out_channels, 2, (feats - 3) // 2 + 1),
            zeros(blocks, batch_size, enc.heads, self.left_frames, enc.head_dim),
            zeros(blocks, batch_size, enc.heads, self.left_frames, enc.head_dim),
            zeros(blocks, batch_size, d, enc.kernel - 1),
            torch.zeros(batch_size, dtype=torch.int64, device=ref.device),
            ntm.memory, ntm.read_weights, ntm.write_weights, ntm.reads,
        )

    def forward(self, chunk: Tensor, state: ConformerNTMState) -> tuple[Tensor, ConformerNTMState]:
        return self.step(chunk, state)

    @torch.jit.export
    def forget(self, state: ConformerNTMState, reset: Tensor) -> ConformerNTMState:
        """Rows where ``reset`` (B,) is True start a new stream (fresh caches and memory); others unchanged."""
        f = self.initial_state(reset.shape[0])
        return ConformerNTMState(
            _rows(reset, f.audio_tail, state.audio_tail), _rows(reset, f.feature_cache, state.feature_cache),
            _rows(reset, f.subsample_cache, state.subsample_cache),
            _rows(reset, f.key_cache, state.key_cache, 1), _rows(reset, f.value_cache, state.value_cache, 1),
            _rows(reset, f.conv_cache, state.conv_cache, 1), _rows(reset, f.frames, state.frames),
            _rows(reset, f.memory, state.memory), _rows(reset, f.read_weights, state.read_weights),
            _rows(reset, f.write_weights, state.write_weights), _rows(reset, f.reads, state.reads),
        )

    @torch.jit.export
    def step(self, chunk: Tensor, state: ConformerNTMState) -> tuple[Tensor, ConformerNTMState]:
        """One audio chunk (B, chunk_samples) at 16 kHz -> CTC log-probs (B, C, V) and the new state."""
        audio = torch.cat([state.audio_tail, chunk], dim=1)
        feats = self.frontend(audio)
        h, cache1, cache2, keys, values, convs = self.encoder.step(
            feats, state.feature_cache, state.subsample_cache, state.key_cache, state.value_cache,
            state.conv_cache, state.frames,
        )
        ntm = NTMState(state.memory, state.read_weights, state.write_weights, state.reads)
        y, ntm = self._remember(h, ntm, None)
        new_state = ConformerNTMState(
            audio[:, audio.shape[1] - self.frontend.tail:], cache1, cache2, keys, values, convs,
            state.frames + h.shape[1], ntm.memory, ntm.read_weights, ntm.write_weights, ntm.reads,
        )
        return torch.log_softmax(self.ctc(y), dim=-1), new_state

    def _remember(self, h: Tensor, state: NTMState, lengths: Tensor | None) -> tuple[Tensor, NTMState]:
        """Run the memory over frames h (B, T, D); y_t = Linear([h_t; r_t]) replaces h (no residual)."""
        memory, gated, knn = self.memory, self.gated, self.knn
        memory_out = self.memory_out
        if memory_out is None:
            return h, state
        if memory is not None:
            reads, state = memory.forward_sequence(h, state, lengths)
            return memory_out(torch.cat([h, reads], dim=-1)), state
        frames = h.shape[1]
        valid = torch.ones(h.shape[0], frames, dtype=torch.bool, device=h.device)
        if lengths is not None:
            valid = torch.arange(frames, device=h.device).unsqueeze(0) < lengths.unsqueeze(1)
        chunks: list[Tensor] = []
        for start in range(0, frames, self.chunk_frames):
            x = h[:, start : start + self.chunk_frames]
            mask = valid[:, start : start + self.chunk_frames]
            if gated is not None:
                slots = GatedState(state.memory)
                chunks.append(gated.read(slots, x))
                state = NTMState(gated.write(slots, x.detach(), mask).slots, state.read_weights, state.write_weights,
                                 state.reads)
            elif knn is not None:
                stored = KNNState(state.memory, state.read_weights, state.write_weights, state.reads)
                values, scores, found = knn.read(stored, x)
                # attention over the found neighbours only; a frame with none found reads zeros
                scaled = torch.where(found, scores * x.shape[-1] ** -0.5, torch.full_like(scores, -1e4))
                weights = torch.softmax(scaled, dim=-1) * found.to(scores.dtype)
                chunks.append((weights.unsqueeze(-1) * values).sum(2))
                rows = mask.any(dim=1)  # a chunk of padding only leaves its row's memory alone
                stored = knn.write(stored, x, x, rows, mask)
                state = NTMState(stored.keys, stored.values, stored.valid, stored.next_index)
        reads = torch.cat(chunks, dim=1) if chunks else h.new_zeros(h.shape)
        return memory_out(torch.cat([h, reads], dim=-1)), state

    # ----------------------------------------------------------------- whole utterances
    @torch.jit.unused
    def features(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Audio (B, S) with sample ``lengths`` (B,) -> normalised features (B, T, F) and frame lengths."""
        feats = self.frontend(pad_signal(audio, self.frontend.tail))
        return feats, torch.div(lengths + HOP - 1, HOP, rounding_mode="floor")

    @torch.jit.unused
    def encode(self, feats: Tensor, lengths: Tensor, streaming: bool = False) -> tuple[Tensor, Tensor]:
        """Features (B, T, F) -> memory-augmented encoder output (B, T/4, D) and frame lengths.

        The NTM starts fresh for every utterance (the authors reset it per batch and per utterance).
        """
        y, out_lengths, _ = self.encode_from(feats, lengths, streaming, None)
        return y, out_lengths

    def initial_memory(self, batch_size: int) -> NTMState:
        """The memory's part of :meth:`initial_state` (a fresh memory per row; empty tensors without one)."""
        ref = self.frontend.mean
        memory, gated, knn = self.memory, self.gated, self.knn
        if memory is not None:
            return memory.init(batch_size, ref.device)
        if gated is not None:
            empty = ref.new_zeros(batch_size, 0)
            return NTMState(gated.init(batch_size, ref.device).slots, empty, empty, empty)
        if knn is not None:
            fresh = knn.init(batch_size, ref.device)
            return NTMState(fresh.keys, fresh.values, fresh.valid, fresh.next_index)
        empty = ref.new_zeros(batch_size, 0, 0)
        return NTMState(empty, empty, empty, empty)

    @torch.jit.unused
    def encode_from(
        self, feats: Tensor, lengths: Tensor, streaming: bool, memory: NTMState | None
    ) -> tuple[Tensor, Tensor, NTMState]:
        """:meth:`encode` with the NTM starting from ``memory`` (None: fresh); also returns its final state.

        Training with the state carried from one item of a long stream to the next (truncated
        backpropagation through time) shows the NTM the memory contents of minutes of audio.
        """
        h, out_lengths = self.encoder.forward_sequence(feats, lengths, streaming)
        y, final = self._remember(h, memory if memory is not None else self.initial_memory(h.shape[0]), out_lengths)
        return y, out_lengths, final

    @torch.jit.unused
    def forward_sequence(self, audio: Tensor, lengths: Tensor, streaming: bool = False) -> tuple[Tensor, Tensor]:
        """Whole utterances (B, S) -> CTC log-probs (B, T, V) and frame lengths.

        With ``streaming=True`` this computes what the ``step`` loop computes (chunk mask, left context).
        """
        feats, feat_lengths = self.features(audio, lengths)
        y, out_lengths = self.encode(feats, feat_lengths, streaming)
        return torch.log_softmax(self.ctc(y), dim=-1), out_lengths

    @torch.jit.unused
    def loss(
        self, feats: Tensor, feat_lengths: Tensor, targets: list[list[int]], streaming: bool,
        memory: NTMState | None = None,
    ) -> tuple[Tensor, dict[str, Tensor], NTMState]:
        """Hybrid loss: ctc_weight * CTC + (1 - ctc_weight) * label-smoothed attention cross-entropy.

        The NTM starts from ``memory`` (None: fresh); its final state is returned (not detached). The parts are
        detached 0-d tensors on the model's device (reading them is left to the caller's logging).
        """
        y, lengths, final = self.encode_from(feats, feat_lengths, streaming, memory)
        log_probs = torch.log_softmax(self.ctc(y).float(), dim=-1)
        flat = torch.tensor([t for seq in targets for t in seq], dtype=torch.long).to(y.device)
        target_lengths = torch.tensor([len(seq) for seq in targets], dtype=torch.long).to(y.device)
        ctc = F.ctc_loss(log_probs.transpose(0, 1), flat, lengths, target_lengths, blank=self.tokenizer.blank,
                         reduction="sum", zero_infinity=True) / len(targets)
        att = self.attention_loss(y, lengths, targets)
        w = self.config.ctc_weight
        total = w * ctc + (1 - w) * att
        return total, {"ctc": ctc.detach(), "att": att.detach()}, final

    @torch.jit.unused
    def attention_loss(self, y: Tensor, lengths: Tensor, targets: list[list[int]]) -> Tensor:
        """Teacher-forced decoder cross-entropy (summed over tokens, averaged over utterances)."""
        sos = self.tokenizer.sos_eos
        longest = max(len(t) for t in targets) + 1
        inputs = torch.full((len(targets), longest), sos, dtype=torch.long)
        outputs = torch.full((len(targets), longest), -100, dtype=torch.long)
        for i, t in enumerate(targets):
            inputs[i, 1:len(t) + 1] = torch.tensor(t, dtype=torch.long)
            outputs[i, :len(t)] = torch.tensor(t, dtype=torch.long)
            outputs[i, len(t)] = sos
        inputs, outputs = inputs.to(y.device), outputs.to(y.device)  # built on the host, moved once
        pad = torch.arange(y.shape[1], device=y.device).unsqueeze(0) >= lengths.unsqueeze(1)
        logits = self.decoder(inputs, y, pad).float()
        return F.cross_entropy(logits.flatten(0, 1), outputs.flatten(), ignore_index=-100,
                               label_smoothing=self.config.label_smoothing, reduction="sum") / len(targets)

    @torch.jit.unused
    def decoder_scores(self, y: Tensor, hypotheses: list[list[int]]) -> Tensor:
        """Attention-decoder log-likelihood (with <eos>) of each hypothesis given one utterance's y (1, T, D)."""
        if not hypotheses:
            return torch.zeros(0)
        batch = len(hypotheses)
        sos = self.tokenizer.sos_eos
        longest = max(len(h) for h in hypotheses) + 1
        inputs = torch.full((batch, longest), sos, dtype=torch.long)
        outputs = torch.full((batch, longest), 0, dtype=torch.long)
        keep = torch.zeros(batch, longest, dtype=torch.bool)
        for i, h in enumerate(hypotheses):
            inputs[i, 1:len(h) + 1] = torch.tensor(h, dtype=torch.long)
            outputs[i, :len(h)] = torch.tensor(h, dtype=torch.long)
            outputs[i, len(h)] = sos
            keep[i, :len(h) + 1] = True
        inputs, outputs, keep = inputs.to(y.device), outputs.to(y.device), keep.to(y.device)  # built on the host
        enc = y.expand(batch, -1, -1)
        pad = torch.zeros(batch, y.shape[1], dtype=torch.bool, device=y.device)
        logp = torch.log_softmax(self.decoder(inputs, enc, pad), dim=-1)
        token = logp.gather(-1, outputs.unsqueeze(-1)).squeeze(-1)
        return (token * keep).sum(-1)


def _rows(reset: Tensor, fresh: Tensor, old: Tensor, batch_dim: int = 0) -> Tensor:
    """``fresh`` where ``reset`` (B,) is True along ``batch_dim``, else ``old``."""
    shape = [1] * old.dim()
    shape[batch_dim] = reset.shape[0]
    return torch.where(reset.view(shape), fresh, old)
