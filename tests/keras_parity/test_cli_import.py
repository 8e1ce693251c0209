"""``deeprnn import``: a .keras file -> a save_pretrained folder that load_pretrained rebuilds."""

from __future__ import annotations

import numpy as np
import torch
from _keras_helpers import keras, randomize

from deeprnn.cli import main


def test_cli_import_writes_a_loadable_folder(tmp_path, capsys):
    import deeprnn.interop

    L = keras.layers
    model = keras.Sequential([keras.Input((None, 3)), L.Masking(), L.GRU(4), L.Dense(2)])
    randomize(model, 31)
    model.save(tmp_path / "m.keras")
    assert main(["import", str(tmp_path / "m.keras"), "--out", str(tmp_path / "out")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"config.json", "model.safetensors"}
    loaded = deeprnn.load_pretrained(tmp_path / "out")
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    x[1, 3:] = 0.0
    got = loaded(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(model(x)), atol=1e-5, rtol=0)


def test_cli_import_unknown_layer_is_one_line(tmp_path, capsys):
    L = keras.layers
    model = keras.Sequential([keras.Input((None, 3)), L.LSTM(4), L.LayerNormalization()])
    model.save(tmp_path / "m.keras")
    assert main(["import", str(tmp_path / "m.keras"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "layer_normalization" in err and "(LayerNormalization)" in err
    assert len(err.strip().splitlines()) == 1
