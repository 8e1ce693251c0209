"""Training features: exact resume, the NaN guard, penalties, clipping, freezing, transfer."""

import lightning.pytorch as pl
import pytest
import torch
from _tiny import tiny_config

from deeprnn.tasks import Classify
from deeprnn.training import (
    NonFiniteLossError,
    RegularizerConfig,
    fit,
    read_checkpoint,
    run_config_from_dict,
    weight_penalty,
)


def _numeric(tmp_path, name, **trainer):
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / name, **trainer)
    cfg["model"].update(head_dropout=0.3, input={"embedding_dropout": 0.2})
    return cfg


def test_last_checkpoint_is_the_last_epoch_not_the_best(tmp_path):
    """last.ckpt holds the latest epoch even when the monitored score stopped improving
    (Lightning's save_last alone rewrote it only with the best): monitoring val_loss for its
    maximum makes epoch 0 the best of a run whose loss falls."""
    cfg = _numeric(tmp_path, "worse", max_epochs=4, early_stopping_patience=None)
    cfg["trainer"].update(monitor="val_loss", mode="max")
    result = fit(run_config_from_dict(cfg))
    folder = result.run_dir / "checkpoints"
    assert read_checkpoint(folder / "last.ckpt")["epoch"] == 3
    best = read_checkpoint(folder / "best.ckpt")
    assert best["epoch"] < 3  # the loss fell, so the "best" (max) epoch is an early one
    assert sorted(p.name for p in folder.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    full = fit(run_config_from_dict(_numeric(tmp_path, "full", max_epochs=3)))
    first = run_config_from_dict(_numeric(tmp_path, "split", max_epochs=1))
    part = fit(first)
    ckpt = part.run_dir / "checkpoints" / "last.ckpt"
    assert read_checkpoint(ckpt)["epoch"] == 0
    after_one = read_checkpoint(ckpt)["state_dict"]
    first.trainer.max_epochs = 3
    resumed = fit(first, resume=ckpt)
    # fit reloads the best checkpoint at the end: compare the last weights of both runs
    a = read_checkpoint(full.run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    b = read_checkpoint(resumed.run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert not all(torch.equal(a[k], after_one[k]) for k in a)  # training did move on
    # the resumed run's curves hold every epoch, as the uninterrupted run's do (issue 26 item
    # 5: the CSV log was rewritten from the resumed epoch, the first epoch's rows lost)
    import csv

    def log(run_dir):
        with (run_dir / "logs" / "csv" / "metrics.csv").open(newline="") as f:
            return list(csv.DictReader(f))

    def column(rows, key):
        return [(int(r["epoch"]), float(r[key])) for r in rows if r.get(key)]

    full_rows, resumed_rows = log(full.run_dir), log(resumed.run_dir)
    for key in ("val_loss", "train_loss_epoch"):
        assert [e for e, _ in column(resumed_rows, key)] == [0, 1, 2], key
        values = [v for _, v in column(resumed_rows, key)]
        assert values == pytest.approx([v for _, v in column(full_rows, key)], rel=1e-5), key
    steps = [int(r["step"]) for r in resumed_rows if r.get("train_loss_step")]
    assert (
        steps
        == sorted(set(steps))
        == [int(r["step"]) for r in full_rows if r.get("train_loss_step")]
    )


class _Poison(pl.Callback):
    """Make a weight NaN at a chosen step."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(module.parameters()).fill_(float("nan"))


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = run_config_from_dict(_numeric(tmp_path, "nan", max_epochs=5))
    steps_per_epoch = -(-int(120 * 0.8) // 16)
    with pytest.raises(
        NonFiniteLossError,
        match=r"training stopped: .* at epoch 1.*last good checkpoint is .*last.ckpt",
    ):
        fit(cfg, extra_callbacks=[_Poison(steps_per_epoch + 2)])
    ckpt = read_checkpoint(tmp_path / "nan" / "checkpoints" / "last.ckpt")
    assert ckpt["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())


def _model(**kw):
    cfg = {
        "input": {"embedding_dim": 4},
        "rnn": {
            "layers": [
                dict(cell="lstm", hidden_size=3, bidirectional=True),
                dict(cell="gru", hidden_size=2),
            ]
        },
    }
    return Classify(cfg, {"vocab": ["[PAD]", "[UNK]", "a", "b"], "labels": ["x", "y"]}, **kw)


def test_weight_penalties_by_kind():
    model = _model()
    reg = RegularizerConfig(input_l1=0.1, recurrent_l2=0.2, bias_l1=0.3, bias_l2=0.4)
    expected = 0.0
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if ".cell." not in name:
            continue
        if leaf == "weight_ih":
            expected += 0.1 * p.abs().sum()
        elif leaf == "weight_hh":
            expected += 0.2 * p.pow(2).sum()
        elif leaf.startswith("bias"):
            expected += 0.3 * p.abs().sum() + 0.4 * p.pow(2).sum()
    torch.testing.assert_close(weight_penalty(model, reg), expected)
    assert weight_penalty(model, RegularizerConfig()) is None
    (weight_penalty(model, RegularizerConfig(input_l2=1.0))).backward()
    assert model.encoder.input.embedding.weight.grad is None  # embeddings are not penalised


@pytest.mark.parametrize(("norm", "value"), [(0.5, None), (None, 1e-3), (0.5, 1e-3)])
def test_gradient_clipping_by_norm_and_value(norm, value):
    model = _model(clip_norm=norm, clip_value=value)
    x = torch.randint(0, 4, (3, 5))
    loss = 1e3 * model(x, torch.tensor([5, 2, 0])).pow(2).sum()
    loss.backward()
    model.configure_gradient_clipping(None)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if value is not None:
        assert max(g.abs().max() for g in grads) <= value + 1e-9
    if norm is not None:
        assert torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])) <= norm + 1e-5


class _Snapshots(pl.Callback):
    def __init__(self):
        self.weights = []

    def on_train_epoch_end(self, trainer, module):
        self.weights.append(module.encoder.input.embedding.weight.detach().clone())


def test_transfer_from_a_language_model_freeze_then_unfreeze(tmp_path):
    lm = fit(
        run_config_from_dict(tiny_config("lm", tmp_path / "data", tmp_path / "lm", max_epochs=1))
    )
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "cls", max_epochs=3)
    cfg["data"].update(
        vocab_path=str(lm.export_dir / "vocab.json"), level="char", lower=False, max_length=20
    )
    cfg["model"] = {"input": {"embedding_dim": 16}, "rnn": {"hidden_size": 32}}
    cfg["finetune"] = {
        "init_from": str(lm.export_dir),
        "freeze": ["encoder.input"],
        "unfreeze_at_epoch": 2,
    }
    run = run_config_from_dict(cfg)
    from deeprnn.training import build_datamodule, build_model

    model = build_model(run, build_datamodule(run).prepare().artifacts)
    lm_state = lm.model.state_dict()
    for k in ("encoder.input.embedding.weight", "encoder.rnn.blocks.0.cell.weight_hh"):
        torch.testing.assert_close(model.state_dict()[k], lm_state[k])
    snaps = _Snapshots()
    fit(run, extra_callbacks=[snaps])
    start = lm_state["encoder.input.embedding.weight"]
    assert torch.equal(snaps.weights[0], start) and torch.equal(snaps.weights[1], start)
    assert not torch.equal(snaps.weights[2], start)


def _unfreezing(tmp_path, name, max_epochs):
    cfg = _numeric(tmp_path, name, max_epochs=max_epochs, early_stopping_patience=None)
    cfg["finetune"] = {"freeze": ["encoder.rnn"], "unfreeze_at_epoch": 1}
    return run_config_from_dict(cfg)


def test_resume_after_the_unfreeze_epoch_gives_the_same_weights(tmp_path):
    # issue 26 item 11: a run resumed from a checkpoint written after finetune.unfreeze_at_epoch
    # was rebuilt frozen with one parameter group, and the checkpoint's optimizer state (two
    # groups) could not load; now the groups and the unfrozen layers come back as they were
    full = fit(_unfreezing(tmp_path, "full", 4))
    first = _unfreezing(tmp_path, "split", 2)
    part = fit(first)
    ckpt = part.run_dir / "checkpoints" / "last.ckpt"
    saved = read_checkpoint(ckpt)
    assert saved["epoch"] == 1
    assert len(saved["optimizer_states"][0]["param_groups"]) == 2  # unfrozen at epoch 1
    after_two = saved["state_dict"]
    first.trainer.max_epochs = 4
    resumed = fit(first, resume=ckpt)
    a = read_checkpoint(full.run_dir / "checkpoints" / "last.ckpt")
    b = read_checkpoint(resumed.run_dir / "checkpoints" / "last.ckpt")
    assert a["epoch"] == b["epoch"] == 3
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k], rtol=0, atol=0, msg=k)
    rnn = "encoder.rnn.blocks.0.cell.weight_hh"
    assert not torch.equal(b["state_dict"][rnn], after_two[rnn])  # the unfrozen layer trained on
    assert [len(g["params"]) for g in b["optimizer_states"][0]["param_groups"]] == [2, 3]


def test_freeze_without_unfreeze_keeps_the_layers_fixed(tmp_path):
    cfg = _numeric(tmp_path, "frozen", max_epochs=2)
    cfg["finetune"] = {"freeze": ["encoder.rnn"]}
    run = run_config_from_dict(cfg)
    from deeprnn.training import build_datamodule, build_model

    start = build_model(run, build_datamodule(run).prepare().artifacts).state_dict()
    done = read_checkpoint(fit(run).run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    assert torch.equal(
        done["encoder.rnn.blocks.0.cell.weight_hh"], start["encoder.rnn.blocks.0.cell.weight_hh"]
    )
    assert not torch.equal(done["head.1.weight"], start["head.1.weight"])


def test_bad_finetune_and_data_paths(tmp_path):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "x")
    cfg["finetune"] = {"freeze": ["nothing_matches"]}
    with pytest.raises(
        ValueError, match=r"finetune.freeze \['nothing_matches'\] matches no parameter"
    ):
        fit(run_config_from_dict(cfg))
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "x")
    cfg["data"]["path"] = str(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"data.path: file not found: .*missing.csv"):
        fit(run_config_from_dict(cfg))
    cfg["data"]["path"] = str(tmp_path / "data" / "reviews.csv")
    cfg["data"]["text_column"] = "review"
    with pytest.raises(
        ValueError, match=r"column\(s\) \['review'\] not found; columns are \['text', 'label'\]"
    ):
        fit(run_config_from_dict(cfg))


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop"])
@pytest.mark.parametrize(
    "schedule", ["none", "step", "exponential", "cosine", "plateau", "onecycle"]
)
def test_every_optimizer_and_schedule_builds_and_steps(name, schedule):
    from deeprnn.training import OptimConfig, SchedulerConfig, build_optimizers

    model = _model()
    warmup = 0 if schedule == "onecycle" else 2  # onecycle warms up itself
    cfg = OptimConfig(
        name=name,
        lr=0.01,
        momentum=0.5,
        scheduler=SchedulerConfig(name=schedule, warmup_steps=warmup),
    )
    out = build_optimizers(
        model.parameters(), cfg, max_epochs=3, total_steps=10, monitor="val_loss"
    )
    (opt,), scheds = out
    assert type(opt).__name__.lower() == name
    kinds = [type(s["scheduler"]).__name__ for s in scheds]
    if warmup:
        assert kinds[-1] == "LinearLR"  # the warm-up
    start = 0.01 / 25 if schedule == "onecycle" else 0.01 / 2  # OneCycle: max_lr / 25
    assert opt.param_groups[0]["lr"] == pytest.approx(start)
    if schedule == "plateau":
        assert scheds[0]["monitor"] == "val_loss"
    with pytest.raises(ValueError, match="no trainable parameters"):
        frozen = _model()
        for p in frozen.parameters():
            p.requires_grad_(False)
        build_optimizers(frozen.parameters(), cfg, max_epochs=1, total_steps=1, monitor="val_loss")


@pytest.mark.parametrize("schedule", ["none", "step", "exponential", "cosine", "plateau"])
def test_warmup_multiplies_the_schedule_over_a_whole_run(schedule):
    """lr(step) = schedule(epoch) * min(1, (step + 1) / W) at every step of a run, stepped as
    Lightning steps them (step-interval after every batch, epoch-interval at the epoch's end).
    The warm-up used to be a LambdaLR that reset lr to base * f and so cancelled the schedule."""
    import math

    from deeprnn.training import OptimConfig, SchedulerConfig, build_optimizers

    W, epochs, per_epoch, base = 4, 5, 3, 0.1
    sched = SchedulerConfig(name=schedule, warmup_steps=W, step_size=2, gamma=0.5, patience=0)
    cfg = OptimConfig(name="sgd", lr=base, scheduler=sched)
    out = build_optimizers(
        _model().parameters(), cfg, max_epochs=epochs, total_steps=15, monitor="m"
    )
    (opt,), scheds = out
    seen, want = [], []
    for epoch in range(epochs):
        for i in range(per_epoch):
            step = epoch * per_epoch + i
            seen.append(opt.param_groups[0]["lr"])
            main = {
                "none": 1.0,
                "step": 0.5 ** (epoch // 2),
                "exponential": 0.5**epoch,
                "cosine": (1 + math.cos(math.pi * epoch / epochs)) / 2,
                # the metric never improves after the first epoch: halved after every later one
                "plateau": 0.5 ** max(epoch - 1, 0),
            }[schedule]
            want.append(base * main * min(1.0, (step + 1) / W))
            opt.step()
            for s in scheds:
                if s["interval"] == "step":
                    s["scheduler"].step()
        for s in scheds:
            if s["interval"] == "epoch":
                if "monitor" in s:
                    s["scheduler"].step(1.0)
                else:
                    s["scheduler"].step()
    assert seen == pytest.approx(want, rel=1e-6)


def test_warmup_with_onecycle_is_an_error():
    from deeprnn.training import OptimConfig, SchedulerConfig, build_optimizers

    cfg = OptimConfig(scheduler=SchedulerConfig(name="onecycle", warmup_steps=3))
    with pytest.raises(ValueError, match="warmup_steps does not combine with name='onecycle'"):
        build_optimizers(_model().parameters(), cfg, max_epochs=2, total_steps=10, monitor="m")


def test_early_stopping(tmp_path):
    cfg = _numeric(tmp_path, "early", max_epochs=20, early_stopping_patience=1)
    cfg["optim"] = {"lr": 1e-9}  # nothing improves
    result = fit(run_config_from_dict(cfg))
    epoch = read_checkpoint(result.run_dir / "checkpoints" / "last.ckpt")["epoch"]
    assert epoch < 5


def test_pretrained_word_vectors(tmp_path):
    from deeprnn.models.inputs import read_word_vectors

    path = tmp_path / "vectors.txt"
    path.write_text("2 3\na 1 2 3\nzzz 4 5 6\n")
    weights, found = read_word_vectors(path, ["[PAD]", "[UNK]", "a", "b"], 3)
    assert found == 1 and weights[2].tolist() == [1.0, 2.0, 3.0] and weights[0].abs().sum() == 0
    with pytest.raises(ValueError, match=r"vector has 3 values, model.input.embedding_dim is 4"):
        read_word_vectors(path, ["[PAD]", "[UNK]", "a"], 4)
    model = Classify(
        {
            "input": {
                "embedding_dim": 3,
                "pretrained_embeddings": str(path),
                "freeze_embeddings": True,
            }
        },
        {"vocab": ["[PAD]", "[UNK]", "a", "b"], "labels": ["x", "y"]},
    )
    emb = model.encoder.input.embedding.weight
    assert emb[2].tolist() == [1.0, 2.0, 3.0] and not emb.requires_grad


def _forecast_rows():
    return [{"id": "a", "value": 10 + i % 3, "temp": 0.0} for i in range(24)]


def test_bf16_mixed_precision_trains_on_cpu_and_round_trips(tmp_path):
    """trainer.precision bf16-mixed on CPU (torch.autocast): the recurrent kernels run in the
    float32 weights' dtype, the loss is finite and falls, and the checkpoint and the export
    folder hold float32 weights that predict as the trained model does."""
    from deeprnn.export import load_exported
    from deeprnn.tasks import Forecast
    from deeprnn.viz.curves import read_metrics

    cfg = tiny_config(
        "forecast", tmp_path / "data", tmp_path / "run", max_epochs=2, precision="bf16-mixed"
    )
    result = fit(run_config_from_dict(cfg))  # the NaN guard raises on a non-finite loss
    train = [v for _, v in read_metrics(result.run_dir)["train_loss"]]
    assert len(train) == 2 and train[1] < train[0]
    assert torch.isfinite(torch.tensor(result.metrics["test_loss"]))
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}

    ckpt = result.run_dir / "checkpoints" / "last.ckpt"
    weights = read_checkpoint(ckpt)["state_dict"]
    assert {v.dtype for v in weights.values() if v.is_floating_point()} == {torch.float32}
    reloaded = Forecast.load_checkpoint(ckpt)
    for k, v in reloaded.state_dict().items():
        torch.testing.assert_close(v, weights[k], rtol=0, atol=0, msg=k)

    exported = load_exported(result.export_dir)
    assert {p.dtype for p in exported.parameters()} == {torch.float32}
    assert exported.predict_raw(_forecast_rows()) == result.model.eval().predict_raw(
        _forecast_rows()
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_16_mixed_on_a_cpu_only_machine_trains_in_bf16(tmp_path):
    """fp16 AMP needs CUDA; Lightning falls back to bf16-mixed on CPU (with a warning)."""
    cfg = tiny_config(
        "forecast", tmp_path / "data", tmp_path / "run", max_epochs=1, precision="16-mixed"
    )
    with pytest.warns(UserWarning, match="fp16 is not supported on CPU"):
        result = fit(run_config_from_dict(cfg))
    assert torch.isfinite(torch.tensor(result.metrics["test_loss"]))
    assert len(result.model.predict_raw(_forecast_rows())) == 3


def test_a_bad_data_path_leaves_no_run_folder(tmp_path):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run")
    cfg["data"]["path"] = str(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"data.path: file not found: .*missing.csv"):
        fit(run_config_from_dict(cfg))
    assert not (tmp_path / "run").exists()
