"""Safe loading: corrupted weights, weights that do not match their config, and pickles offered
as weights give clear errors, and no deeprnn loader ever runs the code a pickle carries."""

from __future__ import annotations

import contextlib
import io
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from _tiny import tiny_config

import deeprnn
from deeprnn.cli import main as cli_main
from deeprnn.export import init_from_export, load_exported
from deeprnn.training import load_checkpoint, read_checkpoint


class _Payload:
    """Unpickling this creates ``marker``: the proof that a loader ran user code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickles(tmp: Path, marker: Path) -> dict[str, bytes]:
    """The same payload as a plain pickle and inside torch.save's zip container."""
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(2)}, "evil": _Payload(marker)}, buf)
    return {"pickle": pickle.dumps(_Payload(marker)), "torch.save": buf.getvalue()}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("safe")
    cfg = tiny_config("classify", tmp / "data", tmp / "run", max_epochs=1)
    (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["train", "-c", str(tmp / "cfg.yaml")]) == 0
    return tmp


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_no_loader_ever_runs_a_planted_pickle(tmp_path, run, capsys, kind):
    marker = tmp_path / "code_ran"
    evil = _pickles(tmp_path, marker)[kind]
    ckpt = tmp_path / "evil.ckpt"
    ckpt.write_bytes(evil)
    export = _copy(run / "run" / "model", tmp_path / "model")
    (export / "model.safetensors").write_bytes(evil)
    pretrained = deeprnn.GRU(3, 4).save_pretrained(tmp_path / "gru")
    (pretrained / "model.safetensors").write_bytes(evil)
    run_dir = _copy(run / "run", tmp_path / "run")
    (run_dir / "checkpoints" / "best.ckpt").write_bytes(evil)
    (tmp_path / "in.txt").write_text("good film\n")

    not_loadable = r"is not a loadable Lightning checkpoint \(UnpicklingError: .*never unpickled"
    not_safetensors = r"model\.safetensors is not a valid safetensors file"
    api = [
        (lambda: read_checkpoint(ckpt), not_loadable),
        (lambda: load_checkpoint(ckpt), not_loadable),
        (lambda: load_exported(export), not_safetensors),
        (lambda: init_from_export(torch.nn.Linear(2, 2), export), not_safetensors),
        (lambda: deeprnn.load_pretrained(pretrained), not_safetensors),
        (lambda: deeprnn.GRU.from_pretrained(pretrained), not_safetensors),
    ]
    for call, match in api:
        with pytest.raises(ValueError, match=match):
            call()
    cfg = str(run / "cfg.yaml")
    out = str(tmp_path / "out")
    cli = [
        (["train", "-c", cfg, "--out_dir", out, "--resume", str(ckpt)], not_loadable),
        (["predict", str(ckpt), "-i", str(tmp_path / "in.txt")], not_loadable),
        (["predict", str(export), "-i", str(tmp_path / "in.txt")], not_safetensors),
        (["predict", str(run_dir), "-i", str(tmp_path / "in.txt")], not_loadable),
        (["evaluate", str(run_dir)], not_loadable),
        (["evaluate", str(run_dir), "--ckpt", str(ckpt)], not_loadable),
        (["evaluate", str(export)], not_safetensors),
    ]
    for argv, match in cli:
        capsys.readouterr()
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and re.search(match, err), err
    assert not marker.exists()
    assert not Path(out).exists()


def test_corrupted_safetensors_give_a_clear_error(tmp_path, run):
    export = _copy(run / "run" / "model", tmp_path / "model")
    weights = export / "model.safetensors"
    good = weights.read_bytes()
    header_len = int.from_bytes(good[:8], "little")
    corruptions = {
        "empty": b"",
        "header only": good[: 8 + header_len],
        "half": good[: len(good) // 2],
        "header length too big": (len(good) * 2).to_bytes(8, "little") + good[8:],
        "header not json": good[:8] + b"\xff" * header_len + good[8 + header_len :],
    }
    for what, data in corruptions.items():
        weights.write_bytes(data)
        with pytest.raises(ValueError, match=r"model\.safetensors is not a valid safetensors file"):
            load_exported(export)
        with pytest.raises(ValueError, match=r"model\.safetensors is not a valid safetensors file"):
            init_from_export(torch.nn.Linear(2, 2), export)
        assert what  # every corruption was rejected


def test_weights_that_do_not_match_the_config_name_the_tensor(tmp_path, run):
    export = _copy(run / "run" / "model", tmp_path / "model")
    from safetensors.torch import load_file, save_file

    state = load_file(export / "model.safetensors")
    state["extra.weight"] = torch.zeros(1)
    first = next(k for k in state if k.endswith("weight_hh"))
    state[first] = torch.zeros(3, 3)
    save_file(state, export / "model.safetensors")
    with pytest.raises(
        ValueError,
        match=rf"model\.safetensors does not match its config\.json: missing \[\], unexpected "
        rf"\['extra\.weight'\], shape mismatch \['{first}: config\.json says \(\d+, \d+\), file "
        rf"has \(3, 3\)'\]",
    ):
        load_exported(export)
    ckpt = read_checkpoint(run / "run" / "checkpoints" / "last.ckpt")
    ckpt["state_dict"][first] = torch.zeros(3, 3)
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(
        ValueError, match=rf"bad\.ckpt does not match its hyper_parameters: .*{first}: .*\(3, 3\)"
    ):
        load_checkpoint(tmp_path / "bad.ckpt")
