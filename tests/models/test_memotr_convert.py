"""tools/convert_memotr.py: an official MeMOTR state dict (names as MCG-NJU/MeMOTR's DAB model writes them, built
here module by module) converts to this model's names, loads, and lands each tensor in the matching module."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from streammem.errors import InputError
from streammem.models.memotr.convert import convert_checkpoint, convert_state_dict
from streammem.tasks.track import load_model

TOOL = Path(__file__).resolve().parents[2] / "tools" / "convert_memotr.py"
SMALL = dict(backbone="resnet18", dim=32, ffn_dim=64, heads=4, enc_layers=1, dec_layers=2, num_levels=4,
             num_points=2, num_queries=5, num_classes=1)


def _linear(prefix, n_in, n_out, g):
    return {f"{prefix}.weight": torch.randn(n_out, n_in, generator=g), f"{prefix}.bias": torch.randn(n_out, generator=g)}


def _norm(prefix, d, g):
    return {f"{prefix}.weight": torch.randn(d, generator=g), f"{prefix}.bias": torch.randn(d, generator=g)}


def _mlp(prefix, dims, g):
    out = {}
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        out |= _linear(f"{prefix}.layers.{i}", a, b, g)
    return out


def _mha(prefix, d, g):
    return {f"{prefix}.in_proj_weight": torch.randn(3 * d, d, generator=g),
            f"{prefix}.in_proj_bias": torch.randn(3 * d, generator=g)} | _linear(f"{prefix}.out_proj", d, d, g)


def _msda(prefix, d, heads, levels, points, g):
    return (_linear(f"{prefix}.sampling_offsets", d, heads * levels * points * 2, g)
            | _linear(f"{prefix}.attention_weights", d, heads * levels * points, g)
            | _linear(f"{prefix}.value_proj", d, d, g) | _linear(f"{prefix}.output_proj", d, d, g))


def _ffn(prefix, d, f, g):
    return _linear(f"{prefix}.linear1", d, f, g) | _linear(f"{prefix}.linear2", f, d, g) | _norm(f"{prefix}.norm", d, g)


def official_state_dict(d=32, f=64, heads=4, levels=4, points=2, enc=1, dec=2, queries=5, classes=1, seed=0):
    """The keys and shapes of MCG-NJU/MeMOTR's MeMOTR(use_dab=True, with_box_refine=True).state_dict()."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    resnet = torchvision.models.resnet18(weights=None).state_dict()  # IntermediateLayerGetter up to layer4
    for name, tensor in resnet.items():
        if not name.startswith("fc.") and not name.endswith("num_batches_tracked"):
            sd[f"backbone.backbone.backbone.{name}"] = torch.randn(tensor.shape, generator=g)
    for i, c in enumerate([128, 256, 512]):
        sd |= {f"feature_projs.{i}.0.weight": torch.randn(d, c, 1, 1, generator=g),
               f"feature_projs.{i}.0.bias": torch.randn(d, generator=g)} | _norm(f"feature_projs.{i}.1", d, g)
    sd |= {"feature_projs.3.0.weight": torch.randn(d, 512, 3, 3, generator=g),
           "feature_projs.3.0.bias": torch.randn(d, generator=g)} | _norm("feature_projs.3.1", d, g)
    sd["transformer.level_embed"] = torch.randn(levels, d, generator=g)
    for i in range(enc):
        p = f"transformer.encoder.layers.{i}"
        sd |= (_msda(f"{p}.self_attn", d, heads, levels, points, g) | _norm(f"{p}.norm1", d, g)
               | _linear(f"{p}.linear1", d, f, g) | _linear(f"{p}.linear2", f, d, g) | _norm(f"{p}.norm2", d, g))
    for i in range(dec):
        p = f"transformer.decoder.layers.{i}"
        sd |= (_mha(f"{p}.self_attn", d, g) | _norm(f"{p}.norm2", d, g)
               | _msda(f"{p}.cross_attn", d, heads, levels, points, g) | _norm(f"{p}.norm1", d, g)
               | _linear(f"{p}.linear1", d, f, g) | _linear(f"{p}.linear2", f, d, g) | _norm(f"{p}.norm3", d, g))
    sd |= _mlp("transformer.decoder.query_scale", [d, d, d], g) | _mlp("transformer.decoder.ref_point_head",
                                                                       [2 * d, d, d], g)
    for i in range(dec):
        sd |= _linear(f"class_embed.{i}", d, classes, g) | _mlp(f"bbox_embed.{i}", [d, d, d, 4], g)
    for i in range(dec):  # set_refine_bbox_embed: the decoder holds the same box heads
        for name in [k for k in sd if k.startswith(f"bbox_embed.{i}.")]:
            sd[f"transformer.decoder.{name}"] = sd[name]
    sd["det_anchor"] = torch.randn(queries, 4, generator=g)
    sd["det_query_embed"] = torch.randn(queries, d, generator=g)
    q = "query_updater"
    sd |= (_mlp(f"{q}.confidence_weight_net.0", [d, d, d], g) | _mlp(f"{q}.short_memory_fusion", [2 * d, 2 * d, d], g)
           | _mha(f"{q}.memory_attn", d, g) | _norm(f"{q}.memory_norm", d, g) | _ffn(f"{q}.memory_ffn", d, f, g)
           | _norm(f"{q}.query_feat_norm", d, g) | _ffn(f"{q}.query_feat_ffn", d, f, g)
           | _mlp(f"{q}.query_pos_head", [2 * d, d, d], g))
    return sd


