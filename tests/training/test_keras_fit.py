"""``deeprnn.fit`` / ``evaluate`` / ``predict`` / ``History``: Keras' ``model.fit`` workflow for
any ``nn.Module`` built from deeprnn layers, on Lightning (tiny data: each test a few seconds)."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import deeprnn
from deeprnn.training.keras import compile as _compile
from deeprnn.training.keras.data import train_val_loaders
from deeprnn.viz import plot_curves

N, W, SPLIT = 48, 6, 0.25  # samples, window, validation fraction (the last 12 samples)


def sine(n: int = N, w: int = W) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of a sine (n, w, 1) and the next value (n, 1)."""
    s = torch.sin(torch.arange(n + w, dtype=torch.float32) * 0.3)
    x = torch.stack([s[i : i + w] for i in range(n)])[..., None]  # (n, w, 1)
    return x, s[w : w + n, None]  # (n, 1)


class Stacked(nn.Module):
    """The seeds' model: SimpleRNN(64, return_sequences=True) -> LSTM(32) -> Dense(1)."""

    def __init__(self, hidden: tuple[int, int] = (64, 32), dropout: float = 0.0):
        super().__init__()
        self.rnn = deeprnn.SimpleRNN(1, hidden[0])  # (N, L, 64), all steps
        self.lstm = deeprnn.LSTM(hidden[0], hidden[1], return_sequences=False)  # (N, 32)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden[1], 1)

    def forward(self, x, lengths=None):
        h, _ = self.rnn(x, lengths=lengths)
        h, _ = self.lstm(h, lengths=lengths)
        return self.head(self.drop(h))  # (N, 1)


class Constant(nn.Module):
    """A model whose loss never moves: the plateau early stopping must stop on."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x.mean(1) + 0 * self.w  # (N, 1)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = sine()
    model = Stacked()
    history = deeprnn.fit(
        model,
        x,
        y,
        validation_split=SPLIT,
        epochs=4,
        batch_size=12,
        optimizer="adam",
        lr=1e-2,
        metrics=["mae"],
        seed=0,
        verbose=False,
    )
    return model, history, x, y


def test_fit_returns_a_keras_history(trained):
    model, history, _, _ = trained
    assert isinstance(history, deeprnn.History)
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history["loss"] is history.history["loss"]
    assert len(history["loss"]) == len(history["val_loss"]) == 4
    assert history.epoch == [0, 1, 2, 3]
    assert history.params["epochs"] == 4 and history.params["steps"] == 3  # 36 / 12
    assert history.model is model
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert all(isinstance(v, float) and math.isfinite(v) for v in history["val_mae"])
    with pytest.raises(KeyError, match="'val_accuracy' is not in this History"):
        history["val_accuracy"]


def test_evaluate_gives_the_last_epochs_val_loss(trained):
    model, history, x, y = trained
    held = int(N * (1 - SPLIT))
    loss, mae = deeprnn.evaluate(model, x[held:], y[held:], batch_size=12)  # as in Keras
    assert loss == pytest.approx(history["val_loss"][-1], rel=1e-5)
    assert mae == pytest.approx(history["val_mae"][-1], rel=1e-5)
    out = deeprnn.evaluate(model, x[held:], y[held:], loss="mae", metrics=[], return_dict=True)
    assert list(out) == ["loss"] and out["loss"] == pytest.approx(mae, rel=1e-5)
    assert isinstance(deeprnn.evaluate(model, x, y, metrics=[]), float)


def test_predict_returns_the_stacked_outputs(trained):
    model, _, x, _ = trained
    pred = deeprnn.predict(model, x, batch_size=10)
    assert pred.shape == (N, 1) and not pred.requires_grad
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(pred, model(x), rtol=1e-5, atol=1e-6)


def test_plot_curves_takes_a_history(trained, tmp_path):
    _, history, _, _ = trained
    for name, source in [
        ("history", history),
        ("dict", dict(history.history)),
        ("train_only", {"loss": history["loss"]}),
    ]:
        path = plot_curves(source, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 3000
    with pytest.raises(TypeError, match="run must be a run folder or its metrics CSV"):
        plot_curves(42, tmp_path / "bad.png")


def test_validation_split_holds_out_the_last_samples():
    x = torch.arange(10.0).reshape(10, 1, 1)
    train, val = train_val_loaders(
        nn.Linear(1, 1), x, x[:, 0], None, None,
        validation_split=0.2, validation_data=None, batch_size=4, shuffle=True,
    )  # fmt: skip
    held = torch.cat([b["x"].flatten() for b in val])
    assert held.tolist() == [8.0, 9.0]  # Keras: the last 20%, before shuffling
    assert sorted(torch.cat([b["x"].flatten() for b in train]).tolist()) == list(range(8))


def test_early_stopping_stops_on_a_plateau():
    x, y = sine()
    stop = EarlyStopping(monitor="val_loss", patience=2)
    history = deeprnn.fit(
        Constant(), x, y, validation_split=SPLIT, epochs=20, callbacks=[stop], verbose=False
    )
    assert len(history["loss"]) == len(history["val_loss"]) == 3  # best, then 2 without gain
    assert len(set(history["val_loss"])) == 1


class Sabotage(pl.Callback):
    """Wrecks the head's bias before the last epoch, so the last epoch is not the best."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                pl_module.model.head.bias += 3.0


