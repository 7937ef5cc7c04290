"""Shared memory components: each keeps an explicit, fixed-size state with read/write/forget.

Swap one for another where shapes allow; that is how the memory ablations are run.
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
