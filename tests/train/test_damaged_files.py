"""A damaged or truncated file gives one clear line naming it; a missing package says how to install it."""

import sys

import jax.numpy as jnp
import pytest

import imgtune
from imgtune.cli import main
from imgtune.train.checkpoints import Checkpoints, load_weights, read_info
from imgtune.train.state import Progress, TrainState


@pytest.fixture
def checkpoint(tmp_path):
    ck = Checkpoints(tmp_path / "checkpoints")
    state = TrainState(jnp.int32(3), {"w": jnp.ones(64)}, {}, ())
    return ck, state, ck.save(state, Progress(epochs_done=1), info={"model_name": "x"}, best=True)


def one_line(err):
    (line,) = err.value.lines
    return line


def test_a_truncated_checkpoint_is_one_line_naming_it(checkpoint):
    ck, state, path = checkpoint
    for f in (path / "state").rglob("*"):
        if f.is_file() and f.stat().st_size > 0 and "d" in f.parent.name:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # the array data, cut in half
    for f in (path / "state").rglob("manifest.ocdbt"):
        f.write_bytes(b"")
    with pytest.raises(imgtune.ValidationError) as err:
        ck.restore(path, state)
    assert str(path) in one_line(err) and "damaged or incomplete" in one_line(err)
    with pytest.raises(imgtune.ValidationError) as err:
        load_weights(path)
    assert "damaged or incomplete" in one_line(err) and "\n" not in one_line(err)


def test_an_empty_info_json_names_the_file(checkpoint):
    _, _, path = checkpoint
    (path / "info.json").write_text("")
    with pytest.raises(imgtune.ValidationError) as err:
        read_info(path)
    assert str(path / "info.json") in one_line(err) and "not valid JSON" in one_line(err)


def test_predict_with_onnx_without_the_packages_says_how_to_install_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    assert main(["predict", str(tmp_path), str(tmp_path / "a.png"), "--onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: onnx: predicting with --onnx needs onnxruntime: pip install 'imgtune[onnx]'"]
