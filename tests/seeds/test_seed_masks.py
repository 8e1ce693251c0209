"""Masks flow from ``Masking`` / ``Embedding(mask_zero=True)`` into every deeprnn layer, as
Keras' ``_keras_mask`` does (seeds 000 slide 5, 001 and 002: padded IMDb reviews). Each flowing
result is checked against the same layers given the mask explicitly, and against each
sequence run alone without its padding."""

import copy

import pytest
import torch
from torch import nn

import deeprnn
from deeprnn.cells import GRUCell, LSTMCell

# Keras' pad_sequences pads at the front ("pre"); 0 is the padding id
IDS = torch.tensor([[0, 0, 4, 7, 2], [5, 3, 9, 1, 8], [0, 0, 0, 0, 6], [0, 3, 3, 1, 2]])
MASK = IDS != 0


def _layers(mask_zero=True):
    torch.manual_seed(0)
    return nn.Sequential(
        deeprnn.Embedding(10, 6, mask_zero=mask_zero),
        deeprnn.SimpleRNN(6, 5, return_state=False),
        deeprnn.GRU(5, 5, return_state=False),
        deeprnn.LSTM(5, 4, bidirectional=True, return_state=False),
        deeprnn.Bidirectional(deeprnn.Recurrent(LSTMCell(8, 3), return_state=False)),
        deeprnn.DeepRNN(
            6,
            layers=[4, dict(cell="gru", hidden_size=3)],
            return_state=False,
            return_sequences=False,
        ),
    )


def test_mask_zero_flows_through_every_layer_like_explicit_masks():
    # Embedding(10000, 32, mask_zero=True), SimpleRNN(..., return_sequences=True), GRU, LSTM,
    # Bidirectional(LSTM), ... : Keras hands the mask from layer to layer
    flowing = _layers()
    explicit = copy.deepcopy(flowing)
    explicit[0].mask_zero = False
    flowing.eval(), explicit.eval()
    h_flow, h_expl = IDS, IDS
    for k, (a, b) in enumerate(zip(flowing, explicit)):
        h_flow = a(h_flow)
        h_expl = b(h_expl) if k == 0 else b(h_expl, mask=MASK)
        assert deeprnn.get_mask(h_expl) is None or k > 0
        if k < len(flowing) - 1:
            assert torch.equal(deeprnn.get_mask(h_flow), MASK), k  # every layer passes it on
        torch.testing.assert_close(h_flow, h_expl)


def test_mask_zero_equals_each_review_alone():
    model = _layers().eval()
    batch = model(IDS)
    for row, keep in zip(range(len(IDS)), MASK):
        if keep.any():
            alone = model(IDS[row : row + 1, keep])
            torch.testing.assert_close(batch[row : row + 1], alone, atol=1e-6, rtol=1e-5)
        else:
            assert batch[row].eq(0).all()


def test_mask_zero_stack_equals_explicit_lengths():
    # post-padded reviews: the flowing mask equals lengths= (TF1 dynamic_rnn sequence_length)
    ids = torch.tensor([[4, 7, 2, 0, 0], [5, 3, 9, 1, 8], [6, 0, 0, 0, 0]])
    lengths = torch.tensor([3, 5, 1])
    torch.manual_seed(1)
    emb = deeprnn.Embedding(10, 6)
    l1 = deeprnn.LSTM(6, 5, return_state=False)
    l2 = deeprnn.LSTM(5, 4, return_sequences=False)
    flow_out, flow_states = l2(l1(emb(ids)))
    e = deeprnn.strip_mask(emb(ids)).detach()  # no mask attached
    assert deeprnn.get_mask(e) is None
    out, states = l2(l1(e, lengths=lengths), lengths=lengths)
    torch.testing.assert_close(flow_out, out)
    torch.testing.assert_close(flow_states[0].c, states[0].c)


@pytest.mark.parametrize("wrapper", ["bidirectional=True", "Bidirectional(Recurrent)"])
def test_masking_then_bidirectional_lstm_equals_explicit_mask(wrapper):
    # Masking(mask_value=0., input_shape=(max_len, n_features)),
    # Bidirectional(LSTM(64, return_sequences=True)), ...
    torch.manual_seed(2)
    x = torch.randn(3, 6, 4)
    x[0, 4:] = 0.0  # post padding
    x[2, :2] = 0.0  # pre padding
    mask = (x != 0).any(-1)
    if wrapper == "bidirectional=True":
        bi = deeprnn.LSTM(4, 5, bidirectional=True)
    else:
        bi = deeprnn.Bidirectional(deeprnn.Recurrent(LSTMCell(4, 5)))
    out_flow, states_flow = bi(deeprnn.Masking(0.0)(x))
    out_expl, states_expl = bi(x, mask=mask)
    torch.testing.assert_close(out_flow, out_expl)
    for a, b in zip(states_flow, states_expl):
        torch.testing.assert_close(a.h, b.h)
    assert out_flow[0, 4:].eq(0).all() and out_flow[2, :2].eq(0).all()
    alone, _ = bi(x[2:3, 2:])  # the backward direction starts at the last real step
    torch.testing.assert_close(out_flow[2:3, 2:], alone)


