"""The position-wise feed-forward block between recurrent layers (``dim_feedforward``)."""

import pytest
import torch

import deeprnn
from deeprnn.layers.feedforward import FeedForward


def test_block_is_residual_pre_norm_mlp():
    torch.manual_seed(0)
    ff = FeedForward(6, 10)
    y = torch.randn(3, 5, 6)
    want = y + ff.linear2(torch.nn.functional.gelu(ff.linear1(ff.norm(y))))
    torch.testing.assert_close(ff(y), want)
    with torch.no_grad():
        ff.linear2.weight.zero_(), ff.linear2.bias.zero_()
    torch.testing.assert_close(ff(y), y)  # a zero second layer is the identity


@pytest.mark.parametrize("cls", [deeprnn.MinGRU, deeprnn.MinLSTM, deeprnn.LRU])
def test_stack_applies_it_after_every_layer(cls):
    torch.manual_seed(0)
    net = cls(4, 6, 2, residual=True, norm="layer", dim_feedforward=12).eval()
    plain = cls(4, 6, 2, residual=True, norm="layer").eval()
    assert len(net.feedforwards) == 2 and not len(plain.feedforwards)
    assert net.get_config()["dim_feedforward"] == 12
    assert cls.from_config(net.get_config()).get_config() == net.get_config()
    missing, unexpected = plain.load_state_dict(net.state_dict(), strict=False)
    assert not missing and all(k.startswith("feedforwards.") for k in unexpected)
    for ff in net.feedforwards:  # zeroed blocks: the stack without them
        with torch.no_grad():
            ff.linear2.weight.zero_(), ff.linear2.bias.zero_()
    x, lengths = torch.randn(3, 7, 4), torch.tensor([7, 3, 0])
    torch.testing.assert_close(net(x, lengths=lengths)[0], plain(x, lengths=lengths)[0])


def test_last_step_summary_and_padding():
    torch.manual_seed(0)
    net = deeprnn.DeepRNN(4, hidden_size=5, num_layers=2, cell="mingru", dim_feedforward=8)
    net.eval()
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 2, 0])
    seq, _ = net(x, lengths=lengths)
    net.return_sequences = False
    last, _ = net(x, lengths=lengths)
    torch.testing.assert_close(last[0], seq[0, 5])
    torch.testing.assert_close(last[1], seq[1, 1])
    assert torch.all(last[2] == 0) and torch.all(seq[1, 2:] == 0)  # padding stays zero


def test_bad_width_and_unmerged_outputs_are_refused():
    with pytest.raises(ValueError, match="dim_feedforward"):
        deeprnn.MinGRU(4, 6, dim_feedforward=0)
    with pytest.raises(ValueError, match="merge_mode=None"):
        deeprnn.DeepRNN(4, hidden_size=5, bidirectional=True, merge_mode=None, dim_feedforward=8)
    assert deeprnn.LSTM(4, 6, dim_feedforward=8).get_config()["dim_feedforward"] == 8
