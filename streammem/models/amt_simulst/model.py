"""Augmented Memory Transformer for simultaneous speech translation, with Shiftable Context.

Legend: B batch, S audio samples, F mel bins, W window frames (L + C + R fbank frames of 10 ms),
T encoder states (40 ms), D model dim, M memory slots per layer, NL encoder layers, NB pre-decision blocks,
U target tokens, V target vocabulary.

Ma, Wang, Dousti, Koehn, Pino (ICASSP 2021): fbank -> per-window conv subsampler -> encoder layers whose
self-attention reads a per-layer augmented memory (:class:`streammem.memory.MemoryBank`) -> wait-k decoder
over average-pooled pre-decision blocks. Raffel, Penney, Chen (ICML 2023): Shiftable Context fills every
inference window to its trained size from past frames. Unlike the reference agent, which re-encodes the
whole received prefix on every read, the streaming step encodes each new chunk once, carrying the banks.
Shift left (Raffel et al.'s third shift) gives a stream's first window future frames instead of an empty left
context: those first frames are held until a full window has been heard, then encoded once.
"""

import base64
from typing import Final, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streammem.memory import MemoryBank, QueueState
from streammem.models.amt_simulst.config import AMTSimulSTConfig
from streammem.models.amt_simulst.tokens import CasedPieces, make_target_tokenizer
from streammem.models.conformer_ntm.encoder import sinusoid
from streammem.models.conformer_ntm.tokens import CharTokenizer
from streammem.nn.log_mel import HOP, LogMelFrontend, pad_signal

__all__ = ["AMTSimulST", "AMTSimulSTState", "StepOutput", "STATE_SECONDS"]

STATE_SECONDS = 0.04


class AMTSimulSTState(NamedTuple):
    """Everything the streaming step remembers; every size is fixed by the config.

    audio_tail: (B, 240) last samples (fbank analysis-window overlap).
    frames: (B, L+C+R, F) the last normalised fbank frames (window context and shift source).
    frames_seen: (B,) int64 frames received since the stream started.
    held: (B,) int64 of them not encoded yet (shift left holds a stream's first frames until a full window of
        L+C+R frames has been heard; always 0 with shift left off).
    bank_items, bank_valid, bank_stamps: (NL, B, M, D), (NL, B, M), (NL, B, M) the per-layer memory banks.
    states: (B, NB*r, D) encoder states of the current segment (the last NB*r when longer).
    states_seen: (B,) int64 encoder states of the current segment so far.
    tokens: (B, U+1) target ids written in this segment, <sos> first.
    written: (B,) int64 tokens written (excluding <sos>); committed: (B,) int64 of them emitted as words.
    ended: (B,) bool the end of sentence was written.
    """

    audio_tail: Tensor
    frames: Tensor
    frames_seen: Tensor
    held: Tensor
    bank_items: Tensor
    bank_valid: Tensor
    bank_stamps: Tensor
    states: Tensor
    states_seen: Tensor
    tokens: Tensor
    written: Tensor
    committed: Tensor
    ended: Tensor


class StepOutput(NamedTuple):
    """What one step emits: tokens (B, U) the segment's target ids so far (without <sos>), new (B, U) bool
    the positions emitted as complete words in this step, ended (B,) bool the segment's translation ended."""

    tokens: Tensor
    new: Tensor
    ended: Tensor


