"""MATR: memory-augmented transformer for online temporal action localization (Song et al., ECCV 2024).

Legend: B streams, T time steps (features), K sampled steps, S segment length, M memory segments,
Q query pairs, C action classes (+1 background), D model dim, F input feature dim (sum of streams).

At every step the model sees the last S features (the current segment). A learnable flag token predicts
whether the segment contains action; flagged segments are pushed, detached, into a FIFO memory. As in the
official code, memory is kept per phase ``t mod S``: the queue read at step t holds segments ending at
t-S, t-2S, ... so every phase sees a stream of non-overlapping segments while outputs come every step.
The end decoder reads the encoded segment; the start decoder reads the (subsampled) memory plus the
current segment with 2-D (segment age, in-segment position) positions.

The memory slot is swappable (``MATRConfig.memory``), every other part staying the same (same M, same
start head with M+2 bins, same decoding range):
``queue`` the paper's FIFO (:class:`MemoryQueue`); ``none`` the same queue never written (the clean
ablation: only memory content is removed); ``gated`` M*S' slots updated by :class:`GatedMemory` from each
flagged segment's tokens; ``knn`` a :class:`KNNMemory` of the last M flagged segments' tokens, of which the
``memory_top_k`` nearest to the flag token's encoding are read. Gated slots and retrieved tokens carry no
segment age (their age position is the "unknown" one).
"""


from dataclasses import asdict, dataclass, field
from typing import Final, NamedTuple

import torch
from torch import Tensor, nn

from streammem.memory import GatedMemory, GatedState, KNNMemory, KNNState, MemoryQueue, QueueState
from streammem.models.matr.layers import MLP, DecoderLayer, sinusoid

__all__ = ["MATR", "MATRConfig", "MATRState", "MATROutput", "CONFIGS", "MEMORY_KINDS"]

MEMORY_KINDS = ("queue", "none", "gated", "knn")


@dataclass
class MATRConfig:
    """Hyper-parameters; ``paper`` follows the official THUMOS14 defaults, ``tiny`` trains on CPU in minutes."""

    feature_dims: list[int] = field(default_factory=lambda: [2048, 2048])  # per stream (RGB, flow)
    num_classes: int = 20
    d_model: int = 1024
    encoder_layers: int = 3
    encoder_heads: int = 8
    decoder_layers: int = 5  # each of the end and start decoders
    decoder_heads: int = 4
    ffn_dim: int = 2048
    dropout: float = 0.3
    segment_len: int = 64
    memory_len: int = 7
    memory_gap: int = 2  # keep every 2nd memory token
    max_age: int = 64  # older memory segments share one age embedding
    num_queries: int = 10  # class queries; as many boundary queries
    flag_threshold: float = 0.5
    detect_back: int = 16  # training targets: GT ends in (t - detect_back, t + anticipate]
    anticipate: int = 16
    memory: str = "queue"  # queue | none (queue never written: the ablation) | gated | knn (see the module docstring)
    memory_top_k: int = 0  # knn: tokens read per step (0: half of the M*S/gap stored)

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS: dict[str, MATRConfig] = {
    "paper": MATRConfig(),
    "tiny": MATRConfig(
        feature_dims=[16, 16],
        num_classes=5,
        d_model=64,
        encoder_layers=2,
        encoder_heads=4,
        decoder_layers=2,
        decoder_heads=4,
        ffn_dim=128,
        dropout=0.1,
        segment_len=16,
        memory_len=6,
        max_age=32,
        num_queries=5,
        detect_back=4,
        anticipate=4,
    ),
}


