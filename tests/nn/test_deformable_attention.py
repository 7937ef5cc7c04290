import math

import pytest
import torch

from streammem.nn.deformable_attention import MSDeformAttn, ms_deform_attn


def test_single_point_samples_the_value_at_the_location():
    # one level, one head, one point: the output is the bilinear sample of the value map
    value = torch.arange(12.0).view(1, 12, 1, 1)  # (B, S, H, Dh), map 3x4
    loc = torch.tensor([[[[[[0.375, 0.5]]]]]])  # (B, Q, H, L, P, 2): x between columns 1 and 2, y on row 1
    out = ms_deform_attn(value, [(3, 4)], loc, torch.ones(1, 1, 1, 1, 1))
    assert out.item() == pytest.approx(5.0)


def _bilinear(grid: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Sample grid (h, w, C) at normalised (x, y) in pixel-centre convention, zeros outside: plain indexing."""
    h, w = grid.shape[0], grid.shape[1]
    px, py = x * w - 0.5, y * h - 0.5  # pixel i covers [i, i+1), its centre at normalised (i + 0.5) / w
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(grid.shape[2], dtype=torch.float64)
    for cy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for cx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= cy < h and 0 <= cx < w:
                out += wy * wx * grid[cy, cx].double()
    return out


def test_matches_plain_bilinear_interpolation_for_two_levels_inside_and_outside_the_map():
    torch.manual_seed(0)
    shapes = [(4, 5), (2, 3)]
    b, q, heads, levels, points, dh = 2, 4, 2, 2, 3, 3
    value = torch.randn(b, 26, heads, dh)
    loc = torch.rand(b, q, heads, levels, points, 2) * 1.4 - 0.2  # some points fall (partly) off the map
    w = torch.rand(b, q, heads, levels, points)
    out = ms_deform_attn(value, shapes, loc, w).view(b, q, heads, dh)
    starts = [0, 20]
    for bi in range(b):
        for qi in range(q):
            for hi in range(heads):
                expected = torch.zeros(dh, dtype=torch.float64)
                for li, (h, wd) in enumerate(shapes):
                    grid = value[bi, starts[li] : starts[li] + h * wd, hi].view(h, wd, dh)
                    for pi in range(points):
                        x, y = loc[bi, qi, hi, li, pi].tolist()
                        expected += float(w[bi, qi, hi, li, pi]) * _bilinear(grid, x, y)
                torch.testing.assert_close(out[bi, qi, hi].double(), expected, rtol=1e-5, atol=1e-5)


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
