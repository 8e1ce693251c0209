"""Model selection without a small validation split (``data.refit``: the folds choose the epochs,
one run on all the training data is tested) and training-only augmentation of series
(``data.augment``: window slicing / warping)."""

import json

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _tiny import QUIET

from deeprnn.data.augment import AugmentedSeries, window_slice, window_warp
from deeprnn.tasks.classify_data import ClassifyData
from deeprnn.training import run_config_from_dict
from deeprnn.training.runner.kfold import (
    fit_folds,
    fold_run,
    refit_epochs,
    refit_run,
    summary_table,
)
from deeprnn.training.runner.run import fit_run


def write_series(folder, n_train=24, n_test=10, steps=12, seed=0):
    """A UEA-style pair of ``.ts`` files: class 'up' rises, class 'down' falls, plus noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    name = folder.name
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        lines = ["@problemName x", "@timeStamps false", "@univariate true",
                 "@classLabel true up down", "@data"]  # fmt: skip
        for i in range(n):
            label = "up" if i % 2 else "down"
            slope = 1.0 if label == "up" else -1.0
            x = slope * np.linspace(0, 1, steps) + 0.3 * rng.standard_normal(steps)
            lines.append(",".join(f"{v:.4f}" for v in x) + f":{label}")
        (folder / f"{name}_{split}.ts").write_text("\n".join(lines) + "\n")
    return folder


def _run(path, out, **data):
    return run_config_from_dict(
        {
            "task": "classify",
            "out_dir": str(out),
            "data": {
                "source": "reader",
                "reader": "deeprnn.tasks.readers:uea",
                "reader_args": {"path": str(path), "val_fraction": 0.25},
                **data,
            },
            "model": {"architecture": "fcn", "fcn_channels": [4, 4, 4], "fcn_kernels": [3, 3, 3]},
            "optim": {"lr": 1e-2, "scheduler": {"name": "none"}},
            "trainer": {"max_epochs": 4, "batch_size": 8, **QUIET},
            "baselines": False,
        }
    )


def test_refit_trains_on_all_the_training_data_for_the_folds_median_epochs(tmp_path):
    path = write_series(tmp_path / "Toy")
    result = fit_folds(_run(path, tmp_path / "cv", folds=3, refit=True))
    best = [e["best_epoch"] for e in result.summary["per_fold"]]
    refit = result.summary["refit"]
    assert refit["fold_best_epochs"] == best and refit["epochs"] == refit_epochs(best)
    assert refit["train_size"] == 24 and refit["test_size"] == 10  # train + val; the TEST file
    training = result.refit.metrics["training"]
    assert training["epochs"] == refit["epochs"] and training["max_epochs"] == refit["epochs"]
    metrics = json.loads((tmp_path / "cv" / "refit" / "metrics.json").read_text())
    assert metrics["refit"]["epochs"] == refit["epochs"]
    assert metrics["test_acc"] == pytest.approx(refit["metrics"]["test_acc"])
    assert "validation not run" in metrics["data"]["val"]["source"]
    assert "**Refit**" in summary_table(result.summary)
    assert (tmp_path / "cv" / "refit" / "model" / "config.json").is_file()
    # the refit's weights are its last epoch's: the exported model scores as tested
    last = torch.load(tmp_path / "cv" / "refit" / "checkpoints" / "last.ckpt", weights_only=True)
    for k, v in result.refit.model.state_dict().items():
        torch.testing.assert_close(last["state_dict"][k], v)


class _EpochRates(pl.Callback):
    """The first parameter group's rate at the start of every training epoch, one list per run."""

    def __init__(self):
        self.runs: list[list[float]] = []

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == 0:
            self.runs.append([])
        self.runs[-1].append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("schedule", ["cosine", "slanted_triangular"])
def test_a_refit_shorter_than_the_folds_trains_at_their_rates(tmp_path, schedule):
    """The folds' cosine spans their 6 epochs; a 3-epoch refit keeps that horizon (its epoch e
    at the folds' epoch-e rate) rather than squeezing a whole schedule into 3 epochs."""
    path = write_series(tmp_path / "Toy")
    run = _run(path, tmp_path / "cv", folds=3, refit=True)
    run.optim.scheduler.name = schedule
    run.trainer.max_epochs = 6
    rates = _EpochRates()
    fit_run(fold_run(run, 0), extra_callbacks=[rates])
    refit = refit_run(run, 3)
    assert refit.optim.scheduler.horizon_epochs == 6 and refit.trainer.max_epochs == 3
    fit_run(refit, extra_callbacks=[rates])
    fold, again = rates.runs
    assert len(fold) == 6 and len(again) == 3
    # per-step schedules: the same fraction of the schedule at each epoch start (the refit has
    # 24 series per epoch to the fold's 16, so its steps differ; torch's -1 offsets aside)
    exact = schedule == "cosine"
    assert again == pytest.approx(fold[:3], rel=0 if exact else 0.1)
    assert again[-1] > 2 * fold[-1]  # not annealed to the end in 3 epochs


