"""Shared memory components over explicit, fixed-size states (NamedTuples of tensors, TorchScript-able).

The stateful components (MemoryQueue, GatedMemory, KNNMemory, LongTermMemory, NTMMemory, MemoryBank) expose
``init(batch, device) -> state``, ``read(state[, query])``, ``write(state, ...) -> state`` and
``forget(state, reset) -> state``, where ``reset`` (B,) returns whole rows (streams) to their initial state and
leaves the other rows untouched. Where they differ, and why:

- ``read`` takes a query only where the component does the retrieval: GatedMemory (attention over its slots)
  and KNNMemory (top-k by dot product); MemoryQueue, MemoryBank, LongTermMemory and NTMMemory return what
  they hold (the caller's attention, or the NTM's own step, does the addressing).
- NTMMemory reads and writes in one ``step(x, state)`` (both heads are driven by the same controller output);
  ``write(state, x)`` is that step's new state and ``read(state)`` its read vectors.
- LongTermMemory also frees single track slots (``forget`` with a (B, K) mask) and starts them (``birth``).
- MemoryItems holds learned prototypes, not a per-stream state: it only has ``read(query)``.

Models take their memory by a config field, every other part unchanged: MATR ``memory`` = queue | gated |
knn | none, Conformer-NTM ``memory`` = ntm | gated | knn | none, MeMOTR ``memory`` = ema | gated | none.
``none`` is the ablation (MATR keeps its queue length and start head and never writes).
"""

from streammem.memory.bank import MemoryBank
from streammem.memory.gated import GatedMemory, GatedState
from streammem.memory.items import MemoryItems, addressing_entropy
from streammem.memory.knn import KNNMemory, KNNState
from streammem.memory.long_term import LongTermMemory, LongTermState
from streammem.memory.memory_attention import MemoryAugmentedAttention
from streammem.memory.ntm import NTMMemory, NTMState, content_addressing, erase_and_add, shift_and_sharpen
from streammem.memory.queue import MemoryQueue, QueueState

__all__ = [
    "GatedMemory",
    "GatedState",
    "KNNMemory",
    "KNNState",
    "LongTermMemory",
    "LongTermState",
    "MemoryAugmentedAttention",
    "MemoryBank",
    "MemoryItems",
    "MemoryQueue",
    "NTMMemory",
    "NTMState",
    "QueueState",
    "addressing_entropy",
    "content_addressing",
    "erase_and_add",
    "shift_and_sharpen",
]
