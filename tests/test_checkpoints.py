import json

import pytest
import torch

from streammem.checkpoints import load_checkpoint, load_metadata, load_weights, save_checkpoint, sidecar_path
from streammem.errors import InputError


def _model(width: int = 4) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.LayerNorm(width))
    model.register_buffer("cmvn_mean", torch.arange(3.0))
    return model


def _save(tmp_path, model):
    return save_checkpoint(
        tmp_path / "m.safetensors", model, model_name="toy", config={"width": 4},
        training_command="streammem train toy", data_seed=7, metrics={"WER": 1.5},
    )


def test_round_trip_restores_every_tensor_and_metadata(tmp_path):
    src = _model()
    path = _save(tmp_path, src)
    dst = _model()
    for p in dst.parameters():
        torch.nn.init.zeros_(p)
    meta = load_weights(dst, path, expect_model="toy")
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert meta["config"] == {"width": 4}
    assert meta["data_seed"] == 7 and meta["metrics"] == {"WER": 1.5}
    assert meta["training_command"] == "streammem train toy"


def test_missing_weights_file_names_it(tmp_path):
    with pytest.raises(InputError, match=r"nope\.safetensors: weights file not found"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_truncated_file_is_a_one_line_error(tmp_path):
    path = _save(tmp_path, _model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="unreadable or truncated") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_pickle_files_are_refused(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(_model().state_dict(), path)
    with pytest.raises(InputError, match="pickled checkpoints are not loaded"):
        load_checkpoint(path)


def test_mismatched_config_reports_shape(tmp_path):
    path = _save(tmp_path, _model(4))
    with pytest.raises(InputError, match=r"shape of '0.bias' is \(4,\), model has \(5,\)"):
        load_weights(_model(5), path)


def test_wrong_model_name_and_missing_sidecar(tmp_path):
    path = _save(tmp_path, _model())
    with pytest.raises(InputError, match="checkpoint is for model 'toy', expected 'matr'"):
        load_weights(_model(), path, expect_model="matr")
    sidecar_path(path).unlink()
    with pytest.raises(InputError, match="config file missing"):
        load_checkpoint(path)


def test_corrupt_sidecar(tmp_path):
    path = _save(tmp_path, _model())
    sidecar_path(path).write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_checkpoint(path)
    sidecar_path(path).write_text(json.dumps({"model": "toy"}))
    with pytest.raises(InputError, match="missing key 'config'"):
        load_checkpoint(path)


def test_new_prefixes_may_be_absent_but_nothing_else(tmp_path):
    path = _save(tmp_path, _model(4))
    grown = _model(4)
    grown.add_module("extra", torch.nn.Linear(2, 2))
    kept = grown.extra.weight.clone()
    with pytest.raises(InputError, match=r"missing \['extra.bias'"):
        load_weights(grown, path)
    load_weights(grown, path, new_prefixes=("extra.",))
    assert torch.equal(grown.extra.weight, kept)
    assert torch.equal(grown[0].weight, _model(4)[0].weight)
    with pytest.raises(InputError, match=r"missing \['extra.bias'"):
        load_weights(grown, path, new_prefixes=("other.",))


def test_metadata_alone_does_not_read_the_tensors(tmp_path):
    path = _save(tmp_path, _model())
    path.write_bytes(path.read_bytes()[:10])  # tensors unreadable: only load_checkpoint/load_weights notice
    meta = load_metadata(path)
    assert meta["model"] == "toy" and meta["config"] == {"width": 4}
    sidecar_path(path).unlink()
    with pytest.raises(InputError, match="config file missing"):
        load_metadata(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused_at_load_naming_file_and_tensor(tmp_path, bad):
    model = _model()
    with torch.no_grad():
        model[0].weight[1, 2] = bad
    path = _save(tmp_path, model)
    with pytest.raises(InputError, match=r"m\.safetensors: tensor '0\.weight' holds NaN or infinite values") as err:
        load_weights(_model(), path)
    assert "\n" not in str(err.value)


def test_wrong_shapes_are_a_one_line_error_naming_the_tensor(tmp_path):
    path = _save(tmp_path, _model(width=4))
    with pytest.raises(InputError, match=r"m\.safetensors: does not match .*shape of '0\.bias' is \(4,\), model has \(5,\)") as err:
        load_weights(_model(width=5), path)
    assert "\n" not in str(err.value)


def test_backbone_weights_from_a_torchvision_state_dict(tmp_path):
    import torchvision

    from streammem.checkpoints import load_backbone_weights
    from streammem.models.memotr.model import _ResNetBackbone

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, path)
    backbone = _ResNetBackbone("resnet18")
    count = load_backbone_weights(backbone, path, _ResNetBackbone.torchvision_name)
    assert count > 60
    assert torch.equal(backbone.stem[0].weight, reference.conv1.weight)
    assert torch.equal(backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert torch.equal(backbone.stem[1].running_var, reference.bn1.running_var)
    with pytest.raises(InputError, match="has shape|missing"):
        load_backbone_weights(_ResNetBackbone("resnet50"), path, _ResNetBackbone.torchvision_name)


def test_backbone_weights_that_carry_code_are_refused(tmp_path):
    import pickle

    from streammem.checkpoints import load_backbone_weights
    from streammem.models.memotr.model import _ResNetBackbone

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": Payload()}))
    with pytest.raises(InputError, match="refused by torch.load weights_only"):
        load_backbone_weights(_ResNetBackbone("resnet18"), path, _ResNetBackbone.torchvision_name)


def test_train_track_backbone_weights_need_a_resnet_config(tmp_path, capsys):
    from streammem.cli import main

    path = tmp_path / "r.pth"
    torch.save({}, path)
    assert main(["train", "track", "--backbone-weights", str(path), "--data", str(tmp_path / "d"),
                 "--out", str(tmp_path / "w.safetensors")]) == 2
    assert "not a torchvision ResNet: add --set backbone=resnet18" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before any data is generated
