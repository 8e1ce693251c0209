"""The ensemble (``model.ensemble: k``): averaging k identical members is the single model, each
member trains on exactly its own gradient, and an ensemble survives export, ONNX and training."""

import copy

import numpy as np
import pytest
import torch
from _tiny import tiny_config

from deeprnn.export import export_folder, load_exported
from deeprnn.models.ensemble import (
    Ensemble,
    average_probabilities,
    clip_members,
    members_loss,
)
from deeprnn.tasks import Classify
from deeprnn.training import fit, run_config_from_dict

ART = {"labels": ["a", "b", "c"], "input_size": 2}
SMALL = {"rnn": {"hidden_size": 6}, "fcn_channels": [4, 6, 4], "fcn_kernels": [3, 3, 2]}


def _model(ensemble: int, seed: int = 0, clip_norm=None, **cfg) -> Classify:
    torch.manual_seed(seed)
    return Classify({**SMALL, "ensemble": ensemble, **cfg}, dict(ART), clip_norm=clip_norm)


def _batch(n: int = 5, steps: int = 9):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, steps, 2, generator=g)
    lengths = torch.tensor([steps, 4, 7, 1, steps][:n])
    return x, lengths, torch.tensor([0, 1, 2, 1, 0][:n])


@pytest.mark.parametrize("architecture", ["rnn", "fcn", "lstm_fcn"])
def test_k_identical_members_are_the_single_model(architecture):
    one = _model(1, architecture=architecture, normalize="series").eval()
    three = _model(3, seed=5, architecture=architecture, normalize="series").eval()
    weights = one.state_dict()
    for member in three.ensemble.members:  # the single model's weights copied into each member
        member.load_state_dict({k: v for k, v in weights.items() if not k.startswith("metrics")})
    x, lengths, y = _batch()
    with torch.no_grad():
        torch.testing.assert_close(
            torch.softmax(three(x, lengths), -1), torch.softmax(one(x, lengths), -1)
        )
        loss_one, _ = one.step((x, lengths, y), "val")
        loss_three, _ = three.step((x, lengths, y), "val")
    torch.testing.assert_close(loss_three, loss_one)


def test_members_start_from_different_initialisations():
    model = _model(3, architecture="fcn")
    heads = [m.head[-1].weight for m in model.ensemble.members]
    assert not torch.equal(heads[0], heads[1]) and not torch.equal(heads[1], heads[2])


@pytest.mark.parametrize("clip", [None, 1e-3])
def test_each_member_gets_the_gradient_it_would_get_alone(clip):
    model = _model(3, architecture="lstm_fcn", normalize="series", clip_norm=clip).train()
    alone = [copy.deepcopy(m) for m in model.ensemble.members]
    x, lengths, y = _batch()
    loss, _ = model.step((x, lengths, y), "train")
    loss.backward()
    if clip:
        model.configure_gradient_clipping(None)
    member_losses = []
    for member, lone in zip(model.ensemble.members, alone):
        own = torch.nn.functional.cross_entropy(lone(x, lengths), y)
        own.backward()
        if clip:  # clipped as a lone model is: its own global norm
            torch.nn.utils.clip_grad_norm_(list(lone.parameters()), clip)
        member_losses.append(own.detach())
        for (name, p), q in zip(member.named_parameters(), lone.parameters()):
            torch.testing.assert_close(p.grad, q.grad, msg=name)
    # the value logged is the members' mean loss, comparable with one network's
    torch.testing.assert_close(loss.detach(), torch.stack(member_losses).mean())


def test_members_loss_and_average_probabilities():
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(3.0, requires_grad=True)
    loss = members_loss([a * a, b * b])
    assert float(loss.detach()) == pytest.approx(6.5)
    loss.backward()
    assert float(a.grad) == 4.0 and float(b.grad) == 6.0  # d(a^2)/da, not halved
    logits = torch.randn(4, 3, 5)
    mean = torch.softmax(logits, -1).mean(0)
    torch.testing.assert_close(average_probabilities(logits).exp(), mean)
    with pytest.raises(ValueError, match="members_loss needs at least one"):
        members_loss([])


def test_clip_members_clips_each_member_by_its_own_norm():
    ens = Ensemble(lambda: torch.nn.Linear(2, 1, bias=False), 2)
    ens.members[0].weight.grad = torch.tensor([[3.0, 4.0]])  # norm 5
    ens.members[1].weight.grad = torch.tensor([[0.3, 0.4]])  # norm 0.5: under the limit
    top = clip_members(ens.members, max_norm=1.0)
    assert float(top) == pytest.approx(5.0)
    torch.testing.assert_close(ens.members[0].weight.grad, torch.tensor([[0.6, 0.8]]))
    torch.testing.assert_close(ens.members[1].weight.grad, torch.tensor([[0.3, 0.4]]))


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3"])
def test_bad_ensemble_sizes_are_named(k):
    with pytest.raises(ValueError, match=r"model\.ensemble must be an int"):
        _model(k)


def test_an_ensemble_round_trips_through_export_and_onnx(tmp_path):
    model = _model(2, architecture="fcn", normalize="series").eval()
    loaded = load_exported(export_folder(model, tmp_path / "model"))
    assert loaded.config.ensemble == 2 and len(loaded.ensemble) == 2
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    rows = [
        np.random.default_rng(i).standard_normal((6 + i, 2)).astype("float32") for i in range(3)
    ]
    assert loaded.predict_raw(rows) == model.predict_raw(rows)
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from deeprnn.export.onnx import export_onnx, run_onnx

    path = export_onnx(model, tmp_path / "ensemble.onnx")
    # a one-step series too: z-normalised to 0 (ONNX Runtime once gave NaN for it)
    x, lengths = torch.randn(4, 11, 2), torch.tensor([11, 4, 1, 7])
    with torch.no_grad():
        expected = model.onnx_forward(x, lengths).numpy()
    (got,) = run_onnx(path, x=x, lengths=lengths)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert np.isfinite(got).all()


def test_an_ensemble_trains_and_evaluates_on_its_averaged_probabilities(tmp_path):
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / "run", max_epochs=2)
    cfg["model"].update(architecture="fcn", normalize="series", ensemble=2, **SMALL)
    result = fit(run_config_from_dict(cfg))
    model = result.model.eval()
    assert len(model.ensemble) == 2
    x, lengths, y = result.datamodule.collate(result.datamodule.splits["test"])
    with torch.no_grad():
        probs = torch.stack([torch.softmax(m(x, lengths), -1) for m in model.ensemble.members])
    loss = torch.nn.functional.nll_loss(probs.mean(0).log(), y)
    assert result.metrics["test_loss"] == pytest.approx(float(loss), rel=1e-4)
    again = load_exported(result.export_dir)
    assert again.config.ensemble == 2