class _WindowSubsampler(nn.Module):
    """Two 3x3 stride-2 Conv2d (4x in time) over one window, then Linear to D; padded frames are zeros, so a
    window with padding computes what the shorter window computes."""

    def __init__(self, num_mels: int, channels: int, d_model: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2, padding=(1, 0))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2, padding=(1, 0))
        freq = ((num_mels - 3) // 2 + 1 - 3) // 2 + 1
        self.out = nn.Linear(channels * freq, d_model)

    def forward(self, frames: Tensor, valid: Tensor) -> Tensor:
        """frames (B, W, F), valid (B, W) -> (B, W/4, D)."""
        h = torch.relu(self.conv1((frames * valid.unsqueeze(-1).to(frames.dtype)).unsqueeze(1)))
        h = h * valid[:, ::2].view(valid.shape[0], 1, -1, 1).to(h.dtype)
        h = torch.relu(self.conv2(h))
        return self.out(h.transpose(1, 2).flatten(2))


class _EncoderLayer(nn.Module):
    """Pre-LN layer: augmented-memory self-attention (the bank), then a feed-forward block."""

    def __init__(self, config: AMTSimulSTConfig):
        super().__init__()
        d = config.d_model
        self.norm1 = nn.LayerNorm(d)
        self.attention = MemoryBank(config.memory_size, d, config.num_heads, config.weak_attention_std,
                                    config.tanh_memory, config.max_relative_distance)
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, config.ffn_dim), nn.ReLU(), nn.Dropout(config.dropout),
                                 nn.Linear(config.ffn_dim, d))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, valid: Tensor, center: Tensor, bank: QueueState) -> tuple[Tensor, QueueState]:
        a, bank = self.attention(self.norm1(x), valid, center, bank)
        x = x + self.dropout(a)
        return x + self.dropout(self.ffn(self.norm2(x))), bank

    @torch.jit.unused
    def forward_windows(self, x: Tensor, valid: Tensor, center: Tensor, windows: int) -> Tensor:
        """All N consecutive windows of B streams at once: x (B*N, T, D) -> (B*N, T, D).

        A window's memory vector reads only its own window, so every window's vector is computed in
        parallel and window n's bank is the vectors of windows n-M .. n-1 that had center frames."""
        h = self.norm1(x)
        memory, written = self.attention.summarize(h, valid, center)
        m = self.attention.capacity
        if m == 0:
            return self._finish(x, h, valid, memory.new_zeros(x.shape[0], 0, x.shape[2]),
                                valid.new_zeros(x.shape[0], 0))
        memory = F.pad(memory.view(-1, windows, memory.shape[-1]), (0, 0, m, 0))
        written = F.pad(written.view(-1, windows), (m, 0))
        bank = memory.unfold(1, m, 1)[:, :windows].transpose(-1, -2).reshape(-1, m, memory.shape[-1])
        bank_valid = written.unfold(1, m, 1)[:, :windows].reshape(-1, m)
        return self._finish(x, h, valid, bank, bank_valid)

    @torch.jit.unused
    def _finish(self, x: Tensor, h: Tensor, valid: Tensor, bank: Tensor, bank_valid: Tensor) -> Tensor:
        x = x + self.dropout(self.attention.attend(h, valid, bank, bank_valid))
        return x + self.dropout(self.ffn(self.norm2(x)))


class _DecoderLayer(nn.Module):
    """Pre-LN decoder layer: causal self-attention, cross-attention to the allowed blocks, feed-forward."""

    def __init__(self, config: AMTSimulSTConfig):
        super().__init__()
        d = config.d_model
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(3)])
        self.self_attention = nn.MultiheadAttention(d, config.num_heads, dropout=config.dropout, batch_first=True)
        self.cross_attention = nn.MultiheadAttention(d, config.num_heads, dropout=config.dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(d, config.ffn_dim), nn.ReLU(), nn.Dropout(config.dropout),
                                 nn.Linear(config.ffn_dim, d))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, causal: Tensor, blocks: Tensor, cross_mask: Tensor) -> Tensor:
        h = self.norms[0](x)
        x = x + self.dropout(self.self_attention(h, h, h, attn_mask=causal, need_weights=False)[0])
        h = self.norms[1](x)
        x = x + self.dropout(self.cross_attention(h, blocks, blocks, attn_mask=cross_mask, need_weights=False)[0])
        return x + self.dropout(self.ffn(self.norms[2](x)))


