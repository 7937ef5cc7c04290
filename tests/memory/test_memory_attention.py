"""Memory-augmented attention: plain multi-head attention without slots, one softmax over tokens + slots."""

import math

import pytest
import torch
from torch import nn

from streammem.memory import MemoryAugmentedAttention


def test_without_slots_it_is_torch_multihead_attention():
    module = MemoryAugmentedAttention(8, 2, num_slots=0)
    reference = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([module.q_proj.weight, module.k_proj.weight, module.v_proj.weight]))
        reference.in_proj_bias.copy_(torch.cat([module.q_proj.bias, module.k_proj.bias, module.v_proj.bias]))
        reference.out_proj.weight.copy_(module.out_proj.weight)
        reference.out_proj.bias.copy_(module.out_proj.bias)
    query, context = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    expected, _ = reference(query, context, context)
    torch.testing.assert_close(module(query, context), expected, rtol=1e-5, atol=1e-6)
    assert module.m_k is None and not any("m_" in name for name, _ in module.named_parameters())


def test_slots_join_the_tokens_in_one_softmax_with_meshed_memory_scaling():
    torch.manual_seed(0)
    module = MemoryAugmentedAttention(4, 1, num_slots=3)
    query, context = torch.randn(1, 2, 4), torch.randn(1, 5, 4)
    keys = torch.cat([module.k_proj(context)[0], module.m_k * math.sqrt(4)])
    values = torch.cat([module.v_proj(context)[0], module.m_v * math.sqrt(3)])
    weights = torch.softmax(module.q_proj(query)[0] @ keys.t() / 2.0, dim=-1)
    torch.testing.assert_close(module.attention_weights(query, context)[0, 0], weights)
    torch.testing.assert_close(module(query, context)[0], module.out_proj(weights @ values), rtol=1e-5, atol=1e-6)
    assert weights[:, 5:].sum() > 0  # the slots take part of the attention mass


def test_a_dominant_slot_replaces_the_tokens():
    module = MemoryAugmentedAttention(4, 1, num_slots=2)
    with torch.no_grad():
        module.q_proj.weight.zero_()
        module.q_proj.bias.fill_(1.0)
        module.k_proj.weight.zero_()
        module.k_proj.bias.zero_()
        module.m_k.zero_()
        module.m_k[0].fill_(10.0)  # every query matches slot 0 far better than any token
    out = module(torch.randn(2, 3, 4), torch.randn(2, 6, 4))
    slot_value = module.out_proj(module.m_v[0] * math.sqrt(2))
    torch.testing.assert_close(out, slot_value.expand_as(out), rtol=1e-4, atol=1e-5)


def test_slots_are_trained_by_backprop():
    module = MemoryAugmentedAttention(8, 2, num_slots=4)
    module(torch.randn(2, 3, 8), torch.randn(2, 3, 8)).pow(2).sum().backward()
    assert module.m_k.grad.abs().sum() > 0 and module.m_v.grad.abs().sum() > 0


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        MemoryAugmentedAttention(10, 3, 2)
    with pytest.raises(ValueError, match=">= 0"):
        MemoryAugmentedAttention(8, 2, -1)


def test_rows_are_independent(rows_independent):
    module = MemoryAugmentedAttention(8, 2, num_slots=4)
    with torch.no_grad():
        rows_independent(module, torch.randn(2, 3, 8), torch.randn(2, 5, 8))


@pytest.mark.export
@pytest.mark.parametrize("slots", [0, 3])
def test_scripted_matches_eager(device, scripted_matches, slots):
    module = MemoryAugmentedAttention(8, 2, num_slots=slots).to(device)
    query, context = torch.randn(2, 3, 8, device=device), torch.randn(2, 4, 8, device=device)
    scripted_matches(module, lambda m: [m(query, context), m.attention_weights(query, context)])