def test_refit_epochs_is_the_rounded_median():
    assert refit_epochs([3, 9, 4]) == 4 and refit_epochs([1, 2]) == 2 and refit_epochs([0]) == 1
    with pytest.raises(ValueError, match="needs every fold's best epoch"):
        refit_epochs([3, None])


def test_bad_refit_configs_are_named(tmp_path):
    path = write_series(tmp_path / "Toy")
    with pytest.raises(ValueError, match=r"data\.refit=True needs config\.data\.folds"):
        _run(path, tmp_path / "a", refit=True)
    plateau = _run(path, tmp_path / "b", folds=2, refit=True)
    plateau.optim.scheduler.name = "plateau"
    with pytest.raises(ValueError, match=r"optim\.scheduler 'plateau' follows the validation"):
        fit_folds(plateau)
    assert not (tmp_path / "b").exists()  # refused before any fold ran
    steps = _run(path, tmp_path / "c", folds=2, refit=True)
    steps.optim.scheduler.name, steps.trainer.max_steps = "cosine", 5
    with pytest.raises(ValueError, match=r"spans the folds' trainer\.max_epochs.*max_steps=5"):
        fit_folds(steps)
    with pytest.raises(ValueError, match=r"horizon_epochs must be an int >= 1 or null, got 0"):
        bad = _run(path, tmp_path / "d").optim
        bad.scheduler.horizon_epochs = 0
        bad.scheduler.validate("optim.scheduler")


def test_window_slice_and_warp_keep_the_length_and_are_seeded():
    x = np.stack([np.arange(20.0), np.arange(20.0) ** 2], axis=1)  # (T, F)
    sliced = window_slice(x, np.random.default_rng(0), 0.9)
    assert sliced.shape == x.shape
    # a window of 18 of the 20 steps stretched back: it starts and ends on window ends
    assert sliced[0, 0] in range(3) and sliced[-1, 0] == sliced[0, 0] + 17
    warped = window_warp(x, np.random.default_rng(1))
    assert warped.shape == x.shape and not np.allclose(warped, x)
    assert warped[0, 0] == 0 and warped[-1, 0] == 19  # the ends stay
    again = window_warp(x, np.random.default_rng(1))
    np.testing.assert_array_equal(warped, again)


def test_augmented_series_are_deterministic_and_vary_between_reads():
    items = [(torch.randn(30, 2), i % 2) for i in range(6)]
    a = AugmentedSeries(items, ["slice", "warp"], seed=3)
    b = AugmentedSeries(items, ["slice", "warp"], seed=3)
    first = [a[i][0] for i in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(first, (b[i][0] for i in range(6))))
    assert any(not torch.equal(x, items[i][0]) for i, x in enumerate(first))
    second = [a[i][0] for i in range(6)]  # read again: other draws
    assert any(not torch.equal(x, y) for x, y in zip(first, second))
    assert all(x.shape == (30, 2) and y == i % 2 for i, (x, y) in enumerate(a))


def test_augmentation_touches_the_training_split_only(tmp_path):
    path = write_series(tmp_path / "Toy")
    run = _run(path, tmp_path / "r", augment=["slice", "warp"])
    dm = ClassifyData(run.data, batch_size=4, seed=0).prepare()
    for split, loader in (("val", dm.val_dataloader()), ("test", dm.test_dataloader())):
        x, _, _ = next(iter(loader))
        for row, (series, _) in zip(x, dm.splits[split]):
            torch.testing.assert_close(row[: len(series)], series)
    assert isinstance(dm.train_dataloader().dataset, AugmentedSeries)
    plain = ClassifyData(_run(path, tmp_path / "p").data, batch_size=4, seed=0).prepare()
    assert not isinstance(plain.train_dataloader().dataset, AugmentedSeries)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"augment": ["crop"]}, r"data\.augment: unknown augmentation 'crop'"),
        ({"augment": ["slice"], "slice_ratio": 1.0}, r"data\.slice_ratio must be in \(0, 1\)"),
    ],
)
def test_bad_augment_configs_are_named(tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, tmp_path / "r", **data)


def test_augmenting_text_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("text,label\n" + "good film,pos\nbad film,neg\n" * 10)
    run = run_config_from_dict(
        {"data": {"source": "csv", "path": str(tmp_path / "t.csv"), "augment": ["slice"]}}
    )
    with pytest.raises(ValueError, match="is for numeric series, and this data is text"):
        ClassifyData(run.data, seed=0).prepare()
