"""Bad input gets a clear error at the boundary, naming the argument and the value received."""

from __future__ import annotations

import pytest
import torch

import deeprnn
from deeprnn.layers import Bidirectional, Recurrent


def _lstm(**kw):
    return deeprnn.LSTM(3, 4, **kw)


CALL_CASES = [
    (
        "rank 2 input",
        lambda: _lstm()(torch.randn(5, 3)),
        ValueError,
        r"x must have 3 dimensions, got shape \(5, 3\)",
    ),
    (
        "feature size",
        lambda: _lstm()(torch.randn(2, 5, 7)),
        ValueError,
        r"x must have 3 features \(input_size\).*got shape \(2, 5, 7\)",
    ),
    (
        "integer input",
        lambda: _lstm()(torch.ones(2, 5, 3, dtype=torch.long)),
        TypeError,
        "x must be a floating-point tensor, got dtype torch.int64",
    ),
    (
        "float64 input, float32 layer",
        lambda: _lstm()(torch.randn(2, 5, 3, dtype=torch.float64)),
        TypeError,
        r"x has dtype torch\.float64 but the LSTM's parameters are torch\.float32; convert the "
        r"input with x\.to\(torch\.float32\) or the layer with \.to\(torch\.float64\) / \.double\(\)",
    ),
    (
        "float32 input, float64 layer",
        lambda: _lstm().double()(torch.randn(2, 5, 3)),
        TypeError,
        r"x has dtype torch\.float32 but the LSTM's parameters are torch\.float64",
    ),
    (
        "no time steps",
        lambda: _lstm()(torch.randn(2, 0, 3)),
        ValueError,
        r"x must have at least one time step, got shape \(2, 0, 3\)",
    ),
    (
        "no time steps, time-major",
        lambda: _lstm(batch_first=False)(torch.randn(0, 2, 3)),
        ValueError,
        r"x must have at least one time step, got shape \(0, 2, 3\)",
    ),
    (
        "not a tensor",
        lambda: _lstm()([[1.0, 2.0, 3.0]]),
        TypeError,
        "x must be a torch.Tensor, got list",
    ),
    (
        "lengths too long",
        lambda: _lstm()(torch.randn(5, 50, 3), lengths=torch.tensor([50, 1, 2, 3, 73])),
        ValueError,
        r"lengths must be in \[0, 50\], got 73 at batch index 4",
    ),
    (
        "negative length",
        lambda: _lstm()(torch.randn(2, 5, 3), lengths=torch.tensor([-1, 2])),
        ValueError,
        r"lengths must be in \[0, 5\], got -1 at batch index 0",
    ),
    (
        "lengths shape",
        lambda: _lstm()(torch.randn(2, 5, 3), lengths=torch.tensor([1, 2, 3])),
        ValueError,
        r"lengths must have shape \(2,\), got \(3,\)",
    ),
    (
        "float lengths",
        lambda: _lstm()(torch.randn(2, 5, 3), lengths=torch.tensor([1.0, 2.0])),
        TypeError,
        "lengths must be an integer tensor, got dtype torch.float32",
    ),
    (
        "mask shape",
        lambda: _lstm()(torch.randn(2, 5, 3), mask=torch.ones(2, 4, dtype=torch.bool)),
        ValueError,
        r"mask must have shape \(2, 5\) \(N, T\), got \(2, 4\)",
    ),
    (
        "mask values",
        lambda: _lstm()(torch.randn(2, 5, 3), mask=torch.full((2, 5), 2)),
        ValueError,
        "mask must be boolean",
    ),
    (
        "mask and lengths",
        lambda: _lstm()(
            torch.randn(2, 5, 3),
            lengths=torch.tensor([1, 2]),
            mask=torch.ones(2, 5, dtype=torch.bool),
        ),
        ValueError,
        "pass lengths or mask, not both",
    ),
    (
        "initial state count",
        lambda: _lstm(num_layers=2)(
            torch.randn(2, 5, 3), initial_state=[(torch.zeros(2, 4), torch.zeros(2, 4))]
        ),
        ValueError,
        r"initial_state must hold 2 states \(one per layer and direction, layout \(1, 1\)\), got 1",
    ),
    (
        "initial state shape",
        lambda: _lstm()(
            torch.randn(2, 5, 3), initial_state=[(torch.zeros(2, 5), torch.zeros(2, 4))]
        ),
        ValueError,
        r"initial_state\[0\]\.h must have shape \(2, 4\) \(N, H\), got \(2, 5\)",
    ),
    (
        "initial state fields",
        lambda: _lstm()(torch.randn(2, 5, 3), initial_state=torch.zeros(2, 4)),
        ValueError,
        r"initial_state\[0\] must have 2 tensor\(s\) \('h', 'c'\) for LSTMCell, got 1",
    ),
    (
        "torch-layout state",
        lambda: deeprnn.GRU(3, 4)(torch.randn(2, 5, 3), initial_state=torch.zeros(1, 2, 4)),
        ValueError,
        r"initial_state\[0\]\.h must have shape \(2, 4\) \(N, H\), got \(1, 2, 4\)",
    ),
    (
        "cell input",
        lambda: deeprnn.LSTMCell(3, 4)(torch.randn(2, 5)),
        ValueError,
        r"x must have 3 features \(input_size\), got shape \(2, 5\)",
    ),
]

