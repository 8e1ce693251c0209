"""deeprnn.kernels.dispatch: one decision per layer call, with its reason, for a registry of
configurations; explain() reports what a call ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import deeprnn
from deeprnn.kernels import Choice, choose, compiled, explain, triton_pointwise
from deeprnn.kernels.dispatch import KERNELS

CUDA = torch.cuda.is_available()
POST = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]).bool()
HOLES = torch.tensor([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0]]).bool()
SCAN = "scan"  # the scan loop of the build: "compiled" on CPU when built, else "python"
TRITON = "triton" if triton_pointwise.HAS_TRITON else "python"  # LSTM / GRU scans on CUDA
#: minGRU / minLSTM / LRU on CUDA: the Triton scan, else the torch scan (its impl is "parallel")
SCAN_CUDA = (
    ("fused", "triton_scan") if triton_pointwise.HAS_TRITON else ("parallel", "parallel_scan")
)


@dataclass
class DispatchCase:
    id: str
    make: Any  # () -> a one-layer stack; its first Recurrent is checked
    impl: str
    kernel: str  # a key of KERNELS, or SCAN
    train: bool = True
    grad: bool = True
    mask: torch.Tensor | None = None
    steps: int = 5
    device: str = "cpu"
    marks: list = field(default_factory=list)


def _cuda(case: DispatchCase) -> DispatchCase:
    case.device = "cuda"
    case.marks = [pytest.mark.skipif(not CUDA, reason="CUDA is not available")]
    return case


CASES = [
    DispatchCase("lstm", lambda: deeprnn.LSTM(3, 4), "torch", "torch_op"),
    DispatchCase("lstm_post_mask", lambda: deeprnn.LSTM(3, 4), "torch", "torch_op", mask=POST),
    DispatchCase("gru_holes", lambda: deeprnn.GRU(3, 4), "torch", "torch_op", mask=HOLES),
    DispatchCase(
        "rnn_relu", lambda: deeprnn.SimpleRNN(3, 4, activation="relu"), "torch", "torch_op"
    ),
    DispatchCase("lstm_bi", lambda: deeprnn.LSTM(3, 4, bidirectional=True), "torch", "torch_op"),
    DispatchCase(
        "lstm_recurrent_dropout", lambda: deeprnn.LSTM(3, 4, recurrent_dropout=0.2), "fused", SCAN
    ),
    DispatchCase(
        "lstm_recurrent_dropout_eval",
        lambda: deeprnn.LSTM(3, 4, recurrent_dropout=0.2),
        "torch",
        "torch_op",
        train=False,
    ),
    DispatchCase(
        "gru_zoneout_eval", lambda: deeprnn.GRU(3, 4, zoneout=0.1), "fused", SCAN, train=False
    ),
    DispatchCase(
        "gru_zoneout_inference",
        lambda: deeprnn.GRU(3, 4, zoneout=0.1),
        "fused",
        "compiled_infer",
        train=False,
        grad=False,
        mask=HOLES,
    ),
    DispatchCase("ln_lstm", lambda: deeprnn.LSTM(3, 4, layer_norm=True), "fused", SCAN, mask=POST),
    DispatchCase(
        "ln_gru_nobias",
        lambda: deeprnn.GRU(3, 4, layer_norm=True, bias=False),
        "fused",
        "autograd",
    ),
    DispatchCase(
        "rnn_sigmoid", lambda: deeprnn.SimpleRNN(3, 4, activation="sigmoid"), "fused", "python"
    ),
    DispatchCase("minimal_gru", lambda: deeprnn.MinimalGRU(3, 4), "fused", "python"),
    DispatchCase("gru_reset_before", lambda: deeprnn.GRU(3, 4, reset_after=False), "loop", "loop"),
    DispatchCase(
        "carry_with_mask",
        lambda: deeprnn.LSTM(3, 4, masked_output="carry"),
        "loop",
        "loop",
        mask=POST,
    ),
    DispatchCase("carry_no_mask", lambda: deeprnn.LSTM(3, 4, masked_output="carry"), "fused", SCAN),
    DispatchCase("impl_loop", lambda: deeprnn.LSTM(3, 4, impl="loop"), "loop", "loop"),
    DispatchCase("impl_fused", lambda: deeprnn.LSTM(3, 4, impl="fused"), "fused", SCAN),
    DispatchCase(
        "impl_torch_mask", lambda: deeprnn.GRU(3, 4, impl="torch"), "torch", "torch_op", mask=HOLES
    ),
    _cuda(DispatchCase("cuda_lstm", lambda: deeprnn.LSTM(3, 4), "torch", "torch_op")),
    _cuda(
        DispatchCase(
            "cuda_recurrent_dropout",
            lambda: deeprnn.LSTM(3, 4, recurrent_dropout=0.2),
            "fused",
            TRITON,
        )
    ),
    _cuda(
        DispatchCase(
            "cuda_past_cudnn_steps", lambda: deeprnn.GRU(3, 4), "fused", TRITON, steps=70_000
        )
    ),
    _cuda(DispatchCase("cuda_mingru", lambda: deeprnn.MinGRU(3, 4), *SCAN_CUDA)),
    _cuda(DispatchCase("cuda_lru", lambda: deeprnn.LRU(3, 4), *SCAN_CUDA, mask=HOLES)),
]


@pytest.fixture(scope="module")
def scan() -> str:
    """The scan loop of a fused LSTM / GRU on CPU here: compiled when the kernels build."""
    return "compiled" if compiled.available() else "python"


def _setup(case: DispatchCase):
    layer = case.make().to(case.device).train(case.train)
    x = torch.randn(2, case.steps, 3, device=case.device)
    mask = None if case.mask is None else case.mask.to(case.device)
    return layer, x, mask


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_choice_and_reason(case, scan):
    layer, x, mask = _setup(case)
    recurrent = next(m for m in layer.modules() if isinstance(m, deeprnn.Recurrent))
    with torch.set_grad_enabled(case.grad):
        choice = choose(recurrent, x, mask)
    kernel = scan if case.kernel == SCAN else case.kernel
    if case.kernel == "compiled_infer" and scan != "compiled":
        kernel = "python"  # no build: the inference loop is the compiled one
    assert isinstance(choice, Choice)
    assert (choice.impl, choice.kernel) == (case.impl, kernel), choice.reason
    assert choice.kernel in KERNELS
    assert choice.reason.strip() and str(choice).strip()


def test_forced_impl_that_cannot_run_says_why():
    layer = deeprnn.GRU(3, 4, zoneout=0.1, impl="torch").blocks[0]
    with pytest.raises(ValueError, match="impl='torch' cannot run this layer: zoneout"):
        choose(layer, torch.randn(2, 5, 3))
    layer = deeprnn.LSTM(3, 4, masked_output="carry", impl="fused").blocks[0]
    with pytest.raises(ValueError, match="impl='fused' cannot run this layer: masked_output"):
        choose(layer, torch.randn(2, 5, 3), POST)


def test_reasons_name_the_blocker():
    x = torch.randn(2, 5, 3)
    assert (
        "recurrent dropout" in choose(deeprnn.LSTM(3, 4, recurrent_dropout=0.2).blocks[0], x).reason
    )
    assert "reset_after=False" in choose(deeprnn.GRU(3, 4, reset_after=False).blocks[0], x).reason
    assert "impl='loop'" in choose(deeprnn.LSTM(3, 4, impl="loop").blocks[0], x).reason


def test_explain_names_every_recurrent_layer_of_a_call():
    model = deeprnn.LSTM(3, 4, 2, bidirectional=True)
    choices = explain(model, torch.randn(2, 5, 3), lengths=torch.tensor([5, 2]))
    assert list(choices) == [
        f"blocks.{i}.{d}_layer" for i in range(2) for d in ("forward", "backward")
    ]
    assert {c.impl for c in choices.values()} == {"torch"}
    layer = deeprnn.Recurrent(deeprnn.GRUCell(3, 4), zoneout=0.1)
    assert explain(layer, torch.randn(2, 5, 3))[""].impl == "fused"


def test_explain_reports_what_the_call_ran(scan):
    """The chosen kernel is the one that runs: the compiled counters move as the Choice says."""
    if scan != "compiled":
        pytest.skip("compiled kernels not built")
    model = deeprnn.LSTM(3, 4, zoneout=0.1).eval()
    x = torch.randn(2, 5, 3)
    for grad, kernel, counter in (
        (False, "compiled_infer", "infer"),
        (True, "compiled", "forward"),
    ):
        before = dict(compiled.calls)
        with torch.set_grad_enabled(grad):
            (choice,) = explain(model, x).values()
        assert choice.kernel == kernel
        assert compiled.calls[counter] == before[counter] + 1
