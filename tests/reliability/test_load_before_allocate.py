"""Loading validates before it allocates: ``config.json`` is compared with the safetensors header
(names, shapes, dtype kinds) on a ``meta``-device model, so a hand-edited or hostile config (a
hidden size of 10^9, which would ask torch for petabytes) is a one-line error naming the tensor
and both shapes, raised before any tensor is allocated."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch

import deeprnn
from deeprnn._persist import check_header_matches, read_safetensors_header
from deeprnn.cli import main as cli_main
from deeprnn.export import export_folder, load_exported
from deeprnn.tasks import Classify

HUGE = 10**9


def _classify_export(tmp: Path) -> Path:
    torch.manual_seed(0)
    model = Classify(
        {"rnn": {"hidden_size": 8}},
        {"labels": ["a", "b"], "input_size": 3},
    )
    return export_folder(model, tmp / "model")


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_header_is_read_without_the_tensors(tmp_path):
    deeprnn.LSTM(3, 5).save_pretrained(tmp_path / "p")
    header = read_safetensors_header(tmp_path / "p" / "model.safetensors")
    assert header["blocks.0.cell.weight_hh"] == ("F32", (20, 5))
    assert all(isinstance(s, tuple) for _, s in header.values())


def test_huge_hidden_size_in_an_export_folder_is_one_line(tmp_path):
    folder = _classify_export(tmp_path)
    _edit_json(folder / "config.json", lambda d: d["config"]["rnn"].update(hidden_size=HUGE))
    with pytest.raises(ValueError) as info:
        load_exported(folder)
    msg = str(info.value)
    assert "\n" not in msg
    assert "model.safetensors does not match its config.json" in msg
    # names the tensor and both shapes
    assert f"config.json says ({4 * HUGE}, 3), file has (32, 3)" in msg


def test_huge_hidden_size_in_a_pretrained_folder_is_one_line(tmp_path):
    deeprnn.GRU(3, 4, num_layers=2).save_pretrained(tmp_path / "p")
    _edit_json(tmp_path / "p" / "config.json", lambda d: d["config"].update(hidden_size=HUGE))
    with pytest.raises(ValueError, match=rf"config says|config\.json says \({3 * HUGE}, 3\)"):
        deeprnn.load_pretrained(tmp_path / "p")


def test_predict_with_a_hostile_config_exits_2_with_one_line(tmp_path, capsys):
    folder = _classify_export(tmp_path)
    _edit_json(folder / "config.json", lambda d: d["config"]["rnn"].update(hidden_size=HUGE))
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps({"x": [[0.0, 1.0, 2.0]]}) + "\n")
    code = cli_main(
        ["predict", str(folder), "--input", str(records), "--output", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert "does not match its config.json" in err[0] and str(4 * HUGE) in err[0]
    assert not (tmp_path / "o").exists()


def test_dtype_kind_mismatch_is_named(tmp_path):
    expected = {"w": torch.empty(2, 3, device="meta"), "step": torch.empty((), dtype=torch.long)}
    header = {"w": ("I64", (2, 3)), "step": ("I64", ())}
    with pytest.raises(ValueError, match=r"w: cfg says torch.float32, file has I64"):
        check_header_matches(expected, header, "f.safetensors", "cfg")
    # float widths may differ: the weights are cast on load, as load_state_dict does
    check_header_matches(expected, {"w": ("F64", (2, 3)), "step": ("I32", ())}, "f", "cfg")


def test_extra_and_missing_tensors_are_named(tmp_path):
    expected = {"a": torch.empty(2, device="meta"), "b": torch.empty(2, device="meta")}
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        check_header_matches(expected, {"a": ("F32", (2,)), "c": ("F32", (2,))}, "f", "cfg")


@pytest.mark.parametrize(
    "blob, why",
    [
        (b"", "header length -1"),
        (struct.pack("<Q", 10**12) + b"{}", "header length 1000000000000"),
        (struct.pack("<Q", 4) + b"[1,2", "header:"),
        (struct.pack("<Q", 2) + b"[]", "header is not an object"),
        (struct.pack("<Q", 23) + b'{"w": {"dtype": "F32"}}', "bad entry 'w'"),
    ],
)
def test_corrupt_headers_name_the_file(tmp_path, blob, why):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=r"bad\.safetensors is not a valid safetensors file"):
        read_safetensors_header(path)
    with pytest.raises(ValueError, match=__import__("re").escape(why)):
        read_safetensors_header(path)


def test_a_good_folder_still_loads_exactly(tmp_path):
    folder = _classify_export(tmp_path)
    model = load_exported(folder)
    again = load_exported(folder)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert a.device.type == "cpu", k
        assert torch.equal(a, b), k


def test_a_truncated_file_is_caught_from_its_header(tmp_path):
    deeprnn.LSTM(3, 5).save_pretrained(tmp_path / "p")
    path = tmp_path / "p" / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(ValueError, match=r"not a valid safetensors file \(truncated: its header"):
        read_safetensors_header(path)
