"""MeMOTR: long-term memory-augmented transformer for multi-object tracking (Gao & Wang, ICCV 2023).

Legend: B batch (independent videos), H/W image size, S flattened multi-scale tokens, L feature levels,
N detect queries, K track slots, D model dim, C classes, Y decoder layers.

The streaming step is ``forward(frame, state) -> (TrackOutput, TrackState)``. Tracks live in K fixed
slots; ids, miss counters and masks are tensors, so the step is scriptable, batches several videos and
its state never grows.
"""

from typing import Final, NamedTuple

import torch
import torchvision
from torch import Tensor, nn
from torchvision.ops import box_convert, box_iou
from torchvision.ops.misc import FrozenBatchNorm2d

from streammem.memory.long_term import LongTermMemory, LongTermState
from streammem.models.memotr.config import MeMOTRConfig
from streammem.nn.deformable_attention import MSDeformAttn
from streammem.nn.mlp import MLP
from streammem.nn.position_encoding import sine_embedding_2d, sine_embedding_boxes

__all__ = ["MeMOTR", "TrackState", "TrackOutput", "DecoderOutput", "MEMORY_KINDS"]

MEMORY_KINDS = ("ema", "gated", "none")


class TrackState(NamedTuple):
    """Everything the tracker remembers between frames (fixed size).

    query: (B, K, D) content query of each track slot.
    ref: (B, K, 4) reference box (normalised cx, cy, w, h) = last confident box.
    last_output: (B, K, D) last confident decoder output O_{t-1}.
    memory: (B, K, D) long-term memory M (EMA, detached).
    alive: (B, K) bool, slot holds a live track.
    ids: (B, K) int64 track id, -1 in free slots.
    misses: (B, K) int64 consecutive frames with score below the threshold.
    next_id: (B,) int64 next id to hand out.
    """

    query: Tensor
    ref: Tensor
    last_output: Tensor
    memory: Tensor
    alive: Tensor
    ids: Tensor
    misses: Tensor
    next_id: Tensor


class TrackOutput(NamedTuple):
    """Per-slot results of one frame.

    ids: (B, K) int64; boxes: (B, K, 4) normalised cx, cy, w, h; scores: (B, K);
    keep: (B, K) bool, the slot is a live track shown in this frame (score and area filter).
    """

    ids: Tensor
    boxes: Tensor
    scores: Tensor
    keep: Tensor


class DecoderOutput(NamedTuple):
    """Per-layer predictions and embeddings of detect queries (N) and track slots (K).

    det_logits: (Y, B, N, C); det_boxes: (Y, B, N, 4); trk_logits: (Y-1, B, K, C); trk_boxes: (Y-1, B, K, 4);
    det_out/trk_out: (B, N|K, D) final-layer outputs; det_pre/trk_pre: (B, N|K, D) inputs of the last layer.
    """

    det_logits: Tensor
    det_boxes: Tensor
    trk_logits: Tensor
    trk_boxes: Tensor
    det_out: Tensor
    trk_out: Tensor
    det_pre: Tensor
    trk_pre: Tensor


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.log(x.clamp(min=eps) / (1.0 - x).clamp(min=eps))


