"""Each task trains a few epochs on tiny data: the loss falls and the outputs make sense."""

import json

import pytest
import torch
from _tiny import tiny_config

from deeprnn.training import fit, run_config_from_dict
from deeprnn.viz.curves import read_metrics


def _train(task, tmp_path, **trainer):
    cfg = tiny_config(task, tmp_path / "data", tmp_path / "run", **trainer)
    return fit(run_config_from_dict(cfg))


def _losses(run_dir):
    data = read_metrics(run_dir)
    return [v for _, v in data["train_loss"]], [v for _, v in data["val_loss"]]


def test_classify_text(tmp_path):
    result = _train("classify", tmp_path, max_epochs=4)
    train, val = _losses(result.run_dir)
    assert train[-1] < train[0] and val[-1] < val[0]
    assert result.metrics["test_acc"] > 0.8  # the label is one keyword away
    out = result.model.predict_raw(["the film was great", "awful plot and actors"])
    assert [o["label"] for o in out] == ["pos", "neg"]
    assert sum(out[0]["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    assert saved["test_acc"] == pytest.approx(result.metrics["test_acc"])


def test_classify_numeric_attention_conv(tmp_path):
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / "run", max_epochs=3)
    cfg["model"].update(pooling="attention", input={"conv_channels": 8})
    result = fit(run_config_from_dict(cfg))
    train, _ = _losses(result.run_dir)
    assert train[-1] < train[0]
    assert result.model.pool.weights is not None


def test_tag_with_crf_and_chars(tmp_path):
    cfg = tiny_config("tag", tmp_path / "data", tmp_path / "run", max_epochs=5)
    cfg["model"].update(crf=True, char_embedding_dim=8, char_hidden_size=8)
    result = fit(run_config_from_dict(cfg))
    train, val = _losses(result.run_dir)
    assert train[-1] < train[0] and val[-1] < val[0]
    assert result.metrics["test_f1"] > 0.5
    out = result.model.predict_raw(["Alice went to Paris", ""])
    assert out[0]["tokens"] == ["Alice", "went", "to", "Paris"]
    assert len(out[0]["tags"]) == 4 and out[1]["tags"] == []


def test_forecast_reports_baselines(tmp_path):
    result = _train("forecast", tmp_path, max_epochs=6)
    train, _ = _losses(result.run_dir)
    assert train[-1] < train[0]
    m = result.metrics
    for name in ("mae", "rmse", "mse", "mase"):
        assert {f"test_{name}", f"test_naive_{name}", f"test_snaive_{name}"} <= set(m)
    assert m["test_rmse"] == pytest.approx(m["test_mse"] ** 0.5, rel=1e-4)
    rows = result.model.predict_raw(
        [{"id": "a", "value": 10 + i % 3, "temp": 0.0} for i in range(24)]
    )
    assert [r["step"] for r in rows] == [1, 2, 3] and all(r["series"] == "a" for r in rows)


def test_forecast_autoregressive(tmp_path):
    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "run", max_epochs=3)
    cfg["model"]["mode"] = "autoregressive"
    result = fit(run_config_from_dict(cfg))
    x, y = result.datamodule.collate(result.datamodule.splits["val"][:4])
    history, future = result.model._split(x)
    assert result.model(history, future).shape == y.shape == (4, 3, 1)


@pytest.mark.parametrize("batching", ["documents", "stream"])
def test_language_model(tmp_path, batching):
    cfg = tiny_config("lm", tmp_path / "data", tmp_path / "run", max_epochs=4)
    cfg["data"].update(batching=batching, bptt=12)
    result = fit(run_config_from_dict(cfg))
    train, val = _losses(result.run_dir)
    assert train[-1] < train[0] and val[-1] < val[0]
    m = result.metrics
    assert m["test_ppl"] == pytest.approx(torch.tensor(m["test_loss"]).exp().item(), rel=0.05)
    assert m["test_bpc"] == pytest.approx(
        m["test_loss"] / torch.log(torch.tensor(2.0)).item(), rel=0.05
    )
    sample = result.model.generate("em", max_new_tokens=10, top_k=1)
    assert sample.startswith("em") and len(sample) <= 12
    assert len(m["samples"]) == 3


def test_reader_hook_plugs_in_any_data_set(tmp_path):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=2)
    cfg["data"] = {"source": "reader", "reader": "_tiny:reader_splits", "reader_args": {"n": 60}}
    result = fit(run_config_from_dict(cfg))
    assert result.model.artifacts["labels"] == ["no", "yes"]
    assert len(result.datamodule.splits["test"]) == 10
    cfg["data"]["reader"] = "_tiny:nope"
    with pytest.raises(ValueError, match=r"data\.reader: '_tiny' has no function 'nope'"):
        fit(run_config_from_dict(cfg))
    cfg["data"]["reader"] = "no_colon"
    with pytest.raises(ValueError, match=r"data\.reader must look like 'package\.module:function'"):
        fit(run_config_from_dict(cfg))