CONSTRUCTOR_CASES = [
    (
        "hidden size",
        lambda: deeprnn.LSTM(3, -3),
        ValueError,
        "hidden_size must be a positive int, got -3",
    ),
    (
        "input size",
        lambda: deeprnn.GRU(0, 4),
        ValueError,
        "input_size must be a positive int, got 0",
    ),
    (
        "num layers",
        lambda: deeprnn.LSTM(3, 4, num_layers=0),
        ValueError,
        "num_layers must be a positive int, got 0",
    ),
    (
        "float size",
        lambda: deeprnn.LSTMCell(3, 4.5),
        ValueError,
        "hidden_size must be a positive int, got 4.5",
    ),
    (
        "dropout high",
        lambda: deeprnn.LSTM(3, 4, dropout=1.0),
        ValueError,
        r"dropout must be a float in \[0, 1\), got 1.0",
    ),
    (
        "dropout negative",
        lambda: deeprnn.LSTM(3, 4, recurrent_dropout=-0.1),
        ValueError,
        r"recurrent_dropout must be a float in \[0, 1\), got -0.1",
    ),
    (
        "zoneout",
        lambda: deeprnn.GRU(3, 4, zoneout=1.5),
        ValueError,
        r"zoneout must be a float in \[0, 1\), got 1.5",
    ),
    (
        "activation",
        lambda: deeprnn.SimpleRNN(3, 4, activation="tahn"),
        ValueError,
        r"activation must be one of \['tanh', 'relu', 'leaky_relu', 'sigmoid', 'identity'\], got 'tahn' \(did you mean 'tanh'\?\)",
    ),
    (
        "cell name",
        lambda: deeprnn.DeepRNN(3, layers=[dict(cell="lstn", hidden_size=4)]),
        ValueError,
        r"layers\[0\]\.cell must be one of \['rnn', 'lstm', 'gru', 'minimal_gru', 'mingru', "
        r"'minlstm', 'lru'\], got 'lstn' \(did you mean 'lstm'\?\)",
    ),
    (
        "merge mode",
        lambda: deeprnn.LSTM(3, 4, bidirectional=True, merge_mode="max"),
        ValueError,
        r"merge_mode must be one of \['concat', 'sum', 'mul', 'ave', None\], got 'max'",
    ),
    (
        "merge None inside",
        lambda: deeprnn.LSTM(3, 4, 2, bidirectional=True, merge_mode=None),
        ValueError,
        r"layers\[0\]: merge_mode=None is only allowed on the last layer",
    ),
    (
        "unknown layer key",
        lambda: deeprnn.DeepRNN(3, layers=[dict(cell="gru", hidden_sise=4)]),
        ValueError,
        r"layers\[0\] has unknown key 'hidden_sise' \(did you mean 'hidden_size'\?\)",
    ),
    (
        "layers and hidden",
        lambda: deeprnn.DeepRNN(3, layers=[4], hidden_size=4),
        ValueError,
        "pass either layers or hidden_size/num_layers, not both",
    ),
    ("no sizes", lambda: deeprnn.DeepRNN(3), ValueError, "pass hidden_size"),
    (
        "layer norm rnn",
        lambda: deeprnn.DeepRNN(3, layers=[dict(cell="rnn", hidden_size=4, layer_norm=True)]),
        ValueError,
        r"layer_norm is available for 'lstm' and 'gru', got cell 'rnn'",
    ),
    (
        "residual and highway",
        lambda: deeprnn.LSTM(3, 4, 2, residual=True, highway=True),
        ValueError,
        "residual and highway are alternatives",
    ),
    (
        "norm",
        lambda: deeprnn.LSTM(3, 4, 2, norm="group"),
        ValueError,
        r"norm must be one of \['batch', 'layer', None\], got 'group'",
    ),
    (
        "impl",
        lambda: deeprnn.LSTM(3, 4, impl="cuda"),
        ValueError,
        r"impl must be one of \['auto', 'torch', 'fused', 'parallel', 'loop'\], got 'cuda'",
    ),
    (
        "impl parallel on a classic cell",
        lambda: deeprnn.LSTM(3, 4, impl="parallel"),
        ValueError,
        r"impl='parallel' runs the linear recurrences \(mingru, minlstm, lru\), not LSTMCell",
    ),
    (
        "init",
        lambda: deeprnn.LSTMCell(3, 4, init="he"),
        ValueError,
        r"init must be one of \['keras', 'torch'\], got 'he'",
    ),
    (
        "bool flag",
        lambda: deeprnn.LSTM(3, 4, bidirectional="yes"),
        TypeError,
        r"layers\[0\]\.bidirectional must be a bool, got str 'yes'",
    ),
    (
        "Recurrent cell",
        lambda: Recurrent(torch.nn.LSTM(3, 4)),
        TypeError,
        "cell must be a deeprnn RecurrentCell, got LSTM",
    ),
    (
        "Bidirectional layer",
        lambda: Bidirectional(deeprnn.LSTMCell(3, 4)),
        TypeError,
        "layer must be a deeprnn Recurrent layer, got LSTMCell",
    ),
    (
        "masked output",
        lambda: deeprnn.GRU(3, 4, masked_output="keep"),
        ValueError,
        r"masked_output must be one of \['zero', 'carry'\], got 'keep'",
    ),
    (
        "clip neither",
        lambda: deeprnn.clip_gradients(deeprnn.GRU(3, 4)),
        ValueError,
        "pass max_norm and/or clip_value, got neither",
    ),
    (
        "clip negative",
        lambda: deeprnn.clip_gradients(deeprnn.GRU(3, 4), max_norm=-1),
        ValueError,
        "max_norm must be a positive finite number, got -1",
    ),
]