class _ConvStem(nn.Module):
    """A small strided conv stack (GroupNorm, ReLU) giving stride 8/16/32 maps; the tiny config's backbone."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        blocks = []
        prev = 3
        for c in channels:
            blocks.append(nn.Sequential(
                nn.Conv2d(prev, c, 3, stride=2, padding=1, bias=False), nn.GroupNorm(8, c), nn.ReLU(inplace=True),
                nn.Conv2d(c, c, 3, padding=1, bias=False), nn.GroupNorm(8, c), nn.ReLU(inplace=True),
            ))
            prev = c
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = list(channels[2:5])

    def forward(self, x: Tensor) -> list[Tensor]:
        outs: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i >= 2:
                outs.append(x)
        return outs


class _ResNetBackbone(nn.Module):
    """torchvision ResNet with frozen BatchNorm; C3, C4, C5 out; stem and layer1 frozen (as MeMOTR)."""

    def __init__(self, depth: str) -> None:
        super().__init__()
        net = getattr(torchvision.models, depth)(weights=None, norm_layer=FrozenBatchNorm2d)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        for p in list(self.stem.parameters()) + list(self.layer1.parameters()):
            p.requires_grad_(False)
        wide = depth == "resnet50" or depth == "resnet101"
        self.out_channels = [512, 1024, 2048] if wide else [128, 256, 512]

    @staticmethod
    def torchvision_name(name: str) -> str | None:
        """Where a tensor of a torchvision ResNet state dict goes here (``conv1``/``bn1`` -> ``stem``; no ``fc``)."""
        head, _, rest = name.partition(".")
        return {"conv1": f"stem.0.{rest}", "bn1": f"stem.1.{rest}"}.get(head, None if head == "fc" else name)

    def forward(self, x: Tensor) -> list[Tensor]:
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c3, c4, c5]


class _FFN(nn.Module):
    """Linear-ReLU-Linear with residual and post LayerNorm (Deformable DETR)."""

    def __init__(self, dim: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.dropout(self.linear2(self.dropout(self.linear1(x).relu()))))


class _EncoderLayer(nn.Module):
    def __init__(self, cfg: MeMOTRConfig) -> None:
        super().__init__()
        self.attn = MSDeformAttn(cfg.dim, cfg.num_levels, cfg.heads, cfg.num_points)
        self.dropout = nn.Dropout(cfg.dropout)
        self.norm = nn.LayerNorm(cfg.dim)
        self.ffn = _FFN(cfg.dim, cfg.ffn_dim, cfg.dropout)

    def forward(self, src: Tensor, pos: Tensor, ref: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        src = self.norm(src + self.dropout(self.attn(src + pos, ref, src, shapes)))
        return self.ffn(src)


class _DecoderLayer(nn.Module):
    """Self-attention over queries (padded track slots masked), deformable cross-attention, FFN."""

    def __init__(self, cfg: MeMOTRConfig) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(cfg.dim, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm_self = nn.LayerNorm(cfg.dim)
        self.cross_attn = MSDeformAttn(cfg.dim, cfg.num_levels, cfg.heads, cfg.num_points)
        self.norm_cross = nn.LayerNorm(cfg.dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.ffn = _FFN(cfg.dim, cfg.ffn_dim, cfg.dropout)

    def forward(self, tgt: Tensor, pos: Tensor, ref: Tensor, memory: Tensor, shapes: list[tuple[int, int]],
                padding: Tensor) -> Tensor:
        qk = tgt + pos
        tgt = self.norm_self(tgt + self.dropout(self.self_attn(qk, qk, tgt, key_padding_mask=padding,
                                                               need_weights=False)[0]))
        tgt = self.norm_cross(tgt + self.dropout(self.cross_attn(tgt + pos, ref, memory, shapes)))
        return self.ffn(tgt)


class QueryUpdater(nn.Module):
    """Temporal interaction module (MeMOTR ``models/query_updater.py``).

    Confidence gate w = sigma(MLP(O_t)); adaptive aggregation S = MLP([w*O_t; O_{t-1}]); P = MLP(sine(box));
    memory-attention across all live tracks with Q = S+P, K = M+P, V = O_t; residual + LN + FFN;
    long-memory residual E = FFN(LN(M + out)). Without memory (``memory="none"`` or ``use_memory`` False, the
    ablation) the attention and the long-term memory are dropped: E = FFN(LN(FFN(LN(O_t + S)))). The EMA
    memory is read detached (the paper); a gated memory is not, so its gate learns within a training clip.
    """

    use_memory: Final[bool]
    detach_memory: Final[bool]

    def __init__(self, cfg: MeMOTRConfig) -> None:
        super().__init__()
        d = cfg.dim
        if cfg.memory not in MEMORY_KINDS:
            raise ValueError(f"memotr: memory must be one of {', '.join(MEMORY_KINDS)}, got {cfg.memory!r}")
        self.use_memory = cfg.use_memory and cfg.memory != "none"
        self.detach_memory = cfg.memory != "gated"
        self.confidence_weight_net = MLP(d, d, d, 2)
        self.short_memory_fusion = MLP(2 * d, 2 * d, d, 2)
        self.query_pos_head = MLP(2 * d, d, d, 2)
        self.memory_attn = nn.MultiheadAttention(d, cfg.heads, batch_first=True)
        self.memory_dropout = nn.Dropout(cfg.dropout)
        self.memory_norm = nn.LayerNorm(d)
        self.memory_ffn = _FFN(d, cfg.ffn_dim, cfg.dropout)
        self.query_feat_dropout = nn.Dropout(cfg.dropout)
        self.query_feat_norm = nn.LayerNorm(d)
        self.query_feat_ffn = _FFN(d, cfg.ffn_dim, cfg.dropout)
        self.dim = d
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, output: Tensor, last_output: Tensor, memory: Tensor, boxes: Tensor, alive: Tensor) -> Tensor:
        """
        Args:
            output: (B, K, D) O_t; last_output: (B, K, D) O_{t-1}; memory: (B, K, D) M;
            boxes: (B, K, 4) current boxes; alive: (B, K) bool, which slots take part in the attention.
        Returns:
            (B, K, D) next content queries (callers keep the old query where the score is low).
        """
        weight = self.confidence_weight_net(output).sigmoid()
        short = self.short_memory_fusion(torch.cat((weight * output, last_output), dim=-1))
        if not self.use_memory:
            tgt = self.memory_ffn(self.memory_norm(output + self.memory_dropout(short)))
            return self.query_feat_ffn(self.query_feat_norm(tgt))
        if self.detach_memory:
            memory = memory.detach()
        pos = self.query_pos_head(sine_embedding_boxes(boxes.detach(), self.dim // 2))
        # A stream with no live track would attend to nothing (NaN): let it attend to all slots instead.
        padding = ~alive & alive.any(dim=1, keepdim=True)
        attn = self.memory_attn(short + pos, memory + pos, output, key_padding_mask=padding, need_weights=False)[0]
        tgt = self.memory_ffn(self.memory_norm(output + self.memory_dropout(attn)))
        return self.query_feat_ffn(self.query_feat_norm(memory + self.query_feat_dropout(tgt)))


class MeMOTR(nn.Module):
    """End-to-end tracker: backbone, deformable encoder, DAB decoder (layer 0 detect-only), query updater.

    Args:
        cfg: a :class:`MeMOTRConfig` (``tiny`` or ``paper``).
    """

    num_queries: Final[int]
    max_tracks: Final[int]
    dim: Final[int]
    num_levels: Final[int]
    dec_layers: Final[int]
    update_thresh: Final[float]
    det_thresh: Final[float]
    result_thresh: Final[float]
    miss_tolerance: Final[int]
    min_area: Final[float]
    dedupe_iou: Final[float]
    pos_temperature: Final[float]

    def __init__(self, cfg: MeMOTRConfig) -> None:
        super().__init__()
        if cfg.dec_layers < 2:
            raise ValueError("memotr: dec_layers must be >= 2 (layer 0 is detect-only, later layers are joint)")
        self.cfg = cfg
        self.num_queries, self.max_tracks, self.dim = cfg.num_queries, cfg.max_tracks, cfg.dim
        self.num_levels, self.dec_layers = cfg.num_levels, cfg.dec_layers
        self.update_thresh, self.det_thresh, self.result_thresh = cfg.update_thresh, cfg.det_thresh, cfg.result_thresh
        self.miss_tolerance, self.min_area = cfg.miss_tolerance, cfg.min_area
        self.dedupe_iou = cfg.dedupe_iou
        self.pos_temperature = cfg.pos_temperature
        d = cfg.dim
        self.backbone = _ConvStem(cfg.stem_channels) if cfg.backbone == "stem" else _ResNetBackbone(cfg.backbone)
        groups = min(32, d // 4)
        proj = [nn.Sequential(nn.Conv2d(c, d, 1), nn.GroupNorm(groups, d)) for c in self.backbone.out_channels]
        prev = self.backbone.out_channels[-1]
        for _ in range(cfg.num_levels - len(proj)):
            proj.append(nn.Sequential(nn.Conv2d(prev, d, 3, stride=2, padding=1), nn.GroupNorm(groups, d)))
            prev = d
        self.input_proj = nn.ModuleList(proj[: cfg.num_levels])
        self.level_embed = nn.Parameter(torch.randn(cfg.num_levels, d) * 0.02)
        self.encoder = nn.ModuleList(_EncoderLayer(cfg) for _ in range(cfg.enc_layers))
        self.decoder = nn.ModuleList(_DecoderLayer(cfg) for _ in range(cfg.dec_layers))
        self.ref_point_head = MLP(2 * d, d, d, 2)
        self.query_scale = MLP(d, d, d, 2)
        self.class_embed = nn.ModuleList(nn.Linear(d, cfg.num_classes) for _ in range(cfg.dec_layers))
        self.bbox_embed = nn.ModuleList(MLP(d, d, 4, 3) for _ in range(cfg.dec_layers))
        self.det_content = nn.Embedding(cfg.num_queries, d)
        self.det_anchor = nn.Embedding(cfg.num_queries, 4)
        self.query_updater = QueryUpdater(cfg)
        self.long_memory = LongTermMemory(cfg.max_tracks, d, momentum=cfg.memory_lambda, gated=cfg.memory == "gated")
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        prior = -torch.log(torch.tensor((1 - 0.01) / 0.01))  # focal prior 0.01
        for head in self.class_embed:
            nn.init.constant_(head.bias, float(prior))
        for head in self.bbox_embed:
            nn.init.constant_(head.layers[-1].weight, 0.0)
            nn.init.constant_(head.layers[-1].bias, 0.0)
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.constant_(proj[0].bias, 0.0)
        # DAB anchors spread over the image with small boxes
        with torch.no_grad():
            self.det_anchor.weight[:, :2].uniform_(0.0, 1.0)
            self.det_anchor.weight[:, :2] = inverse_sigmoid(self.det_anchor.weight[:, :2])
            self.det_anchor.weight[:, 2:] = inverse_sigmoid(torch.full_like(self.det_anchor.weight[:, 2:], 0.1))

    # ----------------------------------------------------------------------------------------- state
    @torch.jit.export
    def initial_state(self, batch_size: int) -> TrackState:
        """No tracks: every slot free, ids -1, next id 0."""
        device = self.det_content.weight.device
        b, k, d = batch_size, self.max_tracks, self.dim
        mem = self.long_memory.init(b, device)
        return TrackState(
            torch.zeros(b, k, d, device=device), torch.zeros(b, k, 4, device=device),
            torch.zeros(b, k, d, device=device), mem.memory, mem.active,
            torch.full((b, k), -1, dtype=torch.long, device=device),
            torch.zeros(b, k, dtype=torch.long, device=device), torch.zeros(b, dtype=torch.long, device=device),
        )

    @torch.jit.export
    def forget(self, state: TrackState, reset: Tensor) -> TrackState:
        """Rows where ``reset`` (B,) is True start a new video (no tracks, ids from 0); other rows unchanged."""
        fresh = self.initial_state(reset.shape[0])
        rows = reset.view(-1, 1)
        slots = reset.view(-1, 1, 1)
        return TrackState(
            torch.where(slots, fresh.query, state.query), torch.where(slots, fresh.ref, state.ref),
            torch.where(slots, fresh.last_output, state.last_output), torch.where(slots, fresh.memory, state.memory),
            torch.where(rows, fresh.alive, state.alive), torch.where(rows, fresh.ids, state.ids),
            torch.where(rows, fresh.misses, state.misses), torch.where(reset, fresh.next_id, state.next_id),
        )

    # ------------------------------------------------------------------------------- detector parts
    def encode(self, frame: Tensor) -> tuple[Tensor, list[tuple[int, int]]]:
        """(B, 3, H, W) normalised image -> encoder memory (B, S, D) and the L level shapes."""
        feats = self.backbone(frame)
        srcs: list[Tensor] = []
        for i, proj in enumerate(self.input_proj):
            srcs.append(proj(feats[i]) if i < len(feats) else proj(srcs[-1] if i > len(feats) else feats[-1]))
        b = frame.shape[0]
        shapes: list[tuple[int, int]] = []
        flat: list[Tensor] = []
        pos: list[Tensor] = []
        refs: list[Tensor] = []
        for lvl, src in enumerate(srcs):
            h, w = src.shape[2], src.shape[3]
            shapes.append((h, w))
            flat.append(src.flatten(2).transpose(1, 2))
            p = sine_embedding_2d(b, h, w, self.dim, self.pos_temperature, src.device).flatten(2).transpose(1, 2)
            pos.append(p + self.level_embed[lvl].view(1, 1, -1))
            ys = (torch.arange(h, dtype=torch.float32, device=src.device) + 0.5) / h
            xs = (torch.arange(w, dtype=torch.float32, device=src.device) + 0.5) / w
            grid = torch.stack((xs[None, :].expand(h, w), ys[:, None].expand(h, w)), dim=-1).reshape(1, h * w, 2)
            refs.append(grid)
        memory = torch.cat(flat, 1)
        pos_all = torch.cat(pos, 1)
        ref = torch.cat(refs, 1)[:, :, None, :].expand(b, memory.shape[1], self.num_levels, 2)
        for layer in self.encoder:
            memory = layer(memory, pos_all, ref, shapes)
        return memory, shapes

    def decode(self, memory: Tensor, shapes: list[tuple[int, int]], trk_query: Tensor, trk_ref: Tensor,
               trk_alive: Tensor) -> DecoderOutput:
        """Decoder layer 0 on the N detect queries alone, then layers 1.. on [detect; track slots].

        Boxes are refined layer by layer; the anchor passed on is detached (Deformable DETR).
        """
        b = memory.shape[0]
        n = self.num_queries
        tgt = self.det_content.weight.unsqueeze(0).expand(b, n, self.dim)
        ref = self.det_anchor.weight.sigmoid().unsqueeze(0).expand(b, n, 4)
        no_pad = torch.zeros(b, n, dtype=torch.bool, device=memory.device)
        padding = torch.cat((no_pad, ~trk_alive), dim=1)
        det_logits: list[Tensor] = []
        det_boxes: list[Tensor] = []
        trk_logits: list[Tensor] = []
        trk_boxes: list[Tensor] = []
        pre = tgt
        for lid, (layer, cls_head, box_head) in enumerate(zip(self.decoder, self.class_embed, self.bbox_embed, strict=False)):
            if lid == 1:
                tgt = torch.cat((tgt, trk_query), dim=1)
                ref = torch.cat((ref, trk_ref), dim=1)
            # DAB: positional query from the anchor, scaled by the content after layer 0
            pos = self.ref_point_head(sine_embedding_boxes(ref, self.dim // 2))
            if lid > 0:
                pos = pos * self.query_scale(tgt)
                pre = tgt
            ref_in = ref[:, :, None, :].expand(ref.shape[0], ref.shape[1], self.num_levels, 4)
            tgt = layer(tgt, pos, ref_in, memory, shapes, no_pad if lid == 0 else padding)
            logits = cls_head(tgt)
            boxes = (box_head(tgt) + inverse_sigmoid(ref)).sigmoid()
            ref = boxes.detach()
            det_logits.append(logits[:, :n])
            det_boxes.append(boxes[:, :n])
            if lid > 0:
                trk_logits.append(logits[:, n:])
                trk_boxes.append(boxes[:, n:])
        return DecoderOutput(torch.stack(det_logits), torch.stack(det_boxes), torch.stack(trk_logits),
                             torch.stack(trk_boxes), tgt[:, :n], tgt[:, n:], pre[:, :n], pre[:, n:])

    # ------------------------------------------------------------------------------ runtime tracker
    @staticmethod
    def assign_slots(born: Tensor, priority: Tensor, free: Tensor) -> tuple[Tensor, Tensor]:
        """Put the born candidates, best first, into the free slots in slot order.

        Args:
            born: (B, N) bool candidates; priority: (B, N) higher first; free: (B, K) bool.
        Returns:
            src: (B, K) int64 candidate index for each slot; take: (B, K) bool slot receives a candidate.
        """
        masked = torch.where(born, priority, torch.full_like(priority, -1e9))
        order = torch.sort(masked, dim=1, descending=True, stable=True)[1]
        free_rank = free.long().cumsum(1) - 1
        take = free & (free_rank < born.long().sum(1, keepdim=True))
        src = order.gather(1, free_rank.clamp(0, born.shape[1] - 1))
        return src, take

    @staticmethod
    def duplicate_tracks(boxes: Tensor, ids: Tensor, seen: Tensor, iou_thresh: float) -> Tensor:
        """Tracks to end because an older track sees the same object (not in the official code; off at 0).

        Args:
            boxes: (B, K, 4) cx, cy, w, h; ids: (B, K); seen: (B, K) bool, slots whose object was found this
            frame (a missed track's frozen box never ends another track, nor is ended).
        Returns:
            (B, K) bool: seen slots overlapping an older seen slot at IoU > iou_thresh.
        """
        xyxy = box_convert(boxes, "cxcywh", "xyxy")
        rows: list[Tensor] = []
        for b in range(boxes.shape[0]):  # torchvision's box_iou is not batched
            both = seen[b].unsqueeze(1) & seen[b].unsqueeze(0)
            older = ids[b].unsqueeze(0) < ids[b].unsqueeze(1)  # [i, j]: j is older than i
            rows.append((both & older & (box_iou(xyxy[b], xyxy[b]) > iou_thresh)).any(1))
        return torch.stack(rows)

    @staticmethod
    def gather_slots(x: Tensor, src: Tensor) -> Tensor:
        """(B, N, F) rows picked by src (B, K) -> (B, K, F)."""
        return x.gather(1, src.unsqueeze(-1).expand(src.shape[0], src.shape[1], x.shape[2]))

    def update_tracks(self, out: Tensor, pre: Tensor, boxes: Tensor, scores: Tensor, born: Tensor,
                      alive: Tensor, state: TrackState) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Newborn init, then the query updater; every write is gated on score > update_thresh.

        Args:
            out/pre: (B, K, D) final output / last-layer input per slot (newborns already gathered in);
            boxes: (B, K, 4); scores: (B, K); born: (B, K) bool; alive: (B, K) bool after births and deaths.
        Returns:
            query, ref, last_output, memory, each (B, K, ...).
        """
        last = torch.where(born.unsqueeze(-1), out, state.last_output)
        query = torch.where(born.unsqueeze(-1), out, state.query)
        ref = torch.where(born.unsqueeze(-1), boxes.detach(), state.ref)
        mem = LongTermState(state.memory, state.alive)
        mem = self.long_memory.forget(mem, state.alive & ~alive)
        mem = self.long_memory.birth(mem, pre, born)
        update = alive & (scores > self.update_thresh)
        new_query = self.query_updater(out, last, mem.memory, boxes, alive)
        u = update.unsqueeze(-1)
        query = torch.where(u, new_query, query)
        ref = torch.where(u, boxes.detach(), ref)
        last = torch.where(u, out, last)
        mem = self.long_memory.write(mem, out, update)
        keep = alive.unsqueeze(-1)
        return query * keep, ref * keep, last * keep, mem.memory

    def forward(self, frame: Tensor, state: TrackState) -> tuple[TrackOutput, TrackState]:
        """One streaming step.

        Args:
            frame: (B, 3, H, W) ImageNet-normalised image.
            state: :class:`TrackState` from :meth:`initial_state` or the previous step.
        Returns:
            (:class:`TrackOutput`, next :class:`TrackState`).
        """
        memory, shapes = self.encode(frame)
        dec = self.decode(memory, shapes, state.query, state.ref, state.alive)
        det_scores = dec.det_logits[-1].sigmoid().amax(-1)
        trk_scores = dec.trk_logits[-1].sigmoid().amax(-1)
        hit = trk_scores >= self.update_thresh
        misses = torch.where(state.alive & ~hit, state.misses + 1, torch.zeros_like(state.misses))
        dead = state.alive & (misses >= self.miss_tolerance)
        alive = state.alive & ~dead
        src, born = self.assign_slots(det_scores >= self.det_thresh, det_scores, ~alive)
        b3 = born.unsqueeze(-1)
        out = torch.where(b3, self.gather_slots(dec.det_out, src), dec.trk_out)
        pre = torch.where(b3, self.gather_slots(dec.det_pre, src), dec.trk_pre)
        boxes = torch.where(b3, self.gather_slots(dec.det_boxes[-1], src), dec.trk_boxes[-1])
        scores = torch.where(born, det_scores.gather(1, src), trk_scores)
        new_ids = state.next_id.unsqueeze(1) + born.long().cumsum(1) - 1
        ids = torch.where(born, new_ids, torch.where(alive, state.ids, torch.full_like(state.ids, -1)))
        next_id = state.next_id + born.long().sum(1)
        alive = alive | born
        if self.dedupe_iou > 0.0:
            dup = self.duplicate_tracks(boxes, ids, alive & (scores >= self.update_thresh), self.dedupe_iou)
            alive, born = alive & ~dup, born & ~dup
            ids = torch.where(alive, ids, torch.full_like(ids, -1))
        misses = torch.where(alive & ~born, misses, torch.zeros_like(misses))
        query, ref, last, mem = self.update_tracks(out, pre, boxes, scores, born, alive, state)
        h, w = frame.shape[2], frame.shape[3]
        area = boxes[..., 2] * boxes[..., 3] * float(h * w)
        keep = alive & (scores > self.result_thresh) & (area > self.min_area)
        output = TrackOutput(ids, boxes, scores, keep)
        return output, TrackState(query, ref, last, mem, alive, ids, misses, next_id)

    step = forward

    @torch.jit.export
    def detect(self, frame: Tensor) -> tuple[Tensor, Tensor]:
        """Detections alone (no track queries): boxes (B, N, 4) normalised cx, cy, w, h and scores (B, N).

        Used by the tracking-by-detection baseline on the same weights.
        """
        memory, shapes = self.encode(frame)
        b = frame.shape[0]
        empty = torch.zeros(b, 0, self.dim, device=frame.device)
        dec = self.decode(memory, shapes, empty, torch.zeros(b, 0, 4, device=frame.device),
                          torch.zeros(b, 0, dtype=torch.bool, device=frame.device))
        return dec.det_boxes[-1], dec.det_logits[-1].sigmoid().amax(-1)

    @torch.jit.ignore
    def forward_sequence(self, frames: Tensor, state: TrackState) -> tuple[list[TrackOutput], TrackState]:
        """Run the step over (B, T, 3, H, W) frames; the same function as calling :meth:`step` T times."""
        outputs = []
        for t in range(frames.shape[1]):
            out, state = self.forward(frames[:, t], state)
            outputs.append(out)
        return outputs, state


def boxes_to_xyxy_pixels(boxes: Tensor, width: float, height: float) -> Tensor:
    """(…, 4) normalised cx, cy, w, h -> pixel x1, y1, x2, y2."""
    scale = torch.tensor([width, height, width, height], dtype=boxes.dtype, device=boxes.device)
    return box_convert(boxes, "cxcywh", "xyxy") * scale
