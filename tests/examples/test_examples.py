"""Every config in examples/ trains a few steps, tests and exports: on a slice of the real data
in ../shared/data (skipped without it), and — for the IMDB configs — also on a small aclImdb
folder the test writes itself."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
import torch
import yaml

from deeprnn.training import fit, run_config_from_dict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SHARED = ROOT.parent / "shared" / "data"
# configs that take a user's own file (a placeholder path), not a shared data set
USER_FILES = {"classify_text", "lm_char", "lm_names", "tag_conll"}
# configs that start from examples/imdb_lm_pretrain.yaml's language model
PRETRAINED = {"imdb_finetune", "imdb_ulmfit_kfold"}


def quick(cfg: dict, out_dir: Path) -> dict:
    """The same config, a few steps long."""
    cfg = copy.deepcopy(cfg)
    cfg["out_dir"] = str(out_dir)
    t = cfg.setdefault("trainer", {})
    t.update(
        max_epochs=1,
        max_steps=3,
        limit_train_batches=3,
        limit_val_batches=2,
        limit_test_batches=2,
        progress_bar=False,
        tensorboard=False,
        num_threads=1,
        log_every_n_steps=1,
        max_time=None,
        early_stopping_patience=None,
        val_check_interval=None,
    )
    # the baselines have their own tests (tests/tasks/test_baselines.py, the docs contract): here
    # they would refit AutoARIMA / MiniRocket / TF-IDF on every example's data for nothing
    cfg["baselines"] = False
    data = cfg.get("data", {})
    if data.get("source") == "reader":
        # enough names that every one of the 18 languages is in the training slice
        limit = 3000 if "names" in data["reader"] else 120
        data.setdefault("reader_args", {})["limit"] = limit
    if data.get("folds"):  # one fold of a k-fold config (deeprnn train runs them all)
        data["fold"] = 0
    if "synthetic_sizes" in data:
        data["synthetic_sizes"] = [200, 40, 40]
    if "sizes" in data:
        data["sizes"] = [100, 20, 20]
    if "num_series" in data:
        data["num_series"] = 300
    if cfg.get("model", {}).get("adaptive_softmax"):
        cfg["model"]["adaptive_softmax"] = [4, 8]  # a slice has a small vocabulary
    if cfg["task"] == "seq2seq":
        cfg["model"].update(val_decode=16, beam_width=min(2, cfg["model"].get("beam_width", 1)))
    return cfg


def absolute(cfg: dict) -> dict:
    """``../shared/data`` paths made absolute (the tests may run from any folder)."""
    text = yaml.safe_dump(cfg).replace("../shared/data", str(SHARED))
    return yaml.safe_load(text)


def check_run(cfg: dict) -> dict:
    result = fit(run_config_from_dict(cfg))
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    losses = [v for k, v in metrics.items() if k.endswith("_loss")]
    assert losses and all(v == v and abs(v) < 1e6 for v in losses), metrics  # finite
    assert (result.run_dir / "model" / "model.safetensors").is_file()
    return metrics


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_config_trains_on_a_slice_of_its_data(path, tmp_path):
    torch.set_num_threads(1)
    if path.stem in USER_FILES:
        pytest.skip("takes the user's own file (its path is a placeholder)")
    raw = yaml.safe_load(path.read_text())
    needs_data = "../shared/data" in path.read_text()
    if needs_data and not SHARED.is_dir():
        pytest.skip(f"real datasets not found at {SHARED}")
    if path.stem in PRETRAINED:  # the language model first, a few steps of it
        lm = absolute(
            quick(
                yaml.safe_load((ROOT / "examples/imdb_lm_pretrain.yaml").read_text()),
                tmp_path / "lm",
            )
        )
        check_run(lm)
        raw["finetune"]["init_from"] = str(tmp_path / "lm")  # its run folder and vocabulary
    cfg = absolute(quick(raw, tmp_path / "run"))
    check_run(cfg)


def write_aclimdb(root: Path, per_class: int = 30, seed: int = 0) -> Path:
    """A small aclImdb folder: {train,test}/{pos,neg}/<id>_<rating>.txt."""
    rng = random.Random(seed)
    good, bad = ["great", "wonderful", "moving"], ["awful", "boring", "dull"]
    filler = ["the", "film", "plot", "was", "and", "acting", "a", "story"]
    for split in ("train", "test"):
        for label, words, ratings in (("pos", good, (7, 10)), ("neg", bad, (1, 4))):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(per_class):
                text = [rng.choice(filler) for _ in range(rng.randint(3, 12))]
                text.insert(rng.randrange(len(text)), rng.choice(words))
                body = " ".join(text) + " .<br /><br />" + " ".join(rng.choices(filler, k=4))
                (folder / f"{i}_{rng.randint(*ratings)}.txt").write_text(body, encoding="utf-8")
    return root


IMDB = [p for p in EXAMPLES if p.stem.startswith("imdb_") and p.stem not in PRETRAINED]


@pytest.mark.parametrize("path", IMDB, ids=lambda p: p.stem)
def test_imdb_configs_on_a_written_aclimdb_folder(path, tmp_path):
    torch.set_num_threads(1)
    folder = write_aclimdb(tmp_path / "imdb")
    cfg = quick(yaml.safe_load(path.read_text()), tmp_path / "run")
    if cfg["data"].get("source") == "folder":  # the class-folder reader on the same folder
        cfg["data"]["path"] = str(folder)
    else:
        cfg["data"]["reader_args"]["path"] = str(folder)
        cfg["data"]["reader_args"].pop("limit")
    cfg["data"]["min_freq"] = 1
    if cfg["task"] == "lm":  # 60 short reviews: a few rows of stream, a bigger val slice
        cfg["trainer"]["batch_size"] = 4
        cfg["data"]["reader_args"]["val_fraction"] = 0.3
        if cfg["data"]["reader_args"].get("exclude_first_per_class"):  # 30 a class here
            cfg["data"]["reader_args"]["exclude_first_per_class"] = 10
    metrics = check_run(cfg)
    if cfg["task"] == "classify":
        assert 0.0 <= metrics["test_acc"] <= 1.0