@pytest.mark.parametrize(
    "what,fn,exc,match",
    CALL_CASES + CONSTRUCTOR_CASES,
    ids=[c[0] for c in CALL_CASES + CONSTRUCTOR_CASES],
)
def test_bad_input_is_reported_at_the_boundary(what, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


# every layer class goes through SequenceLayer.forward, and every kernel would fail deep inside
LAYERS = {
    "Recurrent": lambda **o: Recurrent(deeprnn.GRUCell(3, 4), **o),
    "Bidirectional": lambda **o: Bidirectional(Recurrent(deeprnn.LSTMCell(3, 4), **o)),
    "DeepRNN": lambda **o: deeprnn.DeepRNN(3, layers=[4, dict(cell="gru", hidden_size=5)], **o),
    "LSTM": lambda **o: deeprnn.LSTM(3, 4, 2, bidirectional=True, **o),
    "GRU": lambda **o: deeprnn.GRU(3, 4, **o),
    "SimpleRNN": lambda **o: deeprnn.SimpleRNN(3, 4, **o),
    "MinimalGRU": lambda **o: deeprnn.MinimalGRU(3, 4, **o),
}


@pytest.mark.parametrize("impl", ["auto", "fused", "loop"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_checks_dtype_and_steps_at_the_boundary(name, impl):
    layer = LAYERS[name](impl=impl)
    with pytest.raises(TypeError, match=r"x has dtype torch\.float64 but the \w+'s parameters"):
        layer(torch.randn(2, 5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x must have at least one time step, got shape"):
        layer(torch.randn(2, 0, 3))
    layer.double()(torch.randn(2, 5, 3, dtype=torch.float64))  # converting the layer fixes it


@pytest.mark.parametrize("impl", ["torch", "fused", "loop"])
@pytest.mark.parametrize("in_dtype", [torch.float32, torch.bfloat16])
def test_cpu_autocast_is_not_a_dtype_error(impl, in_dtype):
    """Under autocast a bf16 input to a float32 layer is legitimate: it runs, the recurrence in
    float32, close to the float32 result, and the gradients are float32."""
    torch.manual_seed(0)
    layer = deeprnn.LSTM(3, 4, 2, impl=impl)
    x, lengths = torch.randn(3, 6, 3), torch.tensor([6, 2, 4])
    ref, _ = layer(x, lengths=lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, states = layer(x.to(in_dtype), lengths=lengths)
    assert states[0].h.dtype == torch.float32
    torch.testing.assert_close(out.float(), ref, atol=0.02, rtol=0.02)
    out.float().sum().backward()
    assert all(p.grad.dtype == torch.float32 for p in layer.parameters())


def test_pretrained_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json not found"):
        deeprnn.load_pretrained(tmp_path)
    deeprnn.LSTM(3, 4).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="holds a LSTM, not a GRU"):
        deeprnn.GRU.from_pretrained(tmp_path)
    # weights that do not match the config
    deeprnn.LSTM(3, 5).save_pretrained(tmp_path / "other")
    (tmp_path / "model.safetensors").write_bytes(
        (tmp_path / "other" / "model.safetensors").read_bytes()
    )
    with pytest.raises(ValueError, match=r"does not match .*config.json.*shape mismatch"):
        deeprnn.load_pretrained(tmp_path)
    # a truncated file
    data = (tmp_path / "other" / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="is not a valid safetensors file"):
        deeprnn.load_pretrained(tmp_path)


def test_pickle_offered_as_weights_is_never_unpickled(tmp_path):
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    deeprnn.GRU(3, 4).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="is not a valid safetensors file"):
        deeprnn.load_pretrained(tmp_path)
    assert not marker.exists()