def test_restore_best_reloads_the_best_epoch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = sine()
    model = Stacked(hidden=(8, 8))
    history = deeprnn.fit(
        model, x, y, validation_split=SPLIT, epochs=3, batch_size=12, optimizer="sgd",
        lr=1e-3, callbacks=[Sabotage(epoch=2)], restore_best=True, verbose=False,
    )  # fmt: skip
    val = history["val_loss"]
    assert val.index(min(val)) != len(val) - 1
    held = int(N * (1 - SPLIT))
    restored = deeprnn.evaluate(model, x[held:], y[held:], batch_size=12)
    assert restored == pytest.approx(min(val), rel=1e-5)
    assert list(tmp_path.iterdir()) == []  # Lightning's files went to a temporary folder


def test_default_root_dir_keeps_a_log_plot_curves_reads(tmp_path):
    x, y = sine()
    run = tmp_path / "run"
    deeprnn.fit(
        Constant(), x, y, validation_split=SPLIT, epochs=2, default_root_dir=run, verbose=False
    )
    assert (run / "logs" / "csv" / "metrics.csv").is_file()
    assert plot_curves(run, tmp_path / "run.png").stat().st_size > 3000


def test_a_dataloader_works_for_fit_evaluate_and_predict():
    x, y = sine()
    train = DataLoader(TensorDataset(x[:36], y[:36]), batch_size=12, shuffle=True)
    val = DataLoader(TensorDataset(x[36:], y[36:]), batch_size=12)
    model = Stacked(hidden=(8, 8))
    history = deeprnn.fit(model, train, validation_data=val, epochs=2, verbose=False)
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    assert deeprnn.evaluate(model, val) == pytest.approx(history["val_loss"][-1], rel=1e-5)
    pred = deeprnn.predict(model, DataLoader(TensorDataset(x), batch_size=20))
    assert pred.shape == (N, 1)


