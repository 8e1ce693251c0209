"""Series classification: FCN / LSTM-FCN front ends and per-series z-normalisation."""

import pytest
import torch
from _tiny import tiny_config

from deeprnn.models.fcn import FCN, zscore_series
from deeprnn.tasks import Classify
from deeprnn.training import fit, run_config_from_dict
from deeprnn.viz.curves import read_metrics

ART = {"labels": ["a", "b", "c"], "input_size": 2}


def _model(**cfg):
    torch.manual_seed(0)
    cfg = {"rnn": {"hidden_size": 8}, "fcn_channels": [4, 8, 4], **cfg}
    return Classify(cfg, dict(ART)).eval()


def test_zscore_uses_each_series_own_real_steps():
    x = torch.randn(3, 9, 2) * 5 + 3
    lengths = torch.tensor([9, 4, 1])
    mask = torch.arange(9)[None] < lengths[:, None]
    z = zscore_series(x, mask)
    for i, n in enumerate(lengths.tolist()):
        real = z[i, :n]
        if n > 1:
            torch.testing.assert_close(real.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
            torch.testing.assert_close(
                real.std(0, unbiased=False), torch.ones(2), atol=1e-4, rtol=0
            )
        assert torch.all(z[i, n:] == 0)
    assert torch.all(z[2, 0] == 0)  # a single step is constant: 0, not NaN


@pytest.mark.parametrize("architecture", ["rnn", "fcn", "lstm_fcn"])
def test_a_padded_batch_gives_each_series_its_own_output(architecture):
    model = _model(architecture=architecture, normalize="series")
    x, lengths = torch.randn(3, 11, 2), torch.tensor([11, 5, 7])
    batch = model(x, lengths)
    assert batch.shape == (3, 3)
    for i, n in enumerate(lengths.tolist()):
        alone = model(x[i : i + 1, :n], lengths[i : i + 1])
        torch.testing.assert_close(batch[i : i + 1], alone, atol=1e-5, rtol=1e-5)


def test_fcn_has_no_rnn_and_lstm_fcn_has_both():
    fcn, both = _model(architecture="fcn"), _model(architecture="lstm_fcn")
    assert not hasattr(fcn, "encoder") and isinstance(fcn.fcn, FCN)
    assert hasattr(both, "encoder") and isinstance(both.fcn, FCN)
    assert both.head[-1].in_features == both.pool.output_size + 4


def test_even_kernels_keep_lengths():
    fcn = FCN(2, (4, 4), (8, 2))
    out = fcn(torch.randn(2, 5, 2), torch.ones(2, 5, dtype=torch.bool))
    assert out.shape == (2, 4)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r"fcn_channels and model\.fcn_kernels must have the same"):
        _model(architecture="fcn", fcn_kernels=[8, 5])
    with pytest.raises(ValueError, match=r"are for numeric series, and this model reads tokens"):
        Classify({"architecture": "fcn"}, {"labels": ["a", "b"], "vocab": ["[PAD]", "[UNK]", "x"]})
    with pytest.raises(ValueError, match=r"architecture must be one of"):
        Classify({"architecture": "resnet"}, dict(ART))


def test_lstm_fcn_trains(tmp_path):
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / "run", max_epochs=3)
    cfg["model"].update(architecture="lstm_fcn", normalize="series", fcn_channels=[8, 8, 8])
    result = fit(run_config_from_dict(cfg))
    train = [v for _, v in read_metrics(result.run_dir)["train_loss"]]
    assert train[-1] < train[0]
    again = type(result.model)(result.model.config, result.model.artifacts)
    assert again.config.architecture == "lstm_fcn"
