"""``--amp bf16|fp16`` of eval, run and demo of tal, track, asr, anomaly and simulst: the step runs under
``torch.autocast`` and the outputs are still written (bfloat16 tensors become float32 where they leave the
model)."""

import json

import numpy as np
import pytest
import soundfile as sf

from streammem.cli import main
from streammem.models import weights_path
from streammem.tasks.anomaly import SAMPLE_IMAGES as ANOMALY_IMAGES
from streammem.tasks.anomaly import TEXTURE_WEIGHTS
from streammem.tasks.simulst import SAMPLE_AUDIO as SIMULST_TALK
from streammem.tasks.tal import SAMPLE_ANNOTATIONS
from streammem.tasks.track import SAMPLE_CLIP


def _actions(folder) -> list[dict]:
    return json.loads((folder / "actions.json").read_text())["actions"]


def test_tal_run_in_bf16_emits_the_float32_actions(tmp_path):
    np.save(tmp_path / "stream.npy", np.load(SAMPLE_ANNOTATIONS.with_suffix(".npy"))[:240])
    runs = {}
    for amp in ("fp32", "bf16"):
        runs[amp] = tmp_path / amp
        assert main(["run", "tal", str(tmp_path / "stream.npy"), "--weights", str(weights_path("matr")), "--threads",
                     "1", "--out", str(runs[amp])] + (["--amp", amp] if amp == "bf16" else [])) == 0
    fp32, bf16 = _actions(runs["fp32"]), _actions(runs["bf16"])
    assert fp32 and [(a["label"], a["emitted_at"]) for a in fp32] == [(a["label"], a["emitted_at"]) for a in bf16]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(fp32, bf16, strict=True)) < 0.02


def test_track_run_in_bf16_writes_tracks(tmp_path):
    assert main(["run", "track", str(SAMPLE_CLIP), "--max-frames", "3", "--no-window", "--amp", "bf16", "--threads",
                 "1", "--out", str(tmp_path)]) == 0
    rows = [line.split(",") for line in (tmp_path / "tracks.txt").read_text().splitlines()]
    assert rows and all(np.isfinite([float(v) for v in r[2:7]]).all() for r in rows)


def _speech(path, seconds: float = 2.0):
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32), 16000)
    return path


def test_asr_eval_in_bf16_decodes_and_records_the_precision(tmp_path):
    folder = tmp_path / "data" / "test" / "1" / "2"
    folder.mkdir(parents=True)
    _speech(folder / "1-2-0000.flac")
    (folder / "1-2.trans.txt").write_text("1-2-0000 HELLO WORLD\n")
    out = tmp_path / "m.json"
    assert main(["eval", "asr", "--data", str(tmp_path / "data"), "--long-split", "", "--mode", "full", "--decode",
                 "joint", "--beam", "2", "--amp", "bf16", "--threads", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["amp"] == "bf16" and set(result["hypotheses"]) == {"1-2-0000"}


@pytest.mark.parametrize("options, message", [(["--amp", "fp16"], "--amp: fp16 inference needs CUDA"),
                                              (["--amp", "bf16", "--int8"], "--amp: the int8 path")])
def test_asr_run_refuses_fp16_off_cuda_and_amp_with_int8_in_one_line(tmp_path, capsys, options, message):
    audio = _speech(tmp_path / "a.wav")
    assert main(["run", "asr", str(audio), "--device", "cpu", "--out", str(tmp_path / "out"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def _image_scores(folder) -> np.ndarray:
    rows = (folder / "scores.csv").read_text().splitlines()[1:]
    return np.array([float(row.rsplit(",", 1)[1]) for row in rows])


def test_anomaly_eval_in_bf16_scores_the_images_as_in_float32(tmp_path):
    from streammem.data.synthetic_anomaly import TextureConfig, write_textures

    small = TextureConfig(size=32, period=4.0, train=1, test_good=4, test_per_defect=2)
    data = write_textures(tmp_path / "data", small, seed=3)
    runs = {}
    for amp in ("fp32", "bf16"):
        runs[amp] = tmp_path / amp
        assert main(["eval", "anomaly", "--data", str(data), "--weights", str(TEXTURE_WEIGHTS), "--threads", "1",
                     "--out", str(runs[amp])] + (["--amp", amp] if amp == "bf16" else [])) == 0
    fp32, bf16 = _image_scores(runs["fp32"]), _image_scores(runs["bf16"])
    metrics = {amp: json.loads((runs[amp] / "metrics.json").read_text()) for amp in runs}
    assert metrics["bf16"]["amp"] == "bf16" and metrics["fp32"]["amp"] is None
    # bfloat16 keeps 8 significant bits (0.4 % per rounding); the image scores, means of squared reconstruction
    # errors accumulated in float32, stay within a few roundings of float32's
    assert len(bf16) == len(fp32) == metrics["fp32"]["images"] and np.allclose(bf16, fp32, rtol=0.02, atol=0)
    # 4 normal x 8 anomalous images: one normal-anomalous pair swapped by rounding moves the AUROC 3.1 points
    assert abs(metrics["bf16"]["image_AUROC"] - metrics["fp32"]["image_AUROC"]) <= 5.0


def test_simulst_run_in_bf16_emits_nearly_the_words_of_float32(tmp_path):
    from difflib import SequenceMatcher

    words = {}
    for amp in ("fp32", "bf16"):
        out = tmp_path / f"{amp}.json"
        assert main(["run", "simulst", str(SIMULST_TALK), "--threads", "1", "--out", str(out)]
                    + (["--amp", amp] if amp == "bf16" else [])) == 0
        words[amp] = [w["word"] for s in json.loads(out.read_text())["segments"] for w in s["words"]]
    # bf16 rounding may flip a close decision of the greedy policy, never most of the output
    assert words["fp32"] and SequenceMatcher(None, words["fp32"], words["bf16"]).ratio() >= 0.8


@pytest.mark.parametrize("command", [["run", "anomaly", str(ANOMALY_IMAGES)],
                                     ["run", "simulst", str(SIMULST_TALK)]])
def test_anomaly_and_simulst_refuse_fp16_off_cuda_in_one_line(tmp_path, capsys, command):
    assert main([*command, "--amp", "fp16", "--device", "cpu", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--amp: fp16 inference needs CUDA" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
