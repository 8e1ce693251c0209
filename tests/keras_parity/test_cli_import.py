"""``deeprnn import``: a .keras file -> a save_pretrained folder that load_pretrained rebuilds."""

from __future__ import annotations

import json

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


def _predict(tmp_path, capsys, folder, records_or_array, fmt="jsonl"):
    if fmt == "npy":
        src = tmp_path / "x.npy"
        np.save(src, records_or_array)
    else:
        src = tmp_path / "x.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in records_or_array))
    capsys.readouterr()
    code = main(["predict", str(folder), "--input", str(src), "--batch-size", "2"])
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines()], out.err


def test_a_saved_keras_model_predicts_the_same_through_deeprnn_predict(tmp_path, capsys):
    """.keras -> deeprnn import -> deeprnn predict gives Keras' own predictions (to 1e-5), for a
    masked float-sequence model (an .npy of 5 examples, batched by 2) and a token-id model."""
    L = keras.layers
    seq = keras.Sequential([keras.Input((None, 3)), L.Masking(), L.LSTM(4), L.Dense(2)])
    randomize(seq, 5)
    seq.save(tmp_path / "seq.keras")
    assert main(["import", str(tmp_path / "seq.keras"), "--out", str(tmp_path / "seq")]) == 0
    x = np.random.default_rng(1).normal(size=(5, 6, 3)).astype("float32")
    x[2, 4:] = 0.0  # post-padding, masked in both libraries
    code, rows, _ = _predict(tmp_path, capsys, tmp_path / "seq", x, fmt="npy")
    assert code == 0 and len(rows) == 5
    want = keras.ops.convert_to_numpy(seq.predict(x, verbose=0))
    np.testing.assert_allclose(np.array([r["y"] for r in rows]), want, atol=1e-5, rtol=0)

    ids = keras.Input((None,), dtype="int32")
    h = L.Bidirectional(L.GRU(3))(L.Embedding(20, 4, mask_zero=True)(ids))
    tok = keras.Model(ids, L.Dense(1, activation="sigmoid")(h))
    randomize(tok, 6)
    tok.save(tmp_path / "tok.keras")
    assert main(["import", str(tmp_path / "tok.keras"), "--out", str(tmp_path / "tok")]) == 0
    batch = np.array([[3, 7, 1, 0, 0], [5, 2, 9, 11, 4], [8, 0, 0, 0, 0]])
    records = [{"x": row.tolist()} for row in batch] + [{"x": [4, 4]}]  # another length
    code, rows, _ = _predict(tmp_path, capsys, tmp_path / "tok", records)
    assert code == 0 and len(rows) == 4
    want = keras.ops.convert_to_numpy(tok.predict(batch, verbose=0))
    np.testing.assert_allclose(np.array([r["y"] for r in rows[:3]]), want, atol=1e-5, rtol=0)
    short = keras.ops.convert_to_numpy(tok.predict(np.array([[4, 4]]), verbose=0))
    np.testing.assert_allclose(rows[3]["y"], short[0], atol=1e-5, rtol=0)


def test_predict_on_an_imported_model_rejects_records_that_do_not_fit(tmp_path, capsys):
    L = keras.layers
    model = keras.Sequential([keras.Input((None, 3)), L.GRU(2)])
    model.save(tmp_path / "m.keras")
    assert main(["import", str(tmp_path / "m.keras"), "--out", str(tmp_path / "m")]) == 0
    cases = [
        ([{"x": [[0.0, 1.0, 2.0]]}, {"x": [[0.0, 1.0]]}], "record 2", "(T, 3)"),
        ([{"y": [[0.0, 1.0, 2.0]]}], "record 1", "needs 'x'"),
        ([{"x": [[0.0, 1.0, 2.0], [1.0]]}], "record 1", "not a numeric array"),
    ]
    for records, where, what in cases:
        code, rows, err = _predict(tmp_path, capsys, tmp_path / "m", records)
        assert code == 2 and not rows
        assert where in err and what in err and len(err.strip().splitlines()) == 1, err
