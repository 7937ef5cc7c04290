import pytest
import torch
import torch.nn.functional as F

from streammem.nn.deformable_attention import MSDeformAttn, ms_deform_attn


def test_single_point_samples_the_value_at_the_location():
    # one level, one head, one point: the output is the bilinear sample of the value map
    value = torch.arange(12.0).view(1, 12, 1, 1)  # (B, S, H, Dh), map 3x4
    loc = torch.tensor([[[[[[0.375, 0.5]]]]]])  # (B, Q, H, L, P, 2): x between columns 1 and 2, y on row 1
    out = ms_deform_attn(value, [(3, 4)], loc, torch.ones(1, 1, 1, 1, 1))
    assert out.item() == pytest.approx(5.0)


def test_matches_grid_sample_reference_for_two_levels():
    torch.manual_seed(0)
    shapes = [(4, 5), (2, 3)]
    value = torch.randn(2, 26, 2, 3)
    loc = torch.rand(2, 7, 2, 2, 3, 2)
    w = torch.rand(2, 7, 2, 2, 3)
    out = ms_deform_attn(value, shapes, loc, w)
    ref = torch.zeros(2, 7, 2, 3)
    start = 0
    for lvl, (h, wd) in enumerate(shapes):
        v = value[:, start : start + h * wd].permute(0, 2, 3, 1).reshape(4, 3, h, wd)
        start += h * wd
        g = 2 * loc[:, :, :, lvl].permute(0, 2, 1, 3, 4).reshape(4, 7, 3, 2) - 1
        s = F.grid_sample(v, g, align_corners=False).view(2, 2, 3, 7, 3)  # B, H, Dh, Q, P
        ref += (s * w[:, :, :, lvl].permute(0, 2, 1, 3)[:, :, None]).sum(-1).permute(0, 3, 1, 2)
    assert torch.allclose(out, ref.reshape(2, 7, 6), atol=1e-5)


@pytest.mark.export
@pytest.mark.parametrize("ref_dim", [2, 4])
def test_module_scripts_and_matches_eager(ref_dim):
    torch.manual_seed(0)
    attn = MSDeformAttn(32, num_levels=2, num_heads=4, num_points=2).eval()
    shapes = [(6, 8), (3, 4)]
    value, query = torch.randn(1, 60, 32), torch.randn(1, 5, 32)
    ref = torch.rand(1, 5, 2, ref_dim)
    scripted = torch.jit.script(attn)
    assert torch.allclose(scripted(query, ref, value, shapes), attn(query, ref, value, shapes), atol=1e-6)