class LengthsSpy(nn.Module):
    """Checks that each batch's lengths and mask belong to its rows (x[i] is filled with i)."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(1, 1)
        self.calls = 0

    def forward(self, x, lengths=None, mask=None):
        ids = x[:, 0, 0].round().long()  # (B,)
        assert torch.equal(lengths, ids % 4 + 1)
        assert torch.equal(mask, torch.arange(x.shape[1]) < lengths[:, None])
        self.calls += 1
        return self.head(x[:, 0])  # (B, 1)


def test_lengths_and_mask_are_sliced_per_batch_and_passed():
    n, t = 20, 5
    x = torch.arange(n, dtype=torch.float32)[:, None, None].expand(n, t, 1).contiguous()
    lengths = torch.arange(n) % 4 + 1
    mask = torch.arange(t) < lengths[:, None]  # (n, t)
    model = LengthsSpy()
    kw = {"lengths": lengths, "mask": mask}
    deeprnn.fit(
        model, x, x[:, 0], validation_split=0.2, epochs=2, batch_size=6, verbose=False, **kw
    )
    assert model.calls == 2 * (3 + 1)  # 16 train samples in 3 batches, 4 in 1 validation batch
    assert deeprnn.predict(model, x, batch_size=7, **kw).shape == (n, 1)
    deeprnn.fit(
        model, x[:16], x[:16, 0], validation_data=(x[16:], x[16:, 0], {"lengths": lengths[16:],
        "mask": mask[16:]}), lengths=lengths[:16], mask=mask[:16], verbose=False,
    )  # fmt: skip


def test_a_layer_returning_out_and_states_is_fitted_on_its_output():
    x, _ = sine()
    model = deeprnn.LSTM(1, 4, return_sequences=False)  # forward -> (out (N, 4), states)
    history = deeprnn.fit(model, x, torch.zeros(N, 4), epochs=2, lr=0.05, verbose=False)
    assert history["loss"][-1] < history["loss"][0]
    assert deeprnn.predict(model, x).shape == (N, 4)


def test_the_same_seed_gives_identical_weights():
    x, y = sine()
    base = Stacked(hidden=(8, 8), dropout=0.3)
    runs = []
    before = torch.are_deterministic_algorithms_enabled()
    for seed in (3, 3, 4):
        model = copy.deepcopy(base)
        deeprnn.fit(model, x[:24], y[:24], epochs=2, batch_size=8, seed=seed, verbose=False)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])  # shuffle, dropout
    assert torch.are_deterministic_algorithms_enabled() == before  # the global flag is restored


def test_gradient_clipping_reaches_the_trainer():
    seen = {}

    class Spy(pl.Callback):
        def on_fit_start(self, trainer, pl_module):
            seen["clip"] = (trainer.gradient_clip_val, trainer.gradient_clip_algorithm)

    x, y = sine()
    deeprnn.fit(Constant(), x, y, gradient_clip_norm=0.5, callbacks=[Spy()], verbose=False)
    assert seen["clip"] == (0.5, "norm")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": torch.zeros(N - 1, 1)}, rf"y must have as many samples as x \({N}\), got {N - 1}"),
        ({"lengths": torch.ones(3)}, rf"lengths must have as many samples as x \({N}\), got 3"),
        ({"loss": "hinge_loss"}, "loss must be one of .* or a callable, got 'hinge_loss'"),
        ({"validation_split": 1.0}, r"validation_split must be a number in \[0, 1\), got 1.0"),
        ({"validation_split": -0.1}, r"validation_split must be a number in \[0, 1\), got -0.1"),
        ({"epochs": 0}, "epochs must be an int >= 1, got 0"),
        ({"optimizer": "adamx"}, "optimizer must be one of .*, got 'adamx'"),
        ({"metrics": ["f1"]}, "metrics: unknown name 'f1'"),
        ({"y": None}, "y must be given with tensor or array inputs x, got None"),
        ({"gradient_clip_norm": -1}, "gradient_clip_norm must be a positive number, got -1"),
        ({"callbacks": [ModelCheckpoint()]}, "a ModelCheckpoint without dirpath"),
        (
            {"validation_split": 0.2, "validation_data": (torch.zeros(2, W, 1), torch.zeros(2))},
            "give validation_split or validation_data, not both",
        ),
    ],
)
def test_bad_inputs_are_one_line_value_errors(kwargs, message):
    x, y = sine()
    kwargs = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=message) as info:
        deeprnn.fit(Constant(), x, epochs=kwargs.pop("epochs", 1), verbose=False, **kwargs)
    assert "\n" not in str(info.value)


def test_evaluate_needs_a_loss_for_a_model_fit_never_saw():
    x, y = sine()
    with pytest.raises(ValueError, match="loss must be given"):
        deeprnn.evaluate(Constant(), x, y)
    assert deeprnn.evaluate(Constant(), x, y, loss="mse") == pytest.approx(
        float(((x.mean(1) - y) ** 2).mean()), rel=1e-5
    )


def test_loss_names_follow_keras_from_logits():
    z, y = torch.randn(8, 1), torch.randint(0, 2, (8,)).float()  # y (8,) vs z (8, 1): reshaped
    bce, logits = _compile.get_loss("binary_crossentropy"), _compile.get_loss("bce_with_logits")
    assert bce(torch.sigmoid(z), y) == pytest.approx(float(logits(z, y)), rel=1e-4)
    z3, ids = torch.randn(4, 3, 5), torch.randint(0, 5, (4, 3))  # per-step classes (N, T, C)
    sparse = _compile.get_loss("sparse_categorical_crossentropy_from_logits")(z3, ids)
    onehot = nn.functional.one_hot(ids, 5).float()
    cat = _compile.get_loss("categorical_crossentropy")(z3.softmax(-1), onehot)
    assert float(sparse) == pytest.approx(float(cat), rel=1e-4)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy_from_logits"):
        _compile.get_loss("mse")(torch.randn(8, 5), torch.randint(0, 5, (8,)))
    acc = _compile.get_metrics(["accuracy"], logits)["accuracy"]
    assert float(acc(torch.tensor([[2.0], [-1.0]]), torch.tensor([1.0, 0.0]))) == 1.0


def test_import_deeprnn_is_light_and_lists_its_lazy_attributes():
    code = (
        "import sys, deeprnn\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('lightning', 'pytorch_lightning', 'torchmetrics'))\n"
        "assert not heavy, heavy\n"
        "names = dir(deeprnn)\n"
        "for n in ('fit', 'evaluate', 'predict', 'History', 'viz', 'data', 'tasks', 'training',"
        " 'export', 'report'):\n"
        "    assert n in names, n\n"
        "assert callable(deeprnn.viz.plot_curves)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_lazy_attributes_resolve():
    assert deeprnn.History is deeprnn.training.History
    assert deeprnn.fit is deeprnn.training.keras.fit
    assert deeprnn.training.fit is not deeprnn.fit  # the run-config fit keeps its name
    assert deeprnn.report.write_report and deeprnn.export and deeprnn.tasks and deeprnn.data
    assert {"fit", "evaluate", "predict", "History"} <= set(deeprnn.__all__)
    with pytest.raises(AttributeError, match="module 'deeprnn' has no attribute 'no_such_name'"):
        deeprnn.no_such_name  # noqa: B018


class Classifier(nn.Module):
    """Two inputs (a sequence and a bias feature) -> class logits (N, 3)."""

    def __init__(self):
        super().__init__()
        self.lstm = deeprnn.LSTM(1, 8, return_sequences=False)
        self.head = nn.Linear(9, 3)

    def forward(self, x, extra, lengths=None):
        h, _ = self.lstm(x, lengths=lengths)  # (N, 8)
        return self.head(torch.cat([h, extra], -1))  # (N, 3)


def test_a_classifier_with_two_inputs_and_accuracy():
    x, _ = sine()
    labels = (x[:, -1, 0] > 0.5).long() + (x[:, -1, 0] < -0.5).long() * 2  # (N,) in {0, 1, 2}
    history = deeprnn.fit(
        Classifier(), (x, torch.ones(N, 1)), labels, validation_split=SPLIT, epochs=2,
        loss="sparse_categorical_crossentropy_from_logits", metrics=["accuracy"], lr=0.05,
        verbose=False,
    )  # fmt: skip
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    held = int(N * (1 - SPLIT))  # validation_split takes the last rows, as Keras
    model = history.model
    logits = deeprnn.predict(model, (x[held:], torch.ones(N - held, 1)))
    by_hand = (logits.argmax(1) == labels[held:]).float().mean()
    assert history["val_accuracy"][-1] == pytest.approx(float(by_hand))


def test_padcollate_batches_carry_their_lengths():
    from deeprnn.data import PadCollate

    seqs = [torch.randn(int(n), 1) for n in torch.randint(2, 7, (16,))]
    samples = [(s, s.sum(0)) for s in seqs]  # (sequence (L, 1), target (1,))
    batches = DataLoader(samples, batch_size=5, collate_fn=PadCollate(sequence_labels=False))
    model = Stacked(hidden=(8, 8))
    history = deeprnn.fit(model, batches, validation_data=batches, epochs=2, verbose=False)
    assert len(history["val_loss"]) == 2
    assert deeprnn.predict(model, batches).shape == (16, 1)


def test_layer_regularizers_add_exactly_their_penalty_to_the_loss():
    x, y = sine(32)
    torch.manual_seed(0)
    rnn = deeprnn.SimpleRNN(1, 4, return_state=False, return_sequences=False)
    reg = deeprnn.SimpleRNN(
        1,
        4,
        return_state=False,
        return_sequences=False,
        kernel_regularizer=deeprnn.regularizers.L2(0.1),
    )
    reg.load_state_dict(rnn.state_dict())
    head = nn.Linear(4, 1)
    plain, regular = nn.Sequential(rnn, head), nn.Sequential(reg, copy.deepcopy(head))
    penalty = float(deeprnn.regularization_loss(regular))
    assert penalty > 0 and float(deeprnn.regularization_loss(plain)) == 0.0
    a = deeprnn.evaluate(plain, x, y, loss="mse", verbose=False)
    b = deeprnn.evaluate(regular, x, y, loss="mse", verbose=False)
    assert b - a == pytest.approx(penalty, rel=1e-5)
    # training reports the penalised loss too (lr 0: the weights do not move)
    sgd = torch.optim.SGD(regular.parameters(), lr=0.0)
    h = deeprnn.fit(regular, x, y, epochs=1, batch_size=32, optimizer=sgd, verbose=False, seed=0)
    assert h.history["loss"][0] == pytest.approx(b, rel=1e-5)


class KernelMinimum(pl.Callback):
    """The smallest input-kernel weight after every optimizer step: as the next step starts,
    and when training ends (the module's own batch-end hook, where constraints are applied,
    runs after the callbacks' one)."""

    def __init__(self, layer):
        self.layer, self.after_step = layer, []

    def _record(self):
        self.after_step.append(float(self.layer.blocks[0].cell.weight_ih.min()))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step > 0:
            self._record()

    def on_train_end(self, trainer, pl_module):
        self._record()


@pytest.mark.parametrize("constrained", [True, False])
def test_constraints_are_applied_after_every_step(constrained):
    """Non-negative kernel after each of the 4 steps, where the same steps unconstrained go
    negative (so the check can fail)."""
    x, y = sine(32)
    torch.manual_seed(0)
    kw = {"kernel_constraint": "non_neg"} if constrained else {}
    layer = deeprnn.SimpleRNN(1, 4, return_state=False, return_sequences=False, **kw)
    with torch.no_grad():
        layer.blocks[0].cell.weight_ih.abs_()  # start feasible in both runs
    model = nn.Sequential(layer, nn.Linear(4, 1))
    probe = KernelMinimum(layer)
    deeprnn.fit(
        model, x, y, epochs=1, batch_size=8, lr=0.5, verbose=False, seed=0, callbacks=[probe]
    )
    assert len(probe.after_step) == 4
    if constrained:
        assert min(probe.after_step) >= 0.0, probe.after_step
    else:
        assert min(probe.after_step) < 0.0, probe.after_step


def test_restore_best_uses_the_users_own_checkpoint_on_the_same_monitor(tmp_path):
    x, y = sine(32)
    net = nn.Sequential(
        deeprnn.LSTM(1, 4, return_state=False, return_sequences=False), nn.Linear(4, 1)
    )
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=1)
    h = deeprnn.fit(
        net,
        x,
        y,
        epochs=2,
        validation_split=0.25,
        restore_best=True,
        callbacks=[ckpt],
        verbose=False,
    )
    assert len(h.history["val_loss"]) == 2 and ckpt.best_model_path
    # the weights restored are the ones in the user's best checkpoint
    best = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
    saved = {k.removeprefix("model."): v for k, v in best.items()}
    current = net.state_dict()
    assert saved.keys() == current.keys()
    for k in saved:
        torch.testing.assert_close(current[k], saved[k], rtol=0, atol=0, msg=k)
    epoch_of_best = torch.load(ckpt.best_model_path, weights_only=True)["epoch"]
    val = h.history["val_loss"]
    assert val[epoch_of_best] == pytest.approx(min(val), rel=1e-6)