class MATRState(NamedTuple):
    """Streaming state; its size never depends on how long the stream has run.

    window: (B, S, D) projected features of the current segment, oldest first (zeros before the start).
    steps: (B,) int64 features consumed so far (the phase is ``steps mod S``).
    mem_items, mem_valid, mem_stamps: the memory component's state, one per phase (rows b*S + phase):
      queue / none: (B*S, M, S, D) detached projected segments, (B*S, M) bool slot validity, (B*S, M) int64
      index of the last feature of each stored segment (-1 when empty);
      gated: (B*S, M*S', D) slots, (B*S, 0), (B*S, 0) (S' = S / memory_gap tokens kept per segment);
      knn: (B*S, M*S', D) stored tokens (keys = values), (B*S, M*S') bool, (B*S,) int64 next slot written.
    """

    window: Tensor
    steps: Tensor
    mem_items: Tensor
    mem_valid: Tensor
    mem_stamps: Tensor


class MATROutput(NamedTuple):
    """Per-step predictions (leading dims (B,) from ``step``, (B, K) from ``forward_sequence``).

    logits: (..., Q, C+1) class logits, background last.
    start_logits, start_residual: (..., Q, M+2) start-bin logits and per-bin residuals (units of S).
    end_offset: (..., Q) (now - end) / S.
    flag_logit: (...) segment-contains-action logit.
    start, end: (..., Q) decoded boundaries in feature units (feature i spans [i, i+1)).
    now: (...) the current time in feature units (index of the newest feature + 1).
    """

    logits: Tensor
    start_logits: Tensor
    start_residual: Tensor
    end_offset: Tensor
    flag_logit: Tensor
    start: Tensor
    end: Tensor
    now: Tensor


