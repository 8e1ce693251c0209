"""The torch-style layers have explicit, typed signatures (no ``*args`` / ``**kwargs``: the API
reference and an editor show every argument with its default), every argument is documented in
the class docstring, and the four classes agree with the shared base on the common arguments."""

from __future__ import annotations

import inspect
import re

import pytest

import deeprnn
from deeprnn.layers.rnn import _Uniform

OWN = {
    deeprnn.LSTM: {"layer_norm"},
    deeprnn.GRU: {"reset_after", "layer_norm"},
    deeprnn.SimpleRNN: {"activation"},
    deeprnn.MinimalGRU: set(),
}
BASE = {
    name: p
    for name, p in inspect.signature(_Uniform.__init__).parameters.items()
    if name != "self" and p.kind is not p.VAR_KEYWORD
}


@pytest.mark.parametrize("cls", list(OWN), ids=lambda c: c.__name__)
def test_explicit_typed_signature_every_argument_documented(cls):
    params = inspect.signature(cls).parameters
    variadic = [n for n, p in params.items() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert not variadic, f"{cls.__name__} takes {variadic}"
    untyped = [n for n, p in params.items() if p.annotation is inspect.Parameter.empty]
    assert not untyped, f"{cls.__name__}: no type for {untyped}"
    assert set(params) == set(BASE) | OWN[cls]
    for name, p in BASE.items():  # the same defaults and kinds as the base
        assert (params[name].default, params[name].kind) == (p.default, p.kind), name
    documented = set(re.findall(r"^\s{8}(\w+):", cls.__doc__, flags=re.M))
    assert set(params) <= documented, f"{cls.__name__}: undocumented {set(params) - documented}"


@pytest.mark.parametrize("cls", list(OWN), ids=lambda c: c.__name__)
def test_every_argument_reaches_the_config(cls):
    layer = cls(3, 4, 2, recurrent_dropout=0.1, kernel_regularizer="l2", impl="loop")
    config = layer.get_config()
    assert config["recurrent_dropout"] == 0.1 and config["impl"] == "loop"
    again = cls.from_config(config)
    assert again.get_config() == config


@pytest.mark.parametrize(
    "cls", [deeprnn.DeepRNN, deeprnn.layers.Recurrent], ids=lambda c: c.__name__
)
def test_the_stack_and_the_base_layer_have_explicit_typed_documented_signatures(cls):
    params = inspect.signature(cls).parameters
    variadic = [n for n, p in params.items() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert not variadic, f"{cls.__name__} takes {variadic}"
    untyped = [n for n, p in params.items() if p.annotation is inspect.Parameter.empty]
    assert not untyped, f"{cls.__name__}: no type for {untyped}"
    documented = set(re.findall(r"^\s{8}(\w+):", cls.__doc__, flags=re.M))
    assert set(params) <= documented, f"{cls.__name__}: undocumented {set(params) - documented}"
    from deeprnn.layers.recurrent import KERAS_OPTIONS

    for name, default in KERAS_OPTIONS.items():  # Keras' options by name, today's defaults
        if name in params:
            assert params[name].default == default, name


def test_deeprnn_takes_keras_options_by_name_and_refuses_others():
    net = deeprnn.DeepRNN(3, hidden_size=4, num_layers=2, kernel_regularizer="l2")
    assert net.keras_options["kernel_regularizer"] == "l2"
    assert net.get_config()["kernel_regularizer"] is not None
    with pytest.raises(TypeError, match="kernel_regulariser"):
        deeprnn.DeepRNN(3, hidden_size=4, kernel_regulariser="l2")