def test_mask_reaches_attention_keys():
    # inputs -> LSTM(return_sequences=True) -> Attention()([query, lstm]) with padded keys
    torch.manual_seed(3)
    keys = deeprnn.GRU(6, 8, return_state=False)(deeprnn.Embedding(10, 6)(IDS))
    query = torch.randn(4, 8)
    for attention in (
        deeprnn.Attention(),
        deeprnn.AdditiveAttention(8),
        deeprnn.BahdanauAttention(8, 8),
    ):
        context, weights = attention(query, keys)  # the mask comes with the keys
        context_e, weights_e = attention(query, keys.clone(), mask=MASK)
        torch.testing.assert_close(weights, weights_e)
        torch.testing.assert_close(context, context_e)
        assert weights[~MASK].eq(0).all()


def test_mask_passes_a_linear_stops_at_a_slice_and_can_be_reattached():
    # Keras' TimeDistributed(Dense) keeps the mask, and so does nn.Linear on (N, T, F)
    emb = deeprnn.Embedding(10, 6)
    h = nn.Linear(6, 6)(emb(IDS))
    assert torch.equal(deeprnn.get_mask(h), MASK)
    gru = deeprnn.GRU(6, 3, return_state=False, return_sequences=False)
    torch.testing.assert_close(gru(h), gru(deeprnn.strip_mask(h), mask=MASK))
    cut = h[:, :4]  # the time axis changed: the mask cannot hold
    assert deeprnn.get_mask(cut) is None
    cut = deeprnn.attach_mask(cut, MASK[:, :4])
    torch.testing.assert_close(gru(cut), gru(deeprnn.strip_mask(cut), mask=MASK[:, :4]))


def test_gru_cell_recurrent_uses_flowing_mask_for_final_state():
    torch.manual_seed(4)
    rec = deeprnn.Recurrent(GRUCell(6, 4), return_sequences=False, return_state=True)
    e = deeprnn.Embedding(10, 6)(IDS)
    last, _states = rec(e)
    last_e, _states_e = rec(e.clone(), mask=MASK)
    torch.testing.assert_close(last, last_e)
    assert last[2].abs().sum() > 0  # one real step


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_sequence_to_vector_pools_over_the_flowing_mask(pooling):
    # Masking(0.) -> GRU(return_sequences=True) -> GlobalAveragePooling1D / GlobalMaxPooling1D
    torch.manual_seed(5)
    x = torch.randn(3, 5, 3)
    x[0, 3:] = 0.0
    x[2, 1:] = 0.0
    net = deeprnn.SequenceToVector(3, 4, pooling=pooling).eval()
    flowing = net(deeprnn.Masking(0.0)(x))
    torch.testing.assert_close(flowing, net(x, mask=(x != 0).any(-1)))
    torch.testing.assert_close(flowing, net(x, lengths=torch.tensor([3, 5, 1])))


@pytest.mark.parametrize("kind", ["last", "mean", "max", "attention"])
def test_task_pool_falls_back_to_the_flowing_mask(kind):
    from deeprnn.models.encoder import Pool

    torch.manual_seed(6)
    x = torch.randn(3, 5, 3)
    x[0, 3:] = 0.0
    lengths = torch.tensor([3, 5, 5])
    rnn = deeprnn.DeepRNN(3, layers=[4])
    pool = Pool(kind, rnn)
    out, states = rnn(deeprnn.Masking(0.0)(x))
    mask = torch.arange(5) < lengths[:, None]
    torch.testing.assert_close(pool(out, states), pool(out, states, mask, lengths))
    plain, plain_states = rnn(x.clone(), lengths=torch.full((3,), 5))
    plain = plain.clone()  # no mask attached: every step is real
    full = torch.ones(3, 5, dtype=torch.bool)
    torch.testing.assert_close(
        pool(plain, plain_states), pool(plain, plain_states, full, torch.full((3,), 5))
    )