class MATR(nn.Module):
    """Memory-augmented transformer for online temporal action localization (MATR, ECCV 2024).

    ``forward`` is the streaming ``step``; ``forward_sequence`` computes the same outputs for whole
    sequences at once (with ground-truth flags for teacher-forced memory writes during training).
    """

    segment_len: Final[int]
    memory_len: Final[int]
    memory_writes: Final[bool]
    memory_gap: Final[int]
    max_age: Final[int]
    d_model: Final[int]
    num_queries: Final[int]
    flag_threshold: Final[float]
    feature_dims: list[int]

    def __init__(self, config: MATRConfig) -> None:
        super().__init__()
        c = config
        if c.d_model % 2 or c.segment_len % c.memory_gap:
            raise ValueError("MATR: d_model must be even and segment_len divisible by memory_gap")
        if c.memory not in MEMORY_KINDS:
            raise ValueError(f"MATR: memory must be one of {', '.join(MEMORY_KINDS)}, got {c.memory!r}")
        if c.memory in ("gated", "knn") and c.memory_len < 1:
            raise ValueError(f"MATR: memory={c.memory!r} needs memory_len >= 1")
        self.config = c
        self.segment_len = c.segment_len
        self.memory_len = c.memory_len
        self.memory_writes = c.memory != "none"
        self.memory_gap = c.memory_gap
        self.max_age = c.max_age
        self.d_model = c.d_model
        self.num_queries = c.num_queries
        self.flag_threshold = c.flag_threshold
        self.feature_dims = list(c.feature_dims)
        d = c.d_model
        # Per-stream projections (RGB, flow) concatenated to d, as in the official code.
        share = [d // len(c.feature_dims)] * len(c.feature_dims)
        share[-1] += d - sum(share)
        self.projections = nn.ModuleList([nn.Linear(f, s) for f, s in zip(c.feature_dims, share, strict=True)])
        self.flag_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.encoder = nn.ModuleList(
            [
                nn.TransformerEncoderLayer(d, c.encoder_heads, c.ffn_dim, c.dropout, activation="gelu", batch_first=True)
                for _ in range(c.encoder_layers)
            ]
        )
        self.flag_head = MLP(d, d, 1)
        self.class_queries = nn.Parameter(torch.randn(c.num_queries, d) * 0.02)
        self.boundary_queries = nn.Parameter(torch.randn(c.num_queries, d) * 0.02)
        self.query_pos = nn.Parameter(torch.randn(c.num_queries, d) * 0.02)  # shared by pair i
        self.end_decoder = nn.ModuleList(
            [DecoderLayer(d, c.decoder_heads, c.ffn_dim, c.dropout) for _ in range(c.decoder_layers)]
        )
        self.start_decoder = nn.ModuleList(
            [DecoderLayer(d, c.decoder_heads, c.ffn_dim, c.dropout) for _ in range(c.decoder_layers)]
        )
        self.end_head = MLP(d, d, 1, tanh=True)
        self.start_bins = nn.Linear(d, c.memory_len + 2)
        self.start_residuals = nn.Linear(d, c.memory_len + 2)
        self.class_head = MLP(2 * d, d, c.num_classes + 1)
        S = c.segment_len
        tokens = c.memory_len * (S // c.memory_gap)  # M*S': memory tokens the start decoder reads
        # Exactly one component is set; the others are None, so TorchScript compiles only its branch.
        self.queue: MemoryQueue | None = MemoryQueue(c.memory_len, [S, d]) if c.memory in ("queue", "none") else None
        self.gated: GatedMemory | None = GatedMemory(tokens, d) if c.memory == "gated" else None
        top_k = c.memory_top_k or max(1, tokens // 2)
        self.knn: KNNMemory | None = KNNMemory(tokens, d, d, top_k) if c.memory == "knn" else None
        # Reversed positions: flag token 0, newest feature 1, oldest S (tokens are [flag, oldest..newest]).
        enc_positions = torch.cat([torch.zeros(1), torch.arange(S, 0, -1).float()])
        self.register_buffer("encoder_pos", sinusoid(enc_positions, d).unsqueeze(0), persistent=False)
        # 2-D memory positions: half the channels for segment age (last row = empty slot), half in-segment.
        self.register_buffer("age_pos", sinusoid(torch.arange(c.max_age + 2).float(), d // 2), persistent=False)
        kept = torch.arange((S - 1) % c.memory_gap, S, c.memory_gap)
        self.register_buffer("kept_tokens", kept, persistent=False)
        self.register_buffer("inseg_pos", sinusoid((S - 1 - kept).float(), d - d // 2), persistent=False)

    # ----------------------------------------------------------------------------------------- pieces
    def project(self, x: Tensor) -> Tensor:
        """Per-stream linear projections: x (..., F) -> (..., D)."""
        outs: list[Tensor] = []
        start = 0
        for i, proj in enumerate(self.projections):
            outs.append(proj(x[..., start : start + self.feature_dims[i]]))
            start += self.feature_dims[i]
        return torch.cat(outs, dim=-1)

    def encode(self, window: Tensor) -> tuple[Tensor, Tensor]:
        """Segment encoder with the flag token: window (N, S, D) -> (encoded (N, S+1, D), flag logit (N,))."""
        tokens = torch.cat([self.flag_token.expand(window.shape[0], 1, self.d_model), window], dim=1)
        tokens = tokens + self.encoder_pos
        for layer in self.encoder:
            tokens = layer(tokens)
        return tokens, self.flag_head(tokens[:, 0]).squeeze(-1)

    def memory_tokens(self, items: Tensor, valid: Tensor, age: Tensor, current: Tensor) -> tuple[Tensor, Tensor]:
        """Subsampled memory + current segment with 2-D positions.

        items (N, M, S, D), valid (N, M), age (N, M) in segments, current (N, S, D)
        -> tokens (N, (M+1)*S/gap, D), positions (same shape).
        """
        n = current.shape[0]
        segs = torch.cat([items * valid[:, :, None, None].to(items.dtype), current.unsqueeze(1)], dim=1)
        segs = segs.index_select(2, self.kept_tokens)  # (N, M+1, S', D)
        age = torch.cat([age.clamp(0, self.max_age), age.new_zeros(n, 1)], dim=1)  # current segment: age 0
        valid = torch.cat([valid, torch.ones(n, 1, dtype=torch.bool, device=valid.device)], dim=1)
        age = torch.where(valid, age, self.max_age + 1)
        m1, s2 = segs.shape[1], segs.shape[2]
        pos = torch.cat(
            [
                self.age_pos[age].unsqueeze(2).expand(n, m1, s2, self.age_pos.shape[1]),
                self.inseg_pos.expand(n, m1, s2, self.inseg_pos.shape[1]),
            ],
            dim=-1,
        )
        return segs.reshape(n, m1 * s2, self.d_model), pos.reshape(n, m1 * s2, self.d_model)

    def decode(self, encoded: Tensor, mem: Tensor, mem_pos: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """End decoder on the encoded segment, then start decoder on memory.

        encoded (N, S+1, D), mem/mem_pos (N, L, D) -> logits (N, Q, C+1), start_logits (N, Q, M+2),
        start_residual (N, Q, M+2), end_offset (N, Q).
        """
        n = encoded.shape[0]
        q = self.num_queries
        tgt = torch.cat([self.class_queries, self.boundary_queries], dim=0).unsqueeze(0).expand(n, 2 * q, self.d_model)
        pos = torch.cat([self.query_pos, self.query_pos], dim=0).unsqueeze(0)
        for layer in self.end_decoder:
            tgt = layer(tgt, encoded, pos, self.encoder_pos)
        end_out = tgt
        for layer in self.start_decoder:
            tgt = layer(tgt, mem, pos, mem_pos)
        start_out = tgt
        logits = self.class_head(torch.cat([end_out[:, :q], start_out[:, :q]], dim=-1))
        end_offset = self.end_head(end_out[:, q:]).squeeze(-1)
        return logits, self.start_bins(start_out[:, q:]), self.start_residuals(start_out[:, q:]), end_offset

    def boundaries(self, start_logits: Tensor, start_residual: Tensor, end_offset: Tensor, now: Tensor) -> tuple[Tensor, Tensor]:
        """Decode (start, end) in feature units; the start offset is clamped to the bins' span [0, M+2]."""
        bins = start_logits.argmax(-1, keepdim=True)
        offset = (bins.to(start_residual.dtype) + start_residual.gather(-1, bins)).squeeze(-1)
        offset = offset.clamp(0.0, float(self.memory_len + 2))
        now = now.unsqueeze(-1)
        return now - offset * self.segment_len, now - end_offset * self.segment_len

    def slot_tokens(self, slots: Tensor, found: Tensor, current: Tensor) -> tuple[Tensor, Tensor]:
        """Memory tokens without segment ages (gated slots, retrieved tokens) + the current segment.

        slots (N, L, D), found (N, L) bool (False: empty, zeros), current (N, S, D)
        -> tokens (N, L + S/gap, D), positions (same shape). A stored token's age position is the oldest
        bucket (its age is unknown), an empty one's the empty-slot row; in-segment positions cycle.
        """
        n, length = slots.shape[0], slots.shape[1]
        kept = self.inseg_pos.shape[0]
        now = current.index_select(1, self.kept_tokens)
        age = torch.where(found, self.max_age, self.max_age + 1)
        age = torch.cat([age, age.new_zeros(n, kept)], dim=1)
        inseg = torch.cat([torch.arange(length, device=slots.device) % kept, torch.arange(kept, device=slots.device)])
        pos = torch.cat([self.age_pos[age], self.inseg_pos[inseg].unsqueeze(0).expand(n, -1, -1)], dim=-1)
        return torch.cat([slots * found.unsqueeze(-1).to(slots.dtype), now], dim=1), pos

    def knn_read(self, state: KNNState, encoded: Tensor) -> tuple[Tensor, Tensor]:
        """The ``memory_top_k`` stored tokens nearest to the flag token's encoding: (N, k, D), found (N, k)."""
        knn = self.knn
        assert knn is not None
        values, _, found = knn.read(state, encoded[:, :1])
        return values[:, 0], found[:, 0]

    # ------------------------------------------------------------------------------------- streaming
    @torch.jit.export
    def initial_state(self, batch_size: int) -> MATRState:
        """Empty window and memory for ``batch_size`` new streams."""
        device = self.flag_token.device
        S = self.segment_len
        window = torch.zeros(batch_size, S, self.d_model, device=device)
        steps = torch.zeros(batch_size, dtype=torch.int64, device=device)
        rows = batch_size * S
        queue, gated, knn = self.queue, self.gated, self.knn
        if gated is not None:
            none = torch.zeros(rows, 0, dtype=torch.bool, device=device)
            return MATRState(window, steps, gated.init(rows, device).slots, none, none.long())
        if knn is not None:
            empty = knn.init(rows, device)
            return MATRState(window, steps, empty.keys, empty.valid, empty.next_index)
        assert queue is not None
        empty = queue.init(rows, device)
        return MATRState(window, steps, empty.items, empty.valid, empty.stamps)

    def forward(self, x: Tensor, state: MATRState) -> tuple[MATROutput, MATRState]:
        """One streaming step: x (B, F) one feature per stream -> (MATROutput with leading (B,), new state)."""
        return self.step(x, state)

    @torch.jit.export
    def forget(self, state: MATRState, reset: Tensor) -> MATRState:
        """Rows where ``reset`` (B,) is True start a new stream (empty window and memory); others unchanged."""
        fresh = self.initial_state(reset.shape[0])
        phases = reset.repeat_interleave(self.segment_len)  # memory rows are b*S + phase
        return MATRState(
            torch.where(reset.view(-1, 1, 1), fresh.window, state.window),
            torch.where(reset, fresh.steps, state.steps),
            torch.where(phases.view([-1] + [1] * (state.mem_items.dim() - 1)), fresh.mem_items, state.mem_items),
            torch.where(phases.view([-1] + [1] * (state.mem_valid.dim() - 1)), fresh.mem_valid, state.mem_valid),
            torch.where(phases.view([-1] + [1] * (state.mem_stamps.dim() - 1)), fresh.mem_stamps, state.mem_stamps),
        )

    @torch.jit.export
    def step(self, x: Tensor, state: MATRState) -> tuple[MATROutput, MATRState]:
        """Consume one feature per stream; see :meth:`forward`."""
        b = x.shape[0]
        S = self.segment_len
        M = self.memory_len
        window = torch.cat([state.window[:, 1:], self.project(x).unsqueeze(1)], dim=1)
        t = state.steps  # index of the feature just consumed
        phase = torch.remainder(t, S)
        encoded, flag_logit = self.encode(window)
        rows = torch.arange(b, device=x.device)
        phase_row = rows * S + phase  # this step's memory row of each stream
        queue, gated, knn = self.queue, self.gated, self.knn
        if gated is not None:
            mem, mem_pos = self.slot_tokens(
                state.mem_items[phase_row], torch.ones(b, state.mem_items.shape[1], dtype=torch.bool, device=x.device),
                window,
            )
        elif knn is not None:
            phase_state = KNNState(
                state.mem_items[phase_row], state.mem_items[phase_row], state.mem_valid[phase_row],
                state.mem_stamps[phase_row],
            )
            mem, mem_pos = self.slot_tokens(*self.knn_read(phase_state, encoded), window)
        else:
            items = state.mem_items.view(b, S, M, S, self.d_model)[rows, phase]
            valid = state.mem_valid.view(b, S, M)[rows, phase]
            stamps = state.mem_stamps.view(b, S, M)[rows, phase]
            age = torch.div(t.unsqueeze(1) - stamps, S, rounding_mode="floor")
            mem, mem_pos = self.memory_tokens(items, valid, age, window)
        logits, start_logits, start_res, end_offset = self.decode(encoded, mem, mem_pos)
        now = (t + 1).to(window.dtype)
        start, end = self.boundaries(start_logits, start_res, end_offset, now)
        out = MATROutput(logits, start_logits, start_res, end_offset, flag_logit, start, end, now)
        if not self.memory_writes:
            return out, MATRState(window, t + 1, state.mem_items, state.mem_valid, state.mem_stamps)
        # Selective write: the current segment goes into its phase's memory when the flag fires.
        write = torch.sigmoid(flag_logit) > self.flag_threshold
        if queue is not None:
            pushed = queue.write_rows(  # only this step's phase row of each stream can change
                QueueState(state.mem_items, state.mem_valid, state.mem_stamps), phase_row, window, write, t,
            )
            return out, MATRState(window, t + 1, pushed.items, pushed.valid, pushed.stamps)
        # gated / knn update every phase row with a (B*S,) selection: this step's phase, where the flag fired
        select = ((torch.arange(S, device=x.device).unsqueeze(0) == phase.unsqueeze(1)) & write.unsqueeze(1)).reshape(-1)
        if gated is not None:
            tokens = window.index_select(1, self.kept_tokens).repeat_interleave(S, dim=0).detach()
            slots = gated.write(GatedState(state.mem_items), tokens, select.unsqueeze(1).expand(-1, tokens.shape[1]))
            return out, MATRState(window, t + 1, slots.slots, state.mem_valid, state.mem_stamps)
        assert knn is not None
        tokens = window.index_select(1, self.kept_tokens).repeat_interleave(S, dim=0)
        stored = knn.write(
            KNNState(state.mem_items, state.mem_items, state.mem_valid, state.mem_stamps), tokens, tokens, select
        )
        return out, MATRState(window, t + 1, stored.keys, stored.valid, stored.next_index)

    # -------------------------------------------------------------------------------------- training
    @torch.jit.unused
    def forward_sequence(self, x: Tensor, flags: Tensor | None = None, at: Tensor | None = None) -> MATROutput:
        """The step loop's outputs for whole sequences from an empty state, computed in parallel.

        x: (B, T, F) features. flags: (B, T) bool memory-write decisions (ground truth for teacher forcing);
        None uses the model's own flags (> threshold), exactly as the step loop does. at: (B, K) int64 steps
        to produce outputs for (default all T). Returns MATROutput with leading dims (B, K).
        With ``memory="gated"`` the slot updates run as a loop over the T/S segment positions (all phases
        at once); the other memories are gathered directly.
        """
        b, T, _ = x.shape
        S, M = self.segment_len, self.memory_len
        proj = self.project(x)
        padded = torch.cat([proj.new_zeros(b, S - 1, self.d_model), proj], dim=1)
        windows = padded.unfold(1, S, 1).permute(0, 1, 3, 2)  # (B, T, S, D), window ending at each t
        rows = torch.arange(b, device=x.device).unsqueeze(1)
        if flags is None:
            enc_all, flag_all = self.encode(windows.reshape(b * T, S, self.d_model))
            flags = (torch.sigmoid(flag_all) > self.flag_threshold).view(b, T)
            if at is None:
                at = torch.arange(T, device=x.device).unsqueeze(0).expand(b, T)
            k = at.shape[1]
            encoded = enc_all.view(b, T, S + 1, self.d_model)[rows, at].reshape(b * k, S + 1, self.d_model)
            flag_logit = flag_all.view(b, T)[rows, at]
        else:
            if at is None:
                at = torch.arange(T, device=x.device).unsqueeze(0).expand(b, T)
            k = at.shape[1]
            encoded, flag_logit = self.encode(windows[rows, at].reshape(b * k, S, self.d_model))
            flag_logit = flag_logit.view(b, k)
        if not self.memory_writes:
            flags = torch.zeros_like(flags)
        current = windows[rows, at].reshape(b * k, S, self.d_model)
        if self.gated is not None:
            slots = self._gated_slots(windows.detach(), flags)  # (B, T/S + 1, S, M*S', D)
            slots = slots[rows, torch.div(at, S, rounding_mode="floor"), at % S].flatten(0, 1)
            mem, mem_pos = self.slot_tokens(slots, torch.ones(slots.shape[:2], dtype=torch.bool, device=x.device), current)
        else:
            ends, valid = _memory_slots(flags, at, S, M)  # (B, K, M) each
            stored = windows.detach()[rows.unsqueeze(2), ends.clamp(min=0)]  # (B, K, M, S, D)
            if self.knn is not None:
                tokens = stored.index_select(3, self.kept_tokens).reshape(b * k, -1, self.d_model)
                found = valid.reshape(b * k, M, 1).expand(-1, -1, self.kept_tokens.shape[0]).reshape(b * k, -1)
                unused = found.new_zeros(b * k, dtype=torch.int64)
                mem, mem_pos = self.slot_tokens(*self.knn_read(KNNState(tokens, tokens, found, unused), encoded), current)
            else:
                age = torch.div(at.unsqueeze(2) - ends, S, rounding_mode="floor")
                mem, mem_pos = self.memory_tokens(
                    stored.reshape(b * k, M, S, self.d_model), valid.reshape(b * k, M), age.reshape(b * k, M), current
                )
        logits, start_logits, start_res, end_offset = self.decode(encoded, mem, mem_pos)
        now = (at + 1).to(x.dtype)
        start, end = self.boundaries(
            start_logits.view(b, k, self.num_queries, M + 2), start_res.view(b, k, self.num_queries, M + 2),
            end_offset.view(b, k, self.num_queries), now,
        )
        q = self.num_queries
        return MATROutput(
            logits.view(b, k, q, -1), start_logits.view(b, k, q, M + 2), start_res.view(b, k, q, M + 2),
            end_offset.view(b, k, q), flag_logit, start, end, now,
        )

    @torch.jit.unused
    def _gated_slots(self, windows: Tensor, flags: Tensor) -> Tensor:
        """Gated slots of every phase before each segment position: (B, T/S + 1, S, M*S', D).

        windows (B, T, S, D), flags (B, T). Entry [b, n, p] is phase p's slots before the write of the segment
        ending at n*S + p, i.e. what step n*S + p reads. Gradient flows through the gate's recurrence.
        """
        gated = self.gated
        assert gated is not None
        b, T, S = windows.shape[0], windows.shape[1], self.segment_len
        count = -(-T // S)
        pad = count * S - T
        tokens = torch.cat([windows.index_select(2, self.kept_tokens),
                            windows.new_zeros(b, pad, self.kept_tokens.shape[0], self.d_model)], dim=1)
        writes = torch.cat([flags, flags.new_zeros(b, pad)], dim=1)
        tokens = tokens.view(b, count, S, -1, self.d_model).transpose(1, 2).flatten(0, 1)  # (B*S, n, S', D)
        writes = writes.view(b, count, S).transpose(1, 2).flatten(0, 1)  # (B*S, n)
        state = gated.init(b * S, windows.device)
        history = [state.slots]
        for n in range(count):
            state = gated.write(state, tokens[:, n], writes[:, n : n + 1].expand(-1, tokens.shape[2]))
            history.append(state.slots)
        return torch.stack(history, 1).view(b, S, count + 1, -1, self.d_model).transpose(1, 2)

def _memory_slots(flags: Tensor, at: Tensor, S: int, M: int) -> tuple[Tensor, Tensor]:
    """Which segments the phase queue holds at each requested step (what the step loop's FIFO contains).

    flags (B, T) bool, at (B, K) -> ends (B, K, M) index of each stored segment's last feature (-1 empty),
    valid (B, K, M); slot M-1 is the newest, as in :class:`MemoryQueue`.
    """
    b, T = flags.shape
    if M == 0:
        empty = at.new_zeros(b, at.shape[1], 0)
        return empty, empty.bool()
    back = torch.arange(1, T // S + 2, device=at.device) * S
    cand = at.unsqueeze(2) - back  # (B, K, R) ends t-S, t-2S, ... most recent first
    ok = cand >= 0
    flagged = flags.gather(1, cand.clamp(min=0).view(b, -1)).view(cand.shape) & ok
    rank = flagged.long().cumsum(2)  # 1 for the most recent flagged segment
    take = flagged & (rank <= M)
    slot = torch.where(take, M - rank, torch.full_like(rank, M))  # slot M collects the unused
    ends = torch.full((b, at.shape[1], M + 1), -1, dtype=torch.int64, device=at.device)
    ends = ends.scatter(2, slot, torch.where(take, cand, torch.full_like(cand, -1)))[..., :M]
    return ends, ends >= 0