def test_reference_is_an_attribute_of_the_package():
    import deeprnn

    assert hasattr(deeprnn.reference, "lstm_forward") or len(dir(deeprnn.reference)) > 5


def test_fit_refuses_non_finite_inputs_and_targets():
    """deeprnn.fit on data with NaN / Inf trained to NaN weights and returned loss [nan]
    without a word (issue 26 item 4); the data is now refused at the boundary."""
    x, y = sine(32)
    model = nn.Sequential(
        deeprnn.LSTM(1, 4, return_state=False, return_sequences=False), nn.Linear(4, 1)
    )
    before = copy.deepcopy(model.state_dict())
    bad_x = x.clone()
    bad_x[3, 5, 0] = float("nan")
    with pytest.raises(ValueError, match=r"x must be finite, got nan at index \(3, 5, 0\)"):
        deeprnn.fit(model, bad_x, y, epochs=1, verbose=False)
    bad_y = y.clone()
    bad_y[7] = float("inf")
    with pytest.raises(ValueError, match=r"y must be finite, got inf at index \(7"):
        deeprnn.fit(model, x, bad_y, epochs=1, verbose=False)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_fit_stops_on_a_non_finite_loss_as_the_cli_does():
    """A loss that turns NaN mid-training (here a loss function that does) stops fit with
    NonFiniteLossError naming the step, and the weights stay finite."""
    from deeprnn.training import NonFiniteLossError

    x, y = sine(32)
    model = nn.Sequential(
        deeprnn.LSTM(1, 4, return_state=False, return_sequences=False), nn.Linear(4, 1)
    )
    calls = []

    def poisoned(pred, target):
        calls.append(1)
        loss = torch.nn.functional.mse_loss(pred, target)
        return loss * float("nan") if len(calls) == 3 else loss

    with pytest.raises(NonFiniteLossError, match=r"global step 2"):
        deeprnn.fit(model, x, y, epochs=3, batch_size=8, loss=poisoned, verbose=False)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