def test_an_official_checkpoint_converts_and_each_tensor_lands_in_its_module(tmp_path):
    official = official_state_dict()
    source = tmp_path / "memotr_dancetrack.pth"
    torch.save({"model": official, "optimizer": None, "scheduler": None, "states": {"epoch": 20}}, source)
    out = convert_checkpoint(source, tmp_path / "converted.safetensors", "paper", **SMALL)
    model = load_model(out)
    pairs = {
        "backbone.backbone.backbone.conv1.weight": model.backbone.stem[0].weight,
        "backbone.backbone.backbone.bn1.running_var": model.backbone.stem[1].running_var,
        "backbone.backbone.backbone.layer3.1.conv2.weight": model.backbone.layer3[1].conv2.weight,
        "feature_projs.3.1.weight": model.input_proj[3][1].weight,
        "transformer.level_embed": model.level_embed,
        "transformer.encoder.layers.0.self_attn.sampling_offsets.weight": model.encoder[0].attn.sampling_offsets.weight,
        "transformer.encoder.layers.0.norm1.bias": model.encoder[0].norm.bias,
        "transformer.encoder.layers.0.norm2.bias": model.encoder[0].ffn.norm.bias,
        "transformer.decoder.layers.1.self_attn.in_proj_weight": model.decoder[1].self_attn.in_proj_weight,
        "transformer.decoder.layers.1.norm2.weight": model.decoder[1].norm_self.weight,
        "transformer.decoder.layers.1.norm1.weight": model.decoder[1].norm_cross.weight,
        "transformer.decoder.layers.1.norm3.weight": model.decoder[1].ffn.norm.weight,
        "transformer.decoder.layers.0.linear2.weight": model.decoder[0].ffn.linear2.weight,
        "transformer.decoder.query_scale.layers.1.weight": model.query_scale.layers[1].weight,
        "transformer.decoder.ref_point_head.layers.0.weight": model.ref_point_head.layers[0].weight,
        "class_embed.1.bias": model.class_embed[1].bias,
        "bbox_embed.0.layers.2.weight": model.bbox_embed[0].layers[2].weight,
        "det_anchor": model.det_anchor.weight,
        "det_query_embed": model.det_content.weight,
        "query_updater.confidence_weight_net.0.layers.1.weight": model.query_updater.confidence_weight_net.layers[1].weight,
        "query_updater.memory_attn.out_proj.weight": model.query_updater.memory_attn.out_proj.weight,
        "query_updater.query_feat_ffn.linear1.bias": model.query_updater.query_feat_ffn.linear1.bias,
        "query_updater.query_pos_head.layers.0.weight": model.query_updater.query_pos_head.layers[0].weight,
    }
    for name, tensor in pairs.items():
        assert torch.equal(official[name], tensor), name
    renamed = convert_state_dict(official)
    assert len(renamed) == len(official) - sum(k.startswith("transformer.decoder.bbox_embed") for k in official)
    assert all(torch.equal(renamed[k], v) for k, v in model.state_dict().items())  # nothing left at its initial value


@pytest.mark.slow  # builds the paper config (ResNet-50, 300 queries) in a fresh interpreter
def test_the_tool_refuses_a_checkpoint_of_another_config_in_one_line(tmp_path):
    source = tmp_path / "official.pth"
    torch.save({"model": official_state_dict()}, source)
    done = subprocess.run([sys.executable, str(TOOL), str(source), str(tmp_path / "w.safetensors")],
                          capture_output=True, text=True, timeout=300)
    # the paper config (ResNet-50, 256-d, 300 queries) is not this small state dict's
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "does not match the MeMOTR paper config" in done.stderr and not (tmp_path / "w.safetensors").exists()


def test_deformable_detr_variant_and_unknown_names_are_refused():
    with pytest.raises(InputError, match="query_updater.linear_pos1.weight.*only DAB checkpoints convert"):
        convert_state_dict({"query_updater.linear_pos1.weight": torch.zeros(2, 2)})
    with pytest.raises(InputError, match="unknown official MeMOTR parameter 'something.else'"):
        convert_state_dict({"something.else": torch.zeros(1)})


def test_a_box_head_alias_that_differs_from_its_head_is_refused():
    sd = {"bbox_embed.0.layers.0.weight": torch.zeros(2, 2),
          "transformer.decoder.bbox_embed.0.layers.0.weight": torch.ones(2, 2)}
    with pytest.raises(InputError, match="differs from 'bbox_embed.0.layers.0.weight'"):
        convert_state_dict(sd)


def test_a_checkpoint_carrying_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    source = tmp_path / "evil.pth"
    torch.save({"model": {"det_anchor": Payload()}}, source)
    with pytest.raises(InputError, match="refused by torch.load weights_only"):
        convert_checkpoint(source, tmp_path / "x.safetensors")
