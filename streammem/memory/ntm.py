"""Neural Turing Machine memory with a feed-forward controller (Conformer-NTM).

Legend: B batch (independent streams), T time (frames), D input dim, N memory rows (slots),
M row width (slot dim), R read heads, W write heads, H heads of one kind (R or W), S shift taps.
"""

from typing import Final, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "NTMMemory",
    "NTMState",
    "content_addressing",
    "erase_and_add",
    "shift_and_sharpen",
]


class NTMState(NamedTuple):
    """State of an :class:`NTMMemory`.

    memory: (B, N, M) memory matrix.
    read_weights: (B, R, N) previous read weightings (location addressing starts from them).
    write_weights: (B, W, N) previous write weightings.
    reads: (B, R, M) previous read vectors (fed back to the heads).
    """

    memory: Tensor
    read_weights: Tensor
    write_weights: Tensor
    reads: Tensor


def content_addressing(key: Tensor, beta: Tensor, memory: Tensor, eps: float = 1e-8) -> Tensor:
    """Graves 2014, eq. 5-6: w_i = softmax_i(beta * cos(k, M_i)).

    Args:
        key: (B, H, M) keys.
        beta: (B, H) key strengths, >= 0.
        memory: (B, N, M).
        eps: keeps the cosine finite for zero rows or keys.
    Returns:
        (B, H, N) weightings, each summing to 1.
    """
    dots = torch.matmul(key, memory.transpose(1, 2))
    key_norm = torch.linalg.vector_norm(key, dim=-1).unsqueeze(-1)
    row_norm = torch.linalg.vector_norm(memory, dim=-1).unsqueeze(1)
    norms = key_norm * row_norm
    return torch.softmax(beta.unsqueeze(-1) * dots / (norms + eps), dim=-1)


def shift_and_sharpen(weights: Tensor, shift: Tensor, gamma: Tensor, eps: float = 1e-8) -> Tensor:
    """Graves 2014, eq. 8-9: circular convolution with the shift kernel, then sharpening.

    Args:
        weights: (B, H, N) gated weightings w^g.
        shift: (B, H, S) distribution over shifts -S//2 .. S//2 (S odd).
        gamma: (B, H) sharpening exponents, >= 1.
        eps: floor before the log, so zero weights stay finite.
    Returns:
        (B, H, N) weightings w_i = w~_i^gamma / sum_j w~_j^gamma, with w~_i = sum_k s_k w^g_{(i-k) mod N}.
    """
    num_rows = weights.shape[-1]
    taps = shift.shape[-1]
    offsets = torch.arange(taps, device=weights.device) - taps // 2
    index = (torch.arange(num_rows, device=weights.device).unsqueeze(1) - offsets.unsqueeze(0)) % num_rows
    rolled = weights.index_select(-1, index.flatten()).unflatten(-1, (num_rows, taps))
    shifted = (rolled * shift.unsqueeze(-2)).sum(-1)
    # softmax of gamma*log(w~) is w~^gamma normalised, without underflow for large gamma.
    return torch.softmax(gamma.unsqueeze(-1) * shifted.clamp_min(eps).log(), dim=-1)


