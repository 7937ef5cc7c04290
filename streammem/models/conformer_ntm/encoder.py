"""A Conformer encoder that runs full-context or chunk-by-chunk with caches (front end: ``streammem.nn.log_mel``).

Legend: B batch, S audio samples, T frames (10 ms features or 40 ms encoder frames), F mel bins,
D model dim, H attention heads, K depthwise kernel, L cached left-context frames, C chunk frames,
NB number of blocks.

Every layer is causal or chunk-masked, so the streaming step (cached keys/values, cached
convolution inputs, cached subsampling inputs) computes exactly what ``forward_sequence`` computes
with the streaming attention mask.
"""


import math
from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["sinusoid", "CausalSubsampling", "ConformerBlock", "ConformerEncoder", "streaming_mask"]

NEG_INF = -1e9  # finite, so a fully masked row cannot produce NaN


class CausalSubsampling(nn.Module):
    """Two 3x3 stride-2 Conv2d (4x in time, 40 ms frames), causal in time, then Linear to D.

    Time is padded on the left only (by cached inputs in the step), so frame t never sees the future.
    """

    freq_out: Final[int]

    def __init__(self, num_mels: int, channels: int, d_model: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2)
        freq1 = (num_mels - 3) // 2 + 1
        self.freq_out = (freq1 - 3) // 2 + 1
        self.out = nn.Linear(channels * self.freq_out, d_model)

    def forward(self, feats: Tensor, cache1: Tensor, cache2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, 4T, F) features, caches (B, 2, F) and (B, C, 2, F1) -> (B, T, D) and the new caches."""
        x = torch.cat([cache1, feats], dim=1)
        new_cache1 = x[:, -2:]
        h = torch.relu(self.conv1(x.unsqueeze(1)))
        h = torch.cat([cache2, h], dim=2)
        new_cache2 = h[:, :, -2:]
        h = torch.relu(self.conv2(h))
        return self.out(h.transpose(1, 2).flatten(2)), new_cache1, new_cache2


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """(P,) integer positions -> (P, D) sin/cos encoding (Vaswani et al. 2017)."""
    inv = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) * (-math.log(10000.0) / dim))
    angle = positions.to(torch.float32).unsqueeze(1) * inv
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)


class RelPositionAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL relative positions (ESPnet ``rel_pos_type: latest``).

    score(i, j) = (q_i + u) k_j + (q_i + v) W_p p(i - j); relative distances are clipped to
    +-``max_distance`` and looked up by index (no rel-shift trick, so cached keys need no re-alignment).
    """

    heads: Final[int]
    head_dim: Final[int]
    max_distance: Final[int]
    neg_inf: Final[float]

    def __init__(self, d_model: int, heads: int, dropout: float, max_distance: int):
        super().__init__()
        self.heads = heads
        self.head_dim = d_model // heads
        self.max_distance = max_distance
        self.neg_inf = NEG_INF
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.pos = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.head_dim))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.head_dim))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)
        self.dropout = nn.Dropout(dropout)
        distances = torch.arange(max_distance, -max_distance - 1, -1)
        self.register_buffer("table", sinusoid(distances, d_model), persistent=False)

    def forward(
        self, x: Tensor, key_cache: Tensor, value_cache: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Attend from x (B, Tq, D) to [cached; new] keys.

        Args:
            x: (B, Tq, D) normalised block input.
            key_cache, value_cache: (B, H, L, D/H) keys/values of the L frames before x (L may be 0).
            mask: (B, Tq, L + Tq) True where query i may attend key j.
        Returns:
            (B, Tq, D) output and the (B, H, L + Tq, D/H) keys and values (callers keep the last L).
        """
        batch, tq = x.shape[0], x.shape[1]
        q = self.query(x).view(batch, tq, self.heads, self.head_dim).transpose(1, 2)
        k = torch.cat([key_cache, self.key(x).view(batch, tq, self.heads, self.head_dim).transpose(1, 2)], 2)
        v = torch.cat([value_cache, self.value(x).view(batch, tq, self.heads, self.head_dim).transpose(1, 2)], 2)
        cached = key_cache.shape[2]
        tk = k.shape[2]
        # Only the distances this call can see, i - j in [-(Tq-1), L+Tq-1] clipped to +-R, are projected:
        # the table rows (maxd - far) .. (maxd - near), P of them (P = L + 2Tq - 1 in the streaming step,
        # not 2R+1 = 2049 rows per block per chunk as projecting the whole table costs).
        far = min(cached + tq - 1, self.max_distance)
        near = max(1 - tq, -self.max_distance)
        rows = self.table[self.max_distance - far:self.max_distance - near + 1]  # (P, D)
        content = torch.matmul(q + self.pos_bias_u.unsqueeze(1), k.transpose(-2, -1))
        qv = q + self.pos_bias_v.unsqueeze(1)
        num_rows, d_model = rows.shape[0], rows.shape[1]
        if batch * tq * d_model * (self.head_dim + num_rows) < num_rows * d_model * (d_model + batch * tq):
            # Few queries (a streaming chunk): (q W_p,h) p^T, the same product associated the cheaper way.
            weight = self.pos.weight.view(self.heads, self.head_dim, d_model)
            position = torch.matmul(torch.matmul(qv, weight), rows.t())  # (B, H, Tq, P)
        else:
            p = self.pos(rows).view(-1, self.heads, self.head_dim).transpose(0, 1)  # (H, P, D/H)
            position = torch.matmul(qv, p.transpose(-2, -1))  # (B, H, Tq, P)
        qpos = torch.arange(tq, device=x.device) + cached
        kpos = torch.arange(tk, device=x.device)
        index = far - (qpos.unsqueeze(1) - kpos.unsqueeze(0)).clamp(-self.max_distance, self.max_distance)
        position = position.gather(-1, index.expand(batch, self.heads, tq, tk))
        scores = (content + position) * (self.head_dim**-0.5)
        scores = scores.masked_fill(~mask.unsqueeze(1), self.neg_inf)
        attn = torch.softmax(scores, dim=-1)
        if self.training:
            attn = self.dropout(attn)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(batch, tq, -1)
        return self.out(out), k, v


class _FeedForward(nn.Module):
    """Pre-LN Linear-Swish-Linear (half-step in the macaron pair)."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, ffn_dim), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(ffn_dim, d_model), nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return self.net(x)
        net = self.net  # without the two Dropout calls (identity in eval), which cost as much as a small op
        return net[4](net[2](net[1](net[0](x))))


class _ConvModule(nn.Module):
    """Pointwise-GLU, causal depthwise conv (kernel K), LayerNorm, Swish, pointwise.

    LayerNorm instead of BatchNorm: batch statistics would make a streamed chunk depend on its batch.
    """

    def __init__(self, d_model: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.pointwise1 = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, groups=d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.pointwise2 = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, T, D), cache (B, D, K-1) previous depthwise inputs -> (B, T, D), new cache."""
        h = F.glu(self.pointwise1(self.norm(x)), dim=-1).transpose(1, 2)
        h = torch.cat([cache, h], dim=2)
        new_cache = h[:, :, h.shape[2] - cache.shape[2]:]
        h = self.depthwise(h).transpose(1, 2)
        out = self.pointwise2(F.silu(self.norm2(h)))
        if self.training:
            out = self.dropout(out)
        return out, new_cache


class ConformerBlock(nn.Module):
    """Macaron Conformer block (Gulati et al. 2020): 1/2 FFN, rel-pos MHSA, conv, 1/2 FFN, LayerNorm."""

    def __init__(self, d_model: int, heads: int, ffn_dim: int, kernel_size: int, dropout: float, max_distance: int):
        super().__init__()
        self.ffn1 = _FeedForward(d_model, ffn_dim, dropout)
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = RelPositionAttention(d_model, heads, dropout, max_distance)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = _ConvModule(d_model, kernel_size, dropout)
        self.ffn2 = _FeedForward(d_model, ffn_dim, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, x: Tensor, key_cache: Tensor, value_cache: Tensor, conv_cache: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x (B, T, D) -> (B, T, D), all keys/values (B, H, L+T, D/H), new conv cache (B, D, K-1)."""
        x = torch.add(x, self.ffn1(x), alpha=0.5)
        a, k, v = self.attn(self.attn_norm(x), key_cache, value_cache, mask)
        if self.training:
            a = self.attn_dropout(a)
        x = x + a
        c, conv_cache = self.conv(x, conv_cache)
        x = x + c
        x = torch.add(x, self.ffn2(x), alpha=0.5)
        return self.norm(x), k, v, conv_cache


def streaming_mask(length: int, chunk: int, left: int, device: torch.device) -> Tensor:
    """(T, T) True where frame i may attend frame j: j in [chunk(i) * C - L, (chunk(i) + 1) * C)."""
    pos = torch.arange(length, device=device)
    chunk_start = torch.div(pos, chunk, rounding_mode="floor") * chunk
    j = pos.unsqueeze(0)
    return (j < (chunk_start + chunk).unsqueeze(1)) & (j >= (chunk_start - left).unsqueeze(1))


class ConformerEncoder(nn.Module):
    """Causal subsampling + NB Conformer blocks; ``forward_sequence`` for training, ``step`` for streams."""

    chunk: Final[int]
    left: Final[int]
    heads: Final[int]
    head_dim: Final[int]
    kernel: Final[int]

    def __init__(self, num_mels: int, d_model: int, heads: int, ffn_dim: int, num_blocks: int, kernel_size: int,
                 subsampling_channels: int, dropout: float, max_distance: int, chunk: int, left: int):
        super().__init__()
        self.chunk = chunk
        self.left = left
        self.heads = heads
        self.head_dim = d_model // heads
        self.kernel = kernel_size
        self.subsampling = CausalSubsampling(num_mels, subsampling_channels, d_model)
        self.blocks = nn.ModuleList(
            [ConformerBlock(d_model, heads, ffn_dim, kernel_size, dropout, max_distance) for _ in range(num_blocks)]
        )

    def forward_sequence(self, feats: Tensor, lengths: Tensor, streaming: bool) -> tuple[Tensor, Tensor]:
        """Whole utterances (B, T, F) with feature ``lengths`` (B,) -> (B, ceil(T/4), D) and frame lengths.

        ``streaming`` selects the chunk mask (chunk C, left context L) instead of full context.
        """
        batch = feats.shape[0]
        feats = F.pad(feats, (0, 0, 0, (-feats.shape[1]) % 4))
        sub = self.subsampling
        cache1 = feats.new_zeros(batch, 2, feats.shape[2])
        cache2 = feats.new_zeros(batch, sub.conv1.out_channels, 2, (feats.shape[2] - 3) // 2 + 1)
        x, _, _ = sub(feats, cache1, cache2)
        frames = x.shape[1]
        out_lengths = torch.div(lengths + 3, 4, rounding_mode="floor")
        valid = torch.arange(frames, device=x.device).unsqueeze(0) < out_lengths.unsqueeze(1)
        if streaming:
            mask = streaming_mask(frames, self.chunk, self.left, x.device).unsqueeze(0) & valid.unsqueeze(1)
        else:
            mask = valid.unsqueeze(1).expand(batch, frames, frames)
        empty = x.new_zeros(batch, self.heads, 0, self.head_dim)
        conv_cache = x.new_zeros(batch, x.shape[2], self.kernel - 1)
        for block in self.blocks:
            x, _, _, _ = block(x, empty, empty, conv_cache, mask)
        return x, out_lengths

    def step(
        self, feats: Tensor, cache1: Tensor, cache2: Tensor, key_cache: Tensor, value_cache: Tensor,
        conv_cache: Tensor, frames_seen: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """One chunk of 4C feature frames (B, 4C, F) -> (B, C, D) and the new caches.

        key_cache/value_cache: (NB, B, H, L, D/H); conv_cache: (NB, B, D, K-1); frames_seen: (B,) int64
        encoder frames emitted before this chunk (cache slots older than the stream are masked).
        """
        x, cache1, cache2 = self.subsampling(feats, cache1, cache2)
        batch, tq = x.shape[0], x.shape[1]
        slot_frame = frames_seen.unsqueeze(1) - self.left + torch.arange(self.left, device=x.device).unsqueeze(0)
        mask = torch.cat([slot_frame >= 0, torch.ones(batch, tq, dtype=torch.bool, device=x.device)], dim=1)
        mask = mask.unsqueeze(1).expand(batch, tq, self.left + tq)
        keys: list[Tensor] = []
        values: list[Tensor] = []
        convs: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            x, k, v, c = block(x, key_cache[i], value_cache[i], conv_cache[i], mask)
            keys.append(k[:, :, k.shape[2] - self.left:])
            values.append(v[:, :, v.shape[2] - self.left:])
            convs.append(c)
        return x, cache1, cache2, torch.stack(keys), torch.stack(values), torch.stack(convs)
