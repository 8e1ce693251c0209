"""Forecast inputs at their boundaries: compressed CSVs (``.csv.gz`` ...) read like the plain
file, a CSV without a header row (``data.header: false``, columns named 0, 1, 2 ...), column
names given as ints, and the window sizes of a saved model checked again when it is read back
for ``predict`` (a hand-edited ``input_window: -5``). Each test writes its own small file."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import zipfile

import pytest
import torch

from deeprnn.tasks import ForecastData
from deeprnn.training import fit, run_config_from_dict

HEADER = "day,value,temp"


def rows(n: int = 120) -> list[str]:
    return [
        f"{t},{10 + 3 * math.sin(t / 2):.4f},{math.cos(t / 5):.4f}" for t in range(n)
    ]  # fmt: skip


def write(path, header: bool = True):
    lines = ([HEADER] if header else []) + rows()
    path.write_text("\n".join(lines) + "\n")
    return path


def data(path, **over) -> ForecastData:
    base = {"source": "csv", "path": str(path), "targets": ["value"], "covariates": ["temp"],
            "input_window": 12, "horizon": 2}  # fmt: skip
    base.update(over)
    cfg = run_config_from_dict({"task": "forecast", "data": base}).data
    return ForecastData(cfg, batch_size=16, seed=0).prepare()


def same(a: ForecastData, b: ForecastData) -> None:
    assert a.window_starts == b.window_starts
    for split in ("train", "val", "test"):
        torch.testing.assert_close(a.splits[split][3][0], b.splits[split][3][0])


# -- compressed files ----------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_a_compressed_csv_reads_as_the_plain_file(tmp_path, suffix):
    plain = write(tmp_path / "s.csv")
    packed = tmp_path / f"s.csv{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(packed, "w") as z:
            z.write(plain, "s.csv")
    else:
        pack = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix]
        packed.write_bytes(pack(plain.read_bytes()))
    same(data(packed), data(plain))


def test_a_corrupt_compressed_file_names_itself(tmp_path):
    bad = tmp_path / "s.csv.gz"
    bad.write_bytes(gzip.compress(write(tmp_path / "s.csv").read_bytes())[:60])  # truncated
    with pytest.raises(ValueError, match=r"s\.csv\.gz: not a readable gz file \(.*\); decompress"):
        data(bad)


# -- no header row, numeric column names ---------------------------------------------------------
def test_a_csv_without_a_header_row_names_its_columns_0_1_2(tmp_path):
    headed = data(write(tmp_path / "h.csv"))
    bare = write(tmp_path / "bare.csv", header=False)
    by_int = data(bare, header=False, targets=[1], covariates=[2])
    by_text = data(bare, header=False, targets=["1"], covariates=["2"])
    same(by_int, headed)
    same(by_text, headed)
    assert by_int.artifacts["targets"] == ["1"] and by_int.artifacts["covariates"] == ["2"]
    assert by_int.config.targets == ["1"]  # the saved config holds the table's names
    with pytest.raises(
        ValueError, match=r"column\(s\) \['value', 'temp'\] not found; columns are \['0',"
    ):
        data(bare, header=False)  # the default target: no such column without a header
    with pytest.raises(ValueError, match=r"data.header: false is for source 'csv', got 'sines'"):
        run_config_from_dict({"task": "forecast", "data": {"header": False}})


def test_numeric_header_names_need_no_quotes(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("\n".join(["day,2021,2022", *rows()]) + "\n")
    dm = data(path, targets=[2021], covariates=[2022], fill={2021: "ffill"})
    assert dm.artifacts["targets"] == ["2021"] and dm.config.fill == {"2021": "ffill"}
    same(dm, data(write(tmp_path / "h.csv")))


# -- window sizes read back at predict time ------------------------------------------------------
def test_window_sizes_are_checked_where_they_are_read(tmp_path, capsys):
    with pytest.raises(
        ValueError, match=r"config.data.input_window must be a positive int, got -5$"
    ):
        run_config_from_dict({"task": "forecast", "data": {"input_window": -5}})
    path = write(tmp_path / "s.csv")
    run = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"),
           "data": {"source": "csv", "path": str(path), "targets": ["value"],
                    "input_window": 12, "horizon": 2},
           "model": {"rnn": {"hidden_size": 4, "num_layers": 1}},
           "trainer": {"max_epochs": 1, "progress_bar": False, "tensorboard": False,
                       "num_threads": 1}}  # fmt: skip
    result = fit(run_config_from_dict(run))
    from deeprnn.cli import main
    from deeprnn.export import load_exported
    from deeprnn.tasks import load_checkpoint

    history = tmp_path / "history.csv"
    history.write_text("\n".join([HEADER, *rows()[-12:]]) + "\n")
    config = result.export_dir / "config.json"
    saved = json.loads(config.read_text())
    for key, bad in (("input_window", -5), ("horizon", 0), ("seasonality", -1)):
        edited = json.loads(json.dumps(saved))
        edited["artifacts"][key] = bad
        config.write_text(json.dumps(edited))
        message = rf"data.{key} \(the model's artifacts\['{key}'\]\) must be a positive int, got"
        with pytest.raises(ValueError, match=rf"{message} {bad}"):
            load_exported(result.export_dir)
        capsys.readouterr()
        assert main(["predict", str(result.export_dir), "-i", str(history)]) == 2
        assert f"must be a positive int, got {bad}" in capsys.readouterr().err
    config.write_text(json.dumps(saved))
    assert main(["predict", str(result.export_dir), "-i", str(history)]) == 0
    ckpt = torch.load(result.best_checkpoint, weights_only=True)  # a run folder's model
    ckpt["hyper_parameters"]["artifacts"]["input_window"] = -5
    torch.save(ckpt, tmp_path / "edited.ckpt")
    with pytest.raises(ValueError, match=r"data.input_window \(.*\) must be a positive int"):
        load_checkpoint(tmp_path / "edited.ckpt")
