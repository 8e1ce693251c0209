"""Helpers shared by the Keras parity suite: build a Keras model (torch backend) with random
weights, save it as ``.keras``, import it with deeprnn and compare."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras", reason="keras (dev extra) is not installed")
pytest.importorskip("h5py", reason="h5py (dev extra) is not installed")

if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("these tests need KERAS_BACKEND=torch", allow_module_level=True)

from deeprnn.interop import keras_import  # noqa: E402

TOL = 1e-5
MAX_DIFF: dict[str, float] = {}  # test id -> max abs difference seen (printed at the end)


def randomize(model, seed: int = 0, scale: float = 0.5) -> None:
    """Random weights everywhere (biases included), so no gate-order mistake hides."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.uniform(-scale, scale, size=tuple(w.shape)).astype("float32"))


def roundtrip(model, tmp_path, name: str = "m"):
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return keras_import(path)


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(x))


def assert_close(a, b, label: str = "", tol: float = TOL) -> float:
    a, b = to_np(a), to_np(b)
    assert a.shape == b.shape, f"{label}: shapes {a.shape} vs {b.shape}"
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    MAX_DIFF[label or str(len(MAX_DIFF))] = max(diff, MAX_DIFF.get(label, 0.0))
    assert diff <= tol, f"{label}: max abs difference {diff:.3g} > {tol}"
    return diff


def outputs_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def compare(kmodel, dmodel, inputs, label: str, tol: float = TOL) -> None:
    """Outputs of both models on the same numpy inputs."""
    kout = outputs_list(kmodel(inputs if len(inputs) > 1 else inputs[0], training=False))
    dout = outputs_list(dmodel(*(torch.as_tensor(x) for x in inputs)))
    assert len(kout) == len(dout), f"{label}: {len(kout)} vs {len(dout)} outputs"
    for i, (k, d) in enumerate(zip(kout, dout)):
        assert_close(d, k, f"{label}[{i}]", tol)


def input_grads(kmodel, dmodel, x: np.ndarray, label: str, tol: float = TOL) -> None:
    """d sum(output**2) / d x in both libraries (float inputs)."""
    xk = torch.tensor(x, requires_grad=True)
    yk = outputs_list(kmodel(xk, training=False))[0]
    (yk**2).sum().backward()
    xd = torch.tensor(x, requires_grad=True)
    yd = outputs_list(dmodel(xd))[0]
    (yd**2).sum().backward()
    assert_close(xd.grad, xk.grad, f"{label}:grad", tol)


def same_param_count(kmodel, dmodel, inputs) -> None:
    import deeprnn

    text = deeprnn.summary(dmodel, input_data=tuple(torch.as_tensor(x) for x in inputs),
                           print_fn=None)  # fmt: skip
    total = int(text.split("Total params: ")[1].split("\n")[0].replace(",", ""))
    assert total == kmodel.count_params()
