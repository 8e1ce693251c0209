"""MinGRU, MinLSTM and LRU (issue 30): the scans agree with the loop on long sequences (float32
to 1e-5 relative, float64 to 1e-10), the compiled kernels' gradients pass gradcheck, streaming
one step at a time equals the whole sequence, dispatch, initialisation and bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

import deeprnn
from deeprnn.kernels import explain
from deeprnn.kernels import parallel as scans

LAYERS = {
    "mingru": lambda **o: deeprnn.MinGRU(3, 8, 2, **o),
    "minlstm": lambda **o: deeprnn.MinLSTM(3, 8, 2, **o),
    "lru": lambda **o: deeprnn.LRU(3, 8, 2, **o),
    "mingru_back": lambda **o: deeprnn.MinGRU(3, 8, go_backwards=True, **o),
    "lru_bi": lambda **o: deeprnn.LRU(3, 8, bidirectional=True, r_min=0.5, **o),
    "minlstm_identity": lambda **o: deeprnn.MinLSTM(3, 8, candidate="identity", **o),
}


def _run(layer, x, mask):
    out, states = layer(x, mask=mask)
    loss = (out * torch.linspace(-1, 1, out.shape[-1], dtype=x.dtype)).sum()
    loss = loss + sum((t * t).sum() for s in states for t in s)
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return [out, *[t for s in states for t in s], *grads]


def _mask(batch, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, steps, generator=g) > 0.3  # holes everywhere
    mask[0] = True
    mask[1] = False  # an empty row
    return mask


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize(
    "dtype,rtol", [(torch.float64, 1e-10), (torch.float32, 1e-5)], ids=["f64", "f32"]
)
def test_scans_agree_with_the_loop_on_long_sequences(name, dtype, rtol):
    """T = 200 with holes: the compiled scan and the parallel scan equal the step loop."""
    torch.manual_seed(0)
    loop = LAYERS[name](impl="loop").to(dtype)
    x = torch.randn(5, 200, 3, dtype=dtype, requires_grad=True)
    mask = _mask(5, 200)
    want = _run(loop, x, mask)
    for impl, kernel in (("fused", "compiled_scan"), ("parallel", "parallel_scan")):
        fast = LAYERS[name](impl=impl).to(dtype)
        fast.load_state_dict(loop.state_dict())
        if kernel == "compiled_scan" and scans.load() is None:
            continue  # no compiler here: dispatch falls back (tested below)
        assert {c.kernel for c in explain(fast, x, mask=mask).values()} == {kernel}
        before = dict(scans.calls)
        got = _run(fast, x, mask)
        if kernel == "compiled_scan":
            assert scans.calls["backward"] > before["backward"], "compiled backward not used"
        for a, b in zip(got, want):
            scale = float(b.detach().abs().max())
            torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * max(scale, 1e-3))


@pytest.mark.parametrize("name", ["mingru", "minlstm", "lru", "mingru_back"])
def test_compiled_scan_gradcheck_float64(name):
    if scans.load() is None:
        pytest.skip("compiled scans not built here")
    layer = LAYERS[name](impl="fused").double()
    x = torch.randn(3, 6, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1] * 6, [0, 1, 1, 0, 1, 0], [0] * 6], dtype=torch.bool)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in layer.named_parameters()}
    h0 = [
        type(s)(*(torch.randn_like(t).requires_grad_(True) for t in s))
        for s in layer.initial_state(3, dtype=torch.float64)
    ]
    flat0 = [t for s in h0 for t in s]
    names, sizes = list(params), [len(s) for s in h0]

    def fn(x, *rest):
        flat, p = rest[: len(flat0)], dict(zip(names, rest[len(flat0) :]))
        states, k = [], 0
        for s, n in zip(h0, sizes):
            states.append(type(s)(*flat[k : k + n]))
            k += n
        out, fin = functional_call(layer, p, (x,), {"mask": mask, "initial_state": states})
        return out, *[t for s in fin for t in s]

    assert torch.autograd.gradcheck(fn, (x, *flat0, *params.values()), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["mingru", "minlstm", "lru"])
def test_streaming_one_step_at_a_time_equals_the_whole_sequence(name):
    layer = LAYERS[name]().double().eval()
    x = torch.randn(2, 40, 3, dtype=torch.float64)
    whole, states = layer(x)
    steps = list(layer.stream(x[:, t : t + 1] for t in range(40)))
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=1e-10, atol=1e-12)
    state = None
    for t in range(40):  # the cells one step at a time, the states carried by hand
        _, state = layer(x[:, t : t + 1], initial_state=state)
    for s, w in zip(state, states):
        for a, b in zip(s, w):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_dispatch_and_its_reasons():
    x = torch.randn(2, 5, 3)
    lru = deeprnn.LRU(3, 4)
    choice = explain(lru, x)["blocks.0"]
    assert choice.kernel == ("compiled_scan" if scans.load() is not None else "parallel_scan")
    assert explain(deeprnn.MinGRU(3, 4, zoneout=0.1), x)["blocks.0"].kernel == "loop"
    with deeprnn.kernels.compiled.disabled():
        choice = explain(deeprnn.MinGRU(3, 4), x)["blocks.0"]
    assert choice.kernel == "parallel_scan" and "no compiled scan" in choice.reason
    with pytest.raises(ValueError, match="impl='torch' cannot run this layer: torch has no"):
        deeprnn.MinGRU(3, 4, impl="torch")(x)
    with pytest.raises(ValueError, match="impl='parallel' cannot run this layer: zoneout on a"):
        deeprnn.MinGRU(3, 4, zoneout=0.1, impl="parallel")(x)
    with pytest.raises(ValueError, match="impl='parallel' runs the linear recurrences"):
        deeprnn.LSTM(3, 4, impl="parallel")(x)


def test_the_papers_deep_stack_and_cells_by_name():
    net = deeprnn.DeepRNN(
        3,
        layers=[
            dict(cell="mingru", hidden_size=8),
            dict(cell="minlstm", hidden_size=8),
            dict(cell="lru", hidden_size=8, cell_options={"r_min": 0.2}),
        ],
        residual=True,
        norm="layer",
    )
    out, states = net(torch.randn(2, 7, 3), lengths=torch.tensor([7, 3]))
    assert out.shape == (2, 7, 8) and torch.all(out[1, 3:] == 0)
    assert type(states[2]).__name__ == "LRUState" and net.blocks[2].cell.r_min == 0.2
    clone = deeprnn.DeepRNN.from_config(net.get_config())
    assert clone.get_config() == net.get_config()


def test_lru_initialisation_on_the_ring():
    cell = deeprnn.LRUCell(4, 256, r_min=0.4, r_max=0.9, max_phase=math.pi / 4)
    lr, li = cell.lam()
    modulus = torch.sqrt(lr**2 + li**2)
    assert modulus.min() >= 0.4 - 1e-6 and modulus.max() <= 0.9 + 1e-6
    assert modulus.max() - modulus.min() > 0.3  # spread over the ring, not a point
    phase = torch.exp(cell.theta_log)
    assert phase.max() <= math.pi / 4 + 1e-6
    torch.testing.assert_close(torch.exp(cell.gamma_log), torch.sqrt(1 - modulus**2))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: deeprnn.MinGRU(3, 4, recurrent_dropout=0.2), "recurrent_dropout must be 0 for"),
        (lambda: deeprnn.MinGRU(3, 4, candidate="tanh"), "candidate must be one of"),
        (lambda: deeprnn.LRU(3, 4, r_min=0.9, r_max=0.5), "r_min and r_max must satisfy"),
        (lambda: deeprnn.LRU(3, 4, r_max=1.0), "r_min and r_max must satisfy"),
        (lambda: deeprnn.LRU(3, 4, max_phase=0), "max_phase must be a positive float, got 0"),
        (lambda: deeprnn.MinLSTM(0, 4), "input_size must be a positive int"),
        (
            lambda: deeprnn.DeepRNN(3, cell="lru", hidden_size=4, cell_options={"rmin": 0.1}),
            "cell_options has 'rmin', not an option of cell 'lru'",
        ),
        (
            lambda: deeprnn.DeepRNN(3, cell="mingru", hidden_size=4, cell_options=[1]),
            "cell_options must be a dict or None, got",
        ),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_no_recurrent_matrix_and_parameter_counts():
    cell = deeprnn.MinGRUCell(32, 32)
    assert cell.weight_hh.shape == (0, 32) and "weight_hh" not in dict(cell.named_parameters())
    assert sum(p.numel() for p in cell.parameters()) == 2 * 32 * 33
    assert sum(p.numel() for p in deeprnn.MinLSTMCell(32, 32).parameters()) == 3 * 32 * 33
    lru = deeprnn.LRUCell(32, 32)  # B, D (3H x I), bias, C (H x 2H), nu, theta, gamma
    assert sum(p.numel() for p in lru.parameters()) == 3 * 32 * 33 + 32 * 64 + 3 * 32


@pytest.mark.parametrize("name", ["mingru", "lru"])
def test_cpu_autocast_takes_the_torch_scan(name):
    """Under autocast the projections come in bfloat16: the compiled scan (float32 / float64
    throughout) steps aside for the torch scan instead of raising."""
    layer = LAYERS[name]()
    x = torch.randn(2, 9, 3)
    with torch.autocast("cpu"):
        choice = explain(layer, x)["blocks.0"]
        out, _ = layer(x)
    assert choice.kernel == "parallel_scan" and "under autocast" in choice.reason
    torch.testing.assert_close(out.float(), layer(x)[0], rtol=0.05, atol=0.05)