@pytest.mark.parametrize("baseline", ["naive", "snaive"])
def test_forecast_corrects_a_baseline_forecast(baseline):
    from deeprnn.tasks import Forecast

    art = {"targets": ["y"], "covariates": [], "input_window": 8, "horizon": 5, "seasonality": 3}
    art["scaler"] = None
    model = Forecast({"rnn": {"hidden_size": 4}, "baseline": baseline}, art).eval()
    torch.nn.init.zeros_(model.head[-1].weight)
    torch.nn.init.zeros_(model.head[-1].bias)  # the network adds nothing: the baseline remains
    history = torch.arange(16.0).view(2, 8, 1)
    out = model(history)[..., 0]
    if baseline == "naive":
        expected = history[:, -1:, 0].expand(2, 5)
    else:  # the last season (5, 6, 7) repeated over the horizon
        expected = torch.stack([history[i, [5, 6, 7, 5, 6], 0] for i in range(2)])
    torch.testing.assert_close(out, expected)


def test_forecast_baseline_needs_direct_mode_and_a_season():
    from deeprnn.tasks import Forecast

    art = {"targets": ["y"], "covariates": [], "input_window": 8, "horizon": 2, "seasonality": 1}
    with pytest.raises(ValueError, match=r"baseline='naive' needs mode 'direct'"):
        Forecast({"baseline": "naive", "mode": "autoregressive"}, art)
    with pytest.raises(ValueError, match=r"needs 1 < data.seasonality <= data.input_window"):
        Forecast({"baseline": "snaive"}, art)


def test_word_dropout_replaces_real_tokens_with_unk_in_training_only():
    from deeprnn.models.inputs import InputConfig, InputLayer

    vocab = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(20)]
    layer = InputLayer(InputConfig(embedding_dim=4, word_dropout=0.5), vocab=vocab)
    seen = []
    layer.embedding.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
    x = torch.randint(2, 22, (64, 30))
    x[:, 25:] = 0  # padding
    mask = x != 0
    torch.manual_seed(0)
    layer.train()(x, mask)
    ids = seen[-1]
    assert (ids[:, 25:] == 0).all()  # padding is never replaced
    changed = ids[:, :25] != x[:, :25]
    assert (ids[:, :25][changed] == 1).all()  # only ever by [UNK]
    assert 0.4 < changed.float().mean().item() < 0.6
    layer.eval()(x, mask)
    assert torch.equal(seen[-1], x)  # inference sees the words


@pytest.mark.parametrize("name", ["word_dropout", "embedding_dropout"])
def test_input_dropouts_are_checked(name):
    from deeprnn.models.inputs import InputConfig, InputLayer

    with pytest.raises(ValueError, match=rf"model\.input\.{name} must be in \[0, 1\), got 1\.5"):
        InputConfig(**{name: 1.5})
    with pytest.raises(ValueError, match=r"word_dropout needs a \[UNK\] token"):
        InputLayer(InputConfig(word_dropout=0.1), vocab=["[PAD]", "a", "b"])


def test_tag_normalises_digits_and_case_for_the_word_vocabulary(tmp_path):
    cfg = tiny_config("tag", tmp_path / "data", tmp_path / "run", max_epochs=1)
    cfg["data"].update(lower=True, normalize_digits=True)
    cfg["model"].update(input={"word_dropout": 0.1})
    result = fit(run_config_from_dict(cfg))
    data = result.datamodule
    assert data._norm("Route66") == "route00"
    words, chars, _ = data.encode(["Went", "went"])
    assert words[0] == words[1] != 1  # one known word-vocabulary entry
    assert chars[0] != chars[1]  # the characters keep the case
    assert result.model.artifacts["normalize_digits"] is True  # saved with the model


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_bucketed_training_batches_cover_each_item_once_with_less_padding(tmp_path, task):
    cfg = tiny_config(task, tmp_path / "data", tmp_path / "run", max_epochs=2)
    cfg["data"]["bucket"] = True
    result = fit(run_config_from_dict(cfg))
    data = result.datamodule
    train = data.splits["train"]

    def padded_cells(loader):
        seen, cells = [], 0
        for batch in loader:
            lengths = batch[2] if task == "tag" else batch[1]
            seen += lengths.tolist()
            cells += int(lengths.max()) * len(lengths)
        return sorted(seen), cells

    seen, bucketed = padded_cells(data.train_dataloader())
    assert seen == sorted(data.item_length(item) for item in train)  # every item, once
    data.config.bucket = False
    seen_random, random_cells = padded_cells(data.train_dataloader())
    assert seen_random == seen and bucketed < random_cells


def test_language_model_with_adaptive_softmax_trains_samples_and_reloads(tmp_path):
    from deeprnn.export import load_exported

    cfg = tiny_config("lm", tmp_path / "data", tmp_path / "run", max_epochs=4)
    cfg["model"]["adaptive_softmax"] = [6]
    result = fit(run_config_from_dict(cfg))
    train, val = _losses(result.run_dir)
    assert train[-1] < train[0] and val[-1] < val[0]
    assert result.model.adaptive is not None and result.model.decoder is None
    assert result.metrics["test_ppl"] == pytest.approx(
        torch.tensor(result.metrics["test_loss"]).exp().item(), rel=0.05
    )
    sample = result.model.generate("em", max_new_tokens=10, top_k=3, seed=0)
    assert sample.startswith("em")
    again = load_exported(result.export_dir)
    x = torch.randint(2, len(result.model.artifacts["vocab"]), (2, 5))
    torch.testing.assert_close(again.eval()(x)[0], result.model.eval()(x)[0])
