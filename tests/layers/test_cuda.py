"""GPU checks (cuDNN dispatch, the fused kernel on CUDA); skipped where CUDA is absent."""

from __future__ import annotations

import pytest
import torch

import deeprnn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

CONFIGS = {
    "lstm_bi_2": lambda **o: deeprnn.LSTM(5, 8, 2, bidirectional=True, **o),
    "gru_backwards": lambda **o: deeprnn.GRU(5, 8, go_backwards=True, **o),
    "lstm_rec_dropout_zoneout": lambda **o: deeprnn.LSTM(
        5, 8, 2, recurrent_dropout=0.2, zoneout=0.1, **o
    ),
    "ln_gru": lambda **o: deeprnn.GRU(5, 8, layer_norm=True, **o),
    # the linear recurrences: the Triton scans on CUDA
    "mingru_2": lambda **o: deeprnn.MinGRU(5, 8, 2, **o),
    "minlstm_backwards": lambda **o: deeprnn.MinLSTM(5, 8, go_backwards=True, **o),
    "lru_bi": lambda **o: deeprnn.LRU(5, 8, bidirectional=True, r_min=0.5, **o),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_cuda_matches_cpu_loop(name):
    cpu = CONFIGS[name](impl="loop").double().eval()
    gpu = CONFIGS[name]().double().eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(4, 9, 5, dtype=torch.float64)
    mask = torch.tensor(
        [[1] * 9, [0, 0, 1, 1, 1, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0, 1], [0] * 9],
        dtype=torch.bool,
    )
    a, sa = cpu(x, mask=mask)
    b, sb = gpu(x.cuda(), mask=mask.cuda())
    torch.testing.assert_close(b.cpu(), a)
    for s1, s2 in zip(sa, sb):
        for u, v in zip(s1, s2):
            torch.testing.assert_close(v.cpu(), u)


def test_cuda_long_sequences_fall_back_instead_of_crashing():
    layer = deeprnn.GRU(2, 4).cuda()
    out, _ = layer(torch.randn(1, 70_000, 2, device="cuda"))
    assert out.shape == (1, 70_000, 4) and torch.isfinite(out).all()


@pytest.mark.parametrize("impl", ["torch", "fused", "loop"])
def test_cuda_autocast_float16_is_close_to_float32(impl):
    """Under CUDA autocast: cuDNN runs in float16 (torch's policy), the fused kernel and the
    states in the parameters' float32; outputs stay close to the float32 run."""
    torch.manual_seed(0)
    layer = deeprnn.LSTM(5, 8, 2, bidirectional=True, impl=impl).cuda()
    x = torch.randn(4, 9, 5, device="cuda")
    lengths = torch.tensor([9, 4, 1, 7], device="cuda")
    ref, _ = layer(x, lengths=lengths)
    with torch.autocast("cuda", dtype=torch.float16):
        out, _ = layer(x, lengths=lengths)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, atol=1e-2, rtol=1e-2)
    out.float().sum().backward()
    assert all(p.grad.dtype == torch.float32 for p in layer.parameters())
