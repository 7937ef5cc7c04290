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
    Stability (Collier & Beel 2018): head outputs are clipped to +-20, eps in cosine and sharpening.

    The initial memory is a fixed pseudo-random matrix, uniform in +-1/sqrt(N+M) as in pytorch-ntm (from which
    Conformer-NTM's heads derive). Collier & Beel's constant 1e-6 (``memory_init="constant"``) is kept as an
    option, but with content-only addressing it is a fixed point of symmetry: every row has the same cosine
    to any key, so every read and write is spread evenly and the rows stay identical (the memory acts as one
    leaky summary vector, and the read head gets no gradient).

    Args:
        input_dim: D, controller input size.
        num_slots: N, memory rows.
        slot_dim: M, row width.
        num_read_heads: R.
        num_write_heads: W.
        addressing: ``"content"`` or ``"full"``.
        memory_init: ``"random"`` (fixed, seed 0, not trained) or ``"constant"`` (1e-6 everywhere).
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
        memory_init: str = "random",
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
        # forward_sequence's order of the rows of [read_heads; write_heads]: all keys (head-major, read heads
        # first), add vectors, betas, erase vectors, then (full addressing) gates, shifts and gammas.
        self.register_buffer("head_order", self._head_order(), persistent=False)
        self.read_heads = nn.Linear(controller_dim, num_read_heads * self.address_size)
        self.write_heads = nn.Linear(controller_dim, num_write_heads * (self.address_size + 2 * slot_dim))
        for layer in (self.read_heads, self.write_heads):
            # pytorch-ntm's head init, which Conformer-NTM inherits.
            nn.init.xavier_uniform_(layer.weight, gain=1.4)
            nn.init.normal_(layer.bias, std=0.01)

    def _head_order(self) -> Tensor:
        """Row order of [read_heads; write_heads] used by :meth:`forward_sequence` (see ``head_order``)."""
        size, size_a = self.slot_dim, self.address_size
        starts = [r * size_a for r in range(self.num_read_heads)]
        write_start = self.num_read_heads * size_a
        starts += [write_start + w * (size_a + 2 * size) for w in range(self.num_write_heads)]
        writes = starts[self.num_read_heads :]
        order = [s + i for s in starts for i in range(size)]  # keys
        order += [s + size_a + size + i for s in writes for i in range(size)]  # adds
        order += [s + size for s in starts]  # betas
        order += [s + size_a + i for s in writes for i in range(size)]  # erase vectors
        if self.full_addressing:
            order += [s + size + 1 for s in starts]  # gates
            order += [s + size + 2 + i for s in starts for i in range(self.shift_taps)]  # shifts
            order += [s + size + 2 + self.shift_taps for s in starts]  # gammas
        return torch.tensor(order, dtype=torch.long)

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
    def write(self, state: NTMState, x: Tensor) -> NTMState:
        """Consume frame ``x`` (B, D): the state after :meth:`step`, whose reads :meth:`read` then returns.

        Reading and writing are one step in an NTM (both heads are driven by the same controller output, and
        a frame's read comes from the memory before its write), so ``write`` is ``step`` without its output.
        """
        return self.step(x, state)[1]

    @torch.jit.export
    def forget(self, state: NTMState, reset: Tensor) -> NTMState:
        """Return the rows where ``reset`` (B,) is True to :meth:`init`'s state; other rows unchanged."""
        fresh = self.init(reset.shape[0], state.memory.device)
        rows = reset.view(-1, 1, 1)
        return NTMState(
            torch.where(rows, fresh.memory.to(state.memory.dtype), state.memory),
            torch.where(rows, fresh.read_weights.to(state.read_weights.dtype), state.read_weights),
            torch.where(rows, fresh.write_weights.to(state.write_weights.dtype), state.write_weights),
            torch.where(rows, fresh.reads.to(state.reads.dtype), state.reads),
        )

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

        Computes what a loop of :meth:`step` computes (up to float rounding), vectorised as far as the
        recurrence allows: the controller's input term W_x x_t + b of every frame is one matmul before the
        loop (only W_r r_{t-1} is per frame, one addmm for both kinds of head), the head outputs come out of one
        reordered projection so each nonlinearity is one op, the memory's row norms are shared by read and
        write addressing, and the single-write-head update is M + w (a - e * M) (two ops).

        Args:
            x: (B, T, D) controller inputs.
            state: the state before the first frame.
            lengths: (B,) valid frames per row, or None when all T frames are valid.
        Returns:
            reads (B, T, R*M) (zeros on padded frames) and the state after each row's last valid frame.
        """
        batch, frames = x.shape[0], x.shape[1]
        if frames == 0:
            return x.new_zeros(batch, 0, self.num_read_heads * self.slot_dim), state
        size = self.slot_dim
        read_count = self.num_read_heads
        write_count = self.num_write_heads
        heads = read_count + write_count
        # Slices of the reordered head outputs (see _head_order): [keys | adds] share one tanh.
        keys_end = heads * size
        adds_end = keys_end + write_count * size
        betas_end = adds_end + heads
        erase_end = betas_end + write_count * size
        weight = torch.cat([self.read_heads.weight, self.write_heads.weight], 0).index_select(0, self.head_order)
        bias = torch.cat([self.read_heads.bias, self.write_heads.bias], 0).index_select(0, self.head_order)
        # (T, B, P): the input term of every frame in one matmul; per frame only the (R*M)-wide read feedback.
        inputs = F.linear(x.transpose(0, 1), weight[:, : self.input_dim], bias)
        feedback = weight[:, self.input_dim :].t()
        valid = torch.ones(1, 1, dtype=torch.bool, device=x.device)
        if lengths is not None:
            valid = torch.arange(frames, device=x.device).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)
        eps = torch.full((1, 1, 1), self.eps, dtype=x.dtype, device=x.device)
        memory = state.memory
        read_weights, write_weights = state.read_weights, state.write_weights
        reads = state.reads
        shift_index = torch.zeros(0, dtype=torch.long, device=x.device)
        if self.full_addressing:
            offsets = torch.arange(self.shift_taps, device=x.device) - self.shift_taps // 2
            rows = torch.arange(self.num_slots, device=x.device).unsqueeze(1)
            shift_index = ((rows - offsets.unsqueeze(0)) % self.num_slots).flatten()
        outputs: list[Tensor] = []
        for t in range(frames):
            params = torch.addmm(inputs[t], reads.flatten(1), feedback).clamp(-self.clip, self.clip)
            squashed = torch.tanh(params[:, :adds_end])
            key = squashed[:, :keys_end].view(batch, heads, size)
            add = squashed[:, keys_end:].view(batch, write_count, size)
            beta = F.softplus(params[:, adds_end:betas_end]).unsqueeze(-1)
            erase = torch.sigmoid(params[:, betas_end:erase_end]).view(batch, write_count, size)
            # content_addressing: softmax(beta k . M_i / (|k| |M_i| + eps)). The bmm and softmax of read and
            # write heads stay separate: with one head each they are single-row ops, which intra-op threading
            # leaves alone (over two rows of 256 they wake a second thread, which costs more than the op).
            row_norm = torch.linalg.vector_norm(memory, dim=-1).unsqueeze(1)
            key_norm = torch.linalg.vector_norm(key, dim=-1, keepdim=True)
            denominator = torch.addcmul(eps, key_norm, row_norm)  # (B, R+W, N): |k| |M_i| + eps
            memory_t = memory.transpose(1, 2)
            scaled_key = beta * key  # beta (k . M_i) as (beta k) . M_i
            new_read_weights = torch.softmax(
                torch.bmm(scaled_key[:, :read_count], memory_t) / denominator[:, :read_count], dim=-1)
            new_write_weights = torch.softmax(
                torch.bmm(scaled_key[:, read_count:], memory_t) / denominator[:, read_count:], dim=-1)
            if self.full_addressing:
                location = params[:, erase_end:]
                new_read_weights = self._shift_sharpen(location, new_read_weights, read_weights, shift_index, 0)
                new_write_weights = self._shift_sharpen(
                    location, new_write_weights, write_weights, shift_index, read_count)
            new_reads = torch.bmm(new_read_weights, memory)
            # erase_and_add: M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T.
            write_t = new_write_weights.transpose(1, 2)  # (B, N, W)
            if write_count == 1:
                # M_i (1 - w_i e) + w_i a = M_i + w_i (a - e M_i): two ops.
                new_memory = torch.addcmul(memory, write_t, torch.addcmul(add, erase, memory, value=-1.0))
            else:
                keep = (1.0 - new_write_weights.unsqueeze(-1) * erase.unsqueeze(-2)).prod(dim=1)
                new_memory = torch.baddbmm(memory * keep, write_t, add)
            if lengths is not None:
                rows_valid = valid[t]
                outputs.append(new_reads.flatten(1) * rows_valid.unsqueeze(-1).to(new_reads.dtype))
                mask = rows_valid.view(-1, 1, 1)
                memory = torch.where(mask, new_memory, memory)
                read_weights = torch.where(mask, new_read_weights, read_weights)
                write_weights = torch.where(mask, new_write_weights, write_weights)
                reads = torch.where(mask, new_reads, reads)
            else:
                outputs.append(new_reads.flatten(1))
                memory, read_weights, write_weights, reads = new_memory, new_read_weights, new_write_weights, new_reads
        return torch.stack(outputs, dim=1), NTMState(memory, read_weights, write_weights, reads)

    def _shift_sharpen(self, params: Tensor, content: Tensor, previous: Tensor, shift_index: Tensor,
                       first: int) -> Tensor:
        """Full addressing's gate, shift and sharpening (``shift_and_sharpen``) for heads first .. first+K-1.

        params: (B, H*(S+2)) [gates H | shifts H*S | gammas H] of all H = R + W heads; content, previous:
        (B, K, N) of the K heads of one kind.
        """
        batch, count = content.shape[0], content.shape[1]
        heads = self.num_read_heads + self.num_write_heads
        taps = self.shift_taps
        gate = torch.sigmoid(params[:, first : first + count]).unsqueeze(-1)
        shift = params[:, heads + first * taps : heads + (first + count) * taps].view(batch, count, taps)
        shift = torch.softmax(shift, dim=-1)
        gamma_at = heads * (1 + taps) + first
        gamma = 1.0 + F.softplus(params[:, gamma_at : gamma_at + count])
        gated = gate * content + (1.0 - gate) * previous
        rolled = gated.index_select(-1, shift_index).unflatten(-1, (self.num_slots, taps))
        shifted = (rolled * shift.unsqueeze(-2)).sum(-1)
        return torch.softmax(gamma.unsqueeze(-1) * shifted.clamp_min(self.eps).log(), dim=-1)

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