class AMTSimulST(nn.Module):
    """Augmented Memory Transformer + wait-k decoder; ``forward`` is the streaming step.

    ``step(audio, state, end)`` (= ``forward``): audio (B, S) of ``chunk_samples`` (the last chunk of a segment may be
    shorter, any multiple of 640 samples), end (B,) bool True on a segment's last chunk. Each call encodes
    the chunk's C frames once as the center of one window, writes one summary per layer, pools complete
    pre-decision blocks, and lets the wait-k policy write target pieces; pieces become words when the next
    word-initial piece (or the end of sentence) is written. Returns (:class:`StepOutput`, new state).
    """

    center: Final[int]
    left: Final[int]
    right: Final[int]
    layers: Final[int]
    memory_size: Final[int]
    d_model: Final[int]
    heads: Final[int]
    num_mels: Final[int]
    pre_decision: Final[int]
    max_states: Final[int]
    max_tokens: Final[int]
    max_writes: Final[int]
    sos_eos: Final[int]
    chunk_samples: Final[int]
    wait_k: int
    shift_center: bool
    shift_right: bool
    shift_left: bool
    vocabulary: list[str]  # text of each target id (" " starts a word), kept in the TorchScript export

    def __init__(self, config: AMTSimulSTConfig):
        super().__init__()
        for name in ("center_frames", "left_frames", "right_frames"):
            if getattr(config, name) % 4:
                raise ValueError(f"amt_simulst: {name} must be a multiple of 4, got {getattr(config, name)}")
        self.config = config
        self.center, self.left, self.right = config.center_frames, config.left_frames, config.right_frames
        self.layers = config.encoder_layers
        self.memory_size = config.memory_size
        self.d_model = config.d_model
        self.heads = config.num_heads
        self.num_mels = config.num_mels
        self.pre_decision = config.pre_decision
        self.max_states = config.max_source_blocks * config.pre_decision
        self.max_tokens = config.max_target_tokens
        self.max_writes = config.max_writes_per_step
        self.chunk_samples = config.center_frames * HOP
        self.wait_k = config.wait_k
        self.shift_center = config.shift_center
        self.shift_right = config.shift_right
        self.shift_left = config.shift_left
        self.tokenizer = make_target_tokenizer(config.target_pieces, config.target_model)
        self.vocabulary = list(self.tokenizer.symbols)
        self.sos_eos = self.tokenizer.sos_eos
        self.source_tokenizer = CharTokenizer()
        d = config.d_model
        self.frontend = LogMelFrontend(config.num_mels)
        self.subsampler = _WindowSubsampler(config.num_mels, config.subsampling_channels, d)
        self.encoder = nn.ModuleList([_EncoderLayer(config) for _ in range(config.encoder_layers)])
        self.encoder_norm = nn.LayerNorm(d)
        self.ctc = nn.Linear(d, len(self.source_tokenizer))
        self.embed = nn.Embedding(len(self.tokenizer), d)
        nn.init.normal_(self.embed.weight, std=d ** -0.5)  # tied output layer: unit-scale logits at the start
        self.decoder = nn.ModuleList([_DecoderLayer(config) for _ in range(config.decoder_layers)])
        self.decoder_norm = nn.LayerNorm(d)
        self.register_buffer("word_start", self._word_starts(), persistent=False)

    def _word_starts(self) -> Tensor:
        """(V,) bool: pieces that start a word, and <sos/eos> (which ends the last word)."""
        starts = torch.tensor([s.startswith(" ") for s in self.vocabulary], dtype=torch.bool)
        starts[self.tokenizer.sos_eos] = True
        return starts

    @torch.jit.unused
    def fit_tokenizer(self, texts: list[str]) -> None:
        """Fit the target SentencePiece model on the training translations (no-op when already fitted)."""
        if self.tokenizer.fitted:
            return
        model = CasedPieces.fit(texts, self.config.target_pieces)
        self.config.target_model = base64.b64encode(model).decode("ascii")
        self.tokenizer = make_target_tokenizer(self.config.target_pieces, self.config.target_model)
        self.vocabulary = list(self.tokenizer.symbols)
        self.word_start = self._word_starts().to(self.word_start.device)

    # ----------------------------------------------------------------- encoder
    def encode_window(self, frames: Tensor, valid: Tensor, center: Tensor, banks: list[QueueState]
                      ) -> tuple[Tensor, list[QueueState]]:
        """One window: frames (B, W, F), valid (B, W), center (B, W/4) -> states (B, W/4, D) and new banks."""
        x = self.subsampler(frames, valid)
        state_valid = valid[:, ::4]
        new_banks: list[QueueState] = []
        for i, layer in enumerate(self.encoder):
            x, bank = layer(x, state_valid, center, banks[i])
            new_banks.append(bank)
        return self.encoder_norm(x), new_banks

    @torch.jit.unused
    def encode_frames(self, feats: Tensor, frame_valid: Tensor) -> tuple[Tensor, Tensor]:
        """Training encoder: feats (B, T, F) with frame_valid (B, T) -> center states (B, N*C/4, D), valid.

        Windows [L | C | R] of real neighbouring frames advance by C (N = ceil(T / C)); invalid frames
        (padding, or frames before a row's start) are masked as at the start of a stream.
        """
        B, T, _ = feats.shape
        C, L, R = self.center, self.left, self.right
        n = -(-T // C)
        pad = n * C - T + R
        feats = F.pad(feats, (0, 0, L, pad)).unfold(1, L + C + R, C).transpose(-1, -2).flatten(0, 1)
        valid = F.pad(frame_valid, (L, pad))
        windows_valid = valid.unfold(1, L + C + R, C).flatten(0, 1)
        center = torch.zeros(B * n, (L + C + R) // 4, dtype=torch.bool, device=feats.device)
        center[:, L // 4:(L + C) // 4] = True
        state_valid = windows_valid[:, ::4]
        x = self.subsampler(feats, windows_valid)
        for layer in self.encoder:
            x = layer.forward_windows(x, state_valid, center, n)
        x = self.encoder_norm(x)[:, L // 4:(L + C) // 4].reshape(B, n * C // 4, -1)
        return x, valid[:, L:L + n * C:4]

    def _empty_banks(self, batch: int, device: torch.device) -> list[QueueState]:
        return [layer.attention.init(batch, device) for layer in self.encoder]

    @torch.jit.export
    def encode_chunk(self, audio: Tensor, state: AMTSimulSTState, release: Optional[Tensor] = None  # noqa: UP045
                     ) -> tuple[Tensor, AMTSimulSTState]:
        """Encode one chunk incrementally: audio (B, S) -> the new encoder states (B, T, D) and the state.

        Usually T = S/640: the chunk's frames are the center of one window. With Shiftable Context the window
        is filled to its trained size from past frames (shift center: to C center frames; shift right: R more
        frames stand in for the right context, which has not been heard yet), otherwise it is [L past | c]
        with the rest masked. With shift left, a stream's first frames are held (no states) until L+C+R frames
        have been heard, or ``release`` (B,) bool says the segment ends; then they are encoded in windows of
        the stream's first L+C+R frames (their right context and L more future frames instead of a missing
        past), and T covers them too. Rows that encoded fewer states than T are zero-padded at the end; how
        many states a row encoded is the change of ``(frames_seen - held) / 4``.
        """
        samples = torch.cat([state.audio_tail, audio], 1)
        feats = self.frontend(samples)
        c = feats.shape[1]
        if c > self.center or c % 4 != 0:
            raise ValueError("amt_simulst: a chunk must be a multiple of 640 samples, at most chunk_samples")
        if release is None:
            release = torch.zeros(audio.shape[0], dtype=torch.bool, device=audio.device)
        states, _, state = self._encode_frames(feats, state, release)
        tail = samples[:, samples.shape[1] - state.audio_tail.shape[1]:]
        return states, AMTSimulSTState(tail, state.frames, state.frames_seen, state.held, state.bank_items,
                                       state.bank_valid, state.bank_stamps, state.states, state.states_seen,
                                       state.tokens, state.written, state.committed, state.ended)

    def window_geometry(self, piece_start: Tensor, piece_end: Tensor, heard: Tensor
                        ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Where the window of one center piece lies, in frames since the stream started (all (B,) int64).

        piece_start/piece_end: the frames whose states the window yields; heard: frames received so far.
        Returns (start, valid_start, valid_end, center_start): window position p holds frame start + p, real
        (unmasked) for frames in [valid_start, valid_end); the summary's center is [center_start, piece_end).
        Standard window (Ma et al.; shift center and shift right per the switches): it ends at the piece's end,
        ``[L | center | right fill]`` before it, frames before the stream start masked. Shift left: a window
        that would start before the stream starts is the stream's first L+C+R frames instead.
        """
        size = self.left + self.center + self.right
        center_len = torch.full_like(piece_end, self.center) if self.shift_center else piece_end - piece_start
        take = self.left + (self.right if self.shift_right else 0) + center_len
        start = piece_end - take
        valid_start = start.clamp_min(0)
        valid_end = piece_end
        if self.shift_left:
            shifted = start < 0
            start = torch.where(shifted, torch.zeros_like(start), start)
            valid_end = torch.where(shifted, heard.clamp_max(size), valid_end)
        return start, valid_start, valid_end, piece_end - center_len

    def _encode_frames(self, feats: Tensor, state: AMTSimulSTState, release: Tensor
                       ) -> tuple[Tensor, Tensor, AMTSimulSTState]:
        """The encoder part of the step for new frames feats (B, c, F) (c may be 0: only release what is held).

        Returns (states (B, T, D), count (B,) states per row (the first ``count`` are real), state)."""
        B, c = feats.shape[0], feats.shape[1]
        C = self.center
        size = self.left + C + self.right
        device = feats.device
        buffer = torch.cat([state.frames, feats], 1)  # buffer index j holds frame heard - (size + c) + j
        heard = state.frames_seen + c
        pending = state.held + c
        hold = (heard < size) & ~release if self.shift_left else torch.zeros_like(release)
        todo = torch.where(hold, torch.zeros_like(pending), pending)  # frames to encode now, the newest ones
        pieces = torch.div(todo + C - 1, C, rounding_mode="floor")
        per_piece = C // 4
        outputs: list[Tensor] = []
        banks = [QueueState(state.bank_items[i], state.bank_valid[i], state.bank_stamps[i]) for i in range(self.layers)]
        positions = torch.arange(size, device=device).unsqueeze(0)
        for j in range(int(pieces.max()) if B > 0 else 0):
            active = j < pieces
            piece_start = heard - todo + j * C
            piece_end = torch.minimum(piece_start + C, heard)
            start, valid_start, valid_end, center_start = self.window_geometry(piece_start, piece_end, heard)
            frame = start.unsqueeze(1) + positions  # (B, W) frame index of each window position
            index = (frame - (heard - size - c).unsqueeze(1)).clamp(0, size + c - 1)
            frames = buffer.gather(1, index.unsqueeze(-1).expand(B, size, buffer.shape[2]))
            valid = (frame >= valid_start.unsqueeze(1)) & (frame < valid_end.unsqueeze(1)) & active.unsqueeze(1)
            state_frame = frame[:, ::4]
            center = (state_frame >= center_start.unsqueeze(1)) & (state_frame < piece_end.unsqueeze(1))
            x, banks = self.encode_window(frames, valid, center & active.unsqueeze(1), banks)
            first = torch.div(piece_start - start, 4, rounding_mode="floor")
            take = first.unsqueeze(1) + torch.arange(per_piece, device=device).unsqueeze(0)
            keep = (take < torch.div(piece_end - start, 4, rounding_mode="floor").unsqueeze(1)) & active.unsqueeze(1)
            x = x.gather(1, take.clamp(0, size // 4 - 1).unsqueeze(-1).expand(B, per_piece, x.shape[2]))
            outputs.append(x * keep.unsqueeze(-1).to(x.dtype))
        states = torch.cat(outputs, 1) if len(outputs) > 0 else feats.new_zeros(B, 0, self.d_model)
        new_state = AMTSimulSTState(
            state.audio_tail, buffer[:, c:], heard, torch.where(hold, pending, torch.zeros_like(pending)),
            torch.stack([b.items for b in banks]), torch.stack([b.valid for b in banks]),
            torch.stack([b.stamps for b in banks]), state.states, state.states_seen, state.tokens, state.written,
            state.committed, state.ended)
        return states, torch.div(todo, 4, rounding_mode="floor"), new_state

    # ----------------------------------------------------------------- decoder
    def pool_blocks(self, states: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Fixed pre-decision: average r consecutive states -> blocks (B, ceil(T/r), D), block valid (B, ...).
        A block is valid if any of its states is (the partial last block counts once the source ended)."""
        B, T, D = states.shape
        r = self.pre_decision
        pad = (-T) % r
        states = F.pad(states * valid.unsqueeze(-1).to(states.dtype), (0, 0, 0, pad)).view(B, -1, r, D)
        count = F.pad(valid, (0, pad)).view(B, -1, r).to(states.dtype).sum(-1)
        return states.sum(2) / count.clamp_min(1.0).unsqueeze(-1), count > 0

    def decode(self, tokens: Tensor, blocks: Tensor, allowed: Tensor) -> Tensor:
        """tokens (B, U) with <sos> first, blocks (B, NB, D), allowed (B, U, NB) bool -> logits (B, U, V)."""
        B, U = tokens.shape
        x = self.embed(tokens) * (self.d_model ** 0.5) + sinusoid(torch.arange(U, device=tokens.device), self.d_model)
        causal = torch.triu(torch.full((U, U), -1e9, device=tokens.device), diagonal=1)
        heads = self.heads
        cross = torch.zeros(allowed.shape, device=tokens.device).masked_fill(~allowed, -1e9)
        cross = cross.repeat_interleave(heads, 0)
        for layer in self.decoder:
            x = layer(x, causal, blocks, cross)
        return torch.matmul(self.decoder_norm(x), self.embed.weight.t())

    def wait_k_allowed(self, positions: Tensor, complete: Tensor, total: Tensor, num_blocks: int, k: int) -> Tensor:
        """(B, U, NB) bool: target position u reads the first k+u blocks, or all ``total`` blocks once k+u
        exceeds the ``complete`` ones (the source has ended). positions (U,) or (B, U), complete/total (B,)."""
        need = positions + k
        if need.dim() == 1:
            need = need.unsqueeze(0)
        limit = torch.where(need <= complete.unsqueeze(1), need, total.unsqueeze(1))
        return torch.arange(num_blocks, device=limit.device).view(1, 1, -1) < limit.unsqueeze(-1)

    # ----------------------------------------------------------------- streaming contract
    @torch.jit.export
    def initial_state(self, batch_size: int) -> AMTSimulSTState:
        """A fresh stream per row (on the model's device): empty banks, no frames, no target."""
        device = self.frontend.mean.device
        banks = self._empty_banks(batch_size, device)
        tokens = torch.zeros(batch_size, self.max_tokens + 1, dtype=torch.int64, device=device)
        tokens[:, 0] = self.sos_eos
        zeros = torch.zeros(batch_size, dtype=torch.int64, device=device)
        return AMTSimulSTState(
            torch.zeros(batch_size, self.frontend.tail, device=device),
            torch.zeros(batch_size, self.left + self.center + self.right, self.num_mels, device=device),
            zeros, zeros,
            torch.stack([b.items for b in banks]),
            torch.stack([b.valid for b in banks]),
            torch.stack([b.stamps for b in banks]),
            torch.zeros(batch_size, self.max_states, self.d_model, device=device),
            zeros, tokens, zeros, zeros,
            torch.zeros(batch_size, dtype=torch.bool, device=device),
        )

    @torch.jit.export
    def reset(self, state: AMTSimulSTState, rows: Tensor) -> AMTSimulSTState:
        """Start a new stream in the rows where ``rows`` (B,) is True; other rows are unchanged."""
        return self._restart(state, rows, True)

    @torch.jit.export
    def start_segment(self, state: AMTSimulSTState, rows: Tensor) -> AMTSimulSTState:
        """A new segment (sentence) in ``rows``: the target restarts; the encoder's frames and memory banks,
        which carry what earlier segments said, are kept. Frames that shift left still holds are encoded
        first (with the window heard so far), as they belong to what came before the segment."""
        if bool(((state.held > 0) & rows).any()):
            empty = state.frames.new_zeros(rows.shape[0], 0, self.num_mels)
            _, _, state = self._encode_frames(empty, state, rows)
        return self._restart(state, rows, False)

    def _restart(self, state: AMTSimulSTState, rows: Tensor, encoder: bool) -> AMTSimulSTState:
        fresh = self.initial_state(rows.shape[0])
        out: list[Tensor] = []
        for i in range(len(state)):  # fields 0-6 are the encoder's (4-6 the banks, (NL, B, ...)), 7- the decoder's
            if i >= 7 or encoder:
                batch_dim = 1 if 4 <= i <= 6 else 0
                view = [1] * fresh[i].dim()
                view[batch_dim] = rows.shape[0]
                out.append(torch.where(rows.view(view), fresh[i], state[i]))
            else:
                out.append(state[i])
        return AMTSimulSTState(out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8], out[9],
                               out[10], out[11], out[12])

    @torch.jit.export
    def listen(self, audio: Tensor, state: AMTSimulSTState) -> AMTSimulSTState:
        """Encode a chunk without translating it (context before a segment): only frames and banks change."""
        _, state = self.encode_chunk(audio, state, None)
        return state

    def forward(self, audio: Tensor, state: AMTSimulSTState, end: Optional[Tensor] = None  # noqa: UP045 - TorchScript
                ) -> tuple[StepOutput, AMTSimulSTState]:
        """The streaming step (see the class docstring); ``end`` defaults to False for every row."""
        if end is None:
            end = torch.zeros(audio.shape[0], dtype=torch.bool, device=audio.device)
        encoded = state.frames_seen - state.held
        new, state = self.encode_chunk(audio, state, end)
        r = self.pre_decision
        B, n = audio.shape[0], new.shape[1]
        count = torch.div(state.frames_seen - state.held - encoded, 4, rounding_mode="floor")  # new states per row
        # the segment's states fill the buffer from position 0; past max_states (or past a row's count) dropped
        offset = torch.arange(n, device=audio.device).unsqueeze(0)
        position = state.states_seen.unsqueeze(1) + offset
        position = torch.where((position < self.max_states) & (offset < count.unsqueeze(1)), position,
                               self.max_states + offset)
        states = torch.cat([state.states, new.new_zeros(B, n, self.d_model)], 1)
        # the buffer stays in the state's dtype (float32) when the encoder ran under autocast
        index = position.unsqueeze(-1).expand(B, n, self.d_model)
        states = states.scatter(1, index, new.to(states.dtype))[:, :self.max_states]
        seen = state.states_seen + count
        held = seen.clamp(max=self.max_states)
        state_valid = torch.arange(self.max_states, device=audio.device).unsqueeze(0) < held.unsqueeze(1)
        blocks, block_valid = self.pool_blocks(states, state_valid)
        nb = blocks.shape[1]
        complete = torch.div(held, r, rounding_mode="floor")
        total = torch.where(end, torch.div(held + r - 1, r, rounding_mode="floor"), complete)
        tokens, written, ended = state.tokens, state.written, state.ended
        writes = self.max_tokens if bool(end.any()) else self.max_writes
        for _ in range(writes):
            can = ~ended & (written < self.max_tokens) & ((written + self.wait_k <= complete) | end)
            if not bool(can.any()):
                break
            u = int(written.max()) + 1
            # every prefix position reads the blocks it read when it was written (as the training mask has it)
            allowed = self.wait_k_allowed(torch.arange(u, device=audio.device), complete, total, nb, self.wait_k)
            logits = self.decode(tokens[:, :u], blocks, allowed & block_valid.unsqueeze(1))
            last = logits.gather(1, written.view(B, 1, 1).expand(B, 1, logits.shape[2])).squeeze(1)
            last[:, 0] = -1e9  # id 0 is padding, never a piece
            token = last.argmax(-1)
            index = (written + 1).unsqueeze(1)
            tokens = torch.where(can.unsqueeze(1), tokens.scatter(1, index, token.unsqueeze(1)), tokens)
            written = written + can.to(torch.int64)
            ended = ended | (can & (token == self.sos_eos))
        # commit the pieces before the last word start; everything once the sentence ended or the buffer is full
        target = tokens[:, 1:]
        position = torch.arange(self.max_tokens, device=audio.device).unsqueeze(0)
        is_written = position < written.unsqueeze(1)
        starts = self.word_start[target] & is_written
        last_start = torch.where(starts, position, torch.full_like(position, -1)).max(1).values
        boundary = torch.where(ended | (written >= self.max_tokens), written, last_start.clamp_min(0))
        boundary = torch.where(ended, boundary - 1, boundary).clamp_min(0)  # the <eos> itself is not a word
        boundary = torch.maximum(boundary, state.committed)
        new_words = (position >= state.committed.unsqueeze(1)) & (position < boundary.unsqueeze(1))
        state = AMTSimulSTState(state.audio_tail, state.frames, state.frames_seen, state.held, state.bank_items,
                                state.bank_valid, state.bank_stamps, states, seen, tokens, written, boundary, ended)
        return StepOutput(target, new_words, ended), state

    @torch.jit.unused
    def step(self, audio: Tensor, state: AMTSimulSTState, end: Tensor | None = None
             ) -> tuple[StepOutput, AMTSimulSTState]:
        """The streaming contract's name for ``forward``."""
        return self(audio, state, end)

    # ----------------------------------------------------------------- training
    @torch.jit.unused
    def features(self, audio: Tensor) -> Tensor:
        """Whole signals (B, S), S a multiple of HOP -> normalised fbank (B, S/HOP, F), framed as the step
        frames them (the analysis window overlaps zeros before the first sample)."""
        return self.frontend(pad_signal(audio, self.frontend.tail))

    @torch.jit.unused
    def encode_segment(self, feats: Tensor, frame_valid: Tensor, start: int) -> tuple[Tensor, Tensor]:
        """Training: the encoder over feats (B, T, F) (a context, then the segment from frame ``start``, a
        multiple of C) -> the segment's states (B, T', D) and their validity (B, T')."""
        states, valid = self.encode_frames(feats, frame_valid)
        return states[:, start // 4:], valid[:, start // 4:]

    @torch.jit.unused
    def translation_logits(self, states: Tensor, valid: Tensor, tokens: Tensor, k: int) -> Tensor:
        """Training: the decoder over a segment's states (B, T, D) with the wait-k mask; tokens (B, U) with
        <sos> first -> logits (B, U, V)."""
        blocks, block_valid = self.pool_blocks(states, valid)
        n_states = valid.sum(1)
        complete = torch.div(n_states, self.pre_decision, rounding_mode="floor")
        total = block_valid.sum(1)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        allowed = self.wait_k_allowed(positions, complete, total, blocks.shape[1], k) & block_valid.unsqueeze(1)
        return self.decode(tokens, blocks, allowed)