def erase_and_add(memory: Tensor, weights: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Graves 2014, eq. 3-4: M <- M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T.

    Args:
        memory: (B, N, M).
        weights: (B, W, N) write weightings.
        erase: (B, W, M) erase vectors in [0, 1].
        add: (B, W, M) add vectors.
    Returns:
        (B, N, M) the written memory.
    """
    keep = (1.0 - weights.unsqueeze(-1) * erase.unsqueeze(-2)).prod(dim=1)
    return memory * keep + torch.matmul(weights.transpose(1, 2), add)


class NTMMemory(nn.Module):
    """NTM memory stepped once per frame: read, then write (erase-then-add).

    Conformer-NTM (Carvalho & Abad, Interspeech 2023) drives the heads with one Linear layer on
    [x_t; r_{t-1}] (no LSTM controller). Addressing ``"content"`` is what the paper's results used;
    ``"full"`` is the Graves et al. 2014 chain (content -> gate -> circular shift -> sharpening).
    Stability (Collier & Beel 2018): memory starts at a constant 1e-6, head outputs are clipped to
    +-20, eps in cosine and sharpening.

    With content-only addressing a constant initial memory is a fixed point of symmetry: every row has the
    same cosine to any key, so every read and write is spread evenly and the rows stay identical (the
    memory acts as one leaky summary vector, and the read head gets no gradient). ``memory_init="random"``
    starts from a fixed pseudo-random matrix, uniform in +-1/sqrt(N+M) as pytorch-ntm does, which breaks it.

    Args:
        input_dim: D, controller input size.
        num_slots: N, memory rows.
        slot_dim: M, row width.
        num_read_heads: R.
        num_write_heads: W.
        addressing: ``"content"`` or ``"full"``.
        memory_init: ``"constant"`` (1e-6 everywhere) or ``"random"`` (fixed, seed 0, not trained).
    """

    input_dim: Final[int]
    num_slots: Final[int]
    slot_dim: Final[int]
    num_read_heads: Final[int]
    num_write_heads: Final[int]
    full_addressing: Final[bool]
    address_size: Final[int]
    shift_taps: Final[int]
    init_value: Final[float]
    clip: Final[float]
    eps: Final[float]

    def __init__(
        self,
        input_dim: int,
        num_slots: int = 256,
        slot_dim: int = 10,
        num_read_heads: int = 1,
        num_write_heads: int = 1,
        addressing: str = "content",
        memory_init: str = "constant",
    ) -> None:
        super().__init__()
        if addressing not in ("content", "full"):
            raise ValueError(f"NTMMemory: addressing must be 'content' or 'full', got {addressing!r}")
        if memory_init not in ("constant", "random"):
            raise ValueError(f"NTMMemory: memory_init must be 'constant' or 'random', got {memory_init!r}")
        self.input_dim = input_dim
        self.num_slots = num_slots
        self.slot_dim = slot_dim
        self.num_read_heads = num_read_heads
        self.num_write_heads = num_write_heads
        self.full_addressing = addressing == "full"
        self.shift_taps = 3  # shift range 1, as in Graves 2014 and the released model
        self.init_value = 1e-6
        if memory_init == "random":
            bound = 1.0 / float(num_slots + slot_dim) ** 0.5
            generator = torch.Generator().manual_seed(0)
            initial = (torch.rand(num_slots, slot_dim, generator=generator) * 2 - 1) * bound
        else:
            initial = torch.full((num_slots, slot_dim), self.init_value)
        # Not persistent: derived from the config, so checkpoints of either init load alike.
        self.register_buffer("initial_memory", initial, persistent=False)
        self.clip = 20.0
        self.eps = 1e-8
        # key + beta; the full chain adds gate g, shift s and gamma (no unused outputs in content mode).
        self.address_size = slot_dim + 1 + (2 + self.shift_taps if self.full_addressing else 0)
        controller_dim = input_dim + num_read_heads * slot_dim
        self.read_heads = nn.Linear(controller_dim, num_read_heads * self.address_size)
        self.write_heads = nn.Linear(controller_dim, num_write_heads * (self.address_size + 2 * slot_dim))
        for layer in (self.read_heads, self.write_heads):
            # pytorch-ntm's head init, which Conformer-NTM inherits.
            nn.init.xavier_uniform_(layer.weight, gain=1.4)
            nn.init.normal_(layer.bias, std=0.01)

    def forward(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        return self.step(x, state)

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> NTMState:
        """Fresh state: the initial memory, reads zero, previous weightings one-hot at row 0."""
        dtype = self.read_heads.weight.dtype
        memory = self.initial_memory.to(device=device, dtype=dtype).unsqueeze(0).repeat(batch_size, 1, 1)
        read_weights = torch.zeros(
            batch_size, self.num_read_heads, self.num_slots, dtype=dtype, device=device
        )
        write_weights = torch.zeros(
            batch_size, self.num_write_heads, self.num_slots, dtype=dtype, device=device
        )
        read_weights[:, :, 0] = 1.0
        write_weights[:, :, 0] = 1.0
        reads = torch.zeros(batch_size, self.num_read_heads, self.slot_dim, dtype=dtype, device=device)
        return NTMState(memory, read_weights, write_weights, reads)

    @torch.jit.export
    def read(self, state: NTMState) -> Tensor:
        """Return the last read vectors flattened, (B, R*M)."""
        return state.reads.flatten(1)

    @torch.jit.export
    def step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One frame: heads on [x; r_{t-1}], read from the memory before this frame's write, then write.

        Args:
            x: (B, D) controller input for this frame.
            state: the state after the previous frame.
        Returns:
            reads (B, R*M) this frame's read vectors, and the new state.
        """
        batch = x.shape[0]
        controller = torch.cat([x, state.reads.flatten(1)], dim=-1)
        read_params = (
            self.read_heads(controller).clamp(-self.clip, self.clip).view(batch, self.num_read_heads, -1)
        )
        write_params = (
            self.write_heads(controller).clamp(-self.clip, self.clip).view(batch, self.num_write_heads, -1)
        )
        read_weights = self._address(read_params, state.read_weights, state.memory)
        reads = torch.matmul(read_weights, state.memory)
        write_weights = self._address(write_params, state.write_weights, state.memory)
        erase = torch.sigmoid(write_params[..., self.address_size : self.address_size + self.slot_dim])
        add = torch.tanh(write_params[..., self.address_size + self.slot_dim :])
        memory = erase_and_add(state.memory, write_weights, erase, add)
        return reads.flatten(1), NTMState(memory, read_weights, write_weights, reads)

    @torch.jit.export
    def forward_sequence(
        self, x: Tensor, state: NTMState, lengths: Tensor | None = None
    ) -> tuple[Tensor, NTMState]:
        """Run :meth:`step` over time; frames at or past ``lengths`` leave the state untouched.

        Args:
            x: (B, T, D) controller inputs.
            state: the state before the first frame.
            lengths: (B,) valid frames per row, or None when all T frames are valid.
        Returns:
            reads (B, T, R*M) (zeros on padded frames) and the state after each row's last valid frame.
        """
        outputs: list[Tensor] = []
        for t in range(x.shape[1]):
            reads, new_state = self.step(x[:, t], state)
            if lengths is not None:
                valid = lengths > t
                state = _where_rows(valid, new_state, state)
                reads = reads * valid.unsqueeze(-1).to(reads.dtype)
            else:
                state = new_state
            outputs.append(reads)
        if len(outputs) == 0:
            return x.new_zeros(x.shape[0], 0, self.num_read_heads * self.slot_dim), state
        return torch.stack(outputs, dim=1), state

    def _address(self, params: Tensor, previous: Tensor, memory: Tensor) -> Tensor:
        """Head weightings (B, H, N) from raw head outputs ``params`` (B, H, P) and ``previous`` (B, H, N)."""
        size = self.slot_dim
        key = torch.tanh(params[..., :size])
        beta = F.softplus(params[..., size])
        weights = content_addressing(key, beta, memory, self.eps)
        if self.full_addressing:
            gate = torch.sigmoid(params[..., size + 1]).unsqueeze(-1)
            shift = torch.softmax(params[..., size + 2 : size + 2 + self.shift_taps], dim=-1)
            gamma = 1.0 + F.softplus(params[..., size + 2 + self.shift_taps])
            weights = shift_and_sharpen(gate * weights + (1.0 - gate) * previous, shift, gamma, self.eps)
        return weights


def _where_rows(rows: Tensor, chosen: NTMState, other: NTMState) -> NTMState:
    """Per row b: ``chosen`` where ``rows[b]`` (B,) else ``other``."""
    mask = rows.view(-1, 1, 1)
    return NTMState(
        torch.where(mask, chosen.memory, other.memory),
        torch.where(mask, chosen.read_weights, other.read_weights),
        torch.where(mask, chosen.write_weights, other.write_weights),
        torch.where(mask, chosen.reads, other.reads),
    )
